/*
 * The limiter core of the local vGPU (and later the remote worker): a small library with no
 * driver dependency. Three parts:
 *
 *   - quantity and percent parsers for GPOOL_VRAM_LIMIT / GPOOL_COMPUTE_LIMIT;
 *   - a token bucket of GPU time with an injected clock (plain data, so it can live in shared
 *     memory; the caller serialises access);
 *   - the per-vGPU ledger in shared memory (limits, usage per device and per process, the shared
 *     bucket), guarded by a robust cross-process lock; see docs/internals/limiter.md.
 *
 * Conventions: functions return 0 or -errno; err/errlen (may be NULL/0) receive a message that
 * names the value and the reason. Nothing here prints to stdout/stderr (logs go through
 * gpool/log.h) or takes signals.
 */
#ifndef GPOOL_LIMITER_H
#define GPOOL_LIMITER_H

#include <stddef.h>
#include <stdint.h>

/* ---- parsers ----------------------------------------------------------------------------- */

/* Parses a Kubernetes quantity as a byte count: a decimal number (digits, an optional '.' and
 * fraction; no sign other than an optional '+') followed by an optional suffix: binary
 * Ki Mi Gi Ti Pi Ei (powers of 1024), decimal m k M G T P E (powers of 1000; 'm' is milli), or an
 * exponent e<N>/E<N> (N may be signed). A fractional byte count is rounded up, as Kubernetes'
 * Value() does ("1.5Gi" = 1610612736, "1500m" = 2). Surrounding blanks are refused. Negative,
 * empty, garbage and values above UINT64_MAX fail with -EINVAL/-ERANGE and a message quoting
 * the value. */
int limiter_parse_quantity(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* Parses a compute share in percent of the device: an integer 1..100, optionally followed by
 * '%'. -EINVAL with a message quoting the value otherwise. */
int limiter_parse_percent(const char *s, uint32_t *pct, char *err, size_t errlen);

/* ---- token bucket of GPU time --------------------------------------------------------------- */

/* The injected clock: returns nanoseconds of a monotonic clock (CLOCK_MONOTONIC in production,
 * which every process of the machine shares; a counter in tests). */
typedef uint64_t (*limiter_now_fn)(void *ctx);

struct limiter_clock {
    limiter_now_fn now_ns;
    void *ctx;
};

/* The monotonic clock (ctx unused). */
uint64_t limiter_monotonic_ns(void *ctx);

/* Parts per million of the device's time: 1000000 is the whole device. */
#define LIMITER_PPM 1000000u

/*
 * Credit of GPU time, in ns x ppm units so refilling is exact (no rounding drift): it grows by
 * elapsed_ns x share_ppm and a kernel of d ns costs d x 1e6. Credit never exceeds burst_ns x 1e6
 * (an idle vGPU banks at most burst_ns of GPU time) and may go negative: a launch then waits
 * until it is back to zero. A share of LIMITER_PPM (100%) never throttles. Plain data with no
 * pointers: it may live in shared memory; the caller serialises access (the ledger does it under
 * its lock).
 */
struct limiter_bucket {
    int64_t credit;     /* ns x ppm */
    uint64_t last_ns;   /* clock value of the last refill */
    uint32_t share_ppm; /* 1..LIMITER_PPM */
    uint32_t pad;
    uint64_t burst_ns;  /* credit cap */
    uint64_t generation; /* of the limit that set share_ppm */
};

/* Default burst cap: 50 ms of GPU time. */
#define LIMITER_BURST_NS 50000000ull

/* Starts a bucket at `now` with zero credit. share_ppm is clamped to 1..LIMITER_PPM. */
void limiter_bucket_init(struct limiter_bucket *b, uint32_t share_ppm, uint64_t burst_ns,
                         uint64_t generation, uint64_t now);

/* Changes the share from `now` on (time before now is credited at the old share). */
void limiter_bucket_set_share(struct limiter_bucket *b, uint32_t share_ppm, uint64_t generation,
                              uint64_t now);

/* How long (ns) a launch must wait from `now` before it may start: 0 when credit >= 0. */
uint64_t limiter_bucket_wait_ns(struct limiter_bucket *b, uint64_t now);

/* Charges a kernel's measured GPU time, after it ran (credit first refilled to `now`). */
void limiter_bucket_charge(struct limiter_bucket *b, uint64_t duration_ns, uint64_t now);

/* Corrects what was charged by `delta_ns` of GPU time: more (> 0) or a refund (< 0), e.g. when
 * the device's own figure for a period differs from the sum of the charges made for it. A refund
 * never lifts the credit past the burst cap. At 100% nothing changes. */
void limiter_bucket_adjust(struct limiter_bucket *b, int64_t delta_ns, uint64_t now);

#endif
