/*
 * The shared, cross-process state of the simulated devices (see docs/internals/sim.md).
 *
 * An instance lives in <dir>/gpool-sim-<name>/:
 *   state   the shared state file (state_layout.h), mapped by every attached process
 *   slots   the liveness lock file: byte i is OFD-locked by the process owning slot i
 *   mem<N>  device N's memory: a sparse file of the device's size, mapped lazily
 *
 * Every mutation of the state happens under the robust header lock and is ordered so that a
 * process killed at any instant leaves records that repair() can finish or undo: the record's
 * `state` is written last (release order) and the byte sums are caches recomputed by repair.
 */
#include "state_layout.h"
#include "driver.h"

#include "gpool/failpoint.h"
#include "gpool/liveness.h"
#include "gpool/log.h"
#include "gpool/shm_lock.h"

#include <dirent.h>
#include <linux/futex.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define COMP "sim"

struct sim_instance {
    char name[SIM_NAME_MAX];
    char dir[PATH_MAX - 32];     /* the instance directory (room left for its files) */
    struct sim_state_hdr *hdr;   /* the mapped state file */
    size_t map_size;
    int state_fd;
    int probe_fd;                /* slots file: probes other slots' liveness locks */
    int live_fd;                 /* slots file: holds our own slot's lock; -1 when none */
    int slot;                    /* our slot, -1 before one is claimed (or after fork) */
    int observer;                /* opened for inspection: never claims a slot */
    int ndev;
    const struct sim_model *models[SIM_MAX_DEVICES];
    int mem_fd[SIM_MAX_DEVICES];
    void *_Atomic mem[SIM_MAX_DEVICES];
    pthread_mutex_t local_lock;  /* guards mem[] mapping and slot claiming in this process */
    struct engine_queue {        /* this process's threads queue for a device's engine here */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        uint64_t next, serving; /* tickets: `serving` may go on to the shared engine */
    } engine_q[SIM_MAX_DEVICES];
    struct sim_instance *next;   /* the process's list of attachments (for fork) */
};

static void engine_queues_init(struct sim_instance *inst);
static void engine_fork_child(void);

/* ---- small helpers -------------------------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint64_t align64(uint64_t x)
{
    return (x + 63) & ~63ull;
}

static struct sim_state_dev *st_dev(const struct sim_state_hdr *h, int d)
{
    uint64_t off = 0;
    sim_state_layout(h->ndev, h->nslots, h->nrecs, &off, NULL, NULL);
    return (struct sim_state_dev *)((char *)h + off) + d;
}

static struct sim_state_slot *st_slot(const struct sim_state_hdr *h, int s)
{
    uint64_t off = 0;
    sim_state_layout(h->ndev, h->nslots, h->nrecs, NULL, &off, NULL);
    return (struct sim_state_slot *)((char *)h + off) + s;
}

static struct sim_state_rec *st_recs(const struct sim_state_hdr *h, int d)
{
    uint64_t off = 0;
    sim_state_layout(h->ndev, h->nslots, h->nrecs, NULL, NULL, &off);
    return (struct sim_state_rec *)((char *)h + off) + (uint64_t)d * h->nrecs;
}

static void store_state(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t hash64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    /* splitmix64 finaliser so that near inputs give unrelated outputs */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

/* Formats a path; -ENAMETOOLONG (and an empty buf) when it does not fit. */
static int path_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Removes a directory holding only plain files (an instance directory). */
static int remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if (path_fmt(p, sizeof(p), "%s/%s", path, e->d_name) == 0)
            unlink(p);
    }
    closedir(d);
    return rmdir(path) < 0 ? -errno : 0;
}

/* ---- layout and formatting ------------------------------------------------------------------ */

/* Computes the offsets of each part of the state file (see state_layout.h). Any out pointer may
 * be NULL. Returns the file size, or 0 when the counts are out of range. */
uint64_t sim_state_layout(uint32_t ndev, uint32_t nslots, uint32_t nrecs, uint64_t *dev_off,
                          uint64_t *slot_off, uint64_t *rec_off)
{
    if (ndev < 1 || ndev > SIM_MAX_DEVICES || nslots < 1 || nslots > SIM_STATE_MAX_SLOTS ||
        nrecs < 1 || nrecs > SIM_STATE_MAX_RECS)
        return 0;
    uint64_t d = align64(sizeof(struct sim_state_hdr));
    uint64_t s = align64(d + (uint64_t)ndev * sizeof(struct sim_state_dev));
    uint64_t r = align64(s + (uint64_t)nslots * sizeof(struct sim_state_slot));
    uint64_t end = align64(r + (uint64_t)ndev * nrecs * sizeof(struct sim_state_rec));
    if (dev_off)
        *dev_off = d;
    if (slot_off)
        *slot_off = s;
    if (rec_off)
        *rec_off = r;
    return end;
}


