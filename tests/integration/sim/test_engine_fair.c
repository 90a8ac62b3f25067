/*
 * The device's engine is shared fairly and robustly between processes (src/sim/state.c, "the
 * engine"; docs/internals/sim.md, "Engine"):
 *
 *   - fair: two processes that each take the engine back as soon as they release it (and, as a
 *     stream worker does, hold it across "operations" with sim_engine_hold) alternate: each gets
 *     it (nearly) every other time before the other is done — a releaser never barges back in
 *     while the other waits;
 *   - robust: a holder SIGKILLed mid-hold, a waiter SIGKILLed while it waits (and then handed
 *     the engine) and a waiter stopped as the holder releases block nobody, and a waiter that
 *     let its turn lapse is back in the round once it runs again.
 *
 * Everything is asserted on counters and order, never on timings: a waiting loop only guards
 * against a hang (HANG_GUARD_MS, then the test fails).
 */
#include "proc_state.h"
#include "sim_test_util.h"

#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#define ROUNDS        200
#define HANG_GUARD_MS 60000

/* The order in which the engine was taken, written by its holder (the engine orders writers). */
struct takes {
    _Atomic uint32_t n;
    _Atomic int done[2];
    _Atomic int started[2];
    unsigned char who[4 * ROUNDS];
};

static struct takes *takes;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until pred() (hang guard: fails the test after HANG_GUARD_MS). */
#define WAIT_UNTIL(pred, ...)                                                                      \
    do {                                                                                           \
        int wait_ms_ = 0;                                                                          \
        while (!(pred)) {                                                                          \
            REQUIRE(wait_ms_ < HANG_GUARD_MS, __VA_ARGS__);                                        \
            sleep_ms(1);                                                                           \
            wait_ms_++;                                                                            \
        }                                                                                          \
    } while (0)

static struct sim_instance *test_inst; /* this process's attachment */

/* Hand-overs of device 0's engine to nobody while a passed-over process waited. */
static uint32_t engine_passes(struct sim_instance *inst)
{
    struct sim_engine_stats st;
    return sim_engine_stats(inst, 0, &st) == 0 ? st.passes : 0;
}

static int others_waiting(struct sim_instance *inst)
{
    struct sim_engine_stats st;
    return sim_engine_stats(inst, 0, &st) == 0 ? st.waiting : 0;
}

/* A contender: ROUNDS times takes the engine (with sim_engine_hold when `hold`, a nested
 * acquisition inside as an operation's own would be), logs itself, and — while the other is
 * not done — does not give it up before the other waits for it, then takes it again at once. */
static _Noreturn void contender(int me, int hold)
{
    struct sim_instance *inst = NULL;
    char err[256];
    if (sim_instance_attach(&inst, err, sizeof(err)) != 0)
        _exit(10);
    atomic_store(&takes->started[me], 1);
    while (!atomic_load(&takes->started[!me]))
        sched_yield();
    for (int r = 0; r < ROUNDS; r++) {
        if (hold)
            sim_engine_hold(inst, 0);
        sim_engine_acquire(inst, 0);
        uint32_t i = atomic_fetch_add(&takes->n, 1);
        if (i < sizeof(takes->who))
            takes->who[i] = (unsigned char)me;
        while (!atomic_load(&takes->done[!me]) && !others_waiting(inst))
            sched_yield();
        sim_engine_release(inst, 0);
        if (!hold)
            continue;
        /* Still held between "operations" until the next hold hands it round. */
        struct sim_engine_stats st;
        if (sim_engine_stats(inst, 0, &st) != 0 || st.holder != st.slot)
            _exit(12);
    }
    if (hold)
        sim_engine_unhold();
    atomic_store(&takes->done[me], 1);
    _exit(0);
}

static pid_t spawn_contender(int me, int hold)
{
    pid_t pid = util_fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0)
        contender(me, hold);
    return pid;
}

/* Two contenders; checks how many times each took the engine before the other was done. */
static void test_fair(int hold)
{
    memset(takes, 0, sizeof(*takes));
    uint32_t passes0 = engine_passes(test_inst);
    pid_t a = spawn_contender(0, hold);
    pid_t b = spawn_contender(1, hold);
    int sa = util_wait(a), sb = util_wait(b);
    uint32_t passes = engine_passes(test_inst) - passes0;
    CHECK(sa == 0 && sb == 0, "contenders (hold %d) exited %d and %d", hold, sa, sb);
    uint32_t n = atomic_load(&takes->n);
    CHECK(n == 2 * ROUNDS, "engine taken %u times, expected %d", n, 2 * ROUNDS);
    if (n > sizeof(takes->who))
        n = sizeof(takes->who);
    /* The first to finish made its last take at `last`; count the other's takes up to there. */
    uint32_t count[2] = {0, 0}, last = 0, repeats = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (++count[takes->who[i]] == ROUNDS) {
            last = i;
            break;
        }
        repeats += i > 0 && takes->who[i] == takes->who[i - 1];
    }
    int first = takes->who[last];
    uint32_t other = 0;
    for (uint32_t i = 0; i <= last; i++)
        other += takes->who[i] != first;
    printf("hold %d: the other took the engine %u times before process %d's last of %d (%u "
           "back-to-back takes; %u hand-overs passed over a process not running)\n",
           hold, other, first, ROUNDS, repeats, passes);
    /* Each release finds the other waiting, so it is the other's turn: strict alternation. A
     * turn lapses only when its process is not scheduled for ENGINE_TURN_GRACE_NS (a loaded
     * machine), hence a tenth of slack; until it runs again it is passed over, and the engine
     * counts each release that so goes back to the releaser (`passes`): the engine does not
     * idle for a process that does not run. An unfair lock lets the releaser take it back with
     * no pass counted. */
    CHECK(other + passes >= ROUNDS - ROUNDS / 10,
          "hold %d: process %d took the engine %d times while the other got it only %u times "
          "(%u passes)",
          hold, first, ROUNDS, other, passes);
    CHECK(repeats <= ROUNDS / 10 + passes,
          "hold %d: %u takes by the releaser while the other waited (%u passes)", hold, repeats,
          passes);
}

