/*
 * gpool vgpu: manages the ledgers of local vGPUs (include/gpool/ledger.h,
 * docs/internals/limiter.md).
 *
 *   gpool vgpu create NAME --vram Q [--compute P] [--devices N] [--force] [--dir DIR]
 *   gpool vgpu show [NAME] [--dir DIR]
 *   gpool vgpu set NAME [--vram Q] [--compute P] [--dir DIR]
 *   gpool vgpu reap [NAME] [--dir DIR]
 *
 * Exit status: 0 on success, 1 when the operation failed (missing or corrupt ledger, I/O), 2 on
 * a usage error (unknown option, bad value).
 */
#include "cli.h"

#include "gpool/ledger.h"
#include "gpool/limiter.h"
#include "gpool/liveness.h"
#include "ledger_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VGPU_PREFIX "gpool-vgpu-"
#define WHO         "gpool vgpu"

static void vgpu_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: gpool vgpu create NAME --vram QUANTITY [--compute PERCENT] [--devices N]\n"
        "                         [--force] [--dir DIR]\n"
        "       gpool vgpu show [NAME] [--dir DIR]\n"
        "       gpool vgpu set NAME [--vram QUANTITY] [--compute PERCENT] [--dir DIR]\n"
        "       gpool vgpu reap [NAME] [--dir DIR]\n"
        "\n"
        "A local vGPU (GPOOL_VGPU=NAME with gpool's hook, build/lib/hook/libcuda.so.1) keeps its\n"
        "limits and usage in a ledger file DIR/gpool-vgpu-NAME shared by its processes.\n"
        "\n"
        "Commands:\n"
        "  create  Creates the ledger of vGPU NAME with a VRAM cap per device and a compute\n"
        "          share. Refuses an existing ledger unless --force (which replaces it; its\n"
        "          running processes keep the old one).\n"
        "  show    Prints limits, limit generation, usage per device, usage per process (pid,\n"
        "          name, alive or dead) and counters; every ledger in DIR without NAME.\n"
        "          Attaching reclaims the usage of dead processes, as every attach does.\n"
        "  set     Changes limits live: running processes apply them without restart; the\n"
        "          limit generation is bumped. A cap below current usage is allowed (later\n"
        "          allocations fail until usage drops).\n"
        "  reap    Reclaims the usage of dead processes (of NAME, or of every ledger in DIR)\n"
        "          and prints what was reclaimed.\n"
        "\n"
        "Options:\n"
        "  --vram Q       VRAM cap per device, a Kubernetes quantity: 4Gi, 512Mi, 1.5G;\n"
        "                 0 = unlimited.\n"
        "  --compute P    Compute share in percent of the device, 1..100 (100 = unlimited);\n"
        "                 default 100.\n"
        "  --devices N    Devices the ledger covers, 1..%d (default 1; the hook creates ledgers\n"
        "                 with the driver's device count).\n"
        "  --force        create: replace an existing ledger.\n"
        "  --dir DIR      Ledger directory (default: $GPOOL_VGPU_DIR, else /dev/shm, else\n"
        "                 /var/tmp/gpool-vgpu-<uid>), as the hook uses.\n"
        "  -h, --help     Shows this help.\n",
        LEDGER_MAX_DEVICES);
}

struct vgpu_opts {
    const char *name;
    const char *dir;
    const char *vram;
    const char *compute;
    const char *devices;
    int force;
};

/* Parses argv[2..] (argv[1] is the verb). Returns 0, or 2 after printing the error. */
static int parse_opts(int argc, char **argv, struct vgpu_opts *o, int allow_name, int allow_limits,
                      int allow_create)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        const char *key = NULL;
        if (!strncmp(a, "--dir", 5))
            slot = &o->dir, key = "--dir";
        else if (allow_limits && !strncmp(a, "--vram", 6))
            slot = &o->vram, key = "--vram";
        else if (allow_limits && !strncmp(a, "--compute", 9))
            slot = &o->compute, key = "--compute";
        else if (allow_create && !strncmp(a, "--devices", 9))
            slot = &o->devices, key = "--devices";
        if (slot) {
            size_t kl = strlen(key);
            if (a[kl] == '=') {
                *slot = a + kl + 1;
                continue;
            }
            if (a[kl] == '\0') {
                if (i + 1 >= argc) {
                    fprintf(stderr, WHO " %s: option %s needs a value\n", argv[1], key);
                    return 2;
                }
                *slot = argv[++i];
                continue;
            }
        }
        if (allow_create && !strcmp(a, "--force")) {
            o->force = 1;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, WHO " %s: unknown option \"%s\" (see 'gpool vgpu --help')\n", argv[1],
                    a);
            return 2;
        }
        if (!allow_name || o->name) {
            fprintf(stderr, WHO " %s: unexpected argument \"%s\"\n", argv[1], a);
            return 2;
        }
        o->name = a;
    }
    return 0;
}