/* Checks that name is a usable instance name (see state_layout.h). */
int sim_instance_name_ok(const char *name)
{
    if (!name || !name[0] || name[0] == '.' || strlen(name) >= SIM_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Formats a fresh image (see state_layout.h). */
int sim_state_format(void *buf, size_t len, const char *name, const struct sim_model *const *models,
                     int ndev, uint32_t nslots, uint32_t nrecs)
{
    uint64_t size = sim_state_layout((uint32_t)ndev, nslots, nrecs, NULL, NULL, NULL);
    if (!buf || size == 0 || len != size || !sim_instance_name_ok(name))
        return -EINVAL;
    struct sim_state_hdr *h = buf;
    h->version = SIM_STATE_VERSION;
    h->hdr_size = sizeof(struct sim_state_hdr);
    h->dev_size = sizeof(struct sim_state_dev);
    h->slot_size = sizeof(struct sim_state_slot);
    h->rec_size = sizeof(struct sim_state_rec);
    h->ndev = (uint32_t)ndev;
    h->nslots = nslots;
    h->nrecs = nrecs;
    h->file_size = size;
    h->created = (uint64_t)time(NULL);
    snprintf(h->instance, sizeof(h->instance), "%s", name);
    int rc = gpool_robust_mutex_init(&h->lock);
    if (rc)
        return rc;
    for (int d = 0; d < ndev; d++) {
        struct sim_state_dev *dev = st_dev(h, d);
        if (!models[d])
            return -EINVAL;
        snprintf(dev->alias, sizeof(dev->alias), "%s", models[d]->alias);
        dev->vram_bytes = models[d]->vram_bytes;
        /* UUIDs depend only on (instance, index): stable across re-creation. */
        uint64_t seed = 0xcbf29ce484222325ull ^ (uint64_t)d;
        uint64_t a = hash64(seed, name, strlen(name));
        uint64_t b = hash64(a ^ 0x9e3779b97f4a7c15ull, name, strlen(name));
        memcpy(dev->uuid, &a, 8);
        memcpy(dev->uuid + 8, &b, 8);
        dev->pci_domain = 0;
        dev->pci_bus = 0x18 + 8 * d;
        dev->pci_device = 0;
        rc = gpool_robust_mutex_init(&dev->engine);
        if (rc)
            return rc;
        dev->engine_turn = dev->engine_passed = dev->engine_holder = -1;
    }
    __atomic_store_n(&h->magic, SIM_STATE_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

/* ---- validation ----------------------------------------------------------------------------- */

struct range {
    uint64_t off, size;
    uint32_t index;
};

static int range_cmp(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int str_terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* Validates the header only (no records): enough to know the file's size and that its mutex
 * may be used. */
static int validate_header(const struct sim_state_hdr *h, size_t len, char *err, size_t errlen)
{
    if (len < sizeof(*h)) {
        seterr(err, errlen, "state image too short (%zu bytes, header needs %zu)", len, sizeof(*h));
        return -EINVAL;
    }
    if (h->magic != SIM_STATE_MAGIC) {
        seterr(err, errlen, "not a gpool sim state file (bad magic 0x%016llx)",
               (unsigned long long)h->magic);
        return -EINVAL;
    }
    if (h->version != SIM_STATE_VERSION) {
        seterr(err, errlen, "state layout version %u is not supported (this gpool reads %u)",
               h->version, SIM_STATE_VERSION);
        return -EINVAL;
    }
    if (h->hdr_size != sizeof(struct sim_state_hdr) || h->dev_size != sizeof(struct sim_state_dev) ||
        h->slot_size != sizeof(struct sim_state_slot) || h->rec_size != sizeof(struct sim_state_rec)) {
        seterr(err, errlen, "state layout sizes %u/%u/%u/%u differ from this build's %zu/%zu/%zu/%zu",
               h->hdr_size, h->dev_size, h->slot_size, h->rec_size, sizeof(struct sim_state_hdr),
               sizeof(struct sim_state_dev), sizeof(struct sim_state_slot),
               sizeof(struct sim_state_rec));
        return -EINVAL;
    }
    uint64_t size = sim_state_layout(h->ndev, h->nslots, h->nrecs, NULL, NULL, NULL);
    if (size == 0) {
        seterr(err, errlen, "bad table sizes: %u devices (1 to %d), %u slots, %u records",
               h->ndev, SIM_MAX_DEVICES, h->nslots, h->nrecs);
        return -EINVAL;
    }
    if (h->file_size != size || len != size) {
        seterr(err, errlen, "state size is %zu bytes, header says %llu, layout needs %llu", len,
               (unsigned long long)h->file_size, (unsigned long long)size);
        return -EINVAL;
    }
    if (!str_terminated(h->instance, sizeof(h->instance)) || !sim_instance_name_ok(h->instance)) {
        seterr(err, errlen, "bad instance name in state header");
        return -EINVAL;
    }
    return 0;
}

/* Validates an aligned image; see sim_state_validate. */
static int validate_image(const struct sim_state_hdr *h, size_t len, char *err, size_t errlen)
{
    int rc = validate_header(h, len, err, errlen);
    if (rc)
        return rc;
    for (uint32_t s = 0; s < h->nslots; s++) {
        const struct sim_state_slot *sl = st_slot(h, (int)s);
        if (sl->state > SIM_SLOT_LIVE) {
            seterr(err, errlen, "slot %u: bad state %u", s, sl->state);
            return -EINVAL;
        }
    }
    struct range *ranges = malloc((size_t)h->nrecs * sizeof(*ranges));
    if (!ranges) {
        seterr(err, errlen, "out of memory validating %u records", h->nrecs);
        return -ENOMEM;
    }
    rc = -EINVAL;
    for (uint32_t d = 0; d < h->ndev; d++) {
        const struct sim_state_dev *dev = st_dev(h, (int)d);
        if (!str_terminated(dev->alias, sizeof(dev->alias))) {
            seterr(err, errlen, "device %u: unterminated model name", d);
            goto out;
        }
        const struct sim_model *m = sim_model_find(dev->alias);
        if (!m) {
            seterr(err, errlen, "device %u: unknown model \"%s\"", d, dev->alias);
            goto out;
        }
        if (dev->vram_bytes != m->vram_bytes) {
            seterr(err, errlen, "device %u: memory size %llu differs from model %s (%llu)", d,
                   (unsigned long long)dev->vram_bytes, m->alias,
                   (unsigned long long)m->vram_bytes);
            goto out;
        }
        if (dev->used_bytes > dev->vram_bytes) {
            seterr(err, errlen, "device %u: used %llu bytes exceeds its %llu", d,
                   (unsigned long long)dev->used_bytes, (unsigned long long)dev->vram_bytes);
            goto out;
        }
        if (dev->nrec_used > h->nrecs) {
            seterr(err, errlen, "device %u: record bound %u exceeds table size %u", d,
                   dev->nrec_used, h->nrecs);
            goto out;
        }
        const struct sim_state_rec *recs = st_recs(h, (int)d);
        uint32_t nr = 0;
        for (uint32_t i = 0; i < h->nrecs; i++) {
            const struct sim_state_rec *r = &recs[i];
            if (r->state == SIM_REC_FREE)
                continue;
            if (r->state > SIM_REC_FREEING) {
                seterr(err, errlen, "device %u record %u: bad state %u", d, i, r->state);
                goto out;
            }
            if (i >= dev->nrec_used) {
                seterr(err, errlen, "device %u record %u: in use past the bound %u", d, i,
                       dev->nrec_used);
                goto out;
            }
            if (r->owner < 0 || (uint32_t)r->owner >= h->nslots) {
                seterr(err, errlen, "device %u record %u: bad owner slot %d", d, i, r->owner);
                goto out;
            }
            if (r->size == 0 || r->size % SIM_ALLOC_GRANULE || r->size > dev->vram_bytes) {
                seterr(err, errlen, "device %u record %u: bad size %llu", d, i,
                       (unsigned long long)r->size);
                goto out;
            }
            if (r->kind == SIM_CHARGE_MEMORY) {
                if (r->offset % SIM_ALLOC_GRANULE || r->offset > dev->vram_bytes - r->size) {
                    seterr(err, errlen, "device %u record %u: block [%llu, +%llu) lies outside "
                           "the device's %llu bytes", d, i, (unsigned long long)r->offset,
                           (unsigned long long)r->size, (unsigned long long)dev->vram_bytes);
                    goto out;
                }
                ranges[nr].off = r->offset;
                ranges[nr].size = r->size;
                ranges[nr].index = i;
                nr++;
            } else if (r->kind == SIM_CHARGE_OVERHEAD) {
                if (r->offset != SIM_OVERHEAD_HANDLE_BASE + (uint64_t)i * SIM_ALLOC_GRANULE) {
                    seterr(err, errlen, "device %u record %u: bad overhead handle", d, i);
                    goto out;
                }
            } else {
                seterr(err, errlen, "device %u record %u: bad kind %u", d, i, r->kind);
                goto out;
            }
        }
        qsort(ranges, nr, sizeof(*ranges), range_cmp);
        for (uint32_t i = 1; i < nr; i++) {
            if (ranges[i - 1].off + ranges[i - 1].size > ranges[i].off) {
                seterr(err, errlen, "device %u: records %u and %u overlap", d, ranges[i - 1].index,
                       ranges[i].index);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(ranges);
    return rc;
}

/* Validates an untrusted image (see sim.h). Copies it when it is not suitably aligned. */
int sim_state_validate(const void *image, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!image) {
        seterr(err, errlen, "no state image");
        return -EINVAL;
    }
    if (len < sizeof(struct sim_state_hdr)) {
        seterr(err, errlen, "state image too short (%zu bytes, header needs %zu)", len,
               sizeof(struct sim_state_hdr));
        return -EINVAL;
    }
    if (((uintptr_t)image % _Alignof(struct sim_state_hdr)) == 0)
        return validate_image(image, len, err, errlen);
    /* Check the size from an aligned copy of the header before copying the whole image. */
    struct sim_state_hdr h;
    memcpy(&h, image, sizeof(h));
    int rc = validate_header(&h, len, err, errlen); /* bounds len by the largest layout */
    if (rc)
        return rc;
    void *copy = aligned_alloc(64, align64(len));
    if (!copy) {
        seterr(err, errlen, "out of memory copying a %zu-byte state image", len);
        return -ENOMEM;
    }
    memcpy(copy, image, len);
    rc = validate_image(copy, len, err, errlen);
    free(copy);
    return rc;
}

/* ---- liveness, locking, repair -------------------------------------------------------------- */

static int slot_alive(const struct sim_instance *inst, int s)
{
    return gpool_live_probe(inst->probe_fd, (uint64_t)s);
}

static void punch(const struct sim_instance *inst, int d, uint64_t off, uint64_t size)
{
    if (fallocate(inst->mem_fd[d], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)size) < 0)
        LOG_DEBUG(COMP, "instance %s: device %d: cannot punch [%llu, +%llu): %s", inst->name, d,
                  (unsigned long long)off, (unsigned long long)size, strerror(errno));
}

/* Recomputes every cache (sums, bounds) from the records. Lock held. */
static void recompute(struct sim_instance *inst)
{
    struct sim_state_hdr *h = inst->hdr;
    for (uint32_t s = 0; s < h->nslots; s++)
        memset(st_slot(h, (int)s)->used, 0, sizeof(st_slot(h, (int)s)->used));
    for (uint32_t d = 0; d < h->ndev; d++) {
        struct sim_state_dev *dev = st_dev(h, (int)d);
        struct sim_state_rec *recs = st_recs(h, (int)d);
        uint64_t used = 0;
        uint32_t bound = 0;
        for (uint32_t i = 0; i < h->nrecs; i++) {
            if (recs[i].state == SIM_REC_FREE)
                continue;
            bound = i + 1;
            if (recs[i].state == SIM_REC_LIVE) {
                used += recs[i].size;
                st_slot(h, recs[i].owner)->used[d] += recs[i].size;
            }
        }
        dev->used_bytes = used;
        dev->nrec_used = bound;
        if (dev->hint > dev->vram_bytes || dev->hint % SIM_ALLOC_GRANULE)
            dev->hint = 0;
    }
}

/* Called by the holder that found the previous holder dead (EOWNERDEAD): finishes or undoes
 * whatever the dead holder was doing. Records that are not valid are dropped. */
static void repair(struct sim_instance *inst)
{
    struct sim_state_hdr *h = inst->hdr;
    int dropped = 0;
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct sim_state_slot *sl = st_slot(h, (int)s);
        if (sl->state > SIM_SLOT_LIVE)
            store_state(&sl->state, SIM_SLOT_FREE);
        sl->name[sizeof(sl->name) - 1] = '\0';
    }
    for (uint32_t d = 0; d < h->ndev; d++) {
        struct sim_state_dev *dev = st_dev(h, (int)d);
        struct sim_state_rec *recs = st_recs(h, (int)d);
        for (uint32_t i = 0; i < h->nrecs; i++) {
            struct sim_state_rec *r = &recs[i];
            uint32_t state = r->state;
            if (state == SIM_REC_FREE)
                continue;
            int sane = r->owner >= 0 && (uint32_t)r->owner < h->nslots && r->size > 0 &&
                       r->size % SIM_ALLOC_GRANULE == 0 && r->size <= dev->vram_bytes &&
                       (r->kind == SIM_CHARGE_OVERHEAD ||
                        (r->kind == SIM_CHARGE_MEMORY && r->offset % SIM_ALLOC_GRANULE == 0 &&
                         r->offset <= dev->vram_bytes - r->size));
            if (state == SIM_REC_LIVE && sane && st_slot(h, r->owner)->state != SIM_SLOT_FREE)
                continue;
            /* RESERVING (never returned to its owner), FREEING (release interrupted), a
             * charge of a free slot, or garbage: release it. */
            if (sane && r->kind == SIM_CHARGE_MEMORY)
                punch(inst, (int)d, r->offset, r->size);
            store_state(&r->state, SIM_REC_FREE);
            dropped++;
        }
    }
    recompute(inst);
    h->repairs++;
    LOG_WARN(COMP, "instance %s: a process died holding the state lock; repaired (%d records "
             "released)", inst->name, dropped);
}

/* Takes the state lock, repairing after a dead holder. 0 or -errno. */
static int st_lock(struct sim_instance *inst)
{
    int rc = gpool_robust_lock(&inst->hdr->lock);
    if (rc == EOWNERDEAD) {
        repair(inst);
        pthread_mutex_consistent(&inst->hdr->lock);
        rc = 0;
    }
    if (rc) {
        LOG_ERROR(COMP, "instance %s: cannot take the state lock: %s", inst->name, strerror(rc));
        return -rc;
    }
    return 0;
}

static void st_unlock(struct sim_instance *inst)
{
    pthread_mutex_unlock(&inst->hdr->lock);
}

/* Releases one live record (FREEING → punch → FREE → sums). Lock held. */
static void release_record(struct sim_instance *inst, int d, struct sim_state_rec *r)
{
    struct sim_state_hdr *h = inst->hdr;
    store_state(&r->state, SIM_REC_FREEING);
    GPOOL_FAILPOINT("sim.state.free.marked");
    if (r->kind == SIM_CHARGE_MEMORY)
        punch(inst, d, r->offset, r->size);
    GPOOL_FAILPOINT("sim.state.free.punched");
    store_state(&r->state, SIM_REC_FREE);
    struct sim_state_dev *dev = st_dev(h, d);
    struct sim_state_slot *sl = st_slot(h, r->owner);
    dev->used_bytes = dev->used_bytes >= r->size ? dev->used_bytes - r->size : 0;
    sl->used[d] = sl->used[d] >= r->size ? sl->used[d] - r->size : 0;
}

/* Releases every charge of slot s and frees the slot. Lock held. */
static void release_slot(struct sim_instance *inst, int s)
{
    struct sim_state_hdr *h = inst->hdr;
    for (uint32_t d = 0; d < h->ndev; d++) {
        struct sim_state_rec *recs = st_recs(h, (int)d);
        uint32_t bound = st_dev(h, (int)d)->nrec_used;
        for (uint32_t i = 0; i < bound; i++) {
            if (recs[i].state == SIM_REC_LIVE && recs[i].owner == s) {
                release_record(inst, (int)d, &recs[i]);
                GPOOL_FAILPOINT("sim.state.reap.record");
            }
        }
    }
    store_state(&st_slot(h, s)->state, SIM_SLOT_FREE);
}

/* Reaps the slots of dead processes. Lock held. Returns how many were reaped. */
static int reap(struct sim_instance *inst)
{
    struct sim_state_hdr *h = inst->hdr;
    int n = 0;
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct sim_state_slot *sl = st_slot(h, (int)s);
        if (sl->state == SIM_SLOT_FREE || (int)s == inst->slot || slot_alive(inst, (int)s))
            continue;
        LOG_INFO(COMP, "instance %s: reaping slot %u of dead process %d (%s)", inst->name, s,
                 sl->pid, sl->name);
        release_slot(inst, (int)s);
        n++;
    }
    return n;
}

/* ---- machine reboots ------------------------------------------------------------------------ */

#define BOOT_ID_LEN GPOOL_BOOT_ID_LEN


/* A robust mutex is marked dead when its owner *thread* exits; a machine that goes down while a
 * process holds one leaves its futex word naming an owner that no longer exists, and on a
 * directory that outlives the reboot (the /var/tmp default) every later locker would block
 * forever. So the instance records the boot it was last opened in (file "boot"), and the first
 * process of a new boot to open it, under an flock on the state file so that concurrent openers
 * do this once, re-initialises the state lock and the engine mutexes (nothing of an earlier boot
 * can hold them) and repairs the state as after a holder's death. The header must have been
 * validated and the device files opened. 0 or -errno. */
static int boot_check(struct sim_instance *inst)
{
    char now[BOOT_ID_LEN], was[BOOT_ID_LEN], path[PATH_MAX], why[256];
    gpool_boot_id(now, sizeof(now));
    if (!now[0])
        return 0;
    int rc;
    while ((rc = flock(inst->state_fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (rc < 0)
        return -errno;
    path_fmt(path, sizeof(path), "%s/boot", inst->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    ssize_t n = pread(fd, was, sizeof(was) - 1, 0);
    was[n > 0 ? n : 0] = '\0';
    if (strcmp(was, now) == 0)
        goto out;
    if (was[0]) {
        /* An earlier boot: nothing can hold the mutexes, whatever their words say. */
        struct sim_state_hdr *h = inst->hdr;
        rc = gpool_robust_mutex_init(&h->lock);
        for (uint32_t d = 0; !rc && d < h->ndev; d++) {
            struct sim_state_dev *dv = st_dev(h, (int)d);
            rc = gpool_robust_mutex_init(&dv->engine);
            dv->engine_turn = dv->engine_passed = dv->engine_holder = -1;
            dv->engine_waiters = 0;
        }
        if (!rc)
            rc = st_lock(inst);
        if (rc)
            goto out;
        if (validate_image(h, inst->map_size, why, sizeof(why)) == 0) {
            LOG_WARN(COMP, "instance %s: first use since the machine restarted; locks reset",
                     inst->name);
            repair(inst);
        }
        st_unlock(inst);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, now, strlen(now), 0) != (ssize_t)strlen(now))
        LOG_DEBUG(COMP, "instance %s: cannot record the boot id in %s: %s", inst->name, path,
                  strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    flock(inst->state_fd, LOCK_UN);
    return rc;
}

/* ---- attachments and fork ------------------------------------------------------------------- */

static pthread_mutex_t attach_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_instance *attach_list;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
    pthread_mutex_lock(&attach_list_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&attach_list_lock);
}

/* In a forked child: forget the parent's slot. Closing our copy of the liveness descriptor
 * does not release the parent's OFD lock (it goes when the last descriptor closes), and once
 * the parent dies the child no longer keeps its slot alive. The child claims a slot of its
 * own when it first charges memory. */
static void atfork_child(void)
{
    pthread_mutex_init(&attach_list_lock, NULL);
    engine_fork_child();
    for (struct sim_instance *i = attach_list; i; i = i->next) {
        pthread_mutex_init(&i->local_lock, NULL);
        engine_queues_init(i);
        if (i->live_fd >= 0)
            close(i->live_fd);
        i->live_fd = -1;
        i->slot = -1;
    }
}

static void register_atfork(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void list_add(struct sim_instance *inst)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&attach_list_lock);
    inst->next = attach_list;
    attach_list = inst;
    pthread_mutex_unlock(&attach_list_lock);
}

static void list_remove(struct sim_instance *inst)
{
    pthread_mutex_lock(&attach_list_lock);
    for (struct sim_instance **p = &attach_list; *p; p = &(*p)->next) {
        if (*p == inst) {
            *p = inst->next;
            break;
        }
    }
    pthread_mutex_unlock(&attach_list_lock);
}

/* Claims a free slot for this process. State lock held. 0 or -errno. */
static int claim_slot(struct sim_instance *inst)
{
    struct sim_state_hdr *h = inst->hdr;
    char path[PATH_MAX];
    if (inst->live_fd < 0) {
        path_fmt(path, sizeof(path), "%s/slots", inst->dir);
        inst->live_fd = open(path, O_RDWR | O_CLOEXEC);
        if (inst->live_fd < 0)
            return -errno;
    }
    reap(inst);
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct sim_state_slot *sl = st_slot(h, (int)s);
        if (sl->state != SIM_SLOT_FREE)
            continue;
        if (gpool_live_claim(inst->live_fd, s) < 0)
            continue; /* a process still exiting holds it */
        store_state(&sl->state, SIM_SLOT_CLAIMING);
        sl->pid = (int32_t)getpid();
        sl->start_time = (uint64_t)time(NULL);
        sl->generation++;
        snprintf(sl->name, sizeof(sl->name), "%s", program_invocation_short_name);
        memset(sl->used, 0, sizeof(sl->used));
        memset(sl->engine_want, 0, sizeof(sl->engine_want));
        memset(sl->engine_grants, 0, sizeof(sl->engine_grants));
        memset(sl->engine_busy_ns, 0, sizeof(sl->engine_busy_ns));
        GPOOL_FAILPOINT("sim.state.attach.claimed");
        store_state(&sl->state, SIM_SLOT_LIVE);
        inst->slot = (int)s;
        return 0;
    }
    return -EUSERS;
}

/* Makes sure this process owns a slot (a forked child claims its own). */
static int ensure_slot(struct sim_instance *inst)
{
    if (inst->slot >= 0)
        return 0;
    if (inst->observer)
        return -EPERM;
    int rc = st_lock(inst);
    if (rc)
        return rc;
    rc = inst->slot >= 0 ? 0 : claim_slot(inst);
    st_unlock(inst);
    if (rc)
        LOG_ERROR(COMP, "instance %s: cannot claim a process slot: %s", inst->name, strerror(-rc));
    return rc;
}

static void instance_free(struct sim_instance *inst)
{
    if (!inst)
        return;
    for (int d = 0; d < SIM_MAX_DEVICES; d++) {
        void *m = atomic_load(&inst->mem[d]);
        if (m && inst->models[d])
            munmap(m, inst->models[d]->vram_bytes);
        if (inst->mem_fd[d] >= 0)
            close(inst->mem_fd[d]);
    }
    if (inst->hdr)
        munmap(inst->hdr, inst->map_size);
    if (inst->state_fd >= 0)
        close(inst->state_fd);
    if (inst->probe_fd >= 0)
        close(inst->probe_fd);
    if (inst->live_fd >= 0)
        close(inst->live_fd);
    pthread_mutex_destroy(&inst->local_lock);
    for (int d = 0; d < SIM_MAX_DEVICES; d++) {
        pthread_mutex_destroy(&inst->engine_q[d].lock);
        pthread_cond_destroy(&inst->engine_q[d].cond);
    }
    free(inst);
}

/* Creates the instance in a temporary directory and renames it into place, so that a
 * concurrent attacher sees either nothing or a complete instance. Losing the race is success. */
static int create_instance(const char *simdir, const char *name, const char *instdir,
                           const struct sim_model *const *models, int ndev, char *err,
                           size_t errlen)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    int fd = -1, rc;
    void *map = MAP_FAILED;
    uint64_t size = sim_state_layout((uint32_t)ndev, SIM_STATE_SLOTS, SIM_STATE_RECS, NULL, NULL,
                                     NULL);

    if (path_fmt(tmp, sizeof(tmp), "%s/.gpool-sim-%s.tmp.XXXXXX", simdir, name))
        return -ENAMETOOLONG;
    if (!mkdtemp(tmp)) {
        rc = -errno;
        seterr(err, errlen, "sim: cannot create a directory in %s: %s", simdir, strerror(-rc));
        return rc;
    }
    path_fmt(path, sizeof(path), "%s/state", tmp);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto sys_fail;
    /* The state file is reserved up front: touching it later must never SIGBUS. */
    if ((rc = posix_fallocate(fd, 0, (off_t)size)) != 0) {
        errno = rc;
        goto sys_fail;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        goto sys_fail;
    rc = sim_state_format(map, size, name, models, ndev, SIM_STATE_SLOTS, SIM_STATE_RECS);
    if (rc) {
        seterr(err, errlen, "sim: cannot format the state of instance \"%s\": %s", name,
               strerror(-rc));
        goto fail;
    }
    munmap(map, size);
    map = MAP_FAILED;
    close(fd);
    fd = -1;
    path_fmt(path, sizeof(path), "%s/slots", tmp);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto sys_fail;
    close(fd);
    for (int d = 0; d < ndev; d++) {
        path_fmt(path, sizeof(path), "%s/mem%d", tmp, d);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)models[d]->vram_bytes) < 0)
            goto sys_fail;
        close(fd);
        fd = -1;
    }
    GPOOL_FAILPOINT("sim.state.create.rename");
    if (rename(tmp, instdir) < 0) {
        rc = -errno;
        remove_tree(tmp);
        if (rc == -EEXIST || rc == -ENOTEMPTY)
            return 0; /* another process created it first */
        seterr(err, errlen, "sim: cannot create instance directory %s: %s", instdir, strerror(-rc));
        return rc;
    }
    LOG_INFO(COMP, "created instance %s in %s", name, instdir);
    return 0;

sys_fail:
    rc = -errno;
    seterr(err, errlen, "sim: cannot create the files of instance \"%s\" in %s: %s", name, simdir,
           strerror(-rc));
fail:
    if (map != MAP_FAILED)
        munmap(map, size);
    if (fd >= 0)
        close(fd);
    remove_tree(tmp);
    return rc;
}

static void join_aliases(const struct sim_model *const *models, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", models[i]->alias);
}

/* Opens (and when models is non-NULL and create is set, creates) instance name in simdir. */
static int instance_open(const char *simdir, const char *name, const struct sim_model *const *want,
                         int nwant, int create, int observer, struct sim_instance **out, char *err,
                         size_t errlen)
{
    struct sim_instance *inst = calloc(1, sizeof(*inst));
    char path[PATH_MAX];
    int rc, locked = 0;
    struct stat st;

    *out = NULL;
    if (!inst) {
        seterr(err, errlen, "sim: out of memory");
        return -ENOMEM;
    }
    inst->state_fd = inst->probe_fd = inst->live_fd = -1;
    inst->slot = -1;
    inst->observer = observer;
    for (int d = 0; d < SIM_MAX_DEVICES; d++)
        inst->mem_fd[d] = -1;
    pthread_mutex_init(&inst->local_lock, NULL);
    engine_queues_init(inst);
    snprintf(inst->name, sizeof(inst->name), "%s", name);
    if (snprintf(inst->dir, sizeof(inst->dir), "%s/gpool-sim-%s", simdir, name) >=
        (int)sizeof(inst->dir)) {
        seterr(err, errlen, "sim: instance path under \"%s\" is too long", simdir);
        rc = -ENAMETOOLONG;
        goto fail;
    }
    path_fmt(path, sizeof(path), "%s/state", inst->dir);
    for (int tries = 0;; tries++) {
        inst->state_fd = open(path, O_RDWR | O_CLOEXEC);
        if (inst->state_fd >= 0)
            break;
        rc = -errno;
        if (rc != -ENOENT || !create || tries >= 3) {
            seterr(err, errlen, "sim: cannot open %s: %s", path, strerror(-rc));
            goto fail;
        }
        rc = create_instance(simdir, name, inst->dir, want, nwant, err, errlen);
        if (rc)
            goto fail;
    }
    if (fstat(inst->state_fd, &st) < 0) {
        rc = -errno;
        seterr(err, errlen, "sim: cannot stat %s: %s", path, strerror(-rc));
        goto fail;
    }
    struct sim_state_hdr hh;
    char why[256];
    ssize_t got = pread(inst->state_fd, &hh, sizeof(hh), 0);
    if (got < (ssize_t)sizeof(hh)) {
        seterr(why, sizeof(why), "file too short (%lld bytes)", (long long)st.st_size);
        rc = -EINVAL;
    } else {
        rc = validate_header(&hh, (size_t)st.st_size, why, sizeof(why));
    }
    if (rc) {
        seterr(err, errlen, "sim: state file %s is unusable: %s; run 'gpool sim reset %s' to "
               "recreate the instance", path, why, name);
        rc = -EINVAL;
        goto fail;
    }
    inst->map_size = (size_t)st.st_size;
    inst->hdr = mmap(NULL, inst->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, inst->state_fd, 0);
    if (inst->hdr == MAP_FAILED) {
        rc = -errno;
        inst->hdr = NULL;
        seterr(err, errlen, "sim: cannot map %s: %s", path, strerror(-rc));
        goto fail;
    }
    inst->ndev = (int)inst->hdr->ndev;

    path_fmt(path, sizeof(path), "%s/slots", inst->dir);
    inst->probe_fd = open(path, O_RDWR | O_CLOEXEC);
    if (inst->probe_fd < 0) {
        rc = -errno;
        seterr(err, errlen, "sim: cannot open %s: %s", path, strerror(-rc));
        goto fail;
    }
    for (int d = 0; d < inst->ndev; d++) {
        path_fmt(path, sizeof(path), "%s/mem%d", inst->dir, d);
        inst->mem_fd[d] = open(path, O_RDWR | O_CLOEXEC);
        if (inst->mem_fd[d] < 0) {
            rc = -errno;
            seterr(err, errlen, "sim: cannot open device memory %s: %s", path, strerror(-rc));
            goto fail;
        }
    }

    rc = boot_check(inst);
    if (rc == 0)
        rc = st_lock(inst);
    if (rc) {
        seterr(err, errlen, "sim: instance \"%s\": state lock unusable (%s); run 'gpool sim reset "
               "%s'", name, strerror(-rc), name);
        goto fail;
    }
    locked = 1;
    rc = validate_image(inst->hdr, inst->map_size, why, sizeof(why));
    if (rc) {
        seterr(err, errlen, "sim: state file %s/state is corrupt: %s; run 'gpool sim reset %s' "
               "to recreate the instance", inst->dir, why, name);
        rc = -EINVAL;
        goto fail;
    }
    for (int d = 0; d < inst->ndev; d++) {
        inst->models[d] = sim_model_find(st_dev(inst->hdr, d)->alias);
        if (fstat(inst->mem_fd[d], &st) < 0 || (uint64_t)st.st_size != inst->models[d]->vram_bytes) {
            seterr(err, errlen, "sim: device memory file %s/mem%d has the wrong size; run 'gpool "
                   "sim reset %s'", inst->dir, d, name);
            rc = -EINVAL;
            goto fail;
        }
    }
    if (want) {
        int same = nwant == inst->ndev;
        for (int d = 0; same && d < nwant; d++)
            same = want[d] == inst->models[d];
        if (!same) {
            char have[256], asked[256];
            join_aliases(inst->models, inst->ndev, have, sizeof(have));
            join_aliases(want, nwant, asked, sizeof(asked));
            seterr(err, errlen, "sim: instance \"%s\" in %s has devices %s but GPOOL_SIM_GPUS "
                   "asks for %s; run 'gpool sim reset %s' to recreate it, or set "
                   "GPOOL_SIM_INSTANCE to use another instance", name, inst->dir, have, asked,
                   name);
            rc = -EEXIST;
            goto fail;
        }
    }
    if (observer) {
        reap(inst);
    } else {
        rc = claim_slot(inst); /* reaps dead slots first */
        if (rc) {
            seterr(err, errlen, "sim: instance \"%s\": no free process slot (%u processes "
                   "attached): %s", name, inst->hdr->nslots, strerror(-rc));
            goto fail;
        }
    }
    st_unlock(inst);
    list_add(inst);
    *out = inst;
    return 0;

fail:
    if (locked)
        st_unlock(inst);
    instance_free(inst);
    return rc;
}

/* ---- public entry points -------------------------------------------------------------------- */

/* The data directory used when /dev/shm is too small: /var/tmp/gpool-sim-<uid>. */
void sim_instance_data_dir(char *buf, size_t len)
{
    snprintf(buf, len, "/var/tmp/gpool-sim-%u", (unsigned)getuid());
}

static int instance_exists(const char *simdir, const char *name)
{
    char path[PATH_MAX];
    path_fmt(path, sizeof(path), "%s/gpool-sim-%s/state", simdir, name);
    return access(path, F_OK) == 0;
}

/* Attaches to the instance named by the environment (see sim.h). GPOOL_SIM_GPUS, when set,
 * must match an existing instance's devices; unset, any existing instance is accepted and a
 * new one gets SIM_DEFAULT_GPUS. The caller detaches *out with sim_instance_detach(). */
int sim_instance_attach(struct sim_instance **out, char *err, size_t errlen)
{
    const struct sim_model *models[SIM_MAX_DEVICES];
    char simdir[PATH_MAX];
    const char *name = getenv("GPOOL_SIM_INSTANCE");
    const char *spec = getenv("GPOOL_SIM_GPUS");
    const char *dir = getenv("GPOOL_SIM_DIR");

    if (err && errlen)
        err[0] = '\0';
    *out = NULL;
    if (!name || !*name)
        name = "default";
    if (!sim_instance_name_ok(name)) {
        seterr(err, errlen, "GPOOL_SIM_INSTANCE: bad instance name \"%.80s\" (use letters, "
               "digits, '.', '_' and '-', at most %d characters)", name, SIM_NAME_MAX - 1);
        return -EINVAL;
    }
    int have_spec = spec && *spec;
    int n = sim_gpus_parse(have_spec ? spec : SIM_DEFAULT_GPUS, models, SIM_MAX_DEVICES, err,
                           errlen);
    if (n < 0)
        return n;
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += models[i]->vram_bytes;

    if (dir && *dir) {
        snprintf(simdir, sizeof(simdir), "%s", dir);
    } else {
        char data[PATH_MAX];
        struct statvfs vfs;
        sim_instance_data_dir(data, sizeof(data));
        if (instance_exists("/dev/shm", name))
            snprintf(simdir, sizeof(simdir), "/dev/shm");
        else if (instance_exists(data, name))
            snprintf(simdir, sizeof(simdir), "%s", data);
        else if (statvfs("/dev/shm", &vfs) == 0 &&
                 (uint64_t)vfs.f_bavail * vfs.f_frsize >= total)
            snprintf(simdir, sizeof(simdir), "/dev/shm");
        else
            snprintf(simdir, sizeof(simdir), "%s", data);
    }
    int rc = mkdir_p(simdir, 0700);
    if (rc) {
        seterr(err, errlen, "GPOOL_SIM_DIR: cannot create \"%s\": %s", simdir, strerror(-rc));
        return rc;
    }
    rc = instance_open(simdir, name, models, n, 1, 0, out, err, errlen);
    if (rc == -EEXIST && !have_spec) {
        /* No device list asked for: take the existing instance as it is. */
        rc = instance_open(simdir, name, NULL, 0, 0, 0, out, err, errlen);
    }
    if (rc == 0)
        LOG_DEBUG(COMP, "attached to instance %s (%s), slot %d", name, (*out)->dir, (*out)->slot);
    return rc;
}

/* Opens an existing instance for inspection (see state_layout.h). */
int sim_instance_open(const char *dir, const char *name, struct sim_instance **out, char *err,
                      size_t errlen)
{
    if (!sim_instance_name_ok(name)) {
        seterr(err, errlen, "sim: bad instance name \"%.80s\"", name ? name : "");
        *out = NULL;
        return -EINVAL;
    }
    return instance_open(dir, name, NULL, 0, 0, 1, out, err, errlen);
}

/* Releases this process's slot and charges and frees the attachment. NULL is accepted. */
void sim_instance_detach(struct sim_instance *inst)
{
    if (!inst)
        return;
    list_remove(inst);
    if (inst->slot >= 0 && st_lock(inst) == 0) {
        release_slot(inst, inst->slot);
        inst->slot = -1;
        st_unlock(inst);
    }
    instance_free(inst);
}

/* The instance's name, borrowed until detach. */
const char *sim_instance_name(const struct sim_instance *inst)
{
    return inst->name;
}

/* The number of devices of the instance (0 for NULL). */
int sim_instance_device_count(const struct sim_instance *inst)
{
    return inst ? inst->ndev : 0;
}

/* Device dev's model (static table entry), NULL when dev is out of range. */
const struct sim_model *sim_instance_model(const struct sim_instance *inst, int dev)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return NULL;
    return inst->models[dev];
}

/* Device dev's UUID, derived from (instance name, index) at creation; zeros when out of range. */
void sim_instance_uuid(const struct sim_instance *inst, int dev, unsigned char uuid[16])
{
    if (!inst || dev < 0 || dev >= inst->ndev) {
        memset(uuid, 0, 16);
        return;
    }
    memcpy(uuid, st_dev(inst->hdr, dev)->uuid, 16);
}

/* Device dev's PCI location: domain 0, buses 0x18, 0x20, ... (distinct per device). */
void sim_instance_pci(const struct sim_instance *inst, int dev, int *domain, int *bus, int *device)
{
    if (!inst || dev < 0 || dev >= inst->ndev) {
        *domain = *bus = *device = 0;
        return;
    }
    const struct sim_state_dev *d = st_dev(inst->hdr, dev);
    *domain = d->pci_domain;
    *bus = d->pci_bus;
    *device = d->pci_device;
}

/* Whole-device memory after reaping dead processes. used is clamped to total. */
void sim_instance_mem_info(struct sim_instance *inst, int dev, uint64_t *total, uint64_t *used)
{
    *total = *used = 0;
    if (!inst || dev < 0 || dev >= inst->ndev)
        return;
    struct sim_state_dev *d = st_dev(inst->hdr, dev);
    int locked = st_lock(inst) == 0;
    if (locked)
        reap(inst);
    *total = d->vram_bytes;
    *used = d->used_bytes < d->vram_bytes ? d->used_bytes : d->vram_bytes;
    if (locked)
        st_unlock(inst);
}

/* Lists live processes with charges on dev (after reaping dead ones); returns the count. */
int sim_instance_processes(struct sim_instance *inst, int dev, struct sim_proc_info *out, int max)
{
    if (!inst || dev < 0 || dev >= inst->ndev || st_lock(inst) != 0)
        return 0;
    reap(inst);
    int n = 0;
    for (uint32_t s = 0; s < inst->hdr->nslots && n < max; s++) {
        const struct sim_state_slot *sl = st_slot(inst->hdr, (int)s);
        if (sl->state != SIM_SLOT_LIVE || sl->used[dev] == 0)
            continue;
        out[n].pid = sl->pid;
        out[n].used_bytes = sl->used[dev];
        snprintf(out[n].name, sizeof(out[n].name), "%s", sl->name);
        n++;
    }
    st_unlock(inst);
    return n;
}

/* Counts live attached processes (see state_layout.h). */
int sim_instance_live_count(struct sim_instance *inst, int32_t *pids, int max)
{
    if (!inst || st_lock(inst) != 0)
        return 0;
    reap(inst);
    int n = 0;
    for (uint32_t s = 0; s < inst->hdr->nslots; s++) {
        const struct sim_state_slot *sl = st_slot(inst->hdr, (int)s);
        if (sl->state == SIM_SLOT_FREE)
            continue;
        if (pids && n < max)
            pids[n] = sl->pid;
        n++;
    }
    st_unlock(inst);
    return n;
}

/* Reads device dev's cumulative busy time and the CLOCK_MONOTONIC time it is measured on. */
void sim_instance_busy(struct sim_instance *inst, int dev, uint64_t *busy_ns, uint64_t *now)
{
    *now = now_ns();
    *busy_ns = 0;
    if (inst && dev >= 0 && dev < inst->ndev)
        *busy_ns = __atomic_load_n(&st_dev(inst->hdr, dev)->busy_ns, __ATOMIC_RELAXED);
}

/* Adds engine busy time to device dev (lock-free, shared by all processes). */
void sim_instance_busy_add(struct sim_instance *inst, int dev, uint64_t ns)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return;
    __atomic_fetch_add(&st_dev(inst->hdr, dev)->busy_ns, ns, __ATOMIC_RELAXED);
    if (inst->slot >= 0)
        __atomic_fetch_add(&st_slot(inst->hdr, inst->slot)->engine_busy_ns[dev], ns,
                           __ATOMIC_RELAXED);
}

