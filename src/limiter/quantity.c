/* Parsers of GPOOL_VRAM_LIMIT (Kubernetes quantities) and GPOOL_COMPUTE_LIMIT (percent). */
#include "gpool/limiter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;

/* More significant digits than this cannot be a byte count that fits 64 bits exactly. */
#define MAX_DIGITS 38
#define MAX_EXP 60

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static u128 pow10_u128(int e)
{
    u128 r = 1;
    while (e-- > 0)
        r *= 10;
    return r;
}

int limiter_parse_quantity(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    if (!s || !*s)
        return fail(err, errlen, -EINVAL, "quantity \"\": empty");
    const char *p = s;
    if (*p == '-')
        return fail(err, errlen, -EINVAL, "quantity \"%.64s\": negative", s);
    if (*p == '+')
        p++;
    u128 digits = 0;
    int ndigits = 0, nfrac = 0, any = 0, dot = 0;
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            any = 1;
            if (digits == 0 && *p == '0') {
                if (dot)
                    nfrac++;
                continue;
            }
            if (++ndigits > MAX_DIGITS)
                return fail(err, errlen, -ERANGE, "quantity \"%.64s\": too many digits", s);
            digits = digits * 10 + (u128)(*p - '0');
            if (dot)
                nfrac++;
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (!any)
        return fail(err, errlen, -EINVAL, "quantity \"%.64s\": no number", s);
    if (nfrac > MAX_DIGITS)
        return fail(err, errlen, -ERANGE, "quantity \"%.64s\": too many digits", s);

    /* value = digits * 10^dexp * 1024^bexp */
    int dexp = -nfrac, bexp = 0;
    const char *suf = p;
    static const char bin[] = "KMGTPE";
    if (!*p) {
    } else if (p[1] == 'i' && !p[2] && strchr(bin, p[0])) {
        bexp = (int)(strchr(bin, p[0]) - bin) + 1;
    } else if (!p[1] && strchr("mkMGTPE", p[0])) {
        static const char dec[] = "kMGTPE";
        dexp += p[0] == 'm' ? -3 : 3 * ((int)(strchr(dec, p[0]) - dec) + 1);
    } else if (p[0] == 'e' || p[0] == 'E') {
        const char *q = p + 1;
        int neg = 0, e = 0, ed = 0;
        if (*q == '+' || *q == '-')
            neg = *q++ == '-';
        for (; *q >= '0' && *q <= '9'; q++, ed++) {
            e = e * 10 + (*q - '0');
            if (e > 1000)
                return fail(err, errlen, -ERANGE, "quantity \"%.64s\": exponent out of range", s);
        }
        if (!ed || *q)
            return fail(err, errlen, -EINVAL, "quantity \"%.64s\": bad exponent \"%.16s\"", s, suf);
        dexp += neg ? -e : e;
    } else {
        return fail(err, errlen, -EINVAL,
                    "quantity \"%.64s\": unknown suffix \"%.16s\" (use Ki Mi Gi Ti Pi Ei, k M G T P "
                    "E, m or e<N>)",
                    s, suf);
    }
    if (digits == 0) {
        *bytes = 0;
        return 0;
    }
    if (dexp > MAX_EXP)
        return fail(err, errlen, -ERANGE, "quantity \"%.64s\": exceeds %llu bytes", s,
                    (unsigned long long)UINT64_MAX);
    if (dexp < -2 * MAX_DIGITS) {
        *bytes = 1; /* a positive fraction of a byte rounds up to one */
        return 0;
    }
    /* Trailing zeros of the fraction carry no value; then digits must stay below 2^67 so that
     * digits x 1024^6 fits 128 bits. */
    while (nfrac > 0 && digits % 10 == 0) {
        digits /= 10;
        nfrac--;
        dexp++;
    }
    const u128 limit = (u128)UINT64_MAX;
    if (digits >> 67)
        return fail(err, errlen, dexp >= 0 ? -ERANGE : -EINVAL,
                    dexp >= 0 ? "quantity \"%.64s\": exceeds the largest byte count"
                              : "quantity \"%.64s\": too many significant digits", s);
    u128 v = digits << (10 * bexp), den;
    if (dexp >= 0) {
        for (int i = 0; i < dexp && v <= limit; i++)
            v *= 10;
    } else {
        /* Divide by 10^-dexp, rounding up; done in at most two steps of 10^18 to stay in range. */
        int e = -dexp;
        while (e > 0) {
            int step = e > 18 ? 18 : e;
            den = pow10_u128(step);
            v = (v + den - 1) / den;
            e -= step;
        }
    }
    if (v > limit)
        return fail(err, errlen, -ERANGE, "quantity \"%.64s\": exceeds %llu bytes", s,
                    (unsigned long long)UINT64_MAX);
    *bytes = (uint64_t)v;
    return 0;
}

int limiter_parse_percent(const char *s, uint32_t *pct, char *err, size_t errlen)
{
    if (!s || !*s)
        return fail(err, errlen, -EINVAL, "compute share \"\": empty (use 1..100)");
    uint32_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint32_t)(*p - '0');
        if (v > 100)
            break;
    }
    if (p == s || (*p && !(p[0] == '%' && !p[1])) || v < 1 || v > 100)
        return fail(err, errlen, -EINVAL,
                    "compute share \"%.64s\": not a percentage of the device (use 1..100)", s);
    *pct = v;
    return 0;
}
