/*
 * gpool sim: lists and removes simulated GPU instances (the shared state of src/sim/state.c).
 *
 *   gpool sim ls [--dir DIR]
 *   gpool sim reset [INSTANCE | --all] [--force] [--dir DIR]
 */
#include "cli.h"
#include "sim.h"
#include "state_layout.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIM_PREFIX "gpool-sim-"
#define MAX_DIRS 2

static void sim_usage(FILE *out)
{
    fprintf(out,
            "Usage: gpool sim ls [--dir DIR]\n"
            "       gpool sim reset [INSTANCE | --all] [--force] [--dir DIR]\n"
            "\n"
            "Simulated GPUs (the sim libcuda.so.1) keep their devices in an instance directory\n"
            "DIR/gpool-sim-INSTANCE shared by every process that uses them.\n"
            "\n"
            "Commands:\n"
            "  ls      Lists instances: devices (model, UUID, PCI bus id), used and total memory,\n"
            "          and the live processes using each device.\n"
            "  reset   Removes an instance (default: $GPOOL_SIM_INSTANCE or \"default\"), or every\n"
            "          instance with --all. Refuses while live processes use it unless --force;\n"
            "          use it after changing GPOOL_SIM_GPUS or when the state file is corrupt.\n"
            "\n"
            "Options:\n"
            "  --dir DIR   The sim directory (default: $GPOOL_SIM_DIR, else both /dev/shm and\n"
            "              /var/tmp/gpool-sim-<uid>).\n"
            "  --force     Remove instances even while processes use them.\n"
            "  -h, --help  Shows this help.\n");
}

/* Fills dirs with the sim directories to look in; returns how many. */
static int sim_dirs(const char *opt_dir, char dirs[MAX_DIRS][PATH_MAX])
{
    const char *env = getenv("GPOOL_SIM_DIR");
    if (opt_dir) {
        snprintf(dirs[0], PATH_MAX, "%s", opt_dir);
        return 1;
    }
    if (env && *env) {
        snprintf(dirs[0], PATH_MAX, "%s", env);
        return 1;
    }
    snprintf(dirs[0], PATH_MAX, "/dev/shm");
    sim_instance_data_dir(dirs[1], PATH_MAX);
    return 2;
}

static void format_mib(uint64_t bytes, char *buf, size_t len)
{
    snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
}

static void print_instance(const char *dir, const char *name)
{
    struct sim_instance *inst;
    char err[512];

    printf("instance %s (%s/" SIM_PREFIX "%s)\n", name, dir, name);
    if (sim_instance_open(dir, name, &inst, err, sizeof(err)) != 0) {
        printf("  unusable: %s\n", err);
        return;
    }
    int32_t pids[1];
    int live = sim_instance_live_count(inst, pids, 1);
    for (int d = 0; d < sim_instance_device_count(inst); d++) {
        const struct sim_model *m = sim_instance_model(inst, d);
        unsigned char u[16];
        int dom, bus, dv;
        uint64_t total, used;
        char t[32], us[32];

        sim_instance_uuid(inst, d, u);
        sim_instance_pci(inst, d, &dom, &bus, &dv);
        sim_instance_mem_info(inst, d, &total, &used);
        format_mib(total, t, sizeof(t));
        format_mib(used, us, sizeof(us));
        printf("  GPU %d: %s (%s)  UUID: GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
               "%02x%02x%02x%02x%02x%02x  PCI %08x:%02x:%02x.0\n",
               d, m->name, m->alias, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
               u[10], u[11], u[12], u[13], u[14], u[15], (unsigned)dom, (unsigned)bus,
               (unsigned)dv);
        printf("         memory: %s used of %s\n", us, t);
        struct sim_proc_info procs[64];
        int n = sim_instance_processes(inst, d, procs, 64);
        for (int i = 0; i < n; i++) {
            format_mib(procs[i].used_bytes, us, sizeof(us));
            printf("         pid %-8d %-20s %s\n", (int)procs[i].pid, procs[i].name, us);
        }
    }
    printf("  live processes: %d\n", live);
    sim_instance_detach(inst);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Calls fn for every instance directory in dir, in name order. Returns how many there were, 0
 * when dir does not exist (no instance has been created there yet), or -errno when dir cannot
 * be read (after printing the directory and the reason, prefixed with who). */
static int for_each_instance(const char *who, const char *dir,
                             void (*fn)(const char *dir, const char *name, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    if (!d) {
        int rc = -errno;
        if (rc == -ENOENT)
            return 0;
        fprintf(stderr, "%s: cannot read \"%s\": %s\n", who, dir, strerror(-rc));
        return rc;
    }
    struct dirent *e;
    int n = 0, cap = 0;
    char (*names)[SIM_NAME_MAX] = NULL;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, SIM_PREFIX, strlen(SIM_PREFIX)) != 0)
            continue;
        const char *name = e->d_name + strlen(SIM_PREFIX);
        if (!sim_instance_name_ok(name))
            continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 64;
            void *grown = realloc(names, (size_t)ncap * SIM_NAME_MAX);
            if (!grown) {
                fprintf(stderr, "%s: out of memory listing \"%s\"\n", who, dir);
                free(names);
                closedir(d);
                return -ENOMEM;
            }
            names = grown;
            cap = ncap;
        }
        snprintf(names[n++], SIM_NAME_MAX, "%s", name);
    }
    closedir(d);
    if (n)
        qsort(names, (size_t)n, SIM_NAME_MAX, name_cmp);
    for (int i = 0; i < n; i++)
        fn(dir, names[i], arg);
    free(names);
    return n;
}