/* Maps device dev's memory on first use; NULL when it cannot be mapped (logged). The mapping
 * is owned by the attachment and lasts until detach. */
void *sim_instance_dev_memory(struct sim_instance *inst, int dev)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return NULL;
    void *m = atomic_load(&inst->mem[dev]);
    if (m)
        return m;
    pthread_mutex_lock(&inst->local_lock);
    m = atomic_load(&inst->mem[dev]);
    if (!m) {
        m = mmap(NULL, inst->models[dev]->vram_bytes, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_NORESERVE, inst->mem_fd[dev], 0);
        if (m == MAP_FAILED) {
            LOG_ERROR(COMP, "instance %s: cannot map device %d memory (%llu bytes): %s",
                      inst->name, dev, (unsigned long long)inst->models[dev]->vram_bytes,
                      strerror(errno));
            m = NULL;
        } else {
            atomic_store(&inst->mem[dev], m);
        }
    }
    pthread_mutex_unlock(&inst->local_lock);
    return m;
}

/* Finds room for size bytes in device d's address space. Lock held. */
static int find_block(struct sim_instance *inst, int d, uint64_t size, uint64_t *off)
{
    struct sim_state_hdr *h = inst->hdr;
    struct sim_state_dev *dev = st_dev(h, d);
    struct sim_state_rec *recs = st_recs(h, d);
    uint32_t bound = dev->nrec_used;

    /* Fast path: right after the last block placed, when nothing lies there. */
    uint64_t at = dev->hint;
    if (at <= dev->vram_bytes && size <= dev->vram_bytes - at) {
        int clash = 0;
        for (uint32_t i = 0; i < bound && !clash; i++) {
            const struct sim_state_rec *r = &recs[i];
            clash = r->state != SIM_REC_FREE && r->kind == SIM_CHARGE_MEMORY &&
                    r->offset < at + size && at < r->offset + r->size;
        }
        if (!clash) {
            *off = at;
            return 0;
        }
    }
    /* First fit over the sorted blocks. */
    struct range *rs = malloc(((size_t)bound + 1) * sizeof(*rs));
    if (!rs)
        return -ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < bound; i++) {
        if (recs[i].state != SIM_REC_FREE && recs[i].kind == SIM_CHARGE_MEMORY) {
            rs[n].off = recs[i].offset;
            rs[n].size = recs[i].size;
            n++;
        }
    }
    qsort(rs, n, sizeof(*rs), range_cmp);
    uint64_t cur = 0;
    int rc = -ENOMEM;
    for (uint32_t i = 0; i <= n; i++) {
        uint64_t next = i < n ? rs[i].off : dev->vram_bytes;
        if (next >= cur && next - cur >= size) {
            *off = cur;
            rc = 0;
            break;
        }
        if (i < n && rs[i].off + rs[i].size > cur)
            cur = rs[i].off + rs[i].size;
    }
    free(rs);
    return rc;
}

