/*
 * The vGPU ledger: one file per vGPU in shared memory, mapped by every process of the vGPU.
 *
 *   <dir>/gpool-vgpu-<name>   dir = $GPOOL_VGPU_DIR, else /dev/shm, else /var/tmp/gpool-vgpu-<uid>
 *
 * It holds a header (magic, layout version), the limits (VRAM cap per device, compute share, a
 * generation bumped on every change), usage per device, one slot per attached process (pid for
 * display, name, usage per device; liveness = an OFD lock on the slot's byte, never a bare PID),
 * a bounded table of allocation records keyed by (slot, device, key), and the compute token
 * buckets (one per device) shared by the vGPU's processes. Every change happens under one robust
 * process-shared mutex; a holder that dies is detected (EOWNERDEAD) and the ledger repaired: usage
 * is recomputed from the records, and dead processes' records are reclaimed.
 *
 * VRAM protocol for the hook (check-reserve -> driver allocation -> publish or roll back):
 *
 *     struct ledger_ticket t;
 *     rc = ledger_reserve(l, dev, bytes, &t);      // -EDQUOT past the cap: refuse with OOM
 *     r  = real_cuMemAlloc(&ptr, bytes);
 *     if (r == CUDA_SUCCESS) ledger_commit_owned(l, &t, ptr, ctx); else ledger_rollback(l, &t);
 *     ...
 *     ledger_release(l, dev, ptr, NULL);           // -ENOENT: not ours; still free it
 *     real_cuMemFree(ptr);
 *     ...
 *     ledger_release_owned(l, ctx, &bytes, &n);    // context destroyed: credit all its memory
 *
 * Each process finds its own records through a private index (process memory, never shared):
 * lookups by (device, key) do not scan the record table. The index is a cache of the records:
 * every hit is checked against the record, and without it (out of memory) the calls scan.
 *
 * A ledger handle is for one process and its threads (calls are thread-safe). After fork() the
 * child's first call opens the file again and claims a slot of its own; records of the parent are
 * not the child's (and neither are they in its index). Failpoints (gpool/failpoint.h):
 * ledger.reserve.locked, ledger.reserve.counted, ledger.reserve.done, ledger.commit.locked,
 * ledger.release.locked, ledger.release.done, ledger.release_owned.locked (after the first of
 * its records is freed), ledger.attach.claimed, ledger.index.alloc ("error": the index cannot
 * allocate, so the calls scan).
 */
#ifndef GPOOL_LEDGER_H
#define GPOOL_LEDGER_H

#include "gpool/limiter.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEDGER_MAX_DEVICES 16
#define LEDGER_SLOTS       128   /* processes attached at once */
#define LEDGER_RECS        16384 /* live allocations of the whole vGPU */
#define LEDGER_NAME_MAX    63    /* [A-Za-z0-9._-], not starting with '.' */

struct ledger;

/* Limits of a vGPU. */
struct ledger_limits {
    uint64_t vram_bytes;  /* cap per device; 0 = unlimited */
    uint32_t compute_pct; /* 1..100; 100 = unlimited */
    uint32_t ndev;        /* devices the ledger covers (1..LEDGER_MAX_DEVICES); at creation only */
    uint64_t generation;  /* output of ledger_get_limits; ignored on input */
};

/* A reservation: valid until committed or rolled back by the process that made it. */
struct ledger_ticket {
    uint32_t rec;
    uint32_t seq;
    int dev;
    uint64_t bytes;
};

/* Writes the ledger directory into buf ($GPOOL_VGPU_DIR, /dev/shm, or /var/tmp/gpool-vgpu-<uid>,
 * created 0700 if missing). 0 or -errno. */
int ledger_dir(char *buf, size_t len);

/* Opens the ledger of vGPU `name` in `dir` (NULL: ledger_dir()). When it does not exist and
 * `create` is not NULL, creates it with those limits (atomically: concurrent creators agree on
 * one); with create == NULL a missing ledger is -ENOENT. A corrupt ledger (bad magic, version,
 * sizes or broken invariants) is refused with -EBADMSG/-EPROTO and a message. The process claims
 * a slot (-EUSERS when all are taken). Caller frees *out with ledger_close(). */
int ledger_open(const char *dir, const char *name, const struct ledger_limits *create,
                struct ledger **out, char *err, size_t errlen);

/* Releases this process's slot (its records are credited back) and unmaps. Accepts NULL. */
void ledger_close(struct ledger *l);

/* Replaces the clock of the compute bucket (tests). */
void ledger_set_clock(struct ledger *l, struct limiter_clock clock);

/* Path of the ledger file; borrowed until ledger_close(). */
const char *ledger_path(const struct ledger *l);

/* Devices the ledger covers. */
int ledger_device_count(const struct ledger *l);

/* Reserves `bytes` on device `dev`: fails with -EDQUOT when usage + bytes would pass the cap
 * (after reclaiming dead processes' usage), -ENOSPC when the record table is full, -EINVAL on a
 * bad device or zero bytes. Never over-commits across processes. */
int ledger_reserve(struct ledger *l, int dev, uint64_t bytes, struct ledger_ticket *t);

/* Publishes a reservation as the allocation `key` (driver pointer or handle) of this process.
 * -EEXIST when this process already has `key` on that device (the ticket stays reserved),
 * -EINVAL when the ticket is not a live reservation of this process. Same as
 * ledger_commit_owned with owner 0 (no owner). */
int ledger_commit(struct ledger *l, const struct ledger_ticket *t, uint64_t key);

/* As ledger_commit, and tags the allocation with `owner` (the hook: the CUDA context it was
 * made in; 0 = none), so that ledger_release_owned can credit it with the others of that owner.
 * A key is unique per process and device whatever its owner: -EEXIST as for ledger_commit. */
