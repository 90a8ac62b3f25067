/* The token bucket of GPU time (see gpool/limiter.h). */
#include "gpool/limiter.h"

#include <time.h>

typedef __int128 i128;

uint64_t limiter_monotonic_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t clamp_share(uint32_t ppm)
{
    return ppm < 1 ? 1 : ppm > LIMITER_PPM ? LIMITER_PPM : ppm;
}

static int64_t clamp64(i128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

/* Credits the time since the last refill at the current share, up to the burst cap. A clock
 * that went backwards (another process's older reading) credits nothing. */
static void refill(struct limiter_bucket *b, uint64_t now)
{
    if (now > b->last_ns) {
        i128 c = (i128)b->credit + (i128)(now - b->last_ns) * b->share_ppm;
        i128 cap = (i128)b->burst_ns * LIMITER_PPM;
        b->credit = clamp64(c > cap ? cap : c);
        b->last_ns = now;
    }
}

void limiter_bucket_init(struct limiter_bucket *b, uint32_t share_ppm, uint64_t burst_ns,
                         uint64_t generation, uint64_t now)
{
    b->credit = 0;
    b->last_ns = now;
    b->share_ppm = clamp_share(share_ppm);
    b->pad = 0;
    b->burst_ns = burst_ns > (uint64_t)INT64_MAX / LIMITER_PPM ? (uint64_t)INT64_MAX / LIMITER_PPM
                                                                : burst_ns;
    b->generation = generation;
}

void limiter_bucket_set_share(struct limiter_bucket *b, uint32_t share_ppm, uint64_t generation,
                              uint64_t now)
{
    refill(b, now);
    b->share_ppm = clamp_share(share_ppm);
    b->generation = generation;
    /* Debt run up under a smaller share is repaid at the new rate, not forgiven. */
}

uint64_t limiter_bucket_wait_ns(struct limiter_bucket *b, uint64_t now)
{
    if (b->share_ppm >= LIMITER_PPM)
        return 0;
    refill(b, now);
    if (b->credit >= 0)
        return 0;
    uint64_t debt = (uint64_t)(-(i128)b->credit);
    return (debt + b->share_ppm - 1) / b->share_ppm;
}

/* Takes ns of GPU time from the credit (ns < 0 gives it back, never past the burst cap: the
 * credit is at most the cap after any refill). */
static void take(struct limiter_bucket *b, i128 ns, uint64_t now)
{
    refill(b, now);
    if (b->share_ppm >= LIMITER_PPM)
        return;
    i128 c = (i128)b->credit - ns * LIMITER_PPM;
    i128 cap = (i128)b->burst_ns * LIMITER_PPM;
    b->credit = clamp64(c > cap ? cap : c);
}

void limiter_bucket_adjust(struct limiter_bucket *b, int64_t delta_ns, uint64_t now)
{
    take(b, delta_ns, now);
}

void limiter_bucket_charge(struct limiter_bucket *b, uint64_t duration_ns, uint64_t now)
{
    take(b, duration_ns, now);
}
