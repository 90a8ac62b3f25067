/*
 * `gpool sim ls` and `gpool sim reset` (the built gpool binary is argv[1]) on a private sim
 * directory: listing shows devices, UUIDs, memory and live processes; reset refuses while a
 * live process uses an instance, removes it with --force or once its processes are dead.
 */
#include "sim_test_util.h"

#define MIB (1024ull * 1024ull)

static const char *gpool;

/* Runs `gpool ARGS` (stdout and stderr captured); returns its exit status. */
static int run(char *out, size_t len, const char *args)
{
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", gpool, args);
    FILE *p = popen(cmd, "r");
    REQUIRE(p, "popen %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
    REQUIRE(argc > 1, "usage: test_sim_cli GPOOL");
    gpool = argv[1];
    char dir[PATH_MAX], out[16384], path[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/cli-XXXXXX", util_simdir());
    int made = mkdir(util_simdir(), 0700) == 0 || errno == EEXIST;
    REQUIRE(made && mkdtemp(dir), "mkdtemp %s", dir);
    setenv("GPOOL_SIM_DIR", dir, 1);
    setenv("GPOOL_SIM_GPUS", "A100-40GB,T4", 1);

    CHECK(run(out, sizeof(out), "sim --help") == 0 && strstr(out, "reset"), "help: %s", out);
    CHECK(run(out, sizeof(out), "sim frobnicate") == 2, "unknown command accepted");
    CHECK(run(out, sizeof(out), "sim ls") == 0 && strstr(out, "no simulated GPU instances"),
          "empty ls: %s", out);

    struct sim_instance *inst = util_attach();
    uint64_t off;
    CHECK_OK(sim_state_alloc(inst, 1, 4 * MIB, SIM_CHARGE_MEMORY, &off, NULL));
    unsigned char uuid[16];
    sim_instance_uuid(inst, 1, uuid);
    char uuid_text[16];
    snprintf(uuid_text, sizeof(uuid_text), "GPU-%02x%02x%02x%02x", uuid[0], uuid[1], uuid[2],
             uuid[3]);

    CHECK(run(out, sizeof(out), "sim ls") == 0, "ls failed: %s", out);
    char want[128];
    snprintf(want, sizeof(want), "instance %s", util_instance());
    CHECK(strstr(out, want) != NULL, "ls lacks \"%s\": %s", want, out);
    CHECK(strstr(out, "NVIDIA A100-SXM4-40GB") && strstr(out, "Tesla T4"), "ls models: %s", out);
    CHECK(strstr(out, uuid_text) != NULL, "ls lacks UUID %s: %s", uuid_text, out);
    CHECK(strstr(out, "4 MiB used of 15360 MiB") != NULL, "ls memory: %s", out);
    snprintf(want, sizeof(want), "pid %-8d", (int)getpid());
    CHECK(strstr(out, want) != NULL, "ls lacks our pid: %s", out);

    /* In use: refused, naming the pid. */
    snprintf(path, sizeof(path), "sim reset %s", util_instance());
    CHECK(run(out, sizeof(out), path) == 1 && strstr(out, "in use"), "reset in use: %s", out);
    snprintf(want, sizeof(want), "%d", (int)getpid());
    CHECK(strstr(out, want) != NULL, "reset message lacks the pid: %s", out);
    CHECK(run(out, sizeof(out), "sim reset --all") == 1, "reset --all removed a used instance");

    /* An instance whose only process died is removable. */
    pid_t kid = fork();
    REQUIRE(kid >= 0, "fork");
    if (kid == 0) {
        setenv("GPOOL_SIM_INSTANCE", "dead-user", 1);
        struct sim_instance *i2;
        char err[512];
        uint64_t o;
        if (sim_instance_attach(&i2, err, sizeof(err)) ||
            sim_state_alloc(i2, 0, MIB, SIM_CHARGE_MEMORY, &o, NULL))
            _exit(1);
        _exit(0);
    }
    CHECK(util_wait(kid) == 0, "child failed");
    CHECK(run(out, sizeof(out), "sim ls") == 0 && strstr(out, "instance dead-user"), "ls: %s",
          out);
    CHECK(run(out, sizeof(out), "sim reset dead-user") == 0, "reset of a dead user's "
          "instance: %s", out);
    CHECK(run(out, sizeof(out), "sim reset dead-user") == 1 && strstr(out, "no instance"),
          "second reset: %s", out);

    /* --force removes it under us; we keep working on our (now unlinked) files. */
    snprintf(path, sizeof(path), "sim reset --force %s", util_instance());
    CHECK(run(out, sizeof(out), path) == 0, "reset --force: %s", out);
    snprintf(path, sizeof(path), "%s/gpool-sim-%s", dir, util_instance());
    CHECK(access(path, F_OK) != 0, "instance directory still there after reset --force");
    CHECK_OK(sim_state_free(inst, 1, off));
    sim_instance_detach(inst);

    /* A fresh attach creates it again; reset --all clears the directory. */
    inst = util_attach();
    sim_instance_detach(inst);
    CHECK(run(out, sizeof(out), "sim reset --all") == 0, "reset --all: %s", out);
    CHECK(run(out, sizeof(out), "sim ls") == 0 && strstr(out, "no simulated GPU instances"),
          "ls after reset --all: %s", out);
    CHECK(rmdir(dir) == 0, "sim directory not empty after reset --all");

    /* A directory that cannot be read is an error naming it and the reason, not "no
     * instances"; one that does not exist yet simply holds none. */
    snprintf(path, sizeof(path), "%s-file", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f, "create %s", path);
    fclose(f);
    char args[PATH_MAX + 128];
    snprintf(args, sizeof(args), "sim ls --dir '%s'", path);
    CHECK(run(out, sizeof(out), args) == 1 && strstr(out, path) &&
              strstr(out, strerror(ENOTDIR)) && !strstr(out, "no simulated GPU instances"),
          "ls of a file: %s", out);
    snprintf(args, sizeof(args), "sim reset --all --dir '%s'", path);
    CHECK(run(out, sizeof(out), args) == 1 && strstr(out, path) &&
              strstr(out, strerror(ENOTDIR)), "reset --all in a file: %s", out);
    unlink(path);
    snprintf(args, sizeof(args), "sim ls --dir '%s'", dir);
    CHECK(run(out, sizeof(out), args) == 0 && strstr(out, "no simulated GPU instances"),
          "ls of a missing directory: %s", out);
    return check_done("sim-cli");
}
