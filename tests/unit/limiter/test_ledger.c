/* Unit tests of the vGPU ledger: exact caps across forked processes, rollback, reaping after
 * SIGKILL (of a holder of memory and of a process killed holding the lock), corrupt ledgers,
 * live limit changes, the per-process record index (thousands of records released in random
 * order, with and without the index) and allocations tagged with an owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpool/failpoint.h"
#include "gpool/ledger.h"
#include "ledger_layout.h" /* to corrupt a record on purpose */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* A committed record resized in place: growing is checked against the cap to the byte,
 * shrinking always succeeds, the sums follow and the process's usage with them. */
static void test_resize(void **state)
{
    (void)state;
    struct ledger *l = open_new("resize", 10 * MiB, 100);
    struct ledger_ticket t;
    assert_int_equal(ledger_reserve(l, 0, 1 * MiB, &t), 0);
    assert_int_equal(ledger_commit(l, &t, 0x1001), 0);
    assert_int_equal(ledger_resize(l, 0, 0x1001, 4 * MiB), 0);
    assert_int_equal(used_of(l, 0), 4 * MiB);
    assert_int_equal(ledger_reserve(l, 0, 6 * MiB, &t), 0);
    assert_int_equal(ledger_commit(l, &t, 0x2000), 0);
    assert_int_equal(ledger_resize(l, 0, 0x1001, 4 * MiB + 1), -EDQUOT); /* to the byte */
    assert_int_equal(used_of(l, 0), 10 * MiB);
    assert_int_equal(ledger_resize(l, 0, 0x1001, 1 * MiB), 0);
    assert_int_equal(used_of(l, 0), 7 * MiB);
    assert_int_equal(ledger_process_usage(l, 0), 7 * MiB);
    assert_int_equal(ledger_resize(l, 0, 0x1001, 4 * MiB), 0);
    assert_int_equal(ledger_resize(l, 1, 0x1001, 1 * MiB), -ENOENT); /* per device */
    assert_int_equal(ledger_resize(l, 0, 0x3000, 1 * MiB), -ENOENT);
    assert_int_equal(ledger_resize(l, 0, 0x1001, 0), -EINVAL);
    assert_consistent(l);
    uint64_t bytes = 0;
    assert_int_equal(ledger_release(l, 0, 0x1001, &bytes), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(used_of(l, 0), 6 * MiB);
    assert_consistent(l);
    ledger_close(l);
}

/* A process SIGKILLed inside ledger_resize, between the record's new size and the sums: the
 * next locker repairs (the sums from the records) and reaps it; nothing of it is left. */
static void test_resize_sigkill(void **state)
{
    (void)state;
    struct ledger *l = open_new("resizekill", 8 * MiB, 100);
    struct ledger_ticket t;
    assert_int_equal(ledger_reserve(l, 0, MiB, &t), 0);
    assert_int_equal(ledger_commit(l, &t, 0x10), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ledger *c = NULL;
        if (ledger_open(dir, "resizekill", NULL, &c, NULL, 0))
            _exit(2);
        struct ledger_ticket ct;
        if (ledger_reserve(c, 0, MiB, &ct) || ledger_commit(c, &ct, 0x21))
            _exit(3);
        gpool_failpoint_configure("ledger.resize.sized=crash");
        ledger_resize(c, 0, 0x21, 5 * MiB);
        _exit(7); /* the failpoint did not fire */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("child did not die at the failpoint (status %#x)", st);
    assert_int_equal(ledger_resize(l, 0, 0x10, 7 * MiB), 0); /* repairs, reaps: room again */
    struct ledger_stats s;
    assert_int_equal(ledger_get_stats(l, &s), 0);
    assert_int_equal(s.repairs, 1);
    assert_int_equal(s.reaped_processes, 1);
    assert_int_equal(used_of(l, 0), 7 * MiB);
    assert_consistent(l);
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
    assert_int_equal(ledger_compute_wait(l, 0, 1), 0);
    ledger_compute_charge(l, 0, LIMITER_BURST_NS + 1000000, 1);
    assert_int_equal(ledger_compute_wait(l, 0, 1), 4000000); /* 1 ms of debt at 25% */
    fake_now += 1000000;
    assert_int_equal(ledger_compute_wait(l, 0, 0), 3000000);
    struct ledger_stats s;
    ledger_get_stats(l, &s);
    assert_int_equal(s.launches_throttled, 1);
    assert_int_equal(s.launches_charged, 1);
    ledger_set_limits(l, &(struct ledger_limits){.compute_pct = 100}, NULL);
    assert_int_equal(ledger_compute_wait(l, 0, 1), 0);
    ledger_close(l);
}

/* The share holds per device: debt on device 0 does not hold back device 1, a device the ledger
 * does not cover counts as device 0, and a new share reaches every device's bucket. */
static void test_compute_per_device(void **state)
{
    (void)state;
    struct ledger *l = open_new("compute-dev", 0, 25);
    fake_now = limiter_monotonic_ns(NULL) + 1000000000ull;
    ledger_set_clock(l, (struct limiter_clock){fake_clock, NULL});
    ledger_compute_charge(l, 0, LIMITER_BURST_NS + 2000000, 1);
    assert_int_equal(ledger_compute_wait(l, 0, 1), 8000000); /* 2 ms of debt at 25% */
    assert_int_equal(ledger_compute_wait(l, 1, 1), 0);       /* device 1 owes nothing */
    assert_int_equal(ledger_compute_wait(l, 7, 0), 8000000); /* not covered: device 0's */
    ledger_compute_charge(l, 1, LIMITER_BURST_NS + 1000000, 1);
    assert_int_equal(ledger_compute_wait(l, 1, 1), 4000000);
    assert_int_equal(ledger_compute_wait(l, 0, 0), 8000000);
    ledger_set_limits(l, &(struct ledger_limits){.compute_pct = 50}, NULL);
    assert_int_equal(ledger_compute_wait(l, 0, 0), 4000000); /* the debt repaid at 50% */
    assert_int_equal(ledger_compute_wait(l, 1, 0), 2000000);
    struct ledger_stats s;
    ledger_get_stats(l, &s);
    assert_int_equal(s.launches_throttled, 2);
    assert_int_equal(s.launches_charged, 2);
    assert_consistent(l);
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
    m[8] = 1; /* a ledger of the layout before records had an owner */
    assert_int_equal(ledger_open(dir, "corrupt", NULL, &c, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "layout version 1"));
    assert_int_equal(ledger_validate(m, (size_t)st.st_size, err, sizeof(err)), -EBADMSG);
    m[0] ^= 0xff;
    assert_int_equal(ledger_open(dir, "corrupt", NULL, &c, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "magic"));
    munmap(m, (size_t)st.st_size);
    close(fd);
    assert_int_equal(ledger_open(dir, "missing", NULL, &c, err, sizeof(err)), -ENOENT);
    assert_int_equal(ledger_open(dir, "../x", NULL, &c, err, sizeof(err)), -EINVAL);
}

/* ---- the record index ------------------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    /* xorshift64: a fixed seed gives the same order on every run. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Pointer-like keys (2 MiB aligned, as the driver hands them out), alternating devices. */
static uint64_t key_of(uint32_t i)
{
    return 0x7f0000000000ull + (uint64_t)i * (2 * MiB);
}

static uint64_t size_of(uint32_t i)
{
    return 512 * (1 + (uint64_t)(i * 7919u) % 4096);
}

/*
 * Commits n records (2 devices), then releases them in a random order; after each release the
 * size credited, the vGPU's and the process's usage per device and the invariants are checked.
 * Returns the time spent inside ledger_release, in ns.
 */
static uint64_t fill_and_release(struct ledger *l, uint32_t n, uint64_t seed)
{
    uint32_t *order = malloc(n * sizeof(*order));
    assert_non_null(order);
    uint64_t expect[2] = {used_of(l, 0), used_of(l, 1)};
    for (uint32_t i = 0; i < n; i++) {
        struct ledger_ticket t;
        assert_int_equal(ledger_reserve(l, (int)(i % 2), size_of(i), &t), 0);
        assert_int_equal(ledger_commit(l, &t, key_of(i)), 0);
        expect[i % 2] += size_of(i);
        order[i] = i;
    }
    assert_int_equal(used_of(l, 0), expect[0]);
    assert_int_equal(used_of(l, 1), expect[1]);
    assert_consistent(l);
    rng_state = seed;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rng_next() % (i + 1));
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    uint64_t spent = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        int dev = (int)(i % 2);
        uint64_t bytes = 0, t0 = now_ns();
        int rc = ledger_release(l, dev, key_of(i), &bytes);
        spent += now_ns() - t0;
        if (rc != 0 || bytes != size_of(i))
            fail_msg("release %u of %u (record %u): rc %d, %llu bytes, expected %llu", k, n, i, rc,
                     (unsigned long long)bytes, (unsigned long long)size_of(i));
        expect[dev] -= bytes;
        assert_int_equal(used_of(l, dev), expect[dev]);
        assert_int_equal(ledger_process_usage(l, dev), expect[dev]);
        if (k % 97 == 0) {
            /* Gone, and never found on the other device. */
            assert_int_equal(ledger_release(l, dev, key_of(i), NULL), -ENOENT);
            if (k + 1 < n)
                assert_int_equal(
                    ledger_release(l, 1 - (int)(order[k + 1] % 2), key_of(order[k + 1]), NULL),
                    -ENOENT);
        }
        assert_consistent(l);
    }
    assert_int_equal(used_of(l, 0), 0);
    assert_int_equal(used_of(l, 1), 0);
    free(order);
    return spent;
}