/* One allocation attempt. Lock held. */
static int alloc_locked(struct sim_instance *inst, int d, uint64_t size, enum sim_charge_kind kind,
                        uint64_t *offset)
{
    struct sim_state_hdr *h = inst->hdr;
    struct sim_state_dev *dev = st_dev(h, d);
    struct sim_state_rec *recs = st_recs(h, d);

    if (dev->used_bytes > dev->vram_bytes || size > dev->vram_bytes - dev->used_bytes)
        return -ENOMEM;
    uint32_t r = 0;
    while (r < h->nrecs && recs[r].state != SIM_REC_FREE)
        r++;
    if (r == h->nrecs)
        return -ENOSPC;
    uint64_t off;
    if (kind == SIM_CHARGE_MEMORY) {
        int rc = find_block(inst, d, size, &off);
        if (rc)
            return rc;
    } else {
        off = SIM_OVERHEAD_HANDLE_BASE + (uint64_t)r * SIM_ALLOC_GRANULE;
    }
    struct sim_state_rec *rec = &recs[r];
    rec->offset = off;
    rec->size = size;
    rec->kind = (uint32_t)kind;
    rec->owner = inst->slot;
    rec->reserved = 0; /* the tag of sim_state_tag */
    if (r >= dev->nrec_used)
        dev->nrec_used = r + 1;
    store_state(&rec->state, SIM_REC_RESERVING);
    GPOOL_FAILPOINT("sim.state.alloc.recorded");
    if (kind == SIM_CHARGE_MEMORY) {
        int rc = 0;
        if (GPOOL_FAILPOINT("sim.state.alloc.reserve"))
            rc = -ENOSPC;
        else if (fallocate(inst->mem_fd[d], 0, (off_t)off, (off_t)size) < 0)
            rc = -errno;
        if (rc == -EOPNOTSUPP) {
            LOG_DEBUG(COMP, "instance %s: the file system cannot reserve device memory; "
                      "allocations are not backed in advance", inst->name);
            rc = 0;
        }
        if (rc) {
            LOG_INFO(COMP, "instance %s: device %d: cannot reserve %llu bytes of backing at "
                     "%llu: %s", inst->name, d, (unsigned long long)size,
                     (unsigned long long)off, strerror(-rc));
            punch(inst, d, off, size); /* a failed fallocate may leave part of the range */
            store_state(&rec->state, SIM_REC_FREE);
            return -ENOMEM;
        }
    }
    GPOOL_FAILPOINT("sim.state.alloc.reserved");
    store_state(&rec->state, SIM_REC_LIVE);
    GPOOL_FAILPOINT("sim.state.alloc.committed");
    dev->used_bytes += size;
    st_slot(h, inst->slot)->used[d] += size;
    if (kind == SIM_CHARGE_MEMORY)
        dev->hint = off + size;
    GPOOL_FAILPOINT("sim.state.alloc.done");
    *offset = off;
    return 0;
}

