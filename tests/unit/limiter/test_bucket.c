/* Unit tests of the token bucket of GPU time, with an injected clock and synthetic kernels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpool/limiter.h"

#define MS 1000000ull

/* Runs n kernels of `kernel` ns back to back on one bucket, each waiting as the bucket says;
 * returns the total wait and leaves *now at the end. */
static uint64_t run_kernels(struct limiter_bucket *b, uint64_t *now, int n, uint64_t kernel)
{
    uint64_t waited = 0;
    for (int i = 0; i < n; i++) {
        uint64_t w = limiter_bucket_wait_ns(b, *now);
        waited += w;
        *now += w;
        assert_int_equal(limiter_bucket_wait_ns(b, *now), 0);
        *now += kernel;
        limiter_bucket_charge(b, kernel, *now);
    }
    return waited;
}

static void test_quarter_share_exact(void **state)
{
    (void)state;
    struct limiter_bucket b;
    uint64_t now = 1000;
    limiter_bucket_init(&b, 250000, LIMITER_BURST_NS, 1, now);
    /* First kernel starts at once; each 1 ms kernel earns 0.25 ms, so each later one waits 3 ms. */
    uint64_t first = limiter_bucket_wait_ns(&b, now);
    assert_int_equal(first, 0);
    uint64_t waited = run_kernels(&b, &now, 100, MS);
    assert_int_equal(waited, 99 * 3 * MS);
    assert_int_equal(now, 1000 + 100 * MS + 99 * 3 * MS);
    /* GPU time over wall time is exactly the share once the last debt is paid. */
    now += limiter_bucket_wait_ns(&b, now);
    assert_int_equal(now - 1000, 400 * MS);
}

static void test_burst_cap(void **state)
{
    (void)state;
    struct limiter_bucket b;
    uint64_t now = 0;
    limiter_bucket_init(&b, 250000, 5 * MS, 1, now);
    now += 3600ull * 1000 * MS; /* an hour idle banks only the 5 ms burst */
    assert_int_equal(b.credit, 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, now), 0);
    assert_int_equal(b.credit, (int64_t)(5 * MS * LIMITER_PPM));
    /* Credit 5 ms, each kernel nets -0.75 ms: 7 kernels start at once (credit >= 0 before each). */
    int immediate = 0;
    for (;;) {
        if (limiter_bucket_wait_ns(&b, now))
            break;
        immediate++;
        now += MS;
        limiter_bucket_charge(&b, MS, now);
    }
    /* The first kernel cannot earn above the cap (nets -1 ms), the next ones net -0.75 ms:
     * credit before kernel k >= 1 is 4 - 0.75 (k - 1), so kernels 0..6 start at once and the
     * 7th leaves -0.5 ms, repaid in 2 ms. */
    assert_int_equal(immediate, 7);
    assert_int_equal(limiter_bucket_wait_ns(&b, now), 2 * MS);
}

static void test_share_change(void **state)
{
    (void)state;
    struct limiter_bucket b;
    uint64_t now = 0;
    limiter_bucket_init(&b, 250000, LIMITER_BURST_NS, 1, now);
    now += MS;
    limiter_bucket_charge(&b, MS, now); /* credit -0.75 ms */
    assert_int_equal(limiter_bucket_wait_ns(&b, now), 3 * MS);
    limiter_bucket_set_share(&b, 750000, 2, now);
    assert_int_equal(b.generation, 2);
    assert_int_equal(limiter_bucket_wait_ns(&b, now), 1 * MS); /* 0.75 / 0.75 */
    limiter_bucket_set_share(&b, LIMITER_PPM, 3, now);
    assert_int_equal(limiter_bucket_wait_ns(&b, now), 0); /* 100%: never throttles */
    /* Non-dividing shares round the wait up, never down. */
    limiter_bucket_init(&b, 300000, LIMITER_BURST_NS, 4, 0);
    limiter_bucket_charge(&b, 1, 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 4); /* 1/0.3 = 3.33 -> 4 */
    assert_int_equal(limiter_bucket_wait_ns(&b, 4), 0);
}

static void test_clock_backwards_and_huge(void **state)
{
    (void)state;
    struct limiter_bucket b;
    limiter_bucket_init(&b, 10000, LIMITER_BURST_NS, 1, 1000 * MS);
    limiter_bucket_charge(&b, 1 * MS, 999 * MS); /* older reading: credits nothing */
    assert_int_equal(limiter_bucket_wait_ns(&b, 999 * MS), 100 * MS);
    limiter_bucket_charge(&b, UINT64_MAX, 1000 * MS); /* saturates, no overflow */
    assert_true(limiter_bucket_wait_ns(&b, 1000 * MS) > 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, UINT64_MAX), 0);
}

/* Corrections from the device's own figures: more debt, refunds, the cap on refunds, 100%. */
static void test_adjust(void **state)
{
    (void)state;
    struct limiter_bucket b;
    limiter_bucket_init(&b, 250000, LIMITER_BURST_NS, 1, 0); /* 25%, credit 0 */
    limiter_bucket_charge(&b, 2 * MS, 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 8 * MS);
    limiter_bucket_adjust(&b, 1 * MS, 0); /* the device says 3 ms */
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 12 * MS);
    limiter_bucket_adjust(&b, -2 * (int64_t)MS, 0); /* ... no, 1 ms */
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 4 * MS);
    /* A refund larger than the debt leaves credit, but never more than the burst. */
    limiter_bucket_adjust(&b, -10 * (int64_t)LIMITER_BURST_NS, 0);
    limiter_bucket_charge(&b, LIMITER_BURST_NS, 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 0);
    limiter_bucket_charge(&b, 1 * MS, 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 4 * MS);
    /* Unlimited: corrections change nothing. */
    limiter_bucket_init(&b, LIMITER_PPM, LIMITER_BURST_NS, 1, 0);
    limiter_bucket_adjust(&b, 100 * MS, 0);
    assert_int_equal(limiter_bucket_wait_ns(&b, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quarter_share_exact),
        cmocka_unit_test(test_burst_cap),
        cmocka_unit_test(test_share_change),
        cmocka_unit_test(test_clock_backwards_and_huge),
        cmocka_unit_test(test_adjust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