static void ls_one(const char *dir, const char *name, void *arg)
{
    (void)arg;
    print_instance(dir, name);
}

static int sim_ls(const char *opt_dir)
{
    char dirs[MAX_DIRS][PATH_MAX];
    int ndirs = sim_dirs(opt_dir, dirs), total = 0, failed = 0;
    for (int i = 0; i < ndirs; i++) {
        int n = for_each_instance("gpool sim ls", dirs[i], ls_one, NULL);
        if (n < 0)
            failed = 1;
        else
            total += n;
    }
    if (failed)
        return 1;
    if (total == 0) {
        printf("no simulated GPU instances in");
        for (int i = 0; i < ndirs; i++)
            printf("%s %s", i ? "," : "", dirs[i]);
        printf("\n");
    }
    return 0;
}

struct reset_ctx {
    int force;
    int failed;
    int removed;
};

static void reset_one(const char *dir, const char *name, void *arg)
{
    struct reset_ctx *ctx = arg;
    char err[512];
    int rc = sim_instance_remove(dir, name, ctx->force, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "gpool sim reset: %s\n", err);
        ctx->failed++;
        return;
    }
    printf("removed instance %s (%s/" SIM_PREFIX "%s)\n", name, dir, name);
    ctx->removed++;
}

static int sim_reset(const char *opt_dir, const char *name, int all, int force)
{
    char dirs[MAX_DIRS][PATH_MAX];
    int ndirs = sim_dirs(opt_dir, dirs);
    struct reset_ctx ctx = {.force = force};

    if (!all) {
        if (!name) {
            name = getenv("GPOOL_SIM_INSTANCE");
            if (!name || !*name)
                name = "default";
        }
        if (!sim_instance_name_ok(name)) {
            fprintf(stderr, "gpool sim reset: bad instance name \"%s\"\n", name);
            return 2;
        }
        for (int i = 0; i < ndirs; i++) {
            char path[PATH_MAX + 80];
            struct stat st;
            if (snprintf(path, sizeof(path), "%s/" SIM_PREFIX "%s", dirs[i], name) >=
                (int)sizeof(path))
                continue;
            if (stat(path, &st) == 0)
                reset_one(dirs[i], name, &ctx);
        }
        if (ctx.removed == 0 && ctx.failed == 0) {
            fprintf(stderr, "gpool sim reset: no instance \"%s\" in", name);
            for (int i = 0; i < ndirs; i++)
                fprintf(stderr, "%s %s", i ? "," : "", dirs[i]);
            fprintf(stderr, "\n");
            return 1;
        }
    } else {
        for (int i = 0; i < ndirs; i++)
            if (for_each_instance("gpool sim reset", dirs[i], reset_one, &ctx) < 0)
                ctx.failed++;
        if (ctx.removed == 0 && ctx.failed == 0)
            printf("no instances to remove\n");
    }
    return ctx.failed ? 1 : 0;
}

/* gpool sim: see sim_usage(). */
int cli_sim_main(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL, *cmd = NULL;
    int all = 0, force = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
            sim_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--dir")) {
            if (++i == argc) {
                fprintf(stderr, "gpool sim: --dir needs a directory\n");
                return 2;
            }
            dir = argv[i];
        } else if (!strncmp(a, "--dir=", 6)) {
            dir = a + 6;
        } else if (!strcmp(a, "--all")) {
            all = 1;
        } else if (!strcmp(a, "--force") || !strcmp(a, "-f")) {
            force = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "gpool sim: unknown option \"%s\"\n\n", a);
            sim_usage(stderr);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "gpool sim: unexpected argument \"%s\"\n", a);
            return 2;
        }
    }
    if (!cmd) {
        sim_usage(stderr);
        return 2;
    }
    if (!strcmp(cmd, "ls") || !strcmp(cmd, "list")) {
        if (name || all || force) {
            fprintf(stderr, "gpool sim ls: takes only --dir\n");
            return 2;
        }
        return sim_ls(dir);
    }
    if (!strcmp(cmd, "reset")) {
        if (name && all) {
            fprintf(stderr, "gpool sim reset: give an instance or --all, not both\n");
            return 2;
        }
        return sim_reset(dir, name, all, force);
    }
    fprintf(stderr, "gpool sim: unknown command \"%s\" (ls, reset)\n\n", cmd);
    sim_usage(stderr);
    return 2;
}