/* Charges size bytes of device dev to this process (see sim.h). A forked child claims a slot of
 * its own first. -EINVAL for a bad device, size or kind; -EPERM for an inspection handle. */
int sim_state_alloc(struct sim_instance *inst, int dev, uint64_t size, enum sim_charge_kind kind,
                    uint64_t *offset, uint64_t *charged)
{
    if (!inst || dev < 0 || dev >= inst->ndev || !offset ||
        (kind != SIM_CHARGE_MEMORY && kind != SIM_CHARGE_OVERHEAD))
        return -EINVAL;
    uint64_t vram = inst->models[dev]->vram_bytes;
    if (size > vram)
        return -ENOMEM;
    uint64_t rounded = (size + SIM_ALLOC_GRANULE - 1) & ~(SIM_ALLOC_GRANULE - 1);
    if (rounded == 0)
        rounded = SIM_ALLOC_GRANULE;
    int rc = ensure_slot(inst);
    if (rc)
        return rc;
    rc = st_lock(inst);
    if (rc)
        return rc;
    GPOOL_FAILPOINT("sim.state.alloc.locked");
    rc = alloc_locked(inst, dev, rounded, kind, offset);
    if (rc == -ENOMEM && reap(inst) > 0)
        rc = alloc_locked(inst, dev, rounded, kind, offset);
    st_unlock(inst);
    if (rc == 0 && charged)
        *charged = rounded;
    return rc;
}

