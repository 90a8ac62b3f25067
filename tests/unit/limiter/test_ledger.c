/* Unit tests of the vGPU ledger: exact caps across forked processes, rollback, reaping after
 * SIGKILL (of a holder of memory and of a process killed holding the lock), corrupt ledgers,
 * live limit changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpool/failpoint.h"
#include "gpool/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1ull << 20)

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gpool-ledger-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct ledger *open_new(const char *name, uint64_t cap, uint32_t pct)
{
    struct ledger_limits lim = {.vram_bytes = cap, .compute_pct = pct, .ndev = 2};
    struct ledger *l = NULL;
    char err[256] = "";
    int rc = ledger_open(dir, name, &lim, &l, err, sizeof(err));
    if (rc)
        fail_msg("ledger_open %s: %d %s", name, rc, err);
    return l;
}

static void assert_consistent(struct ledger *l)
{
    char err[256] = "";
    int rc = ledger_check(l, err, sizeof(err));
    if (rc)
        fail_msg("ledger_check: %s", err);
}

static uint64_t used_of(struct ledger *l, int dev)
{
    uint64_t used = 0, cap = 0;
    assert_int_equal(ledger_usage(l, dev, &used, &cap), 0);
    return used;
}

static void test_reserve_commit_release(void **state)
{
    (void)state;
    struct ledger *l = open_new("basic", 10 * MiB, 100);
    struct ledger_ticket t, t2;
    assert_int_equal(ledger_reserve(l, 0, 4 * MiB, &t), 0);
    assert_int_equal(used_of(l, 0), 4 * MiB);
    assert_int_equal(ledger_commit(l, &t, 0xa000), 0);
    assert_int_equal(ledger_commit(l, &t, 0xa000), -EINVAL); /* no longer a reservation */
    assert_int_equal(ledger_reserve(l, 0, 6 * MiB, &t2), 0);
    assert_int_equal(ledger_commit(l, &t2, 0xa000), -EEXIST);
    assert_int_equal(ledger_rollback(l, &t2), 0);
    assert_int_equal(ledger_rollback(l, &t2), -EINVAL);
    assert_int_equal(ledger_reserve(l, 0, 6 * MiB + 1, &t2), -EDQUOT);
    assert_int_equal(ledger_reserve(l, 0, 6 * MiB, &t2), 0); /* exact to the byte */
    assert_int_equal(ledger_reserve(l, 0, 1, &t), -EDQUOT);
    assert_int_equal(ledger_reserve(l, 1, 10 * MiB, &t), 0); /* caps are per device */
    assert_int_equal(ledger_rollback(l, &t), 0);
    assert_int_equal(ledger_commit(l, &t2, 0xb000), 0);
    uint64_t bytes = 0;
    assert_int_equal(ledger_release(l, 0, 0xdead, &bytes), -ENOENT);
    assert_int_equal(ledger_release(l, 1, 0xa000, &bytes), -ENOENT);
    assert_int_equal(ledger_release(l, 0, 0xa000, &bytes), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(used_of(l, 0), 6 * MiB);
    assert_int_equal(ledger_process_usage(l, 0), 6 * MiB);
    assert_int_equal(ledger_reserve(l, 2, 1, &t), -EINVAL);
    assert_int_equal(ledger_reserve(l, 0, 0, &t), -EINVAL);
    assert_consistent(l);
    ledger_close(l);
    /* Closing credits what the process held. */
    l = open_new("basic", 0, 100);
    assert_int_equal(used_of(l, 0), 0);
    ledger_close(l);
}

static void test_record_table_full(void **state)
{
    (void)state;
    struct ledger *l = open_new("full", 0, 100);
    struct ledger_ticket t;
    for (uint64_t i = 0; i < LEDGER_RECS; i++) {
        assert_int_equal(ledger_reserve(l, 0, 1, &t), 0);
        assert_int_equal(ledger_commit(l, &t, i), 0);
    }
    assert_int_equal(ledger_reserve(l, 0, 1, &t), -ENOSPC);
    assert_int_equal(ledger_release(l, 0, 7, NULL), 0);
    assert_int_equal(ledger_reserve(l, 0, 1, &t), 0);
    assert_consistent(l);
    ledger_close(l);
}

