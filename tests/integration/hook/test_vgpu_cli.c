/*
 * `gpool vgpu create|show|set|reap` round trips: runs the built gpool binary (argv[1]) against a
 * test-local ledger directory (GPOOL_VGPU_DIR, emptied of this test's ledgers first) and checks
 * what it prints, its exit status and what the ledger then holds (read with gpool/ledger.h).
 * A forked child attached with ledger.h holds usage and is SIGKILLed; `gpool vgpu reap` must
 * report and reclaim it.
 */
#include "check.h"
#include "gpool/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)

static const char *gpool_bin;
static const char *dir;
static char out[65536];

/* Runs gpool with the given arguments (NULL-terminated); stdout and stderr go to `out`.
 * Returns the exit status, or -1 when it did not exit normally. */
static int gpool(const char *arg, ...)
{
    const char *argv[32] = {gpool_bin, arg};
    int n = 2;
    va_list ap;
    va_start(ap, arg);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;

    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(gpool_bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define HAS(s) (strstr(out, (s)) != NULL)

static struct ledger *open_ledger(const char *name)
{
    struct ledger *l = NULL;
    char err[256] = "";
    int rc = ledger_open(dir, name, NULL, &l, err, sizeof(err));
    REQUIRE(rc == 0, "ledger_open %s: %d %s", name, rc, err);
    return l;
}

static void remove_ledger(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/gpool-vgpu-%s", dir, name);
    unlink(path);
}

static void test_usage(void)
{
    CHECK(gpool("vgpu", "--help", NULL) == 0, "help: %s", out);
    CHECK(HAS("create") && HAS("reap") && HAS("--vram"), "help text: %s", out);
    CHECK(gpool("vgpu", NULL) == 2, "no verb");
    CHECK(gpool("vgpu", "frobnicate", NULL) == 2 && HAS("frobnicate"), "bad verb: %s", out);
    CHECK(gpool("vgpu", "create", "cli-x", "--vram", "4GiB", NULL) == 2 && HAS("4GiB"),
          "bad quantity: %s", out);
    CHECK(gpool("vgpu", "create", "cli-x", "--vram", "1Gi", "--compute", "150", NULL) == 2 &&
              HAS("150"),
          "bad percent: %s", out);
    CHECK(gpool("vgpu", "create", "cli-x", "--bogus", NULL) == 2 && HAS("--bogus"),
          "bad option: %s", out);
    CHECK(gpool("vgpu", "show", "cli-missing", NULL) == 1 && HAS("cli-missing"),
          "missing ledger: %s", out);
    CHECK(gpool("vgpu", "set", "cli-missing", "--vram", "1Gi", NULL) == 1, "set missing: %s", out);
}

static void test_create_show_set(void)
{
    remove_ledger("cli-a");
    CHECK(gpool("vgpu", "create", "cli-a", "--vram", "4Gi", "--compute", "25", NULL) == 0,
          "create: %s", out);
    struct ledger *l = open_ledger("cli-a");
    struct ledger_limits lim;
    CHECK_OK(ledger_get_limits(l, &lim));
    CHECK(lim.vram_bytes == 4 * GIB && lim.compute_pct == 25, "limits %llu %u",
          (unsigned long long)lim.vram_bytes, lim.compute_pct);
    uint64_t gen0 = lim.generation;

    /* An existing ledger is refused, then replaced with --force. */
    CHECK(gpool("vgpu", "create", "cli-a", "--vram", "1Gi", NULL) == 1 && HAS("already exists"),
          "create twice: %s", out);

    /* show: limits, generation, usage per device and per process (ours: 8 MiB). */
    struct ledger_ticket t;
    CHECK_OK(ledger_reserve(l, 0, 8 * MIB, &t));
    CHECK_OK(ledger_commit(l, &t, 0x1000));
    CHECK(gpool("vgpu", "show", "cli-a", NULL) == 0, "show: %s", out);
    char want[128];
    CHECK(HAS("vGPU cli-a") && HAS("4.00 GiB") && HAS("compute 25%"), "show limits: %s", out);
    snprintf(want, sizeof(want), "generation %llu", (unsigned long long)gen0);
    CHECK(HAS(want), "show generation: %s", out);
    CHECK(HAS("GPU 0: used 8.00 MiB (8388608 bytes)"), "show device usage: %s", out);
    snprintf(want, sizeof(want), "pid %-8d", (int)getpid());
    CHECK(HAS(want) && HAS("alive"), "show process: %s", out);
    CHECK(HAS("stats:"), "show stats: %s", out);

    /* show with no NAME lists every ledger of the directory. */
    CHECK(gpool("vgpu", "show", NULL) == 0 && HAS("vGPU cli-a"), "show all: %s", out);

    /* set: a live change with a new generation, seen by an attached process. */
    CHECK(gpool("vgpu", "set", "cli-a", "--vram", "512Mi", "--compute", "50", NULL) == 0, "set: %s",
          out);
    CHECK_OK(ledger_get_limits(l, &lim));
    CHECK(lim.vram_bytes == 512 * MIB && lim.compute_pct == 50 && lim.generation > gen0,
          "after set %llu %u gen %llu", (unsigned long long)lim.vram_bytes, lim.compute_pct,
          (unsigned long long)lim.generation);
    uint64_t used = 0, cap = 0;
    CHECK_OK(ledger_usage(l, 0, &used, &cap));
    CHECK(used == 8 * MIB && cap == 512 * MIB, "usage %llu cap %llu", (unsigned long long)used,
          (unsigned long long)cap);
    CHECK(gpool("vgpu", "set", "cli-a", "--compute", "0", NULL) == 2, "set bad: %s", out);
    CHECK(gpool("vgpu", "set", "cli-a", NULL) == 2, "set nothing: %s", out);
    CHECK_OK(ledger_release(l, 0, 0x1000, NULL));
    ledger_close(l);

    CHECK(gpool("vgpu", "create", "cli-a", "--vram", "1Gi", "--force", NULL) == 0,
          "create --force: %s", out);
    l = open_ledger("cli-a");
    CHECK_OK(ledger_get_limits(l, &lim));
    CHECK(lim.vram_bytes == GIB && lim.compute_pct == 100, "after --force %llu %u",
          (unsigned long long)lim.vram_bytes, lim.compute_pct);
    ledger_close(l);
}

static void test_reap(void)
{
    remove_ledger("cli-r");
    CHECK(gpool("vgpu", "create", "cli-r", "--vram", "1Gi", NULL) == 0, "create: %s", out);
    CHECK(gpool("vgpu", "reap", "cli-r", NULL) == 0 && HAS("no dead processes"), "reap idle: %s",
          out);

    /* A child holds 24 MiB through its own slot, tells us, and is SIGKILLed. */
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(pfd[0]);
        struct ledger *cl = NULL;
        struct ledger_ticket t;
        char c = 'x';
        if (ledger_open(dir, "cli-r", NULL, &cl, NULL, 0) != 0 ||
            ledger_reserve(cl, 0, 24 * MIB, &t) != 0 || ledger_commit(cl, &t, 0xdead000) != 0)
            c = 'e';
        if (write(pfd[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    char c = 0;
    REQUIRE(read(pfd[0], &c, 1) == 1 && c == 'x', "child did not attach");
    close(pfd[0]);

    CHECK(gpool("vgpu", "show", "cli-r", NULL) == 0 && HAS("24.00 MiB"), "show holder: %s", out);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    CHECK(gpool("vgpu", "reap", "cli-r", NULL) == 0, "reap: %s", out);
    char want[128];
    snprintf(want, sizeof(want), "reclaimed pid %d", (int)pid);
    CHECK(HAS(want) && HAS("25165824 bytes"), "reap output: %s", out);

    struct ledger *l = open_ledger("cli-r");
    uint64_t used = 1, cap = 0;
    CHECK_OK(ledger_usage(l, 0, &used, &cap));
    CHECK(used == 0, "usage after reap %llu", (unsigned long long)used);
    struct ledger_stats st;
    CHECK_OK(ledger_get_stats(l, &st));
    CHECK(st.reaped_processes >= 1, "reaped %llu", (unsigned long long)st.reaped_processes);
    char err[256] = "";
    CHECK(ledger_check(l, err, sizeof(err)) == 0, "ledger_check: %s", err);
    ledger_close(l);

    CHECK(gpool("vgpu", "reap", NULL) == 0 && HAS("vGPU cli-r"), "reap all: %s", out);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_vgpu_cli PATH-TO-GPOOL");
    gpool_bin = argv[1];
    dir = getenv("GPOOL_VGPU_DIR");
    REQUIRE(dir && *dir, "GPOOL_VGPU_DIR is not set");
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    mkdir(path, 0700);
    test_usage();
    test_create_show_set();
    test_reap();
    return check_done("test_vgpu_cli");
}