static void test_index_random_release(void **state)
{
    (void)state;
    struct ledger *l = open_new("index", 0, 100);
    uint64_t with_index = fill_and_release(l, LEDGER_RECS, 0x9e3779b97f4a7c15ull);
    /* The same work without the index (it cannot allocate): every lookup scans the table. */
    enum { N_SCAN = LEDGER_RECS };
    assert_int_equal(gpool_failpoint_configure("ledger.index.alloc=error"), 0);
    uint64_t scanning = fill_and_release(l, N_SCAN, 42);
    /* Half made without the index, half released with it rebuilt: the rebuild finds them all. */
    struct ledger_ticket t;
    for (uint32_t i = 0; i < 64; i++) {
        assert_int_equal(ledger_reserve(l, 1, size_of(i), &t), 0);
        assert_int_equal(ledger_commit(l, &t, key_of(i)), 0);
    }
    assert_int_equal(ledger_reserve(l, 1, 1, &t), 0);
    assert_int_equal(ledger_commit(l, &t, key_of(5)), -EEXIST);
    assert_int_equal(ledger_rollback(l, &t), 0);
    assert_int_equal(gpool_failpoint_configure(""), 0);
    for (uint32_t i = 0; i < 64; i++) {
        uint64_t bytes = 0;
        assert_int_equal(ledger_release(l, 1, key_of(i), &bytes), 0);
        assert_int_equal(bytes, size_of(i));
        assert_int_equal(ledger_release(l, 1, key_of(i), &bytes), -ENOENT);
    }
    assert_int_equal(used_of(l, 1), 0);
    assert_consistent(l);
    print_message("ledger_release: %.2f us each with the index (%u records), %.2f us each "
                  "scanning the table (%u records)\n",
                  (double)with_index / LEDGER_RECS / 1000.0, (unsigned)LEDGER_RECS,
                  (double)scanning / N_SCAN / 1000.0, (unsigned)N_SCAN);
    ledger_close(l);
}