int ledger_commit_owned(struct ledger *l, const struct ledger_ticket *t, uint64_t key,
                        uint64_t owner);

/* Drops a reservation (the driver allocation failed). -EINVAL as for commit. */
int ledger_rollback(struct ledger *l, const struct ledger_ticket *t);

/* Credits back allocation `key` of this process on `dev`; its size goes to *bytes (may be NULL).
 * -ENOENT when unknown: the caller still frees it in the driver. */
int ledger_release(struct ledger *l, int dev, uint64_t key, uint64_t *bytes);

/* Makes allocation `key` of this process on `dev` hold `bytes` (> 0) from now on, in one step:
 * a charge that grows with what the driver holds for it (a pool's memory beyond its blocks).
 * Growing past the cap is refused as ledger_reserve refuses (-EDQUOT after reaping dead
 * processes, -EOVERFLOW; the record keeps its size); shrinking always succeeds. -ENOENT when
 * unknown, -EINVAL for 0 bytes. */
int ledger_resize(struct ledger *l, int dev, uint64_t key, uint64_t bytes);

/* Credits back every committed allocation of this process tagged with `owner`, on every device
 * (reservations not yet committed, other owners' allocations and other processes' allocations
 * with the same owner are untouched). Their total size goes to *bytes (saturating) and their
 * number to *count (each may be NULL; both 0 when there were none, which is not an error).
 * -EINVAL for owner 0. Allocations released this way are no longer known to ledger_release
 * (-ENOENT). */
int ledger_release_owned(struct ledger *l, uint64_t owner, uint64_t *bytes, uint32_t *count);

/* Usage of the vGPU on `dev` (all processes, reservations included) and its cap (0 =
 * unlimited). 0 or -EINVAL. */
int ledger_usage(struct ledger *l, int dev, uint64_t *used, uint64_t *cap);

/* This process's usage on `dev`. */
uint64_t ledger_process_usage(struct ledger *l, int dev);

/* Current limits (with their generation). */
int ledger_get_limits(struct ledger *l, struct ledger_limits *out);

/* The limits' generation, read without the lock: a per-call path compares it with the one it
 * last saw and calls ledger_get_limits only when it changed. */
uint64_t ledger_generation(struct ledger *l);

/* Changes the limits (vram_bytes, compute_pct; ndev is ignored) for every process at once and
 * bumps the generation, returned in *generation (may be NULL). A cap below current usage is
 * allowed: later reservations fail until usage drops. -EINVAL on a bad share. */
int ledger_set_limits(struct ledger *l, const struct ledger_limits *lim, uint64_t *generation);

/* Reclaims the slots and usage of dead processes. Returns how many processes were reaped, or
 * -errno. */
int ledger_reap(struct ledger *l);

/* Checks the invariants under the lock (usage = sum of records, per device and per process;
 * records belong to attached slots; sizes and states valid). 0 or -EPROTO with a message. */
int ledger_check(struct ledger *l, char *err, size_t errlen);

/* Validates an untrusted ledger image (no lock; for the fuzzer and `gpool vgpu show`).
 * 0, -EBADMSG (not a ledger / wrong sizes) or -EPROTO (broken invariant), with a message. */
int ledger_validate(const void *image, size_t len, char *err, size_t errlen);

/* Size of a ledger file for ndev devices (for tools and the fuzz seed generator). */
size_t ledger_file_size(uint32_t ndev);

/* Formats a fresh ledger image into buf (len >= ledger_file_size(lim->ndev)). 0 or -EINVAL. */
int ledger_format(void *buf, size_t len, const char *name, const struct ledger_limits *lim,
                  uint64_t now);

/* Compute: the share holds on each device on its own (a vGPU at 25% of two devices may use a
 * quarter of each, not half of one): one GPU-time bucket per device, all at the ledger's share.
 * A device the ledger does not cover is counted as device 0. */

/* How long a launch on device dev must wait now (0 = go). Counts a throttled launch when > 0 and
 * `count` is set (call with count = 1 once per launch, 0 when re-checking after a sleep). */
uint64_t ledger_compute_wait(struct ledger *l, int dev, int count);

/* Charges `count` launches of duration_ns of GPU time each to device dev's bucket (one lock). */
void ledger_compute_charge(struct ledger *l, int dev, uint64_t duration_ns, uint64_t count);

/* Corrects device dev's charges by delta_ns (> 0 more, < 0 a refund; see
 * limiter_bucket_adjust): the caller learnt from the device what its launches really took. Not a
 * launch: counted in gpu_ns_adjusted / adjustments. */
void ledger_compute_adjust(struct ledger *l, int dev, int64_t delta_ns);

/* Counters kept in the ledger for tests and `gpool vgpu show`. */
struct ledger_stats {
    uint64_t launches_charged;
    uint64_t launches_throttled;
    uint64_t gpu_ns_charged;
    uint64_t reaped_processes;
    uint64_t repairs;        /* lock-holder deaths repaired */
    int64_t gpu_ns_adjusted; /* corrections to gpu_ns_charged from the device's own figures */
    uint64_t adjustments;    /* how many corrections */
};
int ledger_get_stats(struct ledger *l, struct ledger_stats *out);

/* One attached process, as `gpool vgpu show` lists it. */
struct ledger_proc {
    int32_t pid; /* in the attaching process's namespace: for display only */
    int alive;
    char name[32];
    uint64_t used[LEDGER_MAX_DEVICES];
};
/* Fills up to max entries; returns the number of attached processes. */
int ledger_processes(struct ledger *l, struct ledger_proc *out, int max);

#endif