/* Releases one of this process's charges (see sim.h). */
int sim_state_free(struct sim_instance *inst, int dev, uint64_t offset)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return -EINVAL;
    if (inst->slot < 0)
        return -ENOENT; /* a forked child owns none of its parent's charges */
    int rc = st_lock(inst);
    if (rc)
        return rc;
    struct sim_state_rec *recs = st_recs(inst->hdr, dev);
    uint32_t bound = st_dev(inst->hdr, dev)->nrec_used;
    rc = -ENOENT;
    for (uint32_t i = 0; i < bound; i++) {
        if (recs[i].state == SIM_REC_LIVE && recs[i].offset == offset &&
            recs[i].owner == inst->slot) {
            release_record(inst, dev, &recs[i]);
            rc = 0;
            break;
        }
    }
    st_unlock(inst);
    return rc;
}

/* Tags one of this process's live memory charges (see driver.h). */
int sim_state_tag(struct sim_instance *inst, int dev, uint64_t offset, uint32_t tag)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return -EINVAL;
    if (inst->slot < 0)
        return -ENOENT;
    int rc = st_lock(inst);
    if (rc)
        return rc;
    struct sim_state_rec *recs = st_recs(inst->hdr, dev);
    uint32_t bound = st_dev(inst->hdr, dev)->nrec_used;
    rc = -ENOENT;
    for (uint32_t i = 0; i < bound; i++) {
        if (recs[i].state == SIM_REC_LIVE && recs[i].offset == offset &&
            recs[i].kind == SIM_CHARGE_MEMORY && recs[i].owner == inst->slot) {
            recs[i].reserved = tag;
            rc = 0;
            break;
        }
    }
    st_unlock(inst);
    return rc;
}

/* Finds a live memory charge of any process at offset (see driver.h). */
int sim_state_find(struct sim_instance *inst, int dev, uint64_t offset, uint64_t *size,
                   uint32_t *tag)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return -EINVAL;
    int rc = st_lock(inst);
    if (rc)
        return rc;
    struct sim_state_rec *recs = st_recs(inst->hdr, dev);
    uint32_t bound = st_dev(inst->hdr, dev)->nrec_used;
    rc = -ENOENT;
    for (uint32_t i = 0; i < bound; i++) {
        if (recs[i].state == SIM_REC_LIVE && recs[i].offset == offset &&
            recs[i].kind == SIM_CHARGE_MEMORY) {
            *size = recs[i].size;
            *tag = recs[i].reserved;
            rc = 0;
            break;
        }
    }
    st_unlock(inst);
    return rc;
}

/* The instance directory (see driver.h). */
const char *sim_instance_dir(const struct sim_instance *inst)
{
    return inst->dir;
}