/* A live process's records survive a repair (a process killed holding the lock), and its
 * index still finds every one of them. */
static void test_repair_keeps_live_records(void **state)
{
    (void)state;
    struct ledger *l = open_new("kill", 0, 100);
    struct ledger_ticket t;
    for (uint32_t i = 0; i < 200; i++) {
        assert_int_equal(ledger_reserve(l, (int)(i % 2), size_of(i), &t), 0);
        assert_int_equal(ledger_commit_owned(l, &t, key_of(i), i < 100 ? 5 : 6), 0);
    }
    uint64_t before[2] = {used_of(l, 0), used_of(l, 1)};
    kill_child_at("ledger.commit.locked=crash", 1);
    assert_int_equal(ledger_reserve(l, 0, MiB, &t), 0); /* repairs, reaps the child */
    assert_int_equal(ledger_rollback(l, &t), 0);
    struct ledger_stats s;
    assert_int_equal(ledger_get_stats(l, &s), 0);
    assert_int_equal(s.repairs, 1);
    assert_int_equal(used_of(l, 0), before[0]);
    assert_int_equal(used_of(l, 1), before[1]);
    assert_consistent(l);
    uint64_t owned = 0, bytes;
    uint32_t count = 0;
    for (uint32_t i = 0; i < 100; i++)
        owned += size_of(i);
    assert_int_equal(ledger_release_owned(l, 5, &bytes, &count), 0);
    assert_int_equal(count, 100);
    assert_int_equal(bytes, owned);
    assert_consistent(l);
    for (uint32_t i = 100; i < 200; i++) {
        assert_int_equal(ledger_release(l, (int)(i % 2), key_of(i), &bytes), 0);
        assert_int_equal(bytes, size_of(i));
    }
    assert_int_equal(used_of(l, 0), 0);
    assert_int_equal(used_of(l, 1), 0);
    assert_consistent(l);
    ledger_close(l);
}