/* Resolves the ledger directory into buf. 0, or 1 after printing the error. */
static int resolve_dir(const struct vgpu_opts *o, char *buf, size_t len)
{
    if (o->dir) {
        snprintf(buf, len, "%s", o->dir);
        return 0;
    }
    int rc = ledger_dir(buf, len);
    if (rc < 0) {
        fprintf(stderr, WHO ": no usable ledger directory: %s\n", strerror(-rc));
        return 1;
    }
    return 0;
}

static void format_bytes(uint64_t b, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    double v = (double)b;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, len, "%.2f %s", v, units[u]);
}

/* Opens an existing ledger. 0, or 1 after printing the error. */
static int open_existing(const char *dir, const char *name, struct ledger **l)
{
    char err[512];
    int rc = ledger_open(dir, name, NULL, l, err, sizeof(err));
    if (rc == -ENOENT) {
        fprintf(stderr, WHO ": vGPU \"%s\": no ledger %s/" VGPU_PREFIX "%s\n", name, dir, name);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, WHO ": vGPU \"%s\": %s\n", name, err[0] ? err : strerror(-rc));
        return 1;
    }
    return 0;
}

/* ---- create -------------------------------------------------------------------------------- */

static int parse_limits(const char *verb, const struct vgpu_opts *o, struct ledger_limits *lim)
{
    char err[256];
    if (o->vram && limiter_parse_quantity(o->vram, &lim->vram_bytes, err, sizeof(err)) < 0) {
        fprintf(stderr, WHO " %s: --vram: %s\n", verb, err);
        return 2;
    }
    if (o->compute && limiter_parse_percent(o->compute, &lim->compute_pct, err, sizeof(err)) < 0) {
        fprintf(stderr, WHO " %s: --compute: %s\n", verb, err);
        return 2;
    }
    return 0;
}

static int vgpu_create(int argc, char **argv)
{
    struct vgpu_opts o;
    int rc = parse_opts(argc, argv, &o, 1, 1, 1);
    if (rc)
        return rc;
    if (!o.name) {
        fprintf(stderr, WHO " create: missing vGPU NAME\n");
        return 2;
    }
    if (!o.vram) {
        fprintf(stderr, WHO " create: vGPU \"%s\": --vram is required (0 = unlimited)\n", o.name);
        return 2;
    }
    struct ledger_limits lim = {.compute_pct = 100, .ndev = 1};
    if ((rc = parse_limits("create", &o, &lim)))
        return rc;
    if (o.devices) {
        char *end;
        errno = 0;
        long n = strtol(o.devices, &end, 10);
        if (errno || *end || end == o.devices || n < 1 || n > LEDGER_MAX_DEVICES) {
            fprintf(stderr, WHO " create: --devices \"%s\": not an integer in 1..%d\n", o.devices,
                    LEDGER_MAX_DEVICES);
            return 2;
        }
        lim.ndev = (uint32_t)n;
    }
    char dir[PATH_MAX], path[PATH_MAX + 128], err[512];
    if (resolve_dir(&o, dir, sizeof(dir)))
        return 1;
    snprintf(path, sizeof(path), "%s/" VGPU_PREFIX "%s", dir, o.name);
    struct ledger *l = NULL;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!o.force) {
            fprintf(stderr,
                    WHO " create: vGPU \"%s\": ledger %s already exists (use 'gpool vgpu set' to "
                        "change its limits, or --force to replace it)\n",
                    o.name, path);
            return 1;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            fprintf(stderr, WHO " create: vGPU \"%s\": cannot remove %s: %s\n", o.name, path,
                    strerror(errno));
            return 1;
        }
    }
    rc = ledger_open(dir, o.name, &lim, &l, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, WHO " create: vGPU \"%s\": %s\n", o.name, err[0] ? err : strerror(-rc));
        return 1;
    }
    struct ledger_limits got;
    ledger_get_limits(l, &got);
    char v[32];
    format_bytes(got.vram_bytes, v, sizeof(v));
    printf("created vGPU %s (%s): vram %s per device, compute %u%%, %u device(s)\n", o.name,
           ledger_path(l), got.vram_bytes ? v : "unlimited", got.compute_pct,
           (unsigned)ledger_device_count(l));
    ledger_close(l);
    return 0;
}

/* ---- listing ledgers ----------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the vGPU names in dir (caller frees each and the array) in *out, their count, 0 when
 * dir does not exist, or -1 after printing the error. */