/* A child that attaches, runs `what` and reports on the pipe. */
enum role { HOLDER, WAITER };

struct kid {
    pid_t pid;
    int rd, wr; /* its reports, our commands */
};

static void kid_say(int fd, uint64_t v)
{
    util_write_u64(fd, v);
}

/* Logs a take by the process holding the engine (the engine orders the writers). */
static void log_take(unsigned char who)
{
    uint32_t i = atomic_fetch_add(&takes->n, 1);
    if (i < sizeof(takes->who))
        takes->who[i] = who;
}

/* HOLDER: takes the engine and reports 1; on command 3 releases it, takes it straight back and
 * reports 3; on command 1 releases it, reports 2 and waits to be killed. WAITER: takes the engine
 * (blocking), reports 1, releases it, reports 2 and exits. */
static struct kid spawn_kid(enum role role)
{
    int rep[2], cmd[2];
    int prc = pipe(rep) | pipe(cmd);
    REQUIRE(prc == 0, "pipe");
    pid_t pid = util_fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(rep[0]);
        close(cmd[1]);
        struct sim_instance *inst;
        char err[256];
        if (sim_instance_attach(&inst, err, sizeof(err)) != 0)
            _exit(10);
        sim_engine_acquire(inst, 0);
        log_take(role == HOLDER ? 'h' : 'w');
        kid_say(rep[1], 1);
        for (uint64_t c = 0; role == HOLDER && c != 1;) {
            if (util_read_u64(cmd[0], &c) != 0)
                _exit(11);
            if (c == 3) {
                sim_engine_release(inst, 0);
                sim_engine_acquire(inst, 0);
                log_take('h');
                kid_say(rep[1], 3);
            }
        }
        sim_engine_release(inst, 0);
        kid_say(rep[1], 2);
        if (role == HOLDER)
            for (;;)
                pause();
        _exit(0);
    }
    close(rep[1]);
    close(cmd[0]);
    return (struct kid){pid, rep[0], cmd[1]};
}

/* Reads the kid's next report (hang guard). */
static uint64_t kid_report(struct kid *k, const char *what)
{
    struct pollfd p = {k->rd, POLLIN, 0};
    int rc = poll(&p, 1, HANG_GUARD_MS);
    REQUIRE(rc == 1, "%s: no report (the engine is wedged?)", what);
    uint64_t v = 0;
    REQUIRE(util_read_u64(k->rd, &v) == 0, "%s: pipe closed", what);
    return v;
}