/* ---- owners ----------------------------------------------------------------------------- */

#define CTX_A 0x5555aaaa0001ull
#define CTX_B 0x5555aaaa0002ull

static void commit_owned(struct ledger *l, int dev, uint64_t bytes, uint64_t key, uint64_t owner)
{
    struct ledger_ticket t;
    assert_int_equal(ledger_reserve(l, dev, bytes, &t), 0);
    assert_int_equal(ledger_commit_owned(l, &t, key, owner), 0);
}

/* The child's half of test_owner_release: runs on the handle inherited through fork. */
static int owner_child(struct ledger *l, int to_parent, int to_child)
{
    struct ledger_ticket t;
    uint64_t bytes = 0;
    uint32_t count = 0;
    char b = 0;
    /* Same owner and key as the parent's allocations: they are this process's own. */
    if (ledger_reserve(l, 0, 32 * MiB, &t) || ledger_commit_owned(l, &t, 0x1000, CTX_A))
        return 2;
    if (ledger_reserve(l, 1, 64 * MiB, &t) || ledger_commit_owned(l, &t, 0x5000, CTX_A))
        return 3;
    /* The parent's records are not the child's, nor in its index. */
    if (ledger_release(l, 0, 0x2000, NULL) != -ENOENT ||
        ledger_release(l, 0, 0x3000, NULL) != -ENOENT)
        return 4;
    if (ledger_release_owned(l, CTX_B, &bytes, &count) || bytes || count)
        return 5;
    if (write(to_parent, &b, 1) != 1 || read(to_child, &b, 1) != 1)
        return 6;
    if (ledger_release_owned(l, CTX_A, &bytes, &count) || bytes != 96 * MiB || count != 2)
        return 7;
    if (ledger_process_usage(l, 0) || ledger_process_usage(l, 1))
        return 8;
    if (write(to_parent, &b, 1) != 1 || read(to_child, &b, 1) != 1)
        return 9;
    return 0;
}