static int list_ledgers(const char *dir, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, WHO ": cannot read \"%s\": %s\n", dir, strerror(errno));
        return -1;
    }
    int n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, VGPU_PREFIX, strlen(VGPU_PREFIX)) != 0)
            continue;
        const char *name = e->d_name + strlen(VGPU_PREFIX);
        if (!*name || name[0] == '.' || strlen(name) > LEDGER_NAME_MAX)
            continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            char **g = realloc(names, (size_t)ncap * sizeof(*g));
            if (!g)
                break;
            names = g;
            cap = ncap;
        }
        names[n] = strdup(name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, (size_t)n, sizeof(*names), name_cmp);
    *out = names;
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- show ---------------------------------------------------------------------------------- */

/* Prints one ledger. 0, or 1 when it cannot be opened. */
static int show_one(const char *dir, const char *name)
{
    struct ledger *l;
    if (open_existing(dir, name, &l))
        return 1;
    struct ledger_limits lim;
    struct ledger_stats st;
    char a[32], b[32];
    ledger_get_limits(l, &lim);
    ledger_get_stats(l, &st);
    format_bytes(lim.vram_bytes, a, sizeof(a));
    printf("vGPU %s (%s)\n", name, ledger_path(l));
    printf("  limits: vram %s per device, compute %u%%%s, generation %llu\n",
           lim.vram_bytes ? a : "unlimited", lim.compute_pct,
           lim.compute_pct >= 100 ? " (unlimited)" : "", (unsigned long long)lim.generation);
    int ndev = ledger_device_count(l);
    for (int d = 0; d < ndev; d++) {
        uint64_t used = 0, cap = 0;
        ledger_usage(l, d, &used, &cap);
        format_bytes(used, a, sizeof(a));
        format_bytes(cap, b, sizeof(b));
        printf("  GPU %d: used %s (%llu bytes) of %s\n", d, a, (unsigned long long)used,
               cap ? b : "unlimited");
    }
    struct ledger_proc procs[LEDGER_SLOTS];
    int n = ledger_processes(l, procs, LEDGER_SLOTS);
    if (n > LEDGER_SLOTS)
        n = LEDGER_SLOTS;
    int shown = 0;
    pid_t self = getpid();
    for (int i = 0; i < n; i++) {
        if (procs[i].pid == self)
            continue; /* this command's own slot */
        if (!shown++)
            printf("  processes:\n");
        printf("    pid %-8d %-20s %-5s", (int)procs[i].pid, procs[i].name,
               procs[i].alive ? "alive" : "dead");
        for (int d = 0; d < ndev; d++) {
            format_bytes(procs[i].used[d], a, sizeof(a));
            printf("  GPU %d: %s (%llu bytes)", d, a, (unsigned long long)procs[i].used[d]);
        }
        printf("\n");
    }
    if (!shown)
        printf("  processes: none\n");
    printf("  stats: launches charged %llu, throttled %llu, GPU time %llu ns (events) %+lld ns "
           "(%llu corrections from the device), reaped processes %llu, lock repairs %llu\n",
           (unsigned long long)st.launches_charged, (unsigned long long)st.launches_throttled,
           (unsigned long long)st.gpu_ns_charged, (long long)st.gpu_ns_adjusted,
           (unsigned long long)st.adjustments, (unsigned long long)st.reaped_processes,
           (unsigned long long)st.repairs);
    ledger_close(l);
    return 0;
}

/* `show [NAME]` and `reap [NAME]`: `one` on the named vGPU, or on every ledger in the directory.
 * Exit status: 0, or the first failure's (ORed). */
static int for_named_or_all(int argc, char **argv, int (*one)(const char *dir, const char *name))
{
    struct vgpu_opts o;
    int rc = parse_opts(argc, argv, &o, 1, 0, 0);
    if (rc)
        return rc;
    char dir[PATH_MAX];
    if (resolve_dir(&o, dir, sizeof(dir)))
        return 1;
    if (o.name)
        return one(dir, o.name);
    char **names;
    int n = list_ledgers(dir, &names);
    if (n < 0)
        return 1;
    if (n == 0)
        printf("no vGPU ledgers in %s\n", dir);
    int status = 0;
    for (int i = 0; i < n; i++)
        status |= one(dir, names[i]);
    free_names(names, n);
    return status;
}

static int vgpu_show(int argc, char **argv)
{
    return for_named_or_all(argc, argv, show_one);
}

/* ---- set ----------------------------------------------------------------------------------- */