/* Checks every invariant of the attached state (see sim.h). */
int sim_state_check(struct sim_instance *inst, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!inst)
        return -EINVAL;
    int rc = st_lock(inst);
    if (rc) {
        seterr(err, errlen, "state lock unusable: %s", strerror(-rc));
        return -EUCLEAN;
    }
    struct sim_state_hdr *h = inst->hdr;
    if (validate_image(h, inst->map_size, err, errlen) != 0) {
        rc = -EUCLEAN;
        goto out;
    }
    uint64_t *slot_sum = calloc((size_t)h->nslots * SIM_MAX_DEVICES, sizeof(uint64_t));
    if (!slot_sum) {
        seterr(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (uint32_t d = 0; d < h->ndev && !rc; d++) {
        struct sim_state_dev *dev = st_dev(h, (int)d);
        struct sim_state_rec *recs = st_recs(h, (int)d);
        uint64_t sum = 0;
        for (uint32_t i = 0; i < h->nrecs; i++) {
            if (recs[i].state == SIM_REC_FREE)
                continue;
            if (recs[i].state != SIM_REC_LIVE) {
                seterr(err, errlen, "device %u record %u: left in transient state %u", d, i,
                       recs[i].state);
                rc = -EUCLEAN;
                break;
            }
            if (st_slot(h, recs[i].owner)->state == SIM_SLOT_FREE) {
                seterr(err, errlen, "device %u record %u: owned by free slot %d", d, i,
                       recs[i].owner);
                rc = -EUCLEAN;
                break;
            }
            sum += recs[i].size;
            slot_sum[(size_t)recs[i].owner * SIM_MAX_DEVICES + d] += recs[i].size;
        }
        if (!rc && sum != dev->used_bytes) {
            seterr(err, errlen, "device %u: used bytes %llu but records sum to %llu", d,
                   (unsigned long long)dev->used_bytes, (unsigned long long)sum);
            rc = -EUCLEAN;
        }
        if (!rc && sum > dev->vram_bytes) {
            seterr(err, errlen, "device %u: %llu bytes charged exceed its %llu", d,
                   (unsigned long long)sum, (unsigned long long)dev->vram_bytes);
            rc = -EUCLEAN;
        }
    }
    for (uint32_t s = 0; s < h->nslots && !rc; s++) {
        for (uint32_t d = 0; d < h->ndev && !rc; d++) {
            uint64_t want = slot_sum[(size_t)s * SIM_MAX_DEVICES + d];
            if (st_slot(h, (int)s)->used[d] != want) {
                seterr(err, errlen, "slot %u device %u: usage %llu but records sum to %llu", s, d,
                       (unsigned long long)st_slot(h, (int)s)->used[d], (unsigned long long)want);
                rc = -EUCLEAN;
            }
        }
    }
    free(slot_sum);
out:
    st_unlock(inst);
    return rc;
}

/* Removes an instance (see state_layout.h). The directory is first renamed away so that a
 * process attaching meanwhile creates a fresh instance rather than half-removed files. */
int sim_instance_remove(const char *dir, const char *name, int force, char *err, size_t errlen)
{
    struct sim_instance *inst = NULL;
    char instdir[PATH_MAX], dead[PATH_MAX];

    if (!sim_instance_name_ok(name)) {
        seterr(err, errlen, "sim: bad instance name \"%.80s\"", name ? name : "");
        return -EINVAL;
    }
    path_fmt(instdir, sizeof(instdir), "%s/gpool-sim-%s", dir, name);
    if (access(instdir, F_OK) < 0) {
        seterr(err, errlen, "sim: no instance \"%s\" in %s", name, dir);
        return -ENOENT;
    }
    if (!force) {
        int rc = sim_instance_open(dir, name, &inst, err, errlen);
        if (rc)
            return rc; /* a corrupt instance can only go with --force */
        int32_t pids[8];
        int n = sim_instance_live_count(inst, pids, 8);
        sim_instance_detach(inst);
        if (n > 0) {
            size_t used = (size_t)snprintf(err, errlen, "sim: instance \"%s\" is in use by %d "
                                           "process%s (pid", name, n, n > 1 ? "es" : "");
            for (int i = 0; i < n && i < 8 && used < errlen; i++)
                used += (size_t)snprintf(err + used, errlen - used, "%s%d", i ? ", " : " ",
                                         pids[i]);
            if (used < errlen)
                snprintf(err + used, errlen - used, "); stop them or use --force");
            return -EBUSY;
        }
    }
    path_fmt(dead, sizeof(dead), "%s/.gpool-sim-%s.dead.%d", dir, name, (int)getpid());
    if (rename(instdir, dead) < 0) {
        int rc = -errno;
        seterr(err, errlen, "sim: cannot remove %s: %s", instdir, strerror(-rc));
        return rc;
    }
    int rc = remove_tree(dead);
    if (rc)
        seterr(err, errlen, "sim: cannot remove %s: %s", dead, strerror(-rc));
    return rc;
}

/* ---- the engine ----------------------------------------------------------------------------- */

/*
 * A device runs one party's work at a time, as a GPU without MPS runs one context at a time, and
 * hands itself round in turn (docs/internals/sim.md, "Engine"):
 *
 * - Holding the engine is holding the device's robust mutex, so a holder that dies leaves
 *   EOWNERDEAD and the next taker goes on.
 * - In a process, threads queue first on a local FIFO (engine_q), so one thread per process
 *   contends for the shared part and a process's streams take turns among themselves.
 * - A process waiting sets its slot's engine_want. A releaser hands the engine to the next
 *   waiting process after its own slot, round robin (engine_turn); the others, the releaser
 *   included, let it pass: they sleep on the engine_seq futex until the next release. A turn is
 *   void when its process no longer waits, is dead (its slot's liveness lock is gone) or lets it
 *   lapse for ENGINE_TURN_GRACE_NS (stopped, or not scheduled): a lapsed slot is then passed
 *   over until its process runs again (it clears the mark itself), so a stopped process costs
 *   the others one grace. Waiters sleep only on engine_seq, never on the mutex, and every sleep
 *   is bounded, so nothing a dead or stopped process left behind can block anyone for good.
 */

#define ENGINE_TURN_GRACE_NS (20ull * 1000 * 1000)
#define ENGINE_SLEEP_MAX_NS  (10ull * 1000 * 1000)
#define ENGINE_LOOK_PAUSE_NS (50 * 1000)

/* A thread's engines: how deep it holds each device's (nested acquisitions count), and the
 * device a stream worker holds between operations (sim_engine_hold), plus one. */
struct engine_tls {
    struct sim_instance *inst;
    int depth[SIM_MAX_DEVICES];
    int taken[SIM_MAX_DEVICES]; /* the shared mutex is really held (a failed lock is not) */
    uint64_t since[SIM_MAX_DEVICES];
    int sticky;
};
static _Thread_local struct engine_tls tls_engine;
static _Atomic int64_t engine_slice = -1;

static void engine_queues_init(struct sim_instance *inst)
{
    for (int d = 0; d < SIM_MAX_DEVICES; d++) {
        pthread_mutex_init(&inst->engine_q[d].lock, NULL);
        pthread_cond_init(&inst->engine_q[d].cond, NULL);
        inst->engine_q[d].next = inst->engine_q[d].serving = 0;
    }
}

/* The forking thread's engines are its parent's: the child holds none. */
static void engine_fork_child(void)
{
    memset(&tls_engine, 0, sizeof(tls_engine));
}

/* The time slice (see sim.h): GPOOL_SIM_ENGINE_SLICE_US, else SIM_ENGINE_SLICE_NS. */
static uint64_t engine_slice_ns(void)
{
    int64_t v = atomic_load(&engine_slice);
    if (v >= 0)
        return (uint64_t)v;
    v = (int64_t)sim_env_u64("GPOOL_SIM_ENGINE_SLICE_US", 10ull * 1000 * 1000, 1,
                             SIM_ENGINE_SLICE_NS / 1000,
                             "a number of microseconds up to 10 s") *
        1000;
    atomic_store(&engine_slice, v);
    return (uint64_t)v;
}

static void futex_wait_shared(uint32_t *word, uint32_t val, uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake_shared(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* The next process after slot `self` (round robin) waiting for device dev's engine, alive and
 * not passed over; -1 when none. *passed_over tells whether a waiting live process was skipped
 * because it is passed over. */
static int32_t engine_next(struct sim_instance *inst, int dev, int self, int *passed_over)
{
    struct sim_state_hdr *h = inst->hdr;
    const struct sim_state_dev *dv = st_dev(h, dev);
    struct sim_state_slot *slots = st_slot(h, 0);
    uint32_t n = h->nslots;
    uint32_t start = self >= 0 ? (uint32_t)self + 1 : 0;
    int32_t passed = __atomic_load_n(&dv->engine_passed, __ATOMIC_SEQ_CST);
    *passed_over = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = (start + i) % n;
        if ((int)c == self)
            continue;
        if (!__atomic_load_n(&slots[c].engine_want[dev], __ATOMIC_ACQUIRE))
            continue;
        if (__atomic_load_n(&slots[c].state, __ATOMIC_ACQUIRE) != SIM_SLOT_LIVE ||
            !slot_alive(inst, (int)c))
            continue;
        if ((int32_t)c == passed) {
            *passed_over = 1;
            continue;
        }
        return (int32_t)c;
    }
    return -1;
}

/* Whether the turn the last releaser gave to slot t (given at turn_ns) still stands: its
 * process waits, is alive and has not let it lapse (*lapsed set when it has). Reads only: also
 * called without the engine mutex, as a first look. */
static int engine_turn_stands(struct sim_instance *inst, int dev, int32_t t, uint64_t turn_ns,
                              uint64_t now, int *lapsed)
{
    struct sim_state_hdr *h = inst->hdr;
    *lapsed = 0;
    if ((uint32_t)t >= h->nslots)
        return 0;
    if (!__atomic_load_n(&st_slot(h, t)->engine_want[dev], __ATOMIC_ACQUIRE))
        return 0;
    if (now - turn_ns >= ENGINE_TURN_GRACE_NS) {
        *lapsed = 1;
        return 0;
    }
    return slot_alive(inst, t);
}

/* Whether the turn the last releaser gave to slot t no longer stands; a slot that let it lapse
 * is passed over. Engine mutex held. */
static int engine_turn_void(struct sim_instance *inst, int dev, int32_t t, uint64_t now)
{
    struct sim_state_dev *dv = st_dev(inst->hdr, dev);
    int lapsed;
    if (engine_turn_stands(inst, dev, t, dv->engine_turn_ns, now, &lapsed))
        return 0;
    if (lapsed)
        __atomic_store_n(&dv->engine_passed, t, __ATOMIC_SEQ_CST);
    return 1;
}

/* Sleeps until device dev's engine is next released (engine_seq moves past seq), at most ns. */
static void engine_sleep(struct sim_state_dev *dv, uint32_t seq, uint64_t ns)
{
    __atomic_fetch_add(&dv->engine_waiters, 1, __ATOMIC_SEQ_CST);
    futex_wait_shared(&dv->engine_seq, seq, ns < ENGINE_SLEEP_MAX_NS ? ns : ENGINE_SLEEP_MAX_NS);
    __atomic_fetch_sub(&dv->engine_waiters, 1, __ATOMIC_SEQ_CST);
}

/* Clears slot self's passed-over mark, if it is set (self runs, so it is not stopped). */
static void engine_unpass(struct sim_state_dev *dv, int32_t self)
{
    if (self >= 0)
        __atomic_compare_exchange_n(&dv->engine_passed, &self, -1, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_RELAXED);
}

/* Takes the shared engine of device dev for this process (its local queue passed). Returns
 * whether the mutex is held.
 *
 * A waiter never sleeps on the mutex itself, only on engine_seq (every release wakes all of its
 * sleepers): a sleep inside pthread_mutex_lock would leave the waiter blind while a holder that
 * releases and takes it straight back keeps it, and a waiter stopped as the holder unlocks would
 * take the kernel's one wake-up of the mutex. It first looks at the turn without the mutex and
 * tries the mutex only when the engine may be its own: so the mutex is held by the engine's
 * holder, and only for a moment by anyone else, and a waiter whose turn it is never finds it
 * taken by one that merely looks (which would put it to sleep until the next release). Each
 * time it runs it also clears its own passed-over mark: a process that let its turn lapse only
 * because it was not scheduled is back in the round as soon as it runs again. */
static int engine_take(struct sim_instance *inst, int dev)
{
    struct sim_state_hdr *h = inst->hdr;
    struct sim_state_dev *dv = st_dev(h, dev);
    int self = inst->slot;
    struct sim_state_slot *sl = self >= 0 ? st_slot(h, self) : NULL;
    if (sl)
        __atomic_store_n(&sl->engine_want[dev], 1, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t seq = __atomic_load_n(&dv->engine_seq, __ATOMIC_SEQ_CST);
        engine_unpass(dv, self);
        int32_t t = __atomic_load_n(&dv->engine_turn, __ATOMIC_SEQ_CST);
        uint64_t turn_ns = __atomic_load_n(&dv->engine_turn_ns, __ATOMIC_SEQ_CST);
        uint64_t now = now_ns();
        int lapsed;
        if (t >= 0 && t != self && engine_turn_stands(inst, dev, t, turn_ns, now, &lapsed)) {
            engine_sleep(dv, seq, turn_ns + ENGINE_TURN_GRACE_NS - now);
            continue;
        }
        int rc = pthread_mutex_trylock(&dv->engine);
        if (rc == EBUSY) {
            if (t >= 0 && t == self) {
                /* Ours, but another is looking at the turn under the mutex: a moment. */
                struct timespec ts = {0, ENGINE_LOOK_PAUSE_NS};
                nanosleep(&ts, NULL);
            } else {
                engine_sleep(dv, seq, ENGINE_SLEEP_MAX_NS);
            }
            continue;
        }
        if (rc == EOWNERDEAD) {
            /* The holder died with the device: its work is gone, the turn fields are whole
             * (each is one aligned store). */
            dv->engine_holder = -1;
            rc = pthread_mutex_consistent(&dv->engine);
        }
        if (rc) {
            LOG_ERROR(COMP, "instance %s: device %d: cannot take the engine: %s", inst->name, dev,
                      strerror(rc));
            if (sl)
                __atomic_store_n(&sl->engine_want[dev], 0, __ATOMIC_RELEASE);
            return 0;
        }
        t = dv->engine_turn;
        now = now_ns();
        if (t < 0 || t == self || engine_turn_void(inst, dev, t, now))
            break;
        /* Another process's turn: sleep until the engine is next released, or until the turn
         * lapses (bounded either way). */
        uint64_t left = dv->engine_turn_ns + ENGINE_TURN_GRACE_NS - now;
        pthread_mutex_unlock(&dv->engine);
        engine_sleep(dv, seq, left);
    }
    __atomic_store_n(&dv->engine_turn, -1, __ATOMIC_SEQ_CST);
    engine_unpass(dv, self);
    dv->engine_holder = self;
    __atomic_fetch_add(&dv->engine_grants, 1, __ATOMIC_RELAXED);
    if (sl) {
        __atomic_fetch_add(&sl->engine_grants[dev], 1, __ATOMIC_RELAXED);
        __atomic_store_n(&sl->engine_want[dev], 0, __ATOMIC_RELEASE);
    }
    return 1;
}

/* Gives device dev's engine up, handing it to the next waiting process. */
static void engine_give(struct sim_instance *inst, int dev)
{
    struct sim_state_dev *dv = st_dev(inst->hdr, dev);
    __atomic_store_n(&dv->engine_turn_ns, now_ns(), __ATOMIC_SEQ_CST);
    int passed_over;
    int32_t next = engine_next(inst, dev, inst->slot, &passed_over);
    if (next < 0 && passed_over)
        __atomic_fetch_add(&dv->engine_passes, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&dv->engine_turn, next, __ATOMIC_SEQ_CST);
    dv->engine_holder = -1;
    __atomic_fetch_add(&dv->engine_seq, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&dv->engine);
    if (__atomic_load_n(&dv->engine_waiters, __ATOMIC_SEQ_CST))
        futex_wake_shared(&dv->engine_seq);
}

/* This thread's first acquisition of device dev's engine: the local queue, then the shared
 * engine. */
static void engine_enter(struct sim_instance *inst, int dev, struct engine_tls *t)
{
    if (inst->slot < 0 && !inst->observer)
        ensure_slot(inst); /* a slotless process still gets the engine, only never a turn */
    struct engine_queue *q = &inst->engine_q[dev];
    pthread_mutex_lock(&q->lock);
    uint64_t ticket = q->next++;
    while (q->serving != ticket)
        pthread_cond_wait(&q->cond, &q->lock);
    pthread_mutex_unlock(&q->lock);
    t->taken[dev] = engine_take(inst, dev);
    t->since[dev] = now_ns();
    t->inst = inst;
}

static void engine_leave(struct sim_instance *inst, int dev, struct engine_tls *t)
{
    if (t->taken[dev])
        engine_give(inst, dev);
    t->taken[dev] = 0;
    struct engine_queue *q = &inst->engine_q[dev];
    pthread_mutex_lock(&q->lock);
    q->serving++;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* Whether anyone else waits for device dev's engine: a thread of this process or another
 * process (one passed over does not count; engine_passes counts the slice kept from it). */
static int engine_contended(struct sim_instance *inst, int dev)
{
    struct engine_queue *q = &inst->engine_q[dev];
    pthread_mutex_lock(&q->lock);
    int local = q->next - q->serving > 1;
    pthread_mutex_unlock(&q->lock);
    int passed_over;
    if (local || engine_next(inst, dev, inst->slot, &passed_over) >= 0)
        return 1;
    if (passed_over) /* a slice kept from a waiter that is passed over: counted as a release */
        __atomic_fetch_add(&st_dev(inst->hdr, dev)->engine_passes, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Takes device dev's execution engine (see sim.h): nested calls by the holding thread only
 * count. A stream worker's hold on another device is given up first. */
void sim_engine_acquire(struct sim_instance *inst, int dev)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return;
    struct engine_tls *t = &tls_engine;
    if (t->depth[dev]++ > 0)
        return;
    if (t->sticky && t->sticky - 1 != dev && t->depth[t->sticky - 1] == 1)
        sim_engine_unhold();
    engine_enter(inst, dev, t);
}

/* Releases device dev's engine taken by sim_engine_acquire; the last release hands it on. */
void sim_engine_release(struct sim_instance *inst, int dev)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return;
    struct engine_tls *t = &tls_engine;
    if (t->depth[dev] == 0 || --t->depth[dev] > 0)
        return;
    engine_leave(inst, dev, t);
}

/* Holds device dev's engine for a stream worker between its operations (see sim.h). */
void sim_engine_hold(struct sim_instance *inst, int dev)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return;
    struct engine_tls *t = &tls_engine;
    if (t->sticky == dev + 1) {
        uint64_t now = now_ns();
        if (t->depth[dev] != 1 || now - t->since[dev] < engine_slice_ns())
            return;
        if (engine_contended(inst, dev)) {
            /* The slice is over and someone waits: their turn, then ours again. */
            engine_leave(inst, dev, t);
            engine_enter(inst, dev, t);
        } else {
            t->since[dev] = now; /* nobody waits: a new slice */
        }
        return;
    }
    sim_engine_unhold();
    sim_engine_acquire(inst, dev);
    t->sticky = dev + 1;
}

/* Gives up the engine sim_engine_hold holds, if any (see sim.h). */
void sim_engine_unhold(void)
{
    struct engine_tls *t = &tls_engine;
    if (!t->sticky)
        return;
    int dev = t->sticky - 1;
    t->sticky = 0;
    sim_engine_release(t->inst, dev);
}

/* Device dev's engine counters as seen from this process (see state_layout.h). */
int sim_engine_stats(struct sim_instance *inst, int dev, struct sim_engine_stats *out)
{
    if (!inst || !out || dev < 0 || dev >= inst->ndev)
        return -EINVAL;
    struct sim_state_hdr *h = inst->hdr;
    struct sim_state_dev *dv = st_dev(h, dev);
    memset(out, 0, sizeof(*out));
    out->grants = __atomic_load_n(&dv->engine_grants, __ATOMIC_RELAXED);
    out->holder = __atomic_load_n(&dv->engine_holder, __ATOMIC_RELAXED);
    out->passed = __atomic_load_n(&dv->engine_passed, __ATOMIC_RELAXED);
    out->passes = __atomic_load_n(&dv->engine_passes, __ATOMIC_RELAXED);
    out->slot = inst->slot;
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct sim_state_slot *sl = st_slot(h, (int)s);
        uint64_t g = __atomic_load_n(&sl->engine_grants[dev], __ATOMIC_RELAXED);
        if ((int)s == inst->slot) {
            out->mine = g;
            out->mine_busy_ns = __atomic_load_n(&sl->engine_busy_ns[dev], __ATOMIC_RELAXED);
            continue;
        }
        out->others += g;
        if (__atomic_load_n(&sl->engine_want[dev], __ATOMIC_ACQUIRE) &&
            __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) == SIM_SLOT_LIVE &&
            slot_alive(inst, (int)s))
            out->waiting++;
    }
    return 0;
}