static void test_owner_release(void **state)
{
    (void)state;
    struct ledger *l = open_new("owner", 0, 100);
    struct ledger_ticket pending;
    commit_owned(l, 0, 1 * MiB, 0x1000, CTX_A);
    commit_owned(l, 1, 2 * MiB, 0x1000, CTX_A); /* same key, other device */
    commit_owned(l, 0, 4 * MiB, 0x2000, CTX_B);
    commit_owned(l, 0, 8 * MiB, 0x3000, 0); /* no owner */
    assert_int_equal(ledger_reserve(l, 1, 16 * MiB, &pending), 0);
    assert_consistent(l);

    int to_child[2], to_parent[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to_parent[0]);
        close(to_child[1]);
        _exit(owner_child(l, to_parent[1], to_child[0]));
    }
    /* Only the child writes to_parent: if it fails, the reads below see end-of-file. */
    close(to_parent[1]);
    close(to_child[0]);
    char b = 0;
    assert_int_equal(read(to_parent[0], &b, 1), 1);
    assert_int_equal(used_of(l, 0), (1 + 4 + 8 + 32) * MiB);
    assert_int_equal(used_of(l, 1), (2 + 16 + 64) * MiB);
    assert_consistent(l);

    uint64_t bytes = 1;
    uint32_t count = 1;
    assert_int_equal(ledger_release_owned(l, 0, &bytes, &count), -EINVAL);
    assert_int_equal(bytes, 0);
    assert_int_equal(count, 0);
    assert_int_equal(ledger_release_owned(l, 0x77, &bytes, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(ledger_release_owned(l, CTX_A, &bytes, &count), 0);
    assert_int_equal(bytes, 3 * MiB);
    assert_int_equal(count, 2);
    /* The child's CTX_A allocations are untouched; so are CTX_B's, the unowned one and the
     * reservation. */
    assert_int_equal(used_of(l, 0), (4 + 8 + 32) * MiB);
    assert_int_equal(used_of(l, 1), (16 + 64) * MiB);
    assert_int_equal(ledger_process_usage(l, 0), 12 * MiB);
    assert_int_equal(ledger_process_usage(l, 1), 16 * MiB);
    assert_consistent(l);
    assert_int_equal(ledger_release(l, 0, 0x1000, NULL), -ENOENT);
    assert_int_equal(ledger_release(l, 1, 0x1000, NULL), -ENOENT);
    assert_int_equal(ledger_release_owned(l, CTX_A, &bytes, &count), 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(count, 0);
    /* The key is free again on this process: it may be committed anew. */
    commit_owned(l, 0, 1 * MiB, 0x1000, CTX_B);
    assert_consistent(l);

    assert_int_equal(write(to_child[1], &b, 1), 1);
    assert_int_equal(read(to_parent[0], &b, 1), 1);
    assert_int_equal(used_of(l, 0), (1 + 4 + 8) * MiB);
    assert_int_equal(used_of(l, 1), 16 * MiB);
    assert_consistent(l);
    assert_int_equal(write(to_child[1], &b, 1), 1);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(ledger_reap(l), 1);

    assert_int_equal(ledger_release_owned(l, CTX_B, &bytes, &count), 0);
    assert_int_equal(bytes, 5 * MiB);
    assert_int_equal(count, 2);
    assert_consistent(l);
    assert_int_equal(ledger_release(l, 0, 0x3000, &bytes), 0);
    assert_int_equal(bytes, 8 * MiB);
    assert_int_equal(ledger_rollback(l, &pending), 0);
    assert_int_equal(used_of(l, 0), 0);
    assert_int_equal(used_of(l, 1), 0);
    assert_consistent(l);
    close(to_child[1]);
    close(to_parent[0]);
    ledger_close(l);
}

/* Thousands of records of seven owners: some released one by one in a random order, then each
 * owner's rest at once; the counts and sizes match what was committed. */
static void test_owner_many(void **state)
{
    (void)state;
    enum { N = 3000, OWNERS = 7 };
    struct ledger *l = open_new("owners", 0, 100);
    static int released[N];
    memset(released, 0, sizeof(released));
    for (uint32_t i = 0; i < N; i++)
        commit_owned(l, (int)(i % 2), size_of(i), key_of(i), 1 + i % OWNERS);
    rng_state = 7;
    for (int k = 0; k < N / 3; k++) {
        uint32_t i = (uint32_t)(rng_next() % N);
        uint64_t bytes = 0;
        int rc = ledger_release(l, (int)(i % 2), key_of(i), &bytes);
        assert_int_equal(rc, released[i] ? -ENOENT : 0);
        if (!released[i])
            assert_int_equal(bytes, size_of(i));
        released[i] = 1;
    }
    assert_consistent(l);
    for (uint64_t o = 1; o <= OWNERS; o++) {
        uint64_t want_bytes = 0, bytes = 0;
        uint32_t want = 0, count = 0;
        for (uint32_t i = 0; i < N; i++) {
            if (!released[i] && 1 + i % OWNERS == o) {
                want_bytes += size_of(i);
                want++;
            }
        }
        assert_int_equal(ledger_release_owned(l, o, &bytes, &count), 0);
        assert_int_equal(count, want);
        assert_int_equal(bytes, want_bytes);
        assert_consistent(l);
        for (uint32_t i = o - 1; i < N; i += OWNERS)
            assert_int_equal(ledger_release(l, (int)(i % 2), key_of(i), NULL), -ENOENT);
    }
    assert_int_equal(used_of(l, 0), 0);
    assert_int_equal(used_of(l, 1), 0);
    ledger_close(l);
}

/* A repair drops a corrupt record, even one of a live process: that process's index entry
 * goes stale and must not be trusted (the key is unknown, and may be committed again). */
static void test_repair_drops_corrupt_record(void **state)
{
    (void)state;
    struct ledger *l = open_new("kill", 0, 100);
    commit_owned(l, 0, MiB, 0x1000, CTX_A);
    commit_owned(l, 0, 2 * MiB, 0x2000, CTX_A);
    kill_child_at("ledger.commit.locked=crash", 1); /* the lock is left to be repaired */
    int fd = open(ledger_path(l), O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    const struct ledger_hdr *h = (const struct ledger_hdr *)m;
    struct ledger_rec *recs = (struct ledger_rec *)(m + h->rec_off);
    uint32_t r = 0;
    while (r < h->nrecs && !(recs[r].state == LEDGER_REC_COMMITTED && recs[r].key == 0x1000))
        r++;
    assert_true(r < h->nrecs);
    recs[r].bytes = 0; /* corrupt: the repair drops it */
    munmap(m, (size_t)st.st_size);
    close(fd);

    struct ledger_ticket t;
    assert_int_equal(ledger_reserve(l, 1, MiB, &t), 0); /* repairs */
    assert_int_equal(ledger_rollback(l, &t), 0);
    assert_int_equal(used_of(l, 0), 2 * MiB);
    assert_consistent(l);
    assert_int_equal(ledger_release(l, 0, 0x1000, NULL), -ENOENT);
    commit_owned(l, 0, 4 * MiB, 0x1000, CTX_B); /* not -EEXIST */
    uint64_t bytes = 0;
    uint32_t count = 0;
    assert_int_equal(ledger_release_owned(l, CTX_A, &bytes, &count), 0);
    assert_int_equal(bytes, 2 * MiB);
    assert_int_equal(count, 1);
    assert_int_equal(ledger_release(l, 0, 0x1000, &bytes), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(used_of(l, 0), 0);
    assert_consistent(l);
    ledger_close(l);
}

/* A process killed in the middle of ledger_release_owned: its records are all reclaimed. */
static void test_release_owned_sigkill(void **state)
{
    (void)state;
    struct ledger *l = open_new("ownkill", 0, 100);
    commit_owned(l, 0, MiB, 0x10, CTX_A);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ledger *c = NULL;
        if (ledger_open(dir, "ownkill", NULL, &c, NULL, 0))
            _exit(2);
        struct ledger_ticket t;
        for (uint64_t i = 0; i < 4; i++)
            if (ledger_reserve(c, (int)(i % 2), 2 * MiB, &t) ||
                ledger_commit_owned(c, &t, 0x10 + i, i < 3 ? CTX_A : CTX_B))
                _exit(3);
        gpool_failpoint_configure("ledger.release_owned.locked=crash");
        ledger_release_owned(c, CTX_A, NULL, NULL);
        _exit(7); /* the failpoint did not fire */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("child did not die at the failpoint (status %#x)", st);
    struct ledger_ticket t;
    assert_int_equal(ledger_reserve(l, 1, MiB, &t), 0); /* repairs, reaps the child */
    assert_int_equal(ledger_rollback(l, &t), 0);
    struct ledger_stats s;
    assert_int_equal(ledger_get_stats(l, &s), 0);
    assert_int_equal(s.repairs, 1);
    assert_int_equal(s.reaped_processes, 1);
    assert_int_equal(used_of(l, 0), MiB);
    assert_int_equal(used_of(l, 1), 0);
    assert_consistent(l);
    uint64_t bytes = 0;
    uint32_t count = 0;
    assert_int_equal(ledger_release_owned(l, CTX_A, &bytes, &count), 0);
    assert_int_equal(bytes, MiB);
    assert_int_equal(count, 1);
    assert_consistent(l);
    ledger_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reserve_commit_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_processes_never_exceed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_change_seen_by_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compute_bucket_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compute_per_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_child_gets_own_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_random_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_keeps_live_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_owned_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_drops_corrupt_record, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