static int vgpu_set(int argc, char **argv)
{
    struct vgpu_opts o;
    int rc = parse_opts(argc, argv, &o, 1, 1, 0);
    if (rc)
        return rc;
    if (!o.name) {
        fprintf(stderr, WHO " set: missing vGPU NAME\n");
        return 2;
    }
    if (!o.vram && !o.compute) {
        fprintf(stderr, WHO " set: vGPU \"%s\": nothing to change (give --vram and/or --compute)\n",
                o.name);
        return 2;
    }
    char dir[PATH_MAX];
    if (resolve_dir(&o, dir, sizeof(dir)))
        return 1;
    struct ledger *l;
    if (open_existing(dir, o.name, &l))
        return 1;
    struct ledger_limits lim;
    ledger_get_limits(l, &lim);
    if ((rc = parse_limits("set", &o, &lim))) {
        ledger_close(l);
        return rc;
    }
    uint64_t gen = 0;
    rc = ledger_set_limits(l, &lim, &gen);
    if (rc < 0) {
        fprintf(stderr, WHO " set: vGPU \"%s\": cannot change limits: %s\n", o.name, strerror(-rc));
        ledger_close(l);
        return 1;
    }
    char v[32];
    format_bytes(lim.vram_bytes, v, sizeof(v));
    printf("vGPU %s: vram %s per device, compute %u%%, generation %llu\n", o.name,
           lim.vram_bytes ? v : "unlimited", lim.compute_pct, (unsigned long long)gen);
    ledger_close(l);
    return 0;
}

/* ---- reap ---------------------------------------------------------------------------------- */

struct dead_proc {
    int32_t pid;
    char name[32];
    uint64_t used;
};

/*
 * Attaching to a ledger already reclaims dead processes, so what will be reclaimed is read from
 * the file before attaching: the slots whose liveness lock nobody holds. Returns how many (up to
 * max), or -1 when the file cannot be read (the attach then reports why).
 */
static int find_dead(const char *path, struct dead_proc *out, int max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    void *img = NULL;
    int n = -1;
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > (64u << 20))
        goto out;
    img = malloc((size_t)st.st_size);
    if (!img || pread(fd, img, (size_t)st.st_size, 0) != st.st_size)
        goto out;
    char err[256];
    /* A ledger caught mid-update may fail the invariants; the layout checks are what matter. */
    if (ledger_validate(img, (size_t)st.st_size, err, sizeof(err)) == -EBADMSG)
        goto out;
    const struct ledger_hdr *h = img;
    n = 0;
    for (uint32_t s = 0; s < h->nslots; s++) {
        const struct ledger_slot *sl =
            (const struct ledger_slot *)((const char *)img + h->slot_off) + s;
        if (sl->state == LEDGER_SLOT_FREE || gpool_live_probe(fd, LEDGER_LIVE_BASE + s))
            continue;
        if (n < max) {
            out[n].pid = sl->pid;
            snprintf(out[n].name, sizeof(out[n].name), "%.31s", sl->name);
            out[n].used = 0;
            for (uint32_t d = 0; d < h->ndev && d < LEDGER_MAX_DEVICES; d++)
                out[n].used += sl->used[d];
            n++;
        }
    }
out:
    free(img);
    close(fd);
    return n;
}

/* Reaps one ledger and prints what was reclaimed. 0, or 1 on failure. */
static int reap_one(const char *dir, const char *name)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/" VGPU_PREFIX "%s", dir, name);
    struct dead_proc dead[LEDGER_SLOTS];
    int ndead = find_dead(path, dead, LEDGER_SLOTS);
    struct ledger *l;
    if (open_existing(dir, name, &l))
        return 1;
    int rc = ledger_reap(l);
    if (rc < 0) {
        fprintf(stderr, WHO " reap: vGPU \"%s\": %s\n", name, strerror(-rc));
        ledger_close(l);
        return 1;
    }
    char a[32];
    if (ndead <= 0 && rc == 0)
        printf("vGPU %s: no dead processes\n", name);
    for (int i = 0; i < ndead; i++) {
        format_bytes(dead[i].used, a, sizeof(a));
        printf("vGPU %s: reclaimed pid %d (%s): %s (%llu bytes)\n", name, (int)dead[i].pid,
               dead[i].name, a, (unsigned long long)dead[i].used);
    }
    if (rc > 0)
        printf("vGPU %s: reclaimed %d more process(es) that died meanwhile\n", name, rc);
    ledger_close(l);
    return 0;
}

static int vgpu_reap(int argc, char **argv)
{
    return for_named_or_all(argc, argv, reap_one);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

int cli_vgpu_main(int argc, char **argv)
{
    if (argc < 2) {
        vgpu_usage(stderr);
        return 2;
    }
    const char *verb = argv[1];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            vgpu_usage(stdout);
            return 0;
        }
    }
    if (!strcmp(verb, "create"))
        return vgpu_create(argc, argv);
    if (!strcmp(verb, "show"))
        return vgpu_show(argc, argv);
    if (!strcmp(verb, "set"))
        return vgpu_set(argc, argv);
    if (!strcmp(verb, "reap"))
        return vgpu_reap(argc, argv);
    fprintf(stderr, WHO ": unknown command \"%s\" (create, show, set or reap)\n\n", verb);
    vgpu_usage(stderr);
    return 2;
}
