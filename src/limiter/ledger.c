/* The vGPU ledger in shared memory (see gpool/ledger.h and docs/internals/limiter.md). */
#include "ledger_layout.h"

#include "gpool/failpoint.h"
#include "gpool/liveness.h"
#include "gpool/log.h"
#include "gpool/shm_lock.h"

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
#include <unistd.h>

#define COMP "limiter"

/*
 * The record index: this process's committed records by (device, key), in process memory (a
 * crash can never corrupt it, and another process can never see it). Open addressing with
 * linear probing and backward-shift deletion, so there are no tombstones. An entry is a hint:
 * every hit is checked against the record, and a stale entry (its record freed behind this
 * process's back, e.g. dropped as corrupt by a repair) is removed. `complete` says that every
 * committed record of this process's slot has an entry, so a miss is an answer; when an
 * insertion could not allocate, the index is dropped and lookups scan the record table until
 * it can be rebuilt. Only touched with the ledger lock held.
 */
struct rec_index_ent {
    uint64_t key;
    uint32_t rec1; /* record number + 1; 0 = empty entry */
    uint32_t dev;
};

struct rec_index {
    struct rec_index_ent *ent; /* mask + 1 entries, or NULL */
    uint32_t mask;
    uint32_t count;
    int complete;
};

struct ledger {
    struct ledger_hdr *hdr;
    size_t size;
    int fd;       /* holds this process's slot lock */
    int probe_fd; /* a second description, to probe other slots */
    int slot;
    pid_t pid; /* the process that claimed the slot: a forked child claims its own */
    struct rec_index idx;
    uint64_t seen_repairs; /* h->stats.repairs when the index was last pruned */
    struct limiter_clock clock;
    pthread_mutex_t local; /* serialises this process's threads around slot (re)claiming */
    char path[PATH_MAX];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static struct ledger_slot *slot_at(const struct ledger_hdr *h, uint32_t s)
{
    return (struct ledger_slot *)((char *)h + h->slot_off) + s;
}

static struct ledger_rec *rec_at(const struct ledger_hdr *h, uint32_t r)
{
    return (struct ledger_rec *)((char *)h + h->rec_off) + r;
}

static void store32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint64_t layout(uint32_t ndev, uint64_t *slot_off, uint64_t *rec_off)
{
    (void)ndev;
    uint64_t so = (sizeof(struct ledger_hdr) + 63) & ~63ull;
    uint64_t ro = so + LEDGER_SLOTS * sizeof(struct ledger_slot);
    ro = (ro + 63) & ~63ull;
    if (slot_off)
        *slot_off = so;
    if (rec_off)
        *rec_off = ro;
    return (ro + LEDGER_RECS * sizeof(struct ledger_rec) + 4095) & ~4095ull;
}

size_t ledger_file_size(uint32_t ndev)
{
    return (size_t)layout(ndev, NULL, NULL);
}

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > LEDGER_NAME_MAX || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int limits_ok(const struct ledger_limits *lim)
{
    return lim->compute_pct >= 1 && lim->compute_pct <= 100;
}

int ledger_format(void *buf, size_t len, const char *name, const struct ledger_limits *lim,
                  uint64_t now)
{
    if (!name_ok(name) || !limits_ok(lim) || lim->ndev < 1 || lim->ndev > LEDGER_MAX_DEVICES)
        return -EINVAL;
    uint64_t so, ro, size = layout(lim->ndev, &so, &ro);
    if (len < size)
        return -EINVAL;
    memset(buf, 0, size);
    struct ledger_hdr *h = buf;
    h->magic = LEDGER_MAGIC;
    h->version = LEDGER_VERSION;
    h->hdr_size = sizeof(*h);
    h->file_size = size;
    h->ndev = lim->ndev;
    h->nslots = LEDGER_SLOTS;
    h->nrecs = LEDGER_RECS;
    h->slot_off = so;
    h->rec_off = ro;
    snprintf(h->name, sizeof(h->name), "%s", name);
    gpool_boot_id(h->boot_id, sizeof(h->boot_id));
    int rc = gpool_robust_mutex_init(&h->lock);
    if (rc)
        return rc;
    h->vram_bytes = lim->vram_bytes;
    h->compute_pct = lim->compute_pct;
    h->generation = 1;
    for (int d = 0; d < LEDGER_MAX_DEVICES; d++)
        limiter_bucket_init(&h->bucket[d], lim->compute_pct * (LIMITER_PPM / 100), LIMITER_BURST_NS,
                            1, now);
    return 0;
}

/* ---- validation ------------------------------------------------------------------------- */

static int validate_header(const struct ledger_hdr *h, size_t len, char *err, size_t errlen)
{
    uint64_t so, ro;
    if (len < sizeof(*h) || h->magic != LEDGER_MAGIC) {
        seterr(err, errlen, "not a gpool vGPU ledger (bad magic)");
        return -EBADMSG;
    }
    if (h->version != LEDGER_VERSION || h->hdr_size != sizeof(*h)) {
        seterr(err, errlen,
               "ledger layout version %u (header %u bytes); this gpool reads version %u: "
               "recreate the vGPU ('gpool vgpu create --force') once no process uses it",
               h->version, h->hdr_size, LEDGER_VERSION);
        return -EBADMSG;
    }
    if (h->ndev < 1 || h->ndev > LEDGER_MAX_DEVICES || h->nslots != LEDGER_SLOTS ||
        h->nrecs != LEDGER_RECS || h->file_size != layout(h->ndev, &so, &ro) || h->slot_off != so ||
        h->rec_off != ro || h->file_size > len) {
        seterr(err, errlen,
               "ledger sizes are inconsistent (%u devices, %u slots, %u records, "
               "%llu bytes of %zu)",
               h->ndev, h->nslots, h->nrecs, (unsigned long long)h->file_size, len);
        return -EBADMSG;
    }
    if (memchr(h->name, '\0', sizeof(h->name)) == NULL || !name_ok(h->name) ||
        memchr(h->boot_id, '\0', sizeof(h->boot_id)) == NULL) {
        seterr(err, errlen, "ledger name is corrupt");
        return -EBADMSG;
    }
    return 0;
}

/* Checks every invariant of a mapped (or copied) image whose header is valid. */
static int validate_body(const struct ledger_hdr *h, char *err, size_t errlen)
{
    uint64_t used[LEDGER_MAX_DEVICES] = {0};
    uint64_t *slot_used = calloc(h->nslots, sizeof(uint64_t) * LEDGER_MAX_DEVICES);
    int rc = -EPROTO;
    if (!slot_used) {
        seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int buckets_ok = 1;
    for (int d = 0; d < LEDGER_MAX_DEVICES; d++)
        buckets_ok &= h->bucket[d].share_ppm >= 1 && h->bucket[d].share_ppm <= LIMITER_PPM &&
                      h->bucket[d].burst_ns <= (uint64_t)INT64_MAX / LIMITER_PPM;
    if (h->compute_pct < 1 || h->compute_pct > 100 || h->generation == 0 || !buckets_ok) {
        seterr(err, errlen, "limits are corrupt (compute %u%%, generation %llu)", h->compute_pct,
               (unsigned long long)h->generation);
        goto out;
    }
    for (uint32_t s = 0; s < h->nslots; s++) {
        const struct ledger_slot *sl = slot_at(h, s);
        if (sl->state > LEDGER_SLOT_LIVE || memchr(sl->name, '\0', sizeof(sl->name)) == NULL) {
            seterr(err, errlen, "slot %u is corrupt (state %u)", s, sl->state);
            goto out;
        }
    }
    for (uint32_t r = 0; r < h->nrecs; r++) {
        const struct ledger_rec *rec = rec_at(h, r);
        if (rec->state == LEDGER_REC_FREE)
            continue;
        if (rec->state > LEDGER_REC_COMMITTED || rec->dev >= h->ndev || rec->slot >= h->nslots ||
            rec->bytes == 0) {
            seterr(err, errlen, "record %u is corrupt (state %u, device %u, slot %u)", r,
                   rec->state, rec->dev, rec->slot);
            goto out;
        }
        if (slot_at(h, rec->slot)->state == LEDGER_SLOT_FREE) {
            seterr(err, errlen, "record %u belongs to free slot %u", r, rec->slot);
            goto out;
        }
        uint64_t *su = &slot_used[(size_t)rec->slot * LEDGER_MAX_DEVICES + rec->dev];
        if (used[rec->dev] + rec->bytes < used[rec->dev]) {
            seterr(err, errlen, "usage of device %u overflows", rec->dev);
            goto out;
        }
        used[rec->dev] += rec->bytes;
        *su += rec->bytes;
    }
    for (uint32_t d = 0; d < LEDGER_MAX_DEVICES; d++) {
        if (h->used[d] != used[d]) {
            seterr(err, errlen, "device %u: usage %llu but its records sum to %llu", d,
                   (unsigned long long)h->used[d], (unsigned long long)used[d]);
            goto out;
        }
    }
    for (uint32_t s = 0; s < h->nslots; s++) {
        const struct ledger_slot *sl = slot_at(h, s);
        for (uint32_t d = 0; d < LEDGER_MAX_DEVICES; d++) {
            if (sl->used[d] != slot_used[(size_t)s * LEDGER_MAX_DEVICES + d]) {
                seterr(err, errlen, "slot %u device %u: usage %llu but its records sum to %llu", s,
                       d, (unsigned long long)sl->used[d],
                       (unsigned long long)slot_used[(size_t)s * LEDGER_MAX_DEVICES + d]);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(slot_used);
    return rc;
}

int ledger_validate(const void *image, size_t len, char *err, size_t errlen)
{
    /* The image may be unaligned (a fuzzer's buffer): check a copy. */
    if (len < sizeof(struct ledger_hdr)) {
        seterr(err, errlen, "not a gpool vGPU ledger (%zu bytes)", len);
        return -EBADMSG;
    }
    struct ledger_hdr hc;
    memcpy(&hc, image, sizeof(hc));
    int rc = validate_header(&hc, len, err, errlen);
    if (rc)
        return rc;
    void *copy = aligned_alloc(64, hc.file_size);
    if (!copy) {
        seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    memcpy(copy, image, hc.file_size);
    rc = validate_body(copy, err, errlen);
    free(copy);
    return rc;
}

/* ---- the record index (process memory) ------------------------------------------------- */

#define INDEX_MIN 64u /* entries of a fresh table; it doubles at half full */

static uint32_t index_hash(uint32_t dev, uint64_t key)
{
    /* Keys are device pointers, aligned to large powers of two: mix the high bits down. */
    uint64_t x = key ^ ((uint64_t)dev * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return (uint32_t)x;
}

static void index_free(struct rec_index *x)
{
    free(x->ent);
    x->ent = NULL;
    x->mask = 0;
    x->count = 0;
}

static void index_put(struct rec_index *x, struct rec_index_ent e)
{
    uint32_t pos = index_hash(e.dev, e.key) & x->mask;
    while (x->ent[pos].rec1)
        pos = (pos + 1) & x->mask;
    x->ent[pos] = e;
    x->count++;
}

/* Moves the entries into a table of nsize entries (a power of two). 0 or -ENOMEM (the table
 * is then unchanged). */
static int index_resize(struct rec_index *x, uint32_t nsize)
{
    struct rec_index_ent *ent = calloc(nsize, sizeof(*ent));
    if (!ent)
        return -ENOMEM;
    struct rec_index old = *x;
    uint32_t size = old.ent ? old.mask + 1 : 0;
    x->ent = ent;
    x->mask = nsize - 1;
    x->count = 0;
    for (uint32_t i = 0; i < size; i++)
        if (old.ent[i].rec1)
            index_put(x, old.ent[i]);
    free(old.ent);
    return 0;
}

/* Makes room for one more entry: the table doubles past half full. 0 or -ENOMEM. */
static int index_reserve(struct rec_index *x)
{
    if (GPOOL_FAILPOINT("ledger.index.alloc"))
        return -ENOMEM;
    uint32_t size = x->ent ? x->mask + 1 : 0;
    if (x->ent && (x->count + 1) * 2 <= size)
        return 0;
    return index_resize(x, size ? size * 2 : INDEX_MIN);
}

/* Gives memory back once the table is below 1/8 full (if it can: else it stays as it is). */
static void index_shrink(struct rec_index *x)
{
    uint32_t size = x->ent ? x->mask + 1 : 0, nsize = size;
    while (nsize > INDEX_MIN && x->count * 8 < nsize)
        nsize /= 2;
    if (nsize < size)
        (void)index_resize(x, nsize);
}

/* Removes the entry at pos: later entries of its probe run move back into the hole (each only
 * if that keeps it reachable from its home position). Entries only move towards pos. */
static void index_remove_at(struct rec_index *x, uint32_t pos)
{
    uint32_t hole = pos, j = pos;
    for (;;) {
        j = (j + 1) & x->mask;
        if (!x->ent[j].rec1)
            break;
        uint32_t home = index_hash(x->ent[j].dev, x->ent[j].key) & x->mask;
        /* The entry stays when its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        x->ent[hole] = x->ent[j];
        hole = j;
    }
    x->ent[hole] = (struct rec_index_ent){0};
    x->count--;
}

/* Whether record r is a committed record of this process holding (dev, key). Lock held. */
static int rec_is_ours(const struct ledger *l, uint32_t r, uint32_t dev, uint64_t key)
{
    if (r >= l->hdr->nrecs)
        return 0;
    const struct ledger_rec *rec = rec_at(l->hdr, r);
    return rec->state == LEDGER_REC_COMMITTED && rec->slot == (uint32_t)l->slot &&
           rec->dev == dev && rec->key == key;
}

/* Records that this process committed record r as (dev, key). When the table cannot grow, the
 * index is dropped (lookups scan until index_ready rebuilds it). Lock held. */
static void index_add(struct ledger *l, uint32_t dev, uint64_t key, uint32_t r)
{
    struct rec_index *x = &l->idx;
    if (!x->complete)
        return;
    if (index_reserve(x) < 0) {
        LOG_WARN(COMP, "vGPU %s: out of memory for the record index; scanning the ledger instead",
                 l->hdr->name);
        index_free(x);
        x->complete = 0;
        return;
    }
    index_put(x, (struct rec_index_ent){.key = key, .rec1 = r + 1, .dev = dev});
}

/* Makes the index complete, rebuilding it from the record table if an allocation failed
 * earlier. Returns whether it is usable; when not, the caller scans. Lock held. */
static int index_ready(struct ledger *l)
{
    struct rec_index *x = &l->idx;
    if (x->complete)
        return 1;
    struct ledger_hdr *h = l->hdr;
    index_free(x);
    for (uint32_t r = 0; r < h->nrecs; r++) {
        const struct ledger_rec *rec = rec_at(h, r);
        if (rec->state != LEDGER_REC_COMMITTED || rec->slot != (uint32_t)l->slot)
            continue;
        if (index_reserve(x) < 0) {
            index_free(x);
            return 0;
        }
        index_put(x, (struct rec_index_ent){.key = rec->key, .rec1 = r + 1, .dev = rec->dev});
    }
    x->complete = 1;
    return 1;
}

/* Drops the entries whose record is no longer this process's (after a repair). Lock held. */
static void index_prune(struct ledger *l)
{
    struct rec_index *x = &l->idx;
    for (uint32_t pos = 0; x->ent && pos <= x->mask;) {
        const struct rec_index_ent *e = &x->ent[pos];
        if (e->rec1 && !rec_is_ours(l, e->rec1 - 1, e->dev, e->key))
            index_remove_at(x, pos); /* pos now holds a later entry (or none): look again */
        else
            pos++;
    }
    index_shrink(x);
}

/* An empty, complete index: this process has just claimed its slot. */
static void index_reset(struct ledger *l)
{
    index_free(&l->idx);
    l->idx.complete = 1;
    l->seen_repairs = l->hdr->stats.repairs;
}

/*
 * Finds this process's committed record holding (dev, key): through the index, or by scanning
 * the record table when the index is not usable. Returns the record number, or -1; *pos gets
 * the index entry of the hit (UINT32_MAX when none: found by a scan). Lock held.
 */
static int64_t find_committed(struct ledger *l, uint32_t dev, uint64_t key, uint32_t *pos)
{
    struct rec_index *x = &l->idx;
    struct ledger_hdr *h = l->hdr;
    *pos = UINT32_MAX;
    if (index_ready(l)) {
        if (!x->ent)
            return -1;
        uint32_t p = index_hash(dev, key) & x->mask;
        while (x->ent[p].rec1) {
            const struct rec_index_ent *e = &x->ent[p];
            if (e->dev != dev || e->key != key) {
                p = (p + 1) & x->mask;
            } else if (rec_is_ours(l, e->rec1 - 1, dev, key)) {
                *pos = p;
                return e->rec1 - 1;
            } else {
                index_remove_at(x, p); /* stale; p now holds a later entry of the run, or none */
            }
        }
        return -1;
    }
    for (uint32_t r = 0; r < h->nrecs; r++)
        if (rec_is_ours(l, r, dev, key))
            return r;
    return -1;
}

/* ---- locking, repair, reaping ----------------------------------------------------------- */

static void free_rec(struct ledger_hdr *h, struct ledger_rec *r)
{
    struct ledger_slot *sl = slot_at(h, r->slot);
    store32(&r->state, LEDGER_REC_FREE);
    h->used[r->dev] -= r->bytes;
    sl->used[r->dev] -= r->bytes;
}

/* Rebuilds every sum from the records (the records are the truth; each is published by one
 * store of its state), dropping records of free slots and bad records. Lock held. */
static void recompute(struct ledger_hdr *h)
{
    memset(h->used, 0, sizeof(h->used));
    for (uint32_t s = 0; s < h->nslots; s++)
        memset(slot_at(h, s)->used, 0, sizeof(slot_at(h, s)->used));
    for (uint32_t r = 0; r < h->nrecs; r++) {
        struct ledger_rec *rec = rec_at(h, r);
        if (rec->state == LEDGER_REC_FREE)
            continue;
        if (rec->state > LEDGER_REC_COMMITTED || rec->dev >= h->ndev || rec->slot >= h->nslots ||
            rec->bytes == 0 || slot_at(h, rec->slot)->state == LEDGER_SLOT_FREE) {
            store32(&rec->state, LEDGER_REC_FREE);
            continue;
        }
        h->used[rec->dev] += rec->bytes;
        slot_at(h, rec->slot)->used[rec->dev] += rec->bytes;
    }
}

/* Frees the slots of dead processes and their records. Lock held. Returns how many. */
static int reap_locked(struct ledger *l)
{
    struct ledger_hdr *h = l->hdr;
    int n = 0;
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct ledger_slot *sl = slot_at(h, s);
        if (sl->state == LEDGER_SLOT_FREE || gpool_live_probe(l->probe_fd, LEDGER_LIVE_BASE + s))
            continue;
        uint64_t freed = 0;
        for (uint32_t r = 0; r < h->nrecs; r++) {
            struct ledger_rec *rec = rec_at(h, r);
            if (rec->state != LEDGER_REC_FREE && rec->slot == s) {
                freed += rec->bytes;
                free_rec(h, rec);
            }
        }
        LOG_INFO(COMP, "vGPU %s: reclaimed %llu bytes of dead process %d (%s)", h->name,
                 (unsigned long long)freed, sl->pid, sl->name);
        store32(&sl->state, LEDGER_SLOT_FREE);
        h->stats.reaped_processes++;
        n++;
    }
    return n;
}

/* After a lock holder died: the sums may be half updated and a slot half claimed. */
static void repair(struct ledger *l)
{
    struct ledger_hdr *h = l->hdr;
    LOG_WARN(COMP, "vGPU %s: a process died holding the ledger lock; repairing", h->name);
    recompute(h);
    reap_locked(l);
    for (int d = 0; d < LEDGER_MAX_DEVICES; d++)
        if (h->bucket[d].share_ppm < 1 || h->bucket[d].share_ppm > LIMITER_PPM)
            limiter_bucket_set_share(&h->bucket[d], h->compute_pct * (LIMITER_PPM / 100),
                                     h->generation, l->clock.now_ns(l->clock.ctx));
    h->stats.repairs++;
}

static int lock(struct ledger *l)
{
    int rc = gpool_robust_lock(&l->hdr->lock);
    if (rc == EOWNERDEAD) {
        repair(l);
        pthread_mutex_consistent(&l->hdr->lock);
        rc = 0;
    }
    if (rc)
        LOG_ERROR(COMP, "vGPU %s: cannot take the ledger lock: %s", l->hdr->name, strerror(rc));
    return -rc;
}

static void unlock(struct ledger *l)
{
    pthread_mutex_unlock(&l->hdr->lock);
}

/* Claims a slot for this process. Lock held. */
static int claim_slot(struct ledger *l)
{
    struct ledger_hdr *h = l->hdr;
    reap_locked(l);
    for (uint32_t s = 0; s < h->nslots; s++) {
        struct ledger_slot *sl = slot_at(h, s);
        if (sl->state != LEDGER_SLOT_FREE || gpool_live_claim(l->fd, LEDGER_LIVE_BASE + s) < 0)
            continue;
        store32(&sl->state, LEDGER_SLOT_CLAIMING);
        sl->pid = (int32_t)getpid();
        sl->generation++;
        snprintf(sl->name, sizeof(sl->name), "%s", program_invocation_short_name);
        memset(sl->used, 0, sizeof(sl->used));
        GPOOL_FAILPOINT("ledger.attach.claimed");
        store32(&sl->state, LEDGER_SLOT_LIVE);
        l->slot = (int)s;
        index_reset(l);
        return 0;
    }
    return -EUSERS;
}

/* Opens a second description of the ledger file (the child of a fork must not share its
 * parent's lock). */
static int reopen_fds(struct ledger *l)
{
    int fd = open(l->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int probe = open(l->path, O_RDONLY | O_CLOEXEC);
    if (probe < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if (l->fd >= 0)
        close(l->fd);
    if (l->probe_fd >= 0)
        close(l->probe_fd);
    l->fd = fd;
    l->probe_fd = probe;
    return 0;
}

/* Takes the lock, making sure this process (a forked child too) owns a slot and that its
 * record index describes that slot. */
static int lock_attached(struct ledger *l)
{
    int rc = 0;
    pthread_mutex_lock(&l->local);
    if (l->pid != getpid()) {
        /* A forked child: the index copied from the parent describes the parent's records; it
         * is replaced when the child claims its slot. */
        rc = reopen_fds(l);
        l->slot = -1;
        l->pid = getpid();
    }
    if (!rc)
        rc = lock(l);
    if (!rc && l->slot < 0) {
        rc = claim_slot(l);
        if (rc) {
            unlock(l);
            LOG_ERROR(COMP, "vGPU %s: cannot claim a process slot: %s", l->hdr->name,
                      strerror(-rc));
        }
    }
    if (!rc && l->seen_repairs != l->hdr->stats.repairs) {
        /* A repair rebuilt the ledger from its records; it keeps a live process's records, but
         * drops invalid ones: forget index entries that no longer match. */
        index_prune(l);
        l->seen_repairs = l->hdr->stats.repairs;
    }
    pthread_mutex_unlock(&l->local);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------------ */

int ledger_dir(char *buf, size_t len)
{
    const char *env = getenv("GPOOL_VGPU_DIR");
    if (env && *env) {
        if ((size_t)snprintf(buf, len, "%s", env) >= len)
            return -ENAMETOOLONG;
        return 0;
    }
    if (access("/dev/shm", W_OK | X_OK) == 0) {
        snprintf(buf, len, "/dev/shm");
        return 0;
    }
    if ((size_t)snprintf(buf, len, "/var/tmp/gpool-vgpu-%u", (unsigned)getuid()) >= len)
        return -ENAMETOOLONG;
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int create_file(const char *dir, const char *name, const char *path,
                       const struct ledger_limits *lim, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    size_t size = ledger_file_size(lim->ndev);
    void *map = MAP_FAILED;
    int rc;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.gpool-vgpu-%s.XXXXXX", dir, name) >= sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        seterr(err, errlen, "limiter: cannot create a file in %s: %s", dir, strerror(-rc));
        return rc;
    }
    /* Reserved up front: touching the ledger later must never SIGBUS on a full tmpfs. */
    if ((rc = posix_fallocate(fd, 0, (off_t)size)) != 0) {
        rc = -rc;
        seterr(err, errlen, "limiter: cannot reserve %zu bytes for vGPU \"%s\" in %s: %s", size,
               name, dir, strerror(-rc));
        goto out;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        seterr(err, errlen, "limiter: cannot map %s: %s", tmp, strerror(-rc));
        goto out;
    }
    rc = ledger_format(map, size, name, lim, limiter_monotonic_ns(NULL));
    if (rc) {
        seterr(err, errlen, "limiter: cannot format the ledger of vGPU \"%s\": %s", name,
               strerror(-rc));
        goto out;
    }
    /* link() publishes the formatted file atomically and never replaces a ledger that another
     * creator published first. */
    if (link(tmp, path) < 0 && errno != EEXIST) {
        rc = -errno;
        seterr(err, errlen, "limiter: cannot create %s: %s", path, strerror(-rc));
    }
out:
    if (map != MAP_FAILED)
        munmap(map, size);
    close(fd);
    unlink(tmp);
    return rc;
}

/* The first opener after a reboot re-initialises the lock (nothing of an earlier boot can hold
 * it, whatever its word says) and repairs, under an flock so that this happens once. */
static int boot_check(struct ledger *l)
{
    char now[GPOOL_BOOT_ID_LEN];
    gpool_boot_id(now, sizeof(now));
    if (!now[0] || strcmp(now, l->hdr->boot_id) == 0)
        return 0;
    int rc;
    while ((rc = flock(l->fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (rc < 0)
        return -errno;
    if (strcmp(now, l->hdr->boot_id) != 0) {
        rc = gpool_robust_mutex_init(&l->hdr->lock);
        if (!rc && !(rc = lock(l))) {
            LOG_WARN(COMP, "vGPU %s: first use since the machine restarted; lock reset",
                     l->hdr->name);
            repair(l);
            snprintf(l->hdr->boot_id, sizeof(l->hdr->boot_id), "%s", now);
            unlock(l);
        }
    }
    flock(l->fd, LOCK_UN);
    return rc;
}

int ledger_open(const char *dir, const char *name, const struct ledger_limits *create,
                struct ledger **out, char *err, size_t errlen)
{
    char dbuf[PATH_MAX];
    int rc;
    *out = NULL;
    if (!name_ok(name)) {
        seterr(err, errlen,
               "limiter: vGPU name \"%.80s\" is not valid (1-%d of A-Z a-z 0-9 . _ -, "
               "not starting with '.')",
               name ? name : "", LEDGER_NAME_MAX);
        return -EINVAL;
    }
    if (create && (!limits_ok(create) || create->ndev < 1 || create->ndev > LEDGER_MAX_DEVICES)) {
        seterr(err, errlen, "limiter: vGPU \"%s\": bad limits (compute %u%%, %u devices)", name,
               create->compute_pct, create->ndev);
        return -EINVAL;
    }
    if (!dir) {
        if ((rc = ledger_dir(dbuf, sizeof(dbuf))) < 0) {
            seterr(err, errlen, "limiter: no usable ledger directory: %s", strerror(-rc));
            return rc;
        }
        dir = dbuf;
    }
    struct ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->fd = l->probe_fd = -1;
    l->slot = -1;
    l->clock = (struct limiter_clock){limiter_monotonic_ns, NULL};
    pthread_mutex_init(&l->local, NULL);
    if ((size_t)snprintf(l->path, sizeof(l->path), "%s/gpool-vgpu-%s", dir, name) >=
        sizeof(l->path)) {
        rc = -ENAMETOOLONG;
        seterr(err, errlen, "limiter: ledger path in %s is too long", dir);
        goto fail;
    }
    rc = reopen_fds(l);
    if (rc == -ENOENT && create) {
        rc = create_file(dir, name, l->path, create, err, errlen);
        if (rc)
            goto fail;
        rc = reopen_fds(l);
    }
    if (rc) {
        seterr(err, errlen,
               rc == -ENOENT ? "limiter: vGPU \"%s\" does not exist (%s)"
                             : "limiter: vGPU \"%s\": cannot open %s",
               name, l->path);
        goto fail;
    }
    struct stat st;
    if (fstat(l->fd, &st) < 0 || (size_t)st.st_size < sizeof(struct ledger_hdr)) {
        rc = -EBADMSG;
        seterr(err, errlen, "limiter: %s is not a gpool vGPU ledger (too short)", l->path);
        goto fail;
    }
    l->size = (size_t)st.st_size;
    void *map = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, l->fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        seterr(err, errlen, "limiter: cannot map %s: %s", l->path, strerror(-rc));
        goto fail;
    }
    l->hdr = map;
    char why[256];
    if ((rc = validate_header(l->hdr, l->size, why, sizeof(why))) != 0) {
        seterr(err, errlen, "limiter: %s: refused: %s", l->path, why);
        goto fail;
    }
    if ((rc = boot_check(l)) != 0) {
        seterr(err, errlen, "limiter: %s: cannot reset after a restart: %s", l->path,
               strerror(-rc));
        goto fail;
    }
    l->pid = getpid();
    if ((rc = lock(l)) != 0) {
        seterr(err, errlen, "limiter: %s: cannot take the lock", l->path);
        goto fail;
    }
    rc = validate_body(l->hdr, why, sizeof(why));
    if (!rc)
        rc = claim_slot(l);
    else
        seterr(err, errlen, "limiter: %s: refused: %s", l->path, why);
    if (rc == -EUSERS)
        seterr(err, errlen, "limiter: vGPU \"%s\": all %d process slots are taken", name,
               LEDGER_SLOTS);
    unlock(l);
    if (rc)
        goto fail;
    *out = l;
    return 0;
fail:
    l->slot = -1;
    ledger_close(l);
    return rc;
}

void ledger_close(struct ledger *l)
{
    if (!l)
        return;
    if (l->hdr && l->slot >= 0 && l->pid == getpid() && lock(l) == 0) {
        struct ledger_hdr *h = l->hdr;
        /* A scan, not the index: reservations go too, and nothing may stay behind. */
        for (uint32_t r = 0; r < h->nrecs; r++) {
            struct ledger_rec *rec = rec_at(h, r);
            if (rec->state != LEDGER_REC_FREE && rec->slot == (uint32_t)l->slot)
                free_rec(h, rec);
        }
        store32(&slot_at(h, (uint32_t)l->slot)->state, LEDGER_SLOT_FREE);
        unlock(l);
    }
    index_free(&l->idx);
    if (l->hdr)
        munmap(l->hdr, l->size);
    if (l->fd >= 0)
        close(l->fd);
    if (l->probe_fd >= 0)
        close(l->probe_fd);
    pthread_mutex_destroy(&l->local);
    free(l);
}

void ledger_set_clock(struct ledger *l, struct limiter_clock clock)
{
    l->clock = clock;
}

const char *ledger_path(const struct ledger *l)
{
    return l->path;
}

int ledger_device_count(const struct ledger *l)
{
    return (int)l->hdr->ndev;
}

/* ---- VRAM -------------------------------------------------------------------------------- */

/* Whether `more` bytes fit on dev, reaping dead processes before refusing: 0, -EDQUOT past the
 * cap, -EOVERFLOW past 2^64 bytes (no cap). Lock held. */
static int room_locked(struct ledger *l, int dev, uint64_t more)
{
    struct ledger_hdr *h = l->hdr;
    uint64_t cap = h->vram_bytes;
    if (cap && (h->used[dev] + more < more || h->used[dev] + more > cap)) {
        reap_locked(l);
        if (h->used[dev] + more < more || h->used[dev] + more > cap)
            return -EDQUOT;
    }
    return h->used[dev] + more < more ? -EOVERFLOW : 0;
}

int ledger_reserve(struct ledger *l, int dev, uint64_t bytes, struct ledger_ticket *t)
{
    struct ledger_hdr *h = l->hdr;
    if (dev < 0 || (uint32_t)dev >= h->ndev || bytes == 0)
        return -EINVAL;
    int rc = lock_attached(l);
    if (rc)
        return rc;
    GPOOL_FAILPOINT("ledger.reserve.locked");
    if ((rc = room_locked(l, dev, bytes)) != 0)
        goto out;
    uint32_t r = h->rec_hint < h->nrecs ? h->rec_hint : 0, i;
    for (i = 0; i < h->nrecs; i++, r = (r + 1) % h->nrecs)
        if (rec_at(h, r)->state == LEDGER_REC_FREE)
            break;
    if (i == h->nrecs) {
        rc = -ENOSPC;
        goto out;
    }
    struct ledger_rec *rec = rec_at(h, r);
    rec->dev = (uint16_t)dev;
    rec->slot = (uint16_t)l->slot;
    rec->seq++;
    rec->key = 0;
    rec->owner = 0;
    rec->bytes = bytes;
    store32(&rec->state, LEDGER_REC_RESERVED);
    GPOOL_FAILPOINT("ledger.reserve.counted");
    h->used[dev] += bytes;
    slot_at(h, (uint32_t)l->slot)->used[dev] += bytes;
    h->rec_hint = (r + 1) % h->nrecs;
    *t = (struct ledger_ticket){.rec = r, .seq = rec->seq, .dev = dev, .bytes = bytes};
out:
    unlock(l);
    if (!rc)
        GPOOL_FAILPOINT("ledger.reserve.done");
    return rc;
}

/* The record of a live reservation of this process named by t, or NULL. Lock held. */
static struct ledger_rec *ticket_rec(struct ledger *l, const struct ledger_ticket *t)
{
    if (t->rec >= l->hdr->nrecs)
        return NULL;
    struct ledger_rec *rec = rec_at(l->hdr, t->rec);
    if (rec->state != LEDGER_REC_RESERVED || rec->slot != (uint32_t)l->slot || rec->seq != t->seq)
        return NULL;
    return rec;
}

int ledger_commit_owned(struct ledger *l, const struct ledger_ticket *t, uint64_t key,
                        uint64_t owner)
{
    int rc = lock_attached(l);
    if (rc)
        return rc;
    struct ledger_rec *rec = ticket_rec(l, t);
    uint32_t pos;
    if (!rec) {
        rc = -EINVAL;
        goto out;
    }
    if (find_committed(l, rec->dev, key, &pos) >= 0) {
        rc = -EEXIST;
        goto out;
    }
    rec->key = key;
    rec->owner = owner;
    GPOOL_FAILPOINT("ledger.commit.locked");
    store32(&rec->state, LEDGER_REC_COMMITTED);
    index_add(l, rec->dev, key, t->rec);
out:
    unlock(l);
    return rc;
}

int ledger_commit(struct ledger *l, const struct ledger_ticket *t, uint64_t key)
{
    return ledger_commit_owned(l, t, key, 0);
}

int ledger_rollback(struct ledger *l, const struct ledger_ticket *t)
{
    int rc = lock_attached(l);
    if (rc)
        return rc;
    struct ledger_rec *rec = ticket_rec(l, t);
    if (rec)
        free_rec(l->hdr, rec);
    else
        rc = -EINVAL;
    unlock(l);
    return rc;
}

int ledger_release(struct ledger *l, int dev, uint64_t key, uint64_t *bytes)
{
    struct ledger_hdr *h = l->hdr;
    if (dev < 0 || (uint32_t)dev >= h->ndev)
        return -EINVAL;
    int rc = lock_attached(l);
    if (rc)
        return rc;
    uint32_t pos;
    int64_t r = find_committed(l, (uint32_t)dev, key, &pos);
    if (r >= 0) {
        struct ledger_rec *rec = rec_at(h, (uint32_t)r);
        GPOOL_FAILPOINT("ledger.release.locked");
        if (bytes)
            *bytes = rec->bytes;
        free_rec(h, rec);
        if (pos != UINT32_MAX) {
            index_remove_at(&l->idx, pos);
            index_shrink(&l->idx);
        }
    } else {
        rc = -ENOENT;
    }
    unlock(l);
    if (!rc)
        GPOOL_FAILPOINT("ledger.release.done");
    return rc;
}

/* Sums across devices, each of which fits: saturating, never wrapping. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

int ledger_resize(struct ledger *l, int dev, uint64_t key, uint64_t bytes)
{
    struct ledger_hdr *h = l->hdr;
    if (dev < 0 || (uint32_t)dev >= h->ndev || bytes == 0)
        return -EINVAL;
    int rc = lock_attached(l);
    if (rc)
        return rc;
    uint32_t pos;
    int64_t r = find_committed(l, (uint32_t)dev, key, &pos);
    if (r < 0) {
        rc = -ENOENT;
        goto out;
    }
    struct ledger_rec *rec = rec_at(h, (uint32_t)r);
    if (bytes > rec->bytes && (rc = room_locked(l, dev, bytes - rec->bytes)) != 0)
        goto out;
    /* The record is the truth (repair recomputes the sums from it): its size first. */
    uint64_t old = rec->bytes;
    __atomic_store_n(&rec->bytes, bytes, __ATOMIC_RELEASE);
    GPOOL_FAILPOINT("ledger.resize.sized"); /* the sums are behind the record here */
    struct ledger_slot *sl = slot_at(h, rec->slot);
    h->used[dev] = h->used[dev] - old + bytes;
    sl->used[dev] = sl->used[dev] - old + bytes;
out:
    unlock(l);
    return rc;
}

int ledger_release_owned(struct ledger *l, uint64_t owner, uint64_t *bytes, uint32_t *count)
{
    struct ledger_hdr *h = l->hdr;
    uint64_t total = 0;
    uint32_t n = 0;
    if (bytes)
        *bytes = 0;
    if (count)
        *count = 0;
    if (owner == 0)
        return -EINVAL;
    int rc = lock_attached(l);
    if (rc)
        return rc;
    struct rec_index *x = &l->idx;
    if (index_ready(l)) {
        /* Every committed record of this process has an entry: visit the entries, not the
         * table. A removal moves later entries back into pos, so pos is looked at again. */
        for (uint32_t pos = 0; x->ent && pos <= x->mask;) {
            const struct rec_index_ent *e = &x->ent[pos];
            if (!e->rec1) {
                pos++;
                continue;
            }
            uint32_t r = e->rec1 - 1;
            if (!rec_is_ours(l, r, e->dev, e->key)) {
                index_remove_at(x, pos); /* stale */
                continue;
            }
            struct ledger_rec *rec = rec_at(h, r);
            if (rec->owner != owner) {
                pos++;
                continue;
            }
            total = add_sat(total, rec->bytes);
            free_rec(h, rec);
            index_remove_at(x, pos);
            if (++n == 1)
                GPOOL_FAILPOINT("ledger.release_owned.locked");
        }
        index_shrink(x);
    } else {
        for (uint32_t r = 0; r < h->nrecs; r++) {
            struct ledger_rec *rec = rec_at(h, r);
            if (rec->state == LEDGER_REC_COMMITTED && rec->slot == (uint32_t)l->slot &&
                rec->owner == owner) {
                total = add_sat(total, rec->bytes);
                free_rec(h, rec);
                if (++n == 1)
                    GPOOL_FAILPOINT("ledger.release_owned.locked");
            }
        }
    }
    unlock(l);
    if (bytes)
        *bytes = total;
    if (count)
        *count = n;
    return 0;
}

int ledger_usage(struct ledger *l, int dev, uint64_t *used, uint64_t *cap)
{
    struct ledger_hdr *h = l->hdr;
    if (dev < 0 || (uint32_t)dev >= h->ndev)
        return -EINVAL;
    if (used)
        *used = __atomic_load_n(&h->used[dev], __ATOMIC_ACQUIRE);
    if (cap)
        *cap = __atomic_load_n(&h->vram_bytes, __ATOMIC_ACQUIRE);
    return 0;
}

uint64_t ledger_process_usage(struct ledger *l, int dev)
{
    if (dev < 0 || (uint32_t)dev >= l->hdr->ndev || l->slot < 0 || l->pid != getpid())
        return 0;
    return __atomic_load_n(&slot_at(l->hdr, (uint32_t)l->slot)->used[dev], __ATOMIC_ACQUIRE);
}

/* ---- limits, reaping, checks ------------------------------------------------------------- */

int ledger_get_limits(struct ledger *l, struct ledger_limits *out)
{
    int rc = lock(l);
    if (rc)
        return rc;
    out->vram_bytes = l->hdr->vram_bytes;
    out->compute_pct = l->hdr->compute_pct;
    out->ndev = l->hdr->ndev;
    out->generation = l->hdr->generation;
    unlock(l);
    return 0;
}

uint64_t ledger_generation(struct ledger *l)
{
    return __atomic_load_n(&l->hdr->generation, __ATOMIC_ACQUIRE);
}

int ledger_set_limits(struct ledger *l, const struct ledger_limits *lim, uint64_t *generation)
{
    if (!limits_ok(lim))
        return -EINVAL;
    int rc = lock(l);
    if (rc)
        return rc;
    struct ledger_hdr *h = l->hdr;
    h->vram_bytes = lim->vram_bytes;
    h->compute_pct = lim->compute_pct;
    /* Published last, with release order: a reader of ledger_generation that sees the new value
     * (without the lock) then reads the new limits. */
    __atomic_store_n(&h->generation, h->generation + 1, __ATOMIC_RELEASE);
    for (int d = 0; d < LEDGER_MAX_DEVICES; d++)
        limiter_bucket_set_share(&h->bucket[d], lim->compute_pct * (LIMITER_PPM / 100),
                                 h->generation, l->clock.now_ns(l->clock.ctx));
    if (generation)
        *generation = h->generation;
    LOG_INFO(COMP, "vGPU %s: limits now %llu bytes, %u%% compute (generation %llu)", h->name,
             (unsigned long long)h->vram_bytes, h->compute_pct, (unsigned long long)h->generation);
    unlock(l);
    return 0;
}

int ledger_reap(struct ledger *l)
{
    int rc = lock(l);
    if (rc)
        return rc;
    rc = reap_locked(l);
    unlock(l);
    return rc;
}

int ledger_check(struct ledger *l, char *err, size_t errlen)
{
    int rc = lock(l);
    if (rc) {
        seterr(err, errlen, "cannot take the ledger lock");
        return rc;
    }
    rc = validate_header(l->hdr, l->size, err, errlen);
    if (!rc)
        rc = validate_body(l->hdr, err, errlen);
    unlock(l);
    return rc;
}

/* ---- compute ------------------------------------------------------------------------------ */

/* Device dev's bucket; a device the ledger does not cover shares device 0's. */
static struct limiter_bucket *bucket_of(struct ledger *l, int dev)
{
    if (dev < 0 || (uint32_t)dev >= l->hdr->ndev)
        dev = 0;
    return &l->hdr->bucket[dev];
}

uint64_t ledger_compute_wait(struct ledger *l, int dev, int count)
{
    if (__atomic_load_n(&l->hdr->compute_pct, __ATOMIC_RELAXED) >= 100)
        return 0; /* unlimited: no lock on the launch path */
    if (lock(l))
        return 0;
    uint64_t w = limiter_bucket_wait_ns(bucket_of(l, dev), l->clock.now_ns(l->clock.ctx));
    if (w && count)
        l->hdr->stats.launches_throttled++;
    unlock(l);
    return w;
}

void ledger_compute_adjust(struct ledger *l, int dev, int64_t delta_ns)
{
    if (lock(l))
        return;
    limiter_bucket_adjust(bucket_of(l, dev), delta_ns, l->clock.now_ns(l->clock.ctx));
    l->hdr->stats.gpu_ns_adjusted += delta_ns;
    l->hdr->stats.adjustments++;
    unlock(l);
}

void ledger_compute_charge(struct ledger *l, int dev, uint64_t duration_ns, uint64_t count)
{
    if (!count || lock(l))
        return;
    uint64_t total = count > UINT64_MAX / (duration_ns ? duration_ns : 1) ? UINT64_MAX
                                                                         : duration_ns * count;
    limiter_bucket_charge(bucket_of(l, dev), total, l->clock.now_ns(l->clock.ctx));
    l->hdr->stats.launches_charged += count;
    l->hdr->stats.gpu_ns_charged += total;
    unlock(l);
}

int ledger_get_stats(struct ledger *l, struct ledger_stats *out)
{
    int rc = lock(l);
    if (rc)
        return rc;
    *out = l->hdr->stats;
    unlock(l);
    return 0;
}

int ledger_processes(struct ledger *l, struct ledger_proc *out, int max)
{
    int rc = lock(l);
    if (rc)
        return rc;
    struct ledger_hdr *h = l->hdr;
    int n = 0;
    for (uint32_t s = 0; s < h->nslots; s++) {
        const struct ledger_slot *sl = slot_at(h, s);
        if (sl->state == LEDGER_SLOT_FREE)
            continue;
        if (n < max) {
            struct ledger_proc *p = &out[n];
            p->pid = sl->pid;
            p->alive = gpool_live_probe(l->probe_fd, LEDGER_LIVE_BASE + s);
            snprintf(p->name, sizeof(p->name), "%s", sl->name);
            memcpy(p->used, sl->used, sizeof(p->used));
        }
        n++;
    }
    unlock(l);
    return n;
}
