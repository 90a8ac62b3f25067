/* Unit tests of the quantity and percent parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gpool/limiter.h"

static void test_quantities(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t want;
    } ok[] = {
        {"0", 0}, {"1", 1}, {"4096", 4096}, {"+12", 12}, {"4Gi", 4ull << 30},
        {"512Mi", 512ull << 20}, {"1Ki", 1024}, {"1.5Gi", 1610612736ull}, {"1G", 1000000000ull},
        {"100M", 100000000ull}, {"2k", 2000}, {"1T", 1000000000000ull}, {"1Ei", 1ull << 60},
        {"15Ei", 15ull << 60}, {"1e9", 1000000000ull}, {"1E3", 1000}, {"1e+2", 100},
        {"1500m", 2}, {"1000m", 1}, {"1m", 1}, {"0.5", 1}, {".5Ki", 512}, {"1.Ki", 1024},
        {"0.1Ki", 103}, {"12345e-2", 124}, {"18446744073709551615", UINT64_MAX},
        {"1.000000000000000000000000000000000Gi", 1ull << 30}, {"0000000000000000000000000000000000000000001", 1},
        {"18E", 18000000000000000000ull},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 0;
        char err[200] = "";
        int rc = limiter_parse_quantity(ok[i].in, &v, err, sizeof(err));
        if (rc != 0 || v != ok[i].want)
            fail_msg("\"%s\": rc %d value %llu want %llu (%s)", ok[i].in, rc,
                     (unsigned long long)v, (unsigned long long)ok[i].want, err);
    }
    static const char *bad[] = {
        "", "-1", "Gi", "4Gx", "4 Gi", " 4Gi", "4Gi ", "4gi", "4GiB", "1..5", "1e", "1e+",
        "0x10", "abc", "18446744073709551616", "16Ei", "19E", "1e20", "1e1001", "4K", "1.5.Gi",
        "1234567890123456789012345678901234567890",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 77;
        char err[200] = "";
        int rc = limiter_parse_quantity(bad[i], &v, err, sizeof(err));
        if (rc >= 0)
            fail_msg("\"%s\" accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 77);
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i]);
        if (!strstr(err, quoted))
            fail_msg("message for \"%s\" does not quote it: %s", bad[i], err);
    }
}

static void test_percent(void **state)
{
    (void)state;
    uint32_t p = 0;
    char err[200];
    assert_int_equal(limiter_parse_percent("25", &p, err, sizeof(err)), 0);
    assert_int_equal(p, 25);
    assert_int_equal(limiter_parse_percent("100%", &p, err, sizeof(err)), 0);
    assert_int_equal(p, 100);
    assert_int_equal(limiter_parse_percent("1", &p, err, sizeof(err)), 0);
    assert_int_equal(p, 1);
    static const char *bad[] = {"", "0", "101", "-5", "25.5", "25 %", "x", "%", "1000000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(limiter_parse_percent(bad[i], &p, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, bad[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_percent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