/* The engine busy time of the live process pid on device dev (see state_layout.h). */
int sim_engine_busy_of(struct sim_instance *inst, int dev, int32_t pid, uint64_t *busy_ns)
{
    if (!inst || !busy_ns || dev < 0 || dev >= inst->ndev)
        return -EINVAL;
    struct sim_state_hdr *h = inst->hdr;
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct sim_state_slot *sl = st_slot(h, (int)s);
        if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SIM_SLOT_LIVE || sl->pid != pid)
            continue;
        *busy_ns = __atomic_load_n(&sl->engine_busy_ns[dev], __ATOMIC_RELAXED);
        return 0;
    }
    return -ENOENT;
}

/* Every live slot's engine time on device dev (see sim.h). */
int sim_instance_engine_busy(struct sim_instance *inst, int dev, struct sim_proc_busy *out, int max)
{
    if (!inst || dev < 0 || dev >= inst->ndev)
        return 0;
    struct sim_state_hdr *h = inst->hdr;
    int n = 0;
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct sim_state_slot *sl = st_slot(h, (int)s);
        if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SIM_SLOT_LIVE)
            continue;
        uint64_t gen = __atomic_load_n(&sl->generation, __ATOMIC_ACQUIRE);
        int32_t pid = __atomic_load_n(&sl->pid, __ATOMIC_RELAXED);
        uint64_t busy = __atomic_load_n(&sl->engine_busy_ns[dev], __ATOMIC_ACQUIRE);
        /* A claim moves the slot out of LIVE and bumps its generation before it zeroes the
         * counters: the same state and generation after the reads mean they were one
         * attachment's. */
        if (busy == 0 || __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SIM_SLOT_LIVE ||
            __atomic_load_n(&sl->generation, __ATOMIC_ACQUIRE) != gen)
            continue;
        if ((int)s != inst->slot && !slot_alive(inst, (int)s))
            continue;
        if (n < max) {
            out[n].slot = s;
            out[n].generation = gen;
            out[n].pid = pid;
            out[n].busy_ns = busy;
        }
        n++;
    }
    return n;
}