/* 4 processes race to allocate 1 MiB blocks under a 10 MiB + 1 byte cap. */
static void test_four_processes_never_exceed(void **state)
{
    (void)state;
    struct ledger *l = open_new("race", 10 * MiB + 1, 100);
    int pipes[4][2];
    pid_t pids[4];
    for (int p = 0; p < 4; p++) {
        assert_int_equal(pipe(pipes[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            struct ledger *c = NULL;
            char err[256];
            if (ledger_open(dir, "race", NULL, &c, err, sizeof(err)))
                _exit(2);
            int got = 0;
            for (int i = 0; i < 50; i++) {
                struct ledger_ticket t;
                uint64_t used, cap;
                int rc = ledger_reserve(c, 0, MiB, &t);
                ledger_usage(c, 0, &used, &cap);
                if (used > cap)
                    _exit(3);
                if (rc == 0) {
                    got++;
                    if (ledger_commit(c, &t, (uint64_t)i) != 0)
                        _exit(4);
                } else if (rc != -EDQUOT) {
                    _exit(5);
                }
            }
            if (write(pipes[p][1], &got, sizeof(got)) != sizeof(got))
                _exit(6);
            pause(); /* hold the memory until killed */
            _exit(0);
        }
    }
    int total = 0;
    for (int p = 0; p < 4; p++) {
        int got = 0;
        assert_int_equal(read(pipes[p][0], &got, sizeof(got)), sizeof(got));
        total += got;
    }
    assert_int_equal(total, 10);
    assert_int_equal(used_of(l, 0), 10 * MiB);
    struct ledger_proc procs[8];
    assert_int_equal(ledger_processes(l, procs, 8), 5);
    assert_consistent(l);
    for (int p = 0; p < 4; p++) {
        kill(pids[p], SIGKILL);
        waitpid(pids[p], NULL, 0);
        close(pipes[p][0]);
        close(pipes[p][1]);
    }
    assert_int_equal(ledger_reap(l), 4);
    assert_int_equal(used_of(l, 0), 0);
    assert_consistent(l);
    ledger_close(l);
}

/* A child reserves and commits, then dies at failpoint `fp` (SIGKILL). */
static void kill_child_at(const char *fp, int commit_first)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ledger *c = NULL;
        char err[256];
        if (ledger_open(dir, "kill", NULL, &c, err, sizeof(err)))
            _exit(2);
        struct ledger_ticket t;
        if (commit_first) {
            if (ledger_reserve(c, 0, 3 * MiB, &t) || ledger_commit(c, &t, 0x1000))
                _exit(3);
        }
        gpool_failpoint_configure(fp);
        if (ledger_reserve(c, 0, 2 * MiB, &t) == 0 && ledger_commit(c, &t, 0x2000) == 0)
            ledger_release(c, 0, 0x1000, NULL);
        _exit(7); /* the failpoint did not fire */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("child for %s did not die at the failpoint (status %#x)", fp, st);
}

static void test_sigkill_recovery(void **state)
{
    (void)state;
    static const char *fps[] = {
        "ledger.reserve.locked=crash", "ledger.reserve.counted=crash", "ledger.reserve.done=crash",
        "ledger.commit.locked=crash",  "ledger.release.locked=crash",  "ledger.release.done=crash",
    };
    struct ledger *l = open_new("kill", 8 * MiB, 100);
    struct ledger_ticket t;
    assert_int_equal(ledger_reserve(l, 0, MiB, &t), 0);
    assert_int_equal(ledger_commit(l, &t, 0x42), 0);
    for (size_t i = 0; i < sizeof(fps) / sizeof(fps[0]); i++) {
        kill_child_at(fps[i], 1);
        /* The next allocator recovers the lock (if held), repairs and reaps. */
        assert_int_equal(ledger_reserve(l, 0, 7 * MiB, &t), 0);
        assert_int_equal(used_of(l, 0), 8 * MiB);
        assert_consistent(l);
        assert_int_equal(ledger_rollback(l, &t), 0);
        assert_int_equal(used_of(l, 0), MiB);
        assert_consistent(l);
    }
    struct ledger_stats s;
    assert_int_equal(ledger_get_stats(l, &s), 0);
    assert_int_equal(s.reaped_processes, 6);
    assert_int_equal(s.repairs, 4); /* the four failpoints inside the lock */
    ledger_close(l);
}

static void test_limit_change_seen_by_other_process(void **state)
{
    (void)state;
    struct ledger *l = open_new("limits", 4 * MiB, 25);
    struct ledger_limits lim;
    assert_int_equal(ledger_get_limits(l, &lim), 0);
    assert_int_equal(lim.generation, 1);
    int to_child[2], to_parent[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct ledger *c = NULL;
        char err[256], b = 0;
        if (ledger_open(dir, "limits", NULL, &c, err, sizeof(err)))
            _exit(2);
        struct ledger_ticket t;
        if (ledger_reserve(c, 0, 5 * MiB, &t) != -EDQUOT)
            _exit(3);
        if (write(to_parent[1], &b, 1) != 1 || read(to_child[0], &b, 1) != 1)
            _exit(4);
        struct ledger_limits cl;
        if (ledger_get_limits(c, &cl) || cl.generation != 2 || cl.compute_pct != 75 ||
            cl.vram_bytes != 8 * MiB)
            _exit(5);
        if (ledger_reserve(c, 0, 5 * MiB, &t) != 0)
            _exit(6);
        ledger_close(c);
        _exit(0);
    }
    char b;
    assert_int_equal(read(to_parent[0], &b, 1), 1);
    struct ledger_limits nl = {.vram_bytes = 8 * MiB, .compute_pct = 75};
    uint64_t gen = 0;
    assert_int_equal(ledger_set_limits(l, &nl, &gen), 0);
    assert_int_equal(gen, 2);
    nl.compute_pct = 0;
    assert_int_equal(ledger_set_limits(l, &nl, NULL), -EINVAL);
    assert_int_equal(write(to_child[1], &b, 1), 1);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_consistent(l);
    ledger_close(l);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static void test_compute_bucket_shared(void **state)
{
    (void)state;
    struct ledger *l = open_new("compute", 0, 25);
    /* The fake clock starts after the creator's real one; the bucket then holds its full
     * 50 ms burst. */
    fake_now = limiter_monotonic_ns(NULL) + 1000000000ull;
    ledger_set_clock(l, (struct limiter_clock){fake_clock, NULL});
    assert_int_equal(ledger_compute_wait(l, 1), 0);
    ledger_compute_charge(l, LIMITER_BURST_NS + 1000000);
    assert_int_equal(ledger_compute_wait(l, 1), 4000000); /* 1 ms of debt at 25% */
    fake_now += 1000000;
    assert_int_equal(ledger_compute_wait(l, 0), 3000000);
    struct ledger_stats s;
    ledger_get_stats(l, &s);
    assert_int_equal(s.launches_throttled, 1);
    assert_int_equal(s.launches_charged, 1);
    ledger_set_limits(l, &(struct ledger_limits){.compute_pct = 100}, NULL);
    assert_int_equal(ledger_compute_wait(l, 1), 0);
    ledger_close(l);
}

static void test_fork_child_gets_own_slot(void **state)
{
    (void)state;
    struct ledger *l = open_new("fork", 4 * MiB, 100);
    pid_t pid = fork();
    if (pid == 0) {
        struct ledger_ticket t;
        if (ledger_reserve(l, 0, MiB, &t) || ledger_commit(l, &t, 1))
            _exit(2);
        if (ledger_process_usage(l, 0) != MiB)
            _exit(3);
        _exit(0); /* dies holding 1 MiB */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(ledger_process_usage(l, 0), 0);
    assert_int_equal(ledger_reap(l), 1);
    assert_int_equal(used_of(l, 0), 0);
    ledger_close(l);
}

static void test_corrupt_refused(void **state)
{
    (void)state;
    struct ledger *l = open_new("corrupt", 4 * MiB, 100);
    char path[512];
    snprintf(path, sizeof(path), "%s", ledger_path(l));
    ledger_close(l);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    char err[256];
    assert_int_equal(ledger_validate(m, (size_t)st.st_size, err, sizeof(err)), 0);
    assert_int_equal(ledger_validate(m, 100, err, sizeof(err)), -EBADMSG);
    /* Usage that the records do not explain. */
    uint64_t used;
    size_t used_off = 0;
    {
        struct ledger *tmp = NULL;
        assert_int_equal(ledger_open(dir, "corrupt", NULL, &tmp, err, sizeof(err)), 0);
        struct ledger_ticket t;
        assert_int_equal(ledger_reserve(tmp, 0, 12345, &t), 0);
        for (size_t off = 0; off + 8 <= 4096; off += 8) {
            memcpy(&used, m + off, 8);
            if (used == 12345) {
                used_off = off;
                break;
            }
        }
        ledger_close(tmp);
    }
    assert_true(used_off > 0);
    used = 999;
    memcpy(m + used_off, &used, 8);
    struct ledger *c = NULL;
    err[0] = '\0';
    assert_int_equal(ledger_open(dir, "corrupt", NULL, &c, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "usage"));
    assert_null(c);
    used = 0;
    memcpy(m + used_off, &used, 8);
    m[8] = 9; /* layout version */
    assert_int_equal(ledger_open(dir, "corrupt", NULL, &c, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "version"));
    m[0] ^= 0xff;
    assert_int_equal(ledger_open(dir, "corrupt", NULL, &c, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "magic"));
    munmap(m, (size_t)st.st_size);
    close(fd);
    assert_int_equal(ledger_open(dir, "missing", NULL, &c, err, sizeof(err)), -ENOENT);
    assert_int_equal(ledger_open(dir, "../x", NULL, &c, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reserve_commit_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_processes_never_exceed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_change_seen_by_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compute_bucket_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_child_gets_own_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
