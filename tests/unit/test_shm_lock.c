/*
 * Unit tests of gpool_robust_lock (gpool/shm_lock.h), the lock of every structure shared between
 * processes (the simulator's state and engines, the vGPU ledger):
 *
 *   - a waiter beside another waiter that is stopped just as the holder unlocks still gets the
 *     lock (a plain pthread_mutex_lock loses that race: the kernel's one wake-up goes to the
 *     stopped process and the live waiter sleeps until the stopped one is continued);
 *   - the owner's death is reported (EOWNERDEAD) to the next taker.
 *
 * Nothing is asserted on timings: HANG_GUARD_MS only keeps a broken lock from hanging the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpool/shm_lock.h"
#include "proc_state.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS        40
#define HANG_GUARD_MS 10000

static pthread_mutex_t *shared_mutex(void)
{
    pthread_mutex_t *m =
        mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(gpool_robust_mutex_init(m), 0);
    return m;
}

/* A child that takes *m with gpool_robust_lock, writes one byte on fd, unlocks and exits. It dies
 * with the test (a stopped one included). */
static pid_t spawn_taker(pthread_mutex_t *m, int fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int rc = gpool_robust_lock(m);
        if (rc != 0 && rc != EOWNERDEAD)
            _exit(2);
        if (rc == EOWNERDEAD)
            pthread_mutex_consistent(m);
        if (write(fd, "x", 1) != 1)
            _exit(3);
        pthread_mutex_unlock(m);
        _exit(0);
    }
    return pid;
}

/* Waits until process pid sleeps (state S in /proc/pid/stat): it waits for the lock. */
static void wait_sleeping(pid_t pid)
{
    for (int ms = 0; ms < HANG_GUARD_MS; ms++) {
        if (proc_state(pid) == 'S')
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("process %d never waited for the lock", (int)pid);
}

/* Whether a byte arrives on fd before the hang guard. */
static int reported(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;
    return poll(&p, 1, HANG_GUARD_MS) == 1 && read(fd, &c, 1) == 1;
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The holder unlocks as one waiter is being stopped: the other waiter gets the lock, and the
 * stopped one once continued. */
static void test_waiter_beside_stopped_one(void **state)
{
    (void)state;
    pthread_mutex_t *m = shared_mutex();
    for (int r = 0; r < ROUNDS; r++) {
        int ps[2], pw[2];
        assert_int_equal(pipe(ps), 0);
        assert_int_equal(pipe(pw), 0);
        assert_int_equal(gpool_robust_lock(m), 0);
        pid_t stopped = spawn_taker(m, ps[1]);
        wait_sleeping(stopped);
        pid_t live = spawn_taker(m, pw[1]);
        wait_sleeping(live);
        kill(stopped, SIGSTOP);
        pthread_mutex_unlock(m); /* races the stop: the wake-up may go to the stopped one */
        if (!reported(pw[0]))
            fail_msg("round %d: the live waiter never got the lock beside a stopped one", r);
        assert_int_equal(wait_exit(live), 0);
        kill(stopped, SIGCONT);
        if (!reported(ps[0]))
            fail_msg("round %d: the stopped waiter never got the lock once continued", r);
        assert_int_equal(wait_exit(stopped), 0);
        close(ps[0]);
        close(ps[1]);
        close(pw[0]);
        close(pw[1]);
    }
    munmap(m, sizeof(*m));
}

/* The owner dies holding the lock: the next taker is told (EOWNERDEAD), and once it marks the
 * mutex consistent the lock works as before. */
static void test_owner_death_reported(void **state)
{
    (void)state;
    pthread_mutex_t *m = shared_mutex();
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t owner = fork();
    assert_true(owner >= 0);
    if (owner == 0) {
        if (gpool_robust_lock(m) != 0 || write(p[1], "x", 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    assert_true(reported(p[0]));
    kill(owner, SIGKILL);
    assert_int_equal(wait_exit(owner), 128 + SIGKILL);
    assert_int_equal(gpool_robust_lock(m), EOWNERDEAD);
    assert_int_equal(pthread_mutex_consistent(m), 0);
    assert_int_equal(pthread_mutex_unlock(m), 0);
    assert_int_equal(gpool_robust_lock(m), 0);
    assert_int_equal(pthread_mutex_unlock(m), 0);
    close(p[0]);
    close(p[1]);
    munmap(m, sizeof(*m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiter_beside_stopped_one),
        cmocka_unit_test(test_owner_death_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