/* Whether the kid has not reported anything (without waiting). */
static int kid_silent(struct kid *k)
{
    struct pollfd p = {k->rd, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
}

static int32_t passed_slot(struct sim_instance *inst)
{
    struct sim_engine_stats st;
    return sim_engine_stats(inst, 0, &st) == 0 ? st.passed : -2;
}

static void kid_end(struct kid *k, int sig)
{
    if (sig)
        kill(k->pid, sig);
    util_wait(k->pid);
    close(k->rd);
    close(k->wr);
}

/* The holder dies with the engine: a waiter gets it. */
static void test_holder_killed(struct sim_instance *inst)
{
    struct kid h = spawn_kid(HOLDER);
    CHECK(kid_report(&h, "holder") == 1, "holder did not take the engine");
    struct kid w = spawn_kid(WAITER);
    WAIT_UNTIL(others_waiting(inst) >= 1, "the waiter never waited");
    CHECK(kid_silent(&w), "the waiter took the engine while the holder held it");
    kid_end(&h, SIGKILL);
    CHECK(kid_report(&w, "waiter after the holder's death") == 1, "waiter did not get the engine");
    CHECK(kid_report(&w, "waiter") == 2, "waiter did not release");
    kid_end(&w, 0);
}

/* A waiter dies while it waits; the holder then releases: the live waiter gets the engine. A
 * waiter stopped (SIGSTOP) while it waits is handed the engine and lets its turn lapse: the
 * other waiter still gets it, and the stopped one once it runs again. */
static void test_waiter_killed_or_stopped(struct sim_instance *inst)
{
    struct kid h = spawn_kid(HOLDER);
    CHECK(kid_report(&h, "holder") == 1, "holder did not take the engine");
    struct kid d = spawn_kid(WAITER);
    WAIT_UNTIL(others_waiting(inst) >= 1, "the doomed waiter never waited");
    kid_end(&d, SIGKILL);
    WAIT_UNTIL(others_waiting(inst) == 0, "a dead waiter still counts as waiting");

    struct kid s = spawn_kid(WAITER);
    WAIT_UNTIL(others_waiting(inst) >= 1, "the waiter to stop never waited");
    struct kid w = spawn_kid(WAITER);
    WAIT_UNTIL(others_waiting(inst) >= 2, "the second waiter never waited");

    /* Stop one waiter and release at once: the release races the stop, so the stopped one may
     * even be the process the unlock wakes. Its turn, or its wake-up, must not keep the engine
     * from the live one. */
    kill(s.pid, SIGSTOP);
    kid_say(h.wr, 1);
    CHECK(kid_report(&h, "holder releasing") == 2, "holder did not release");
    CHECK(kid_report(&w, "live waiter beside a stopped one") == 1,
          "the live waiter did not get the engine");
    CHECK(kid_report(&w, "live waiter") == 2, "live waiter did not release");
    kid_end(&w, 0);
    kill(s.pid, SIGCONT);
    CHECK(kid_report(&s, "stopped waiter, continued") == 1, "stopped waiter never got the engine");
    CHECK(kid_report(&s, "continued waiter") == 2, "continued waiter did not release");
    kid_end(&s, 0);
    kid_end(&h, SIGKILL);

    /* Nothing is left holding or owed: this process takes and gives it at once. */
    sim_engine_acquire(inst, 0);
    struct sim_engine_stats st;
    CHECK_OK(sim_engine_stats(inst, 0, &st));
    CHECK(st.holder == st.slot && st.mine >= 1, "holder %d, our slot %d, our grants %llu",
          st.holder, st.slot, (unsigned long long)st.mine);
    sim_engine_release(inst, 0);
}

/* A waiter that lets its turn lapse because it is not running (here: stopped) is passed over,
 * and back in the round as soon as it runs again: the next release is its turn, even though the
 * releaser takes the engine straight back. (Were it passed over until it next took the engine,
 * a releaser that takes it straight back would keep it from a process that was merely not
 * scheduled for one grace, for good.) */
static void test_lapsed_waiter_rejoins(struct sim_instance *inst)
{
    memset(takes, 0, sizeof(*takes));
    struct kid h = spawn_kid(HOLDER);
    CHECK(kid_report(&h, "holder") == 1, "holder did not take the engine");
    struct kid w = spawn_kid(WAITER);
    WAIT_UNTIL(others_waiting(inst) >= 1, "the waiter never waited");
    kill(w.pid, SIGSTOP);
    WAIT_UNTIL(proc_state(w.pid) == 'T', "the waiter never stopped");

    kid_say(h.wr, 3); /* the turn goes to the stopped waiter, lapses, and the holder retakes */
    CHECK(kid_report(&h, "holder retaking past a stopped waiter") == 3, "holder did not retake");
    CHECK(passed_slot(inst) >= 0, "the stopped waiter's lapsed turn did not pass it over");
    CHECK(kid_silent(&w), "the stopped waiter took the engine");

    kill(w.pid, SIGCONT);
    /* Released now, the engine is the waiter's (takes: its, then the holder's retake). Should the
     * waiter let this turn lapse too (not scheduled for a grace on a loaded machine), it is
     * passed over again until it runs: try again, a few times. */
    int took = 0;
    for (int attempt = 0; attempt < 10 && !took; attempt++) {
        WAIT_UNTIL(passed_slot(inst) == -1, "the waiter runs again but is still passed over");
        uint32_t before = atomic_load(&takes->n);
        kid_say(h.wr, 3);
        CHECK(kid_report(&h, "holder retaking") == 3, "holder did not retake");
        took = atomic_load(&takes->n) == before + 2 && takes->who[before] == 'w';
    }
    CHECK(took, "the continued waiter never got its turn before the holder's retake");
    CHECK(kid_report(&w, "continued waiter") == 1, "the continued waiter did not get the engine");
    CHECK(kid_report(&w, "continued waiter releasing") == 2, "the waiter did not release");
    kid_end(&w, 0);
    kid_say(h.wr, 1);
    CHECK(kid_report(&h, "holder releasing") == 2, "holder did not release");
    kid_end(&h, SIGKILL);
}

int main(void)
{
    /* Hand the engine round at every hold once someone waits: the order, not the clock. */
    setenv("GPOOL_SIM_ENGINE_SLICE_US", "0", 1);
    takes = mmap(NULL, sizeof(*takes), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(takes != MAP_FAILED, "mmap");
    struct sim_instance *inst = util_attach();
    test_inst = inst;

    test_fair(0);
    test_fair(1);
    test_holder_killed(inst);
    test_waiter_killed_or_stopped(inst);
    test_lapsed_waiter_rejoins(inst);

    util_check_state(inst, "at the end");
    sim_instance_detach(inst);
    return check_done("sim-engine-fair");
}
