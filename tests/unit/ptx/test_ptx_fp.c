/*
 * Unit tests of the PTX floating-point semantics (src/ptx/fp.c): exact tables for cvt and the
 * arithmetic edge cases (NaN, infinities, signed zeros, subnormals, integer range limits, ties),
 * sweeps of every rounding mode against independent references -- the host FPU under
 * fesetround for f32/f64 results, and for f16/bf16 a table of every representable value searched
 * with exact integer arithmetic, written here and sharing nothing with the code under test --
 * and ULP bounds for the approximate math.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fp.h"
#include "ptx.h"

/* ---- helpers ---- */

static uint32_t fb(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t db(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd64(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static const unsigned modes[4] = {PTX_RND_RN, PTX_RND_RZ, PTX_RND_RM, PTX_RND_RP};
static const int host_modes[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};

/* A random f32 bit pattern biased toward interesting exponents (subnormals, around 1, huge). */
static uint32_t rand_f32(void)
{
    uint64_t r = rnd64();
    uint32_t sign = (uint32_t)(r >> 63) << 31;
    uint32_t man = (uint32_t)r & 0x7fffffu;
    unsigned pick = (unsigned)(r >> 40) & 7;
    uint32_t e;
    if (pick == 0)
        e = 0;
    else if (pick == 1)
        e = (unsigned)(r >> 32) % 10;
    else if (pick == 2)
        e = 245 + (unsigned)(r >> 32) % 10;
    else
        e = 100 + (unsigned)(r >> 32) % 56;
    if ((r >> 48 & 0xff) == 0)
        e = 255; /* a few infinities and NaNs */
    return sign | e << 23 | man;
}

/* The host's f32 result of op under a rounding mode (the reference for f32 arithmetic). */
static uint32_t host_f32(unsigned op, int mode, float a, float b, float c)
{
    volatile float va = a, vb = b, vc = c, vr;
    fesetround(mode);
    switch (op) {
    case PTX_OP_ADD:
        vr = va + vb;
        break;
    case PTX_OP_SUB:
        vr = va - vb;
        break;
    case PTX_OP_MUL:
        vr = va * vb;
        break;
    case PTX_OP_DIV:
        vr = va / vb;
        break;
    case PTX_OP_SQRT:
        vr = sqrtf(va);
        break;
    default:
        vr = fmaf(va, vb, vc);
        break;
    }
    fesetround(FE_TONEAREST);
    return fb(vr);
}

static int same_f32(uint32_t got, uint32_t want)
{
    if (isnan(bf(want)))
        return got == 0x7fffffffu;
    return got == want;
}

/* ---- the independent half-precision reference ---- */

/* A format's non-negative finite values as exact integers scaled by 2^SCALE, plus one entry
 * past the top standing for "overflow" (2^(emax+1)). Values too small to be whole at that scale
 * are left out; callers keep their exact values above them. */
#define SCALE 48
struct htable {
    __int128 v[65536];
    uint16_t bits[65536];
    unsigned n;
};

static struct htable t_f16, t_bf16;

static void build_table(struct htable *t, unsigned mbits, unsigned ebits, int bias, int max_e2)
{
    t->n = 0;
    unsigned emax_field = (1u << ebits) - 1;
    for (unsigned e = 0; e < emax_field; e++) {
        for (unsigned m = 0; m < (1u << mbits); m++) {
            uint64_t sig = e ? (m | 1u << mbits) : m;
            int e2 = (e ? (int)e : 1) - bias - (int)mbits; /* value = sig * 2^e2 */
            if (e2 + SCALE < 0) {
                if (-(e2 + SCALE) >= 64 ? sig != 0 : (sig & ((1ull << -(e2 + SCALE)) - 1)) != 0)
                    continue;
                if (sig == 0) {
                    t->v[t->n] = 0;
                    t->bits[t->n++] = 0;
                    continue;
                }
            }
            if (e2 + (int)mbits + 1 > max_e2)
                continue;
            __int128 v = (__int128)sig;
            v = e2 + SCALE >= 0 ? v << (e2 + SCALE) : v >> -(e2 + SCALE);
            if (t->n && v <= t->v[t->n - 1])
                continue;
            t->v[t->n] = v;
            t->bits[t->n++] = (uint16_t)(e << mbits | m);
        }
    }
    /* The overflow sentinel, 2^(emax+1), only when the whole range is in the table. */
    int top = (int)emax_field - 1 - bias + 1;
    if (top <= max_e2) {
        t->v[t->n] = (__int128)1 << (top + SCALE);
        t->bits[t->n++] = (uint16_t)(emax_field << mbits);
    }
}

/* Rounds an exact value V * 2^-SCALE to the table's format under mode (0..3 = rn rz rm rp).
 * Returns the bit pattern; 'sign' is the sign bit of the format. */
static uint16_t ref_round(const struct htable *t, __int128 V, unsigned mode, uint16_t sign,
                          uint16_t maxnorm)
{
    int neg = V < 0;
    __int128 a = neg ? -V : V;
    uint16_t s = neg ? sign : 0;
    /* Binary search for the largest entry <= a. */
    unsigned lo = 0, hi = t->n - 1;
    if (a >= t->v[t->n - 1]) {
        lo = t->n - 1;
    } else {
        while (hi - lo > 1) {
            unsigned mid = (lo + hi) / 2;
            if (t->v[mid] <= a)
                lo = mid;
            else
                hi = mid;
        }
    }
    if (t->v[lo] == a && lo != t->n - 1)
        return s | t->bits[lo];
    if (lo == t->n - 1) {
        /* At or past 2^(emax+1): overflow -- infinity, or the largest finite value when
         * rounding toward zero (IEEE 754 7.4). */
        int to_inf = mode == 0 || (mode == 2 && neg) || (mode == 3 && !neg);
        return s | (to_inf ? t->bits[lo] : maxnorm);
    }
    unsigned up = lo + 1;
    int go_up;
    switch (mode) {
    case 1:
        go_up = 0;
        break;
    case 2:
        go_up = neg;
        break;
    case 3:
        go_up = !neg;
        break;
    default: {
        __int128 d1 = a - t->v[lo], d2 = t->v[up] - a;
        go_up = d2 < d1 || (d1 == d2 && (t->bits[up] & 1) == 0);
        break;
    }
    }
    return s | (go_up ? t->bits[up] : t->bits[lo]);
}

/* An f16 value as an exact integer times 2^-SCALE (finite values only). */
static __int128 f16_exact(uint16_t h)
{
    unsigned e = h >> 10 & 0x1f, m = h & 0x3ff;
    __int128 v = e ? (__int128)(m | 0x400) << (e - 1 + SCALE - 24) : (__int128)m << (SCALE - 24);
    return (h & 0x8000) ? -v : v;
}

static __int128 bf16_exact(uint16_t h)
{
    int e = h >> 7 & 0xff, m = h & 0x7f;
    int e2 = (e ? e : 1) - 127 - 7;
    __int128 v = e ? (m | 0x80) : m;
    v = e2 + SCALE >= 0 ? v << (e2 + SCALE) : v >> -(e2 + SCALE);
    return (h & 0x8000) ? -v : v;
}

/* A double's exact value rounded by the table (for cvt references): brackets by comparing
 * doubles; the midpoint of two neighbours of a 16-bit format is exact in double. */
static uint16_t ref_round_double(const double *vals, const uint16_t *bits, unsigned n, double x,
                                 unsigned mode, uint16_t sign)
{
    int neg = signbit(x) != 0;
    double a = fabs(x);
    uint16_t s = neg ? sign : 0;
    unsigned lo = 0, hi = n - 1;
    if (a >= vals[n - 1]) {
        lo = n - 1;
    } else {
        while (hi - lo > 1) {
            unsigned mid = (lo + hi) / 2;
            if (vals[mid] <= a)
                lo = mid;
            else
                hi = mid;
        }
    }
    if (lo == n - 1) {
        if (isnan(x))
            return 0x7fff;
        int to_inf = mode == 0 || (mode == 2 && neg) || (mode == 3 && !neg);
        return s | (to_inf ? bits[lo] : (uint16_t)(bits[lo] - 1));
    }
    if (vals[lo] == a)
        return s | bits[lo];
    unsigned up = lo + 1;
    int go_up;
    if (mode == 1)
        go_up = 0;
    else if (mode == 2)
        go_up = neg;
    else if (mode == 3)
        go_up = !neg;
    else {
        double mid = (vals[lo] + vals[up]) / 2;
        go_up = a > mid || (a == mid && (bits[up] & 1) == 0);
    }
    return s | (go_up ? bits[up] : bits[lo]);
}

static double dv_f16[32769], dv_bf16[32769];
static uint16_t db_f16[32769], db_bf16[32769];
static unsigned n_f16, n_bf16;

static void build_double_tables(void)
{
    n_f16 = n_bf16 = 0;
    for (unsigned h = 0; h < 0x7c00; h++) {
        unsigned e = h >> 10, m = h & 0x3ff;
        dv_f16[n_f16] = e ? ldexp(m | 0x400, (int)e - 25) : ldexp(m, -24);
        db_f16[n_f16++] = (uint16_t)h;
    }
    dv_f16[n_f16] = 65536.0;
    db_f16[n_f16++] = 0x7c00;
    for (unsigned h = 0; h < 0x7f80; h++) {
        dv_bf16[n_bf16] = (double)bf((uint32_t)h << 16);
        db_bf16[n_bf16++] = (uint16_t)h;
    }
    dv_bf16[n_bf16] = ldexp(1.0, 128);
    db_bf16[n_bf16++] = 0x7f80;
}

static int setup(void **state)
{
    (void)state;
    build_table(&t_f16, 10, 5, 15, 1000);
    build_table(&t_bf16, 7, 8, 127, 70);
    build_double_tables();
    return 0;
}

/* ---- cvt: exact tables ---- */

struct cvt_case {
    unsigned dtype, stype, rnd, flags;
    uint64_t src, want;
    const char *what;
};

#define F32(x) ((uint64_t)fb(x))
#define F64(x) db(x)

static void test_cvt_table(void **state)
{
    (void)state;
    const struct cvt_case cases[] = {
        /* float -> int: rounding modes, saturation, NaN -> 0 */
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(2.9f), 2, "rzi 2.9"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(-2.9f), (uint64_t)-2, "rzi -2.9"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RNI, 0, F32(2.5f), 2, "rni tie even down"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RNI, 0, F32(3.5f), 4, "rni tie even up"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RNI, 0, F32(-2.5f), (uint64_t)-2, "rni -2.5"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RNI, 0, F32(2.5000002f), 3, "rni above tie"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RMI, 0, F32(-2.1f), (uint64_t)-3, "rmi"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RPI, 0, F32(2.1f), 3, "rpi"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_NONE, 0, F32(-7.9f), (uint64_t)-7, "default rzi"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, 0x7fc00000u, 0, "NaN -> 0"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, 0xffffffffu, 0, "-NaN -> 0"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(INFINITY), 0x7fffffff, "+inf"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(-INFINITY), 0xffffffff80000000ull, "-inf"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(2147483648.0f), 0x7fffffff, "2^31"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(2147483520.0f), 2147483520u, "max f32 < 2^31"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(-2147483648.0f), 0xffffffff80000000ull,
         "-2^31"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, 0, F32(-2147483904.0f), 0xffffffff80000000ull,
         "below -2^31"},
        {PTX_T_U32, PTX_T_F32, PTX_RND_RZI, 0, F32(-1.0f), 0, "u32 of -1"},
        {PTX_T_U32, PTX_T_F32, PTX_RND_RZI, 0, F32(-0.5f), 0, "u32 of -0.5"},
        {PTX_T_U32, PTX_T_F32, PTX_RND_RPI, 0, F32(-0.5f), 0, "u32 rpi -0.5"},
        {PTX_T_U32, PTX_T_F32, PTX_RND_RZI, 0, F32(4294967296.0f), 0xffffffffu, "2^32"},
        {PTX_T_U32, PTX_T_F32, PTX_RND_RZI, 0, F32(4294967040.0f), 4294967040u, "below 2^32"},
        {PTX_T_U32, PTX_T_F32, PTX_RND_RZI, 0, 0x7fc00000u, 0, "u32 NaN"},
        {PTX_T_S64, PTX_T_F64, PTX_RND_RZI, 0, F64(9.3e18), 0x7fffffffffffffffull, "s64 sat"},
        {PTX_T_S64, PTX_T_F64, PTX_RND_RZI, 0, F64(-9.3e18), 0x8000000000000000ull, "s64 -sat"},
        {PTX_T_S64, PTX_T_F64, PTX_RND_RZI, 0, F64(-9223372036854775808.0), 0x8000000000000000ull,
         "-2^63"},
        {PTX_T_S64, PTX_T_F64, PTX_RND_RZI, 0, F64(9223372036854774784.0), 9223372036854774784ull,
         "max f64 < 2^63"},
        {PTX_T_U64, PTX_T_F64, PTX_RND_RZI, 0, F64(18446744073709551616.0), ~0ull, "2^64"},
        {PTX_T_U64, PTX_T_F64, PTX_RND_RZI, 0, F64(18446744073709549568.0), 18446744073709549568ull,
         "max f64 < 2^64"},
        {PTX_T_U64, PTX_T_F64, PTX_RND_RZI, 0, F64(NAN), 0, "u64 NaN"},
        {PTX_T_U8, PTX_T_F32, PTX_RND_RNI, 0, F32(255.5f), 255, "u8 rni 255.5 saturates"},
        {PTX_T_U8, PTX_T_F32, PTX_RND_RZI, 0, F32(300.0f), 255, "u8 300"},
        {PTX_T_U8, PTX_T_F32, PTX_RND_RZI, 0, F32(-3.0f), 0, "u8 -3"},
        {PTX_T_S8, PTX_T_F32, PTX_RND_RZI, 0, F32(-129.0f), 0xffffffffffffff80ull, "s8 -129"},
        {PTX_T_S8, PTX_T_F32, PTX_RND_RZI, 0, F32(127.9f), 127, "s8 127.9"},
        {PTX_T_S16, PTX_T_F16, PTX_RND_RZI, 0, 0x7c00, 0x7fff, "s16 of f16 inf"},
        {PTX_T_U16, PTX_T_F16, PTX_RND_RNI, 0, 0x7bff, 65504, "u16 of f16 max"},
        {PTX_T_S32, PTX_T_BF16, PTX_RND_RNI, 0, 0x4040, 3, "s32 of bf16 3"},
        {PTX_T_S32, PTX_T_F32, PTX_RND_RZI, PTX_F_FTZ, 0x80000001u, 0, "ftz subnormal"},
        /* int -> float */
        {PTX_T_F32, PTX_T_S32, PTX_RND_RN, 0, 16777217, 0x4b800000, "2^24+1 rn"},
        {PTX_T_F32, PTX_T_S32, PTX_RND_RP, 0, 16777217, 0x4b800001, "2^24+1 rp"},
        {PTX_T_F32, PTX_T_S32, PTX_RND_RN, 0, 16777219, 0x4b800002, "2^24+3 rn tie even"},
        {PTX_T_F32, PTX_T_S32, PTX_RND_RM, 0, (uint64_t)-16777217, 0xcb800001, "-(2^24+1) rm"},
        {PTX_T_F32, PTX_T_S32, PTX_RND_RZ, 0, (uint64_t)-16777217, 0xcb800000, "-(2^24+1) rz"},
        {PTX_T_F32, PTX_T_S32, PTX_RND_RN, 0, 0x80000000u, 0xcf000000, "INT_MIN"},
        {PTX_T_F32, PTX_T_U32, PTX_RND_RN, 0, 0xffffffffu, 0x4f800000, "UINT_MAX rn"},
        {PTX_T_F32, PTX_T_U32, PTX_RND_RZ, 0, 0xffffffffu, 0x4f7fffff, "UINT_MAX rz"},
        {PTX_T_F32, PTX_T_U64, PTX_RND_RN, 0, ~0ull, 0x5f800000, "u64 max rn"},
        {PTX_T_F32, PTX_T_U64, PTX_RND_RZ, 0, ~0ull, 0x5f7fffff, "u64 max rz"},
        {PTX_T_F64, PTX_T_S64, PTX_RND_RN, 0, 0x7fffffffffffffffull, 0x43e0000000000000ull,
         "s64 max rn"},
        {PTX_T_F64, PTX_T_S64, PTX_RND_RZ, 0, 0x7fffffffffffffffull, 0x43dfffffffffffffull,
         "s64 max rz"},
        {PTX_T_F64, PTX_T_S64, PTX_RND_RN, 0, 0x8000000000000000ull, 0xc3e0000000000000ull,
         "s64 min"},
        {PTX_T_F64, PTX_T_U32, PTX_RND_RN, 0, 0, 0, "zero is +0"},
        {PTX_T_F16, PTX_T_U16, PTX_RND_RN, 0, 65535, 0x7c00, "u16 max to f16 rn: inf"},
        {PTX_T_F16, PTX_T_U16, PTX_RND_RZ, 0, 65535, 0x7bff, "u16 max to f16 rz"},
        {PTX_T_F16, PTX_T_U16, PTX_RND_RN, 0, 65519, 0x7bff, "65519 rn"},
        {PTX_T_F16, PTX_T_U16, PTX_RND_RN, 0, 65520, 0x7c00, "65520 rn (tie to inf)"},
        {PTX_T_F16, PTX_T_U32, PTX_RND_RN, 0, 2049, 0x6800, "2049 tie even"},
        {PTX_T_F16, PTX_T_U32, PTX_RND_RN, 0, 2051, 0x6802, "2051 tie even up"},
        {PTX_T_F16, PTX_T_S8, PTX_RND_RN, 0, 0x80, 0xd800, "s8 -128"},
        {PTX_T_F16, PTX_T_S32, PTX_RND_RN, PTX_F_SATFINITE, 100000, 0x7bff, "satfinite"},
        {PTX_T_F16, PTX_T_S32, PTX_RND_RN, PTX_F_RELU, (uint64_t)-5, 0, "relu"},
        {PTX_T_F32, PTX_T_S32, PTX_RND_RN, PTX_F_SAT, 7, 0x3f800000, "sat int"},
        {PTX_T_BF16, PTX_T_S32, PTX_RND_RN, 0, 257, 0x4380, "bf16 257 tie even"},
        /* f64 -> f32 */
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(1 + 0x1p-24), 0x3f800000, "tie to even"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RP, 0, F64(1 + 0x1p-24), 0x3f800001, "tie rp"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(1 + 0x1p-24 + 0x1p-50), 0x3f800001, "past tie"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(1 + 0x1p-23 + 0x1p-24), 0x3f800002,
         "tie to even up"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RM, 0, F64(-(1 + 0x1p-40)), 0xbf800001, "rm neg"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RZ, 0, F64(-(1 + 0x1p-40)), 0xbf800000, "rz neg"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(DBL_MAX), 0x7f800000, "overflow rn"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RZ, 0, F64(DBL_MAX), 0x7f7fffff, "overflow rz"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RM, 0, F64(DBL_MAX), 0x7f7fffff, "overflow rm +"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RM, 0, F64(-DBL_MAX), 0xff800000, "overflow rm -"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RP, 0, F64(-DBL_MAX), 0xff7fffff, "overflow rp -"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(0x1p-150), 0, "2^-150 tie to 0"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(0x1.8p-150), 1, "1.5*2^-150"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RP, 0, F64(1e-300), 1, "tiny rp"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RM, 0, F64(-1e-300), 0x80000001, "tiny rm"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RZ, 0, F64(1e-300), 0, "tiny rz"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(-1e-300), 0x80000000, "tiny rn -0"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(0x1p-140), 0x200, "subnormal kept"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, PTX_F_FTZ, F64(-0x1p-140), 0x80000000, "ftz result"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(0x1.fffffep-127), 0x00800000,
         "rounds up into normal"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(INFINITY), 0x7f800000, "inf"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(NAN), 0x7fffffff, "NaN canonical"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, PTX_F_SAT, F64(NAN), 0, "sat NaN"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, PTX_F_SAT, F64(-3.0), 0, "sat neg"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, PTX_F_SAT, F64(1.5), 0x3f800000, "sat >1"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, PTX_F_SAT, F64(-0.0), 0, "sat -0"},
        {PTX_T_F32, PTX_T_F64, PTX_RND_RN, 0, F64(-0.0), 0x80000000, "-0"},
        /* f32 -> f16 / bf16 */
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(65520.0f), 0x7c00, "65520 -> inf"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(65519.996f), 0x7bff, "just below"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RZ, 0, F32(1e10f), 0x7bff, "rz overflow"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(0x1p-25f), 0, "2^-25 tie to 0"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(0x1.000002p-25f), 1, "above 2^-25"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(0x1.8p-24f), 2, "1.5 * 2^-24 tie to even 2"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RP, 0, F32(0x1p-30f), 1, "rp tiny"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(0x1p-24f), 1, "min subnormal"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, F32(1.0f / 3.0f), 0x3555, "1/3"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, 0, 0x7f800001u, 0x7fff, "NaN"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_RELU, F32(-1.0f), 0, "relu neg"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_RELU, F32(2.0f), 0x4000, "relu pos"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_RELU, 0xffc00000u, 0x7fff, "relu NaN"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_SATFINITE, F32(INFINITY), 0x7bff, "satf inf"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_SATFINITE, F32(-1e6f), 0xfbff, "satf -big"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_SATFINITE, 0x7fc00000u, 0x7fff, "satf NaN"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_SAT, F32(1.5f), 0x3c00, "sat"},
        {PTX_T_F16, PTX_T_F32, PTX_RND_RN, PTX_F_SAT, 0x7fc00000u, 0, "sat NaN"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, F32(1 + 0x1p-8f), 0x3f80, "bf16 tie even"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, F32(1 + 0x3p-8f), 0x3f82, "bf16 tie up"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RZ, 0, F32(1.99f), 0x3ffe, "bf16 rz"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, F32(FLT_MAX), 0x7f80, "bf16 overflow"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RZ, 0, F32(FLT_MAX), 0x7f7f, "bf16 rz max"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, 0x00000001u, 0, "bf16 of min subnormal"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, 0x00018000u, 0x0002, "bf16 subnormal tie"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, 0xff800000u, 0xff80, "bf16 -inf"},
        {PTX_T_BF16, PTX_T_F32, PTX_RND_RN, 0, 0x7f800001u, 0x7fff, "bf16 NaN"},
        {PTX_T_BF16, PTX_T_F16, PTX_RND_RN, 0, 0x0001, 0x3380, "f16 subnormal to bf16"},
        {PTX_T_F16, PTX_T_BF16, PTX_RND_RN, 0, 0x4780, 0x7c00, "bf16 65536 to f16"},
        {PTX_T_F16, PTX_T_BF16, PTX_RND_RZ, 0, 0x4780, 0x7bff, "bf16 65536 to f16 rz"},
        {PTX_T_F16, PTX_T_F64, PTX_RND_RN, 0, F64(1 + 0x1p-11 + 0x1p-40), 0x3c01, "f64 to f16"},
        /* widening is exact */
        {PTX_T_F32, PTX_T_F16, PTX_RND_NONE, 0, 0x0001, F32(0x1p-24f), "f16 min subnormal"},
        {PTX_T_F32, PTX_T_F16, PTX_RND_NONE, 0, 0xfc00, F32(-INFINITY), "f16 -inf"},
        {PTX_T_F32, PTX_T_F16, PTX_RND_NONE, 0, 0x7bff, F32(65504.0f), "f16 max"},
        {PTX_T_F64, PTX_T_F16, PTX_RND_NONE, 0, 0x8000, F64(-0.0), "f16 -0"},
        {PTX_T_F64, PTX_T_F32, PTX_RND_NONE, 0, 0x00000001u, F64(0x1p-149), "f32 subnormal"},
        {PTX_T_F64, PTX_T_F32, PTX_RND_NONE, PTX_F_FTZ, 0x00000001u, 0, "ftz input"},
        {PTX_T_F32, PTX_T_BF16, PTX_RND_NONE, 0, 0x3f81, 0x3f810000, "bf16 widen"},
        /* same type: integral rounding, ftz, sat */
        {PTX_T_F32, PTX_T_F32, PTX_RND_RNI, 0, F32(2.5f), F32(2.0f), "f32 rni"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_RNI, 0, F32(-0.4f), 0x80000000, "f32 rni -0"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_RPI, 0, F32(1.1f), F32(2.0f), "f32 rpi"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_RMI, 0, F32(-1.1f), F32(-2.0f), "f32 rmi"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_RZI, 0, F32(-1.9f), F32(-1.0f), "f32 rzi"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_RNI, 0, F32(8388609.0f), F32(8388609.0f), "large exact"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_RNI, 0, F32(INFINITY), F32(INFINITY), "rni inf"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_NONE, PTX_F_FTZ, 0x807fffffu, 0x80000000, "ftz f32"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_NONE, 0, 0x807fffffu, 0x807fffffu, "no ftz f32"},
        {PTX_T_F32, PTX_T_F32, PTX_RND_NONE, PTX_F_SAT, F32(2.0f), F32(1.0f), "sat f32"},
        {PTX_T_F64, PTX_T_F64, PTX_RND_RNI, 0, F64(4503599627370497.5), F64(4503599627370498.0),
         "f64 rni tie"},
        {PTX_T_F16, PTX_T_F16, PTX_RND_RNI, 0, 0x3e00 /* 1.5 */, 0x4000, "f16 rni"},
        /* f16x2/bf16x2 packing: a (bits 32-63) to the upper half, b to the lower */
        {PTX_T_F16X2, PTX_T_F32, PTX_RND_RN, 0, F32(1.0f) << 32 | F32(2.0f), 0x3c004000,
         "f16x2 pack"},
        {PTX_T_BF16X2, PTX_T_F32, PTX_RND_RZ, PTX_F_RELU, F32(-1.0f) << 32 | F32(1.999f),
         0x00003fff, "bf16x2 pack relu rz"},
        /* int -> int */
        {PTX_T_S32, PTX_T_S8, PTX_RND_NONE, 0, 0x80, 0xffffffffffffff80ull, "s8 sign-extends"},
        {PTX_T_U32, PTX_T_S8, PTX_RND_NONE, 0, 0xff, 0xffffffffu, "s8 -> u32"},
        {PTX_T_S32, PTX_T_U8, PTX_RND_NONE, 0, 0xff, 0xff, "u8 zero-extends"},
        {PTX_T_U16, PTX_T_U32, PTX_RND_NONE, 0, 0x12345, 0x2345, "truncate"},
        {PTX_T_S16, PTX_T_U32, PTX_RND_NONE, 0, 0x18000, 0xffffffffffff8000ull, "truncate s16"},
        {PTX_T_S64, PTX_T_U32, PTX_RND_NONE, 0, 0xffffffffu, 0xffffffffu, "u32 -> s64"},
        {PTX_T_S64, PTX_T_S32, PTX_RND_NONE, 0, 0xffffffffu, ~0ull, "s32 -> s64"},
        {PTX_T_U8, PTX_T_S32, PTX_RND_NONE, PTX_F_SAT, (uint64_t)-5, 0, "sat u8 of -5"},
        {PTX_T_U8, PTX_T_S32, PTX_RND_NONE, PTX_F_SAT, 300, 255, "sat u8 of 300"},
        {PTX_T_S8, PTX_T_U32, PTX_RND_NONE, PTX_F_SAT, 200, 127, "sat s8 of 200"},
        {PTX_T_S8, PTX_T_S16, PTX_RND_NONE, PTX_F_SAT, 0xff00, 0xffffffffffffff80ull,
         "sat s8 of -256"},
        {PTX_T_U32, PTX_T_S64, PTX_RND_NONE, PTX_F_SAT, ~0ull, 0, "sat u32 of -1"},
        {PTX_T_S32, PTX_T_U64, PTX_RND_NONE, PTX_F_SAT, ~0ull, 0x7fffffff, "sat s32 of big"},
        {PTX_T_U64, PTX_T_S64, PTX_RND_NONE, PTX_F_SAT, ~0ull, 0, "sat u64 of -1"},
        {PTX_T_S64, PTX_T_U64, PTX_RND_NONE, PTX_F_SAT, ~0ull, 0x7fffffffffffffffull,
         "sat s64 of u64 max"},
        {PTX_T_U16, PTX_T_U16, PTX_RND_NONE, PTX_F_SAT, 0xffff, 0xffff, "same"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct cvt_case *c = &cases[i];
        uint64_t got = ptx_fp_cvt(c->dtype, c->stype, c->rnd, c->flags, c->src);
        if (got != c->want)
            fail_msg("cvt.%s.%s case %zu (%s): src %#llx got %#llx want %#llx",
                     ptx_type_name(c->dtype), ptx_type_name(c->stype), i, c->what,
                     (unsigned long long)c->src, (unsigned long long)got,
                     (unsigned long long)c->want);
    }
}

/* ---- cvt: sweeps against independent references ---- */

static void test_cvt_f64_f32_sweep(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = rnd64();
        /* Exponents from well below f32's subnormals to beyond its range. */
        uint64_t e = 1023 - 160 + (r >> 52) % 300;
        uint64_t bits = (r & 0x800fffffffffffffull) | e << 52;
        if (i % 7 == 0)
            bits &= ~0x1fffffffull | (r & 1); /* near-ties */
        double x = bd(bits);
        for (int m = 0; m < 4; m++) {
            volatile double vx = x;
            fesetround(host_modes[m]);
            volatile float want = (float)vx;
            fesetround(FE_TONEAREST);
            uint64_t got = ptx_fp_cvt(PTX_T_F32, PTX_T_F64, modes[m], 0, bits);
            if (got != fb(want))
                fail_msg("cvt mode %d of %a: got %#llx want %#x", m, x, (unsigned long long)got,
                         fb(want));
        }
    }
}

static void test_cvt_int_float_sweep(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rnd64() >> (rnd64() % 64);
        if (i & 1)
            v = (uint64_t)(-(int64_t)v);
        for (int m = 0; m < 4; m++) {
            volatile uint64_t vu = v;
            volatile int64_t vs = (int64_t)v;
            volatile uint32_t vu32 = (uint32_t)v;
            volatile int32_t vs32 = (int32_t)(uint32_t)v;
            fesetround(host_modes[m]);
            /* Unsigned 64-bit values go through the signed conversion (halved with the lost bit
             * kept as a sticky bit): some compilers' direct u64 lowering is not exact under
             * directed rounding modes. */
            volatile int64_t vh = (int64_t)((vu >> 1) | (vu & 1));
            volatile float fu = (int64_t)vu >= 0 ? (float)(int64_t)vu : (float)vh * 2.0f;
            volatile double du = (int64_t)vu >= 0 ? (double)(int64_t)vu : (double)vh * 2.0;
            volatile float fs = (float)vs, fu32 = (float)(int64_t)vu32, fs32 = (float)vs32;
            volatile double ds = (double)vs;
            fesetround(FE_TONEAREST);
            assert_int_equal(ptx_fp_cvt(PTX_T_F32, PTX_T_U64, modes[m], 0, v), fb(fu));
            assert_int_equal(ptx_fp_cvt(PTX_T_F32, PTX_T_S64, modes[m], 0, v), fb(fs));
            assert_int_equal(ptx_fp_cvt(PTX_T_F32, PTX_T_U32, modes[m], 0, v), fb(fu32));
            assert_int_equal(ptx_fp_cvt(PTX_T_F32, PTX_T_S32, modes[m], 0, v), fb(fs32));
            assert_int_equal(ptx_fp_cvt(PTX_T_F64, PTX_T_U64, modes[m], 0, v), db(du));
            assert_int_equal(ptx_fp_cvt(PTX_T_F64, PTX_T_S64, modes[m], 0, v), db(ds));
        }
    }
}

/* Float -> int against a reference built from C's conversions of the host-rounded value. */
static void test_cvt_float_int_sweep(void **state)
{
    (void)state;
    static const unsigned irnd[4] = {PTX_RND_RNI, PTX_RND_RZI, PTX_RND_RMI, PTX_RND_RPI};
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rnd64();
        uint32_t e = 120 + (uint32_t)(rnd64() % 50); /* about 2^-7 .. 2^42 */
        u = (u & 0x807fffffu) | e << 23;
        float x = bf(u);
        for (int m = 0; m < 4; m++) {
            volatile float vx = x;
            fesetround(host_modes[m]);
            volatile float ri = nearbyintf(vx);
            fesetround(FE_TONEAREST);
            double d = ri;
            int64_t s32 = d >= 2147483648.0 ? INT32_MAX : d < -2147483648.0 ? INT32_MIN
                                                                            : (int64_t)d;
            uint64_t u32 = d >= 4294967296.0 ? UINT32_MAX : d <= 0 ? 0 : (uint64_t)d;
            int64_t s16 = d >= 32767 ? 32767 : d <= -32768 ? -32768 : (int64_t)d;
            assert_int_equal(ptx_fp_cvt(PTX_T_S32, PTX_T_F32, irnd[m], 0, u), (uint64_t)s32);
            assert_int_equal(ptx_fp_cvt(PTX_T_U32, PTX_T_F32, irnd[m], 0, u), u32);
            assert_int_equal(ptx_fp_cvt(PTX_T_S16, PTX_T_F32, irnd[m], 0, u), (uint64_t)s16);
            assert_int_equal(ptx_fp_cvt(PTX_T_F32, PTX_T_F32, irnd[m], 0, u), fb(ri));
        }
    }
}

/* f32/f64 -> f16/bf16 in every mode against the table reference. */
static void test_cvt_half_sweep(void **state)
{
    (void)state;
    for (int i = 0; i < 300000; i++) {
        uint32_t u = (uint32_t)rnd64();
        uint32_t e = 127 - 30 + (uint32_t)(rnd64() % 50); /* f16 range and a bit beyond */
        if (i % 3 == 0)
            e = (uint32_t)(rnd64() % 255); /* bf16: any finite */
        u = (u & 0x807fffffu) | e << 23;
        if (i % 5 == 0)
            u &= ~0x1fffu; /* near ties for f16 */
        if (i % 11 == 0)
            u &= ~0xffffu; /* near ties for bf16 */
        double x = bf(u);
        for (int m = 0; m < 4; m++) {
            uint16_t wh = ref_round_double(dv_f16, db_f16, n_f16, x, (unsigned)m, 0x8000);
            uint16_t wb = ref_round_double(dv_bf16, db_bf16, n_bf16, x, (unsigned)m, 0x8000);
            uint64_t gh = ptx_fp_cvt(PTX_T_F16, PTX_T_F32, modes[m], 0, u);
            uint64_t gb = ptx_fp_cvt(PTX_T_BF16, PTX_T_F32, modes[m], 0, u);
            if (gh != wh || gb != wb)
                fail_msg("f32 %a mode %d: f16 got %#llx want %#x, bf16 got %#llx want %#x", x, m,
                         (unsigned long long)gh, wh, (unsigned long long)gb, wb);
            /* f64 with extra bits below f32's precision: must still round once. */
            double y = x + (x * 0x1p-40) * ((i & 2) ? 1 : -1);
            uint16_t wy = ref_round_double(dv_f16, db_f16, n_f16, y, (unsigned)m, 0x8000);
            assert_int_equal(ptx_fp_cvt(PTX_T_F16, PTX_T_F64, modes[m], 0, db(y)), wy);
            if (m == 0) {
                assert_int_equal(ptx_fp_f32_to_f16(bf(u)), wh);
                assert_int_equal(ptx_fp_f32_to_bf16(bf(u)), wb);
            }
        }
    }
}

/* Every f16 and bf16 value widens exactly and converts back to itself. */
static void test_half_roundtrip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ptx_fp_f16_to_f32((uint16_t)h);
        unsigned e = h >> 10 & 0x1f;
        if (e == 0x1f && (h & 0x3ff)) {
            assert_true(isnan(f));
            assert_int_equal(ptx_fp_f32_to_f16(f), 0x7fff);
            continue;
        }
        assert_int_equal(ptx_fp_f32_to_f16(f), h);
        assert_int_equal(ptx_fp_cvt(PTX_T_F16, PTX_T_F32, PTX_RND_RZ, 0, fb(f)), h);
        assert_int_equal(ptx_fp_cvt(PTX_T_F32, PTX_T_F16, PTX_RND_NONE, 0, h), fb(f));
        double d = e == 0x1f ? INFINITY
                   : e       ? ldexp((h & 0x3ff) | 0x400, (int)e - 25)
                             : ldexp(h & 0x3ff, -24);
        if (h & 0x8000)
            d = -d;
        assert_true((double)f == d);
        float g = ptx_fp_bf16_to_f32((uint16_t)h);
        if (!isnan(g))
            assert_int_equal(ptx_fp_f32_to_bf16(g), h);
    }
}

/* ---- arithmetic: exact tables ---- */

struct ar_case {
    unsigned op, type, rnd, flags;
    uint64_t a, b, c, want;
    const char *what;
};

static void test_arith_table(void **state)
{
    (void)state;
    const float t12 = 1 + 0x1p-12f;
    const struct ar_case cases[] = {
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RZ, 0, F32(1), F32(0x1p-30f), 0, F32(1), "add rz"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RP, 0, F32(1), F32(0x1p-30f), 0, 0x3f800001, "add rp"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RM, 0, F32(-1), F32(-0x1p-30f), 0, 0xbf800001, "add rm"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RM, 0, F32(1), F32(-1), 0, 0x80000000, "x-x rm is -0"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, 0, F32(1), F32(-1), 0, 0, "x-x rn is +0"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RM, 0, 0, 0, 0, 0, "+0 + +0 rm"},
        {PTX_OP_SUB, PTX_T_F32, PTX_RND_RN, 0, 0x80000000, 0, 0, 0x80000000, "-0 - +0"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, 0, F32(INFINITY), F32(-INFINITY), 0, 0x7fffffff,
         "inf-inf"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, PTX_F_SAT, F32(INFINITY), F32(-INFINITY), 0, 0,
         "sat NaN"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, PTX_F_SAT, F32(0.5f), F32(0.75f), 0, F32(1), "sat"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, PTX_F_SAT, F32(-1), F32(0.5f), 0, 0, "sat neg"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, 0, 0x00000001, 0x00000001, 0, 0x00000002,
         "subnormals kept"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, PTX_F_FTZ, 0x00000001, 0x3f800000, 0, 0x3f800000,
         "ftz in"},
        {PTX_OP_SUB, PTX_T_F32, PTX_RND_RN, PTX_F_FTZ, 0x00800001, 0x00800000, 0, 0,
         "ftz out"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RN, 0, F32(FLT_MAX), F32(FLT_MAX), 0, 0x7f800000,
         "overflow"},
        {PTX_OP_ADD, PTX_T_F32, PTX_RND_RZ, 0, F32(FLT_MAX), F32(FLT_MAX), 0, 0x7f7fffff,
         "overflow rz"},
        {PTX_OP_MUL, PTX_T_F32, PTX_RND_RN, 0, F32(0x1p-75f), F32(0x1p-75f), 0, 0, "2^-150 rn"},
        {PTX_OP_MUL, PTX_T_F32, PTX_RND_RP, 0, F32(0x1p-75f), F32(0x1p-75f), 0, 1, "2^-150 rp"},
        {PTX_OP_MUL, PTX_T_F32, PTX_RND_RN, 0, F32(0), F32(INFINITY), 0, 0x7fffffff, "0*inf"},
        {PTX_OP_MUL, PTX_T_F32, PTX_RND_RN, 0, 0x80000000, F32(3), 0, 0x80000000, "-0*3"},
        {PTX_OP_FMA, PTX_T_F32, PTX_RND_RN, 0, F32(t12), F32(t12), F32(-(1 + 0x1p-11f)),
         F32(0x1p-24f), "fma single rounding"},
        {PTX_OP_MAD, PTX_T_F32, PTX_RND_RN, 0, F32(t12), F32(t12), F32(-(1 + 0x1p-11f)),
         F32(0x1p-24f), "mad.rn = fma"},
        {PTX_OP_FMA, PTX_T_F32, PTX_RND_RM, 0, F32(2), F32(3), F32(-6), 0x80000000,
         "fma exact zero rm"},
        {PTX_OP_FMA, PTX_T_F32, PTX_RND_RN, 0, F32(0), F32(5), 0x80000000, 0,
         "fma +0*5 + -0 = +0"},
        {PTX_OP_FMA, PTX_T_F32, PTX_RND_RN, 0, 0x80000000, F32(5), 0x80000000, 0x80000000,
         "fma -0*5 + -0 = -0"},
        {PTX_OP_FMA, PTX_T_F32, PTX_RND_RN, PTX_F_SAT, F32(2), F32(3), F32(-1), F32(1), "fma sat"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RN, 0, F32(1), F32(3), 0, 0x3eaaaaab, "1/3 rn"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RZ, 0, F32(1), F32(3), 0, 0x3eaaaaaa, "1/3 rz"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RP, 0, F32(1), F32(3), 0, 0x3eaaaaab, "1/3 rp"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RM, 0, F32(-1), F32(3), 0, 0xbeaaaaab, "-1/3 rm"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RN, 0, F32(1), F32(0), 0, 0x7f800000, "1/0"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RN, 0, F32(1), 0x80000000, 0, 0xff800000, "1/-0"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RN, 0, F32(0), F32(0), 0, 0x7fffffff, "0/0"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_RN, 0, 0x00000003, F32(2), 0, 0x00000002,
         "subnormal tie"},
        {PTX_OP_DIV, PTX_T_F32, PTX_RND_NONE, PTX_F_FULL, F32(6), F32(3), 0, F32(2), "div.full"},
        {PTX_OP_DIV, PTX_T_F64, PTX_RND_RZ, 0, F64(1), F64(3), 0, 0x3fd5555555555555ull,
         "f64 1/3 rz"},
        {PTX_OP_DIV, PTX_T_F64, PTX_RND_RP, 0, F64(1), F64(3), 0, 0x3fd5555555555556ull,
         "f64 1/3 rp"},
        {PTX_OP_ADD, PTX_T_F64, PTX_RND_RM, 0, F64(1), F64(-1), 0, 0x8000000000000000ull,
         "f64 x-x rm"},
        {PTX_OP_ADD, PTX_T_F64, PTX_RND_RP, 0, F64(1), F64(0x1p-80), 0, 0x3ff0000000000001ull,
         "f64 add rp"},
        {PTX_OP_FMA, PTX_T_F64, PTX_RND_RZ, 0, F64(1 + 0x1p-30), F64(1 + 0x1p-30), F64(-1),
         db(0x1p-29 + 0x1p-60), "f64 fma"},
        {PTX_OP_FMA, PTX_T_F64, PTX_RND_RN, PTX_F_SAT, F64(NAN), F64(1), F64(1), 0, "f64 sat NaN"},
        {PTX_OP_MUL, PTX_T_F64, PTX_RND_RN, 0, F64(INFINITY), F64(0), 0, 0x7fffffffffffffffull,
         "f64 canonical NaN"},
        /* min / max */
        {PTX_OP_MIN, PTX_T_F32, 0, 0, 0x7fc00000, F32(1), 0, F32(1), "min NaN,1"},
        {PTX_OP_MAX, PTX_T_F32, 0, 0, F32(1), 0xffc00001, 0, F32(1), "max 1,NaN"},
        {PTX_OP_MIN, PTX_T_F32, 0, 0, 0x7fc00000, 0x7f800001, 0, 0x7fffffff, "min NaN,NaN"},
        {PTX_OP_MIN, PTX_T_F32, 0, PTX_F_NAN, F32(1), 0x7fc00000, 0, 0x7fffffff, "min.NaN"},
        {PTX_OP_MIN, PTX_T_F32, 0, 0, 0, 0x80000000, 0, 0x80000000, "min +0,-0"},
        {PTX_OP_MIN, PTX_T_F32, 0, 0, 0x80000000, 0, 0, 0x80000000, "min -0,+0"},
        {PTX_OP_MAX, PTX_T_F32, 0, 0, 0x80000000, 0, 0, 0, "max -0,+0"},
        {PTX_OP_MAX, PTX_T_F32, 0, 0, 0, 0x80000000, 0, 0, "max +0,-0"},
        {PTX_OP_MAX, PTX_T_F32, 0, 0, F32(-INFINITY), F32(-3), 0, F32(-3), "max -inf"},
        {PTX_OP_MAX, PTX_T_F32, 0, PTX_F_XORSIGN | PTX_F_ABS, F32(-2), F32(3), 0, F32(-3),
         "max.xorsign.abs"},
        {PTX_OP_MIN, PTX_T_F32, 0, PTX_F_XORSIGN | PTX_F_ABS, F32(-2), F32(-3), 0, F32(2),
         "min.xorsign.abs"},
        {PTX_OP_MIN, PTX_T_F32, 0, PTX_F_FTZ, 0x80000001, 0x00000002, 0, 0x80000000,
         "min.ftz"},
        {PTX_OP_MIN, PTX_T_F64, 0, 0, F64(NAN), F64(-2), 0, F64(-2), "min f64 NaN"},
        {PTX_OP_MAX, PTX_T_F16, 0, PTX_F_RELU, 0xbc00, 0xc000, 0, 0, "max.relu f16"},
        {PTX_OP_MIN, PTX_T_F16X2, 0, 0, 0x3c00c000, 0x7e004000, 0, 0x3c00c000, "min f16x2"},
        {PTX_OP_MAX, PTX_T_BF16X2, 0, PTX_F_NAN, 0x3f807fc1, 0x40003f80, 0, 0x40007fff,
         "max.NaN bf16x2"},
        /* half arithmetic */
        {PTX_OP_FMA, PTX_T_F16, PTX_RND_RN, 0, 0x3c10, 0x3c10, 0xbc20, 0x0c00,
         "f16 fma single rounding"},
        {PTX_OP_ADD, PTX_T_F16, PTX_RND_RN, 0, 0x7bff, 0x5000, 0, 0x7c00, "f16 overflow"},
        {PTX_OP_ADD, PTX_T_F16, PTX_RND_RN, 0, 0x0001, 0x0001, 0, 0x0002, "f16 subnormal"},
        {PTX_OP_ADD, PTX_T_F16, PTX_RND_RN, PTX_F_FTZ, 0x0001, 0x0001, 0, 0, "f16 ftz"},
        {PTX_OP_MUL, PTX_T_F16, PTX_RND_RN, PTX_F_SAT, 0x4000, 0x4000, 0, 0x3c00, "f16 sat"},
        {PTX_OP_MUL, PTX_T_F16, PTX_RND_RN, 0, 0x7c00, 0x0000, 0, 0x7fff, "f16 NaN"},
        {PTX_OP_FMA, PTX_T_F16, PTX_RND_RN, PTX_F_RELU, 0x3c00, 0xbc00, 0x0000, 0, "f16 relu"},
        {PTX_OP_FMA, PTX_T_F16, PTX_RND_RN, PTX_F_RELU, 0x7c00, 0x0000, 0x0000, 0x7fff,
         "f16 relu NaN"},
        {PTX_OP_ADD, PTX_T_F16X2, PTX_RND_RN, 0, 0x3c004000, 0x3c00bc00, 0, 0x40003c00,
         "f16x2 add lanes"},
        {PTX_OP_MUL, PTX_T_BF16, PTX_RND_RN, 0, 0x3f81, 0x3f81, 0, 0x3f82, "bf16 mul"},
        {PTX_OP_FMA, PTX_T_BF16X2, PTX_RND_RN, 0, 0x3f803f80, 0x40004000, 0x3f80bf80,
         0x40403f80, "bf16x2 fma"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ar_case *c = &cases[i];
        uint64_t got = ptx_fp_arith(c->op, c->type, c->rnd, c->flags, c->a, c->b, c->c);
        if (got != c->want)
            fail_msg("%s.%s case %zu (%s): got %#llx want %#llx", ptx_op_name(c->op),
                     ptx_type_name(c->type), i, c->what, (unsigned long long)got,
                     (unsigned long long)c->want);
    }
}

/* f32 arithmetic in every mode against the host FPU. */
static void test_f32_arith_sweep(void **state)
{
    (void)state;
    static const unsigned ops[] = {PTX_OP_ADD, PTX_OP_SUB, PTX_OP_MUL, PTX_OP_DIV, PTX_OP_FMA};
    for (int i = 0; i < 100000; i++) {
        uint32_t a = rand_f32(), b = rand_f32(), c = rand_f32();
        if (i % 4 == 0)
            b = (a & 0xff800000u) | (b & 0x007fffffu); /* cancellation-prone */
        if (i % 8 == 1)
            c = fb(-bf(a) * bf(b)); /* fma near-cancellation */
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            for (int m = 0; m < 4; m++) {
                uint32_t want = host_f32(ops[k], host_modes[m], bf(a), bf(b), bf(c));
                uint64_t got = ptx_fp_arith(ops[k], PTX_T_F32, modes[m], 0, a, b, c);
                if (!same_f32((uint32_t)got, want))
                    fail_msg("%s mode %d: %a, %a, %a: got %#llx want %#x", ptx_op_name(ops[k]), m,
                             (double)bf(a), (double)bf(b), (double)bf(c), (unsigned long long)got,
                             want);
            }
        }
        for (int m = 0; m < 4; m++) {
            uint32_t want = host_f32(PTX_OP_SQRT, host_modes[m], bf(a), 0, 0);
            uint64_t got = ptx_fp_unary(PTX_OP_SQRT, PTX_T_F32, modes[m], 0, a);
            if (!same_f32((uint32_t)got, want))
                fail_msg("sqrt mode %d of %a: got %#llx want %#x", m, (double)bf(a),
                         (unsigned long long)got, want);
            want = host_f32(PTX_OP_DIV, host_modes[m], 1.0f, bf(a), 0);
            got = ptx_fp_unary(PTX_OP_RCP, PTX_T_F32, modes[m], 0, a);
            if (!same_f32((uint32_t)got, want))
                fail_msg("rcp mode %d of %a: got %#llx want %#x", m, (double)bf(a),
                         (unsigned long long)got, want);
        }
    }
}

/* f64 in every mode: against exact identities derived from the RN result and its error term. */
static void test_f64_arith_modes(void **state)
{
    (void)state;
    for (int i = 0; i < 50000; i++) {
        double a = bd((rnd64() & 0x800fffffffffffffull) | (uint64_t)(1000 + rnd64() % 50) << 52);
        double b = bd((rnd64() & 0x800fffffffffffffull) | (uint64_t)(1000 + rnd64() % 50) << 52);
        double s = a + b;
        double bb = s - a, err = (a - (s - bb)) + (b - bb);
        double rz = err == 0 || (err > 0) == (s > 0) ? s : nextafter(s, 0);
        double rm = err >= 0 ? s : nextafter(s, -INFINITY);
        double rp = err <= 0 ? s : nextafter(s, INFINITY);
        assert_int_equal(ptx_fp_arith(PTX_OP_ADD, PTX_T_F64, PTX_RND_RN, 0, db(a), db(b), 0),
                         db(s));
        assert_int_equal(ptx_fp_arith(PTX_OP_ADD, PTX_T_F64, PTX_RND_RZ, 0, db(a), db(b), 0),
                         db(rz));
        assert_int_equal(ptx_fp_arith(PTX_OP_ADD, PTX_T_F64, PTX_RND_RM, 0, db(a), db(b), 0),
                         db(rm));
        assert_int_equal(ptx_fp_arith(PTX_OP_ADD, PTX_T_F64, PTX_RND_RP, 0, db(a), db(b), 0),
                         db(rp));
    }
    /* The host's rounding mode is left as it was. */
    assert_int_equal(fegetround(), FE_TONEAREST);
}

/* f16 add/sub/mul/fma in every mode against the integer-exact table reference. */
static uint16_t rand_f16(void)
{
    uint16_t h = (uint16_t)rnd64();
    if ((h & 0x7c00) == 0x7c00)
        h &= 0xbfff; /* keep finite */
    return h;
}

static void test_f16_arith_sweep(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint16_t a = rand_f16(), b = rand_f16(), c = rand_f16();
        __int128 A = f16_exact(a), B = f16_exact(b), C = f16_exact(c);
        /* Products scale by 2^(2*SCALE): f16 products are multiples of 2^-48 = 2^-SCALE. */
        __int128 P = (A >> 24) * (B >> 24); /* f16 values are multiples of 2^-24 */
        for (int m = 0; m < 4; m++) {
            __int128 sum = A + B;
            uint16_t want_add = ref_round(&t_f16, sum, (unsigned)m, 0x8000, 0x7bff);
            /* IEEE 754 6.3: an exact zero sum is -0 under round-down, +0 otherwise, unless both
             * operands are zeros of the same sign. */
            if (sum == 0)
                want_add = (A == 0 && B == 0 && (a & 0x8000) == (b & 0x8000))
                               ? (uint16_t)(a & 0x8000)
                               : (m == 2 ? 0x8000 : 0);
            uint16_t want_mul = ref_round(&t_f16, P, (unsigned)m, 0x8000, 0x7bff);
            if (P == 0)
                want_mul = (a ^ b) & 0x8000;
            __int128 F = P + C;
            uint16_t want_fma = ref_round(&t_f16, F, (unsigned)m, 0x8000, 0x7bff);
            if (F == 0) {
                unsigned ps = (a ^ b) & 0x8000, cs = c & 0x8000;
                if (P == 0 && C == 0 && ps == cs)
                    want_fma = (uint16_t)ps;
                else
                    want_fma = m == 2 ? 0x8000 : 0;
            }
            uint64_t g;
            g = ptx_fp_arith(PTX_OP_ADD, PTX_T_F16, modes[m], 0, a, b, 0);
            if (g != want_add)
                fail_msg("f16 add %#x %#x mode %d: got %#llx want %#x", a, b, m,
                         (unsigned long long)g, want_add);
            g = ptx_fp_arith(PTX_OP_MUL, PTX_T_F16, modes[m], 0, a, b, 0);
            if (g != want_mul)
                fail_msg("f16 mul %#x %#x mode %d: got %#llx want %#x", a, b, m,
                         (unsigned long long)g, want_mul);
            g = ptx_fp_arith(PTX_OP_FMA, PTX_T_F16, modes[m], 0, a, b, c);
            if (g != want_fma)
                fail_msg("f16 fma %#x %#x %#x mode %d: got %#llx want %#x", a, b, c, m,
                         (unsigned long long)g, want_fma);
            /* The x2 form applies the same per lane. */
            if (m == 0) {
                uint64_t g2 = ptx_fp_arith(PTX_OP_FMA, PTX_T_F16X2, PTX_RND_RN, 0,
                                           (uint64_t)a << 16 | b, (uint64_t)b << 16 | a,
                                           (uint64_t)c << 16 | c);
                assert_int_equal(g2 >> 16, want_fma);
                assert_int_equal(g2 & 0xffff, want_fma);
            }
        }
    }
}

/* bf16 with exponents kept within 2^-10 .. 2^10 so that exact values fit the integer table. */
static uint16_t rand_bf16(void)
{
    uint16_t h = (uint16_t)rnd64();
    unsigned e = 117 + (unsigned)(rnd64() % 21);
    return (uint16_t)((h & 0x807f) | e << 7);
}

static void test_bf16_arith_sweep(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint16_t a = rand_bf16(), b = rand_bf16(), c = rand_bf16();
        __int128 A = bf16_exact(a), B = bf16_exact(b), C = bf16_exact(c);
        __int128 P = (A * B) >> SCALE; /* exact: products are multiples of 2^-34 */
        assert_true(((A * B) & (((__int128)1 << SCALE) - 1)) == 0);
        for (int m = 0; m < 4; m++) {
            uint16_t want_fma = ref_round(&t_bf16, P + C, (unsigned)m, 0x8000, 0x7f7f);
            if (P + C == 0)
                want_fma = m == 2 ? 0x8000 : 0;
            uint16_t want_mul = ref_round(&t_bf16, P, (unsigned)m, 0x8000, 0x7f7f);
            uint16_t want_add = ref_round(&t_bf16, A - B, (unsigned)m, 0x8000, 0x7f7f);
            if (A - B == 0)
                want_add = m == 2 ? 0x8000 : 0;
            assert_int_equal(ptx_fp_arith(PTX_OP_FMA, PTX_T_BF16, modes[m], 0, a, b, c),
                             want_fma);
            assert_int_equal(ptx_fp_arith(PTX_OP_MUL, PTX_T_BF16, modes[m], 0, a, b, 0),
                             want_mul);
            assert_int_equal(ptx_fp_arith(PTX_OP_SUB, PTX_T_BF16, modes[m], 0, a, b, 0),
                             want_add);
        }
    }
}

/* ---- unary, compare, testp, copysign ---- */

static void test_unary_table(void **state)
{
    (void)state;
    assert_int_equal(ptx_fp_unary(PTX_OP_ABS, PTX_T_F32, 0, 0, F32(-2)), F32(2));
    assert_int_equal(ptx_fp_unary(PTX_OP_ABS, PTX_T_F32, 0, PTX_F_FTZ, 0x80000001), 0);
    assert_int_equal(ptx_fp_unary(PTX_OP_NEG, PTX_T_F32, 0, 0, 0), 0x80000000);
    assert_int_equal(ptx_fp_unary(PTX_OP_NEG, PTX_T_F16X2, 0, 0, 0x3c00bc00), 0xbc003c00);
    assert_int_equal(ptx_fp_unary(PTX_OP_ABS, PTX_T_BF16, 0, 0, 0xbf80), 0x3f80);
    assert_int_equal(ptx_fp_unary(PTX_OP_NEG, PTX_T_F64, 0, 0, F64(1)), F64(-1));
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F32, PTX_RND_RN, 0, 0x80000000), 0x80000000);
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F32, PTX_RND_RN, 0, F32(-1)), 0x7fffffff);
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F32, PTX_RND_RN, 0, F32(2)), 0x3fb504f3);
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F32, PTX_RND_RP, 0, F32(2)), 0x3fb504f4);
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F64, PTX_RND_RN, 0, F64(4)), F64(2));
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F64, PTX_RND_RZ, 0, F64(2)),
                     0x3ff6a09e667f3bccull);
    assert_int_equal(ptx_fp_unary(PTX_OP_SQRT, PTX_T_F64, PTX_RND_RP, 0, F64(2)),
                     0x3ff6a09e667f3bcdull);
    assert_int_equal(ptx_fp_unary(PTX_OP_RCP, PTX_T_F32, PTX_RND_RN, 0, F32(3)), 0x3eaaaaab);
    assert_int_equal(ptx_fp_unary(PTX_OP_RCP, PTX_T_F32, PTX_RND_RN, 0, 0x80000000), 0xff800000);
    assert_int_equal(ptx_fp_unary(PTX_OP_RCP, PTX_T_F64, PTX_RND_RZ, 0, F64(3)),
                     0x3fd5555555555555ull);
    assert_int_equal(ptx_fp_unary(PTX_OP_RCP, PTX_T_F32, PTX_RND_NONE, PTX_F_APPROX | PTX_F_FTZ,
                                  F32(0x1p127f)),
                     0);
    assert_int_equal(ptx_fp_unary(PTX_OP_RSQRT, PTX_T_F32, 0, PTX_F_APPROX, F32(4)), F32(0.5f));
    assert_int_equal(ptx_fp_unary(PTX_OP_RSQRT, PTX_T_F32, 0, PTX_F_APPROX, 0x80000000),
                     0xff800000);
    assert_int_equal(ptx_fp_unary(PTX_OP_RSQRT, PTX_T_F32, 0, PTX_F_APPROX, F32(INFINITY)), 0);
    assert_int_equal(ptx_fp_unary(PTX_OP_RSQRT, PTX_T_F32, 0, PTX_F_APPROX, F32(-1)), 0x7fffffff);
    assert_int_equal(ptx_fp_unary(PTX_OP_EX2, PTX_T_F32, 0, PTX_F_APPROX, F32(-INFINITY)), 0);
    assert_int_equal(ptx_fp_unary(PTX_OP_EX2, PTX_T_F32, 0, PTX_F_APPROX, F32(3)), F32(8));
    assert_int_equal(ptx_fp_unary(PTX_OP_EX2, PTX_T_F32, 0, PTX_F_APPROX, F32(-140)), 0x00000200);
    assert_int_equal(ptx_fp_unary(PTX_OP_EX2, PTX_T_F32, 0, PTX_F_APPROX | PTX_F_FTZ, F32(-140)),
                     0);
    assert_int_equal(ptx_fp_unary(PTX_OP_EX2, PTX_T_F16, 0, PTX_F_APPROX, 0x4200 /* 3 */),
                     0x4800);
    assert_int_equal(ptx_fp_unary(PTX_OP_LG2, PTX_T_F32, 0, PTX_F_APPROX, F32(0)), 0xff800000);
    assert_int_equal(ptx_fp_unary(PTX_OP_LG2, PTX_T_F32, 0, PTX_F_APPROX, F32(-1)), 0x7fffffff);
    assert_int_equal(ptx_fp_unary(PTX_OP_LG2, PTX_T_F32, 0, PTX_F_APPROX, F32(8)), F32(3));
    assert_int_equal(ptx_fp_unary(PTX_OP_LG2, PTX_T_F32, 0, PTX_F_APPROX, 0x00000001),
                     F32(-149));
    assert_int_equal(ptx_fp_unary(PTX_OP_SIN, PTX_T_F32, 0, PTX_F_APPROX, 0x80000000),
                     0x80000000);
    assert_int_equal(ptx_fp_unary(PTX_OP_SIN, PTX_T_F32, 0, PTX_F_APPROX, F32(INFINITY)),
                     0x7fffffff);
    assert_int_equal(ptx_fp_unary(PTX_OP_COS, PTX_T_F32, 0, PTX_F_APPROX, F32(0)), F32(1));
    assert_int_equal(ptx_fp_unary(PTX_OP_TANH, PTX_T_F32, 0, PTX_F_APPROX, F32(INFINITY)),
                     F32(1));
    assert_int_equal(ptx_fp_unary(PTX_OP_TANH, PTX_T_BF16X2, 0, PTX_F_APPROX, 0xff800000),
                     0xbf800000);
}

static void test_compare_testp_copysign(void **state)
{
    (void)state;
    const uint64_t nan = 0x7fc00000, one = F32(1), two = F32(2);
    assert_int_equal(ptx_fp_compare(PTX_CMP_EQ, PTX_T_F32, 0, 0, 0x80000000), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_LT, PTX_T_F32, 0, 0x80000000, 0), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_LT, PTX_T_F32, 0, one, two), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_GE, PTX_T_F32, 0, one, two), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_EQ, PTX_T_F32, 0, nan, nan), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_NE, PTX_T_F32, 0, nan, one), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_NEU, PTX_T_F32, 0, nan, one), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_EQU, PTX_T_F32, 0, nan, one), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_LTU, PTX_T_F32, 0, two, one), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_GTU, PTX_T_F32, 0, two, one), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_NUM, PTX_T_F32, 0, two, one), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_NUM, PTX_T_F32, 0, two, nan), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_NAN, PTX_T_F32, 0, two, nan), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_LT, PTX_T_F32, 0, 0x00000001, 0x00000002), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_LT, PTX_T_F32, PTX_F_FTZ, 0x00000001, 0x00000002), 0);
    assert_int_equal(ptx_fp_compare(PTX_CMP_EQ, PTX_T_F64, 0, F64(1), F64(1)), 1);
    /* x2: the low halves give bit 0, the high halves bit 1. */
    assert_int_equal(ptx_fp_compare(PTX_CMP_LT, PTX_T_F16X2, 0, 0x3c004000, 0x40003c00), 2);
    assert_int_equal(ptx_fp_compare(PTX_CMP_LT, PTX_T_F16X2, 0, 0x40003c00, 0x3c004000), 1);
    assert_int_equal(ptx_fp_compare(PTX_CMP_GTU, PTX_T_BF16X2, 0, 0x7fc13f80, 0x3f803f80), 2);

    assert_true(ptx_fp_testp(PTX_TESTP_FINITE, PTX_T_F32, one));
    assert_false(ptx_fp_testp(PTX_TESTP_FINITE, PTX_T_F32, 0xff800000));
    assert_true(ptx_fp_testp(PTX_TESTP_INFINITE, PTX_T_F32, 0xff800000));
    assert_false(ptx_fp_testp(PTX_TESTP_INFINITE, PTX_T_F32, nan));
    assert_true(ptx_fp_testp(PTX_TESTP_NUMBER, PTX_T_F32, 0xff800000));
    assert_false(ptx_fp_testp(PTX_TESTP_NUMBER, PTX_T_F32, nan));
    assert_true(ptx_fp_testp(PTX_TESTP_NOTANUMBER, PTX_T_F64, 0xfff8000000000000ull));
    assert_true(ptx_fp_testp(PTX_TESTP_NORMAL, PTX_T_F32, 0x00800000));
    assert_false(ptx_fp_testp(PTX_TESTP_NORMAL, PTX_T_F32, 0));
    assert_false(ptx_fp_testp(PTX_TESTP_NORMAL, PTX_T_F32, 0x007fffff));
    assert_true(ptx_fp_testp(PTX_TESTP_SUBNORMAL, PTX_T_F32, 0x807fffff));
    assert_false(ptx_fp_testp(PTX_TESTP_SUBNORMAL, PTX_T_F32, 0x80000000));
    assert_true(ptx_fp_testp(PTX_TESTP_SUBNORMAL, PTX_T_F64, 1));
    assert_true(ptx_fp_testp(PTX_TESTP_SUBNORMAL, PTX_T_F16, 0x03ff));
    assert_false(ptx_fp_testp(PTX_TESTP_SUBNORMAL, PTX_T_F16, 0x0400));

    assert_int_equal(ptx_fp_copysign(PTX_T_F32, F32(-1), F32(2)), F32(-2));
    assert_int_equal(ptx_fp_copysign(PTX_T_F32, F32(1), F32(-2)), F32(2));
    assert_int_equal(ptx_fp_copysign(PTX_T_F64, F64(-0.0), F64(3)), F64(-3));
    assert_int_equal(ptx_fp_copysign(PTX_T_F32, 0x80000000, nan), 0xffc00000);
}

/* ---- approximate math: ULP bounds over sweeps ---- */

/* The error of got against a long double reference, in units of the f32 ulp at the reference. */
static double ulp_err_f32(float got, long double ref)
{
    if (isnan(ref))
        return isnan(got) ? 0 : 1e9;
    if (isinf(ref) || fabsl(ref) >= (long double)FLT_MAX * (1 + 0x1p-24L))
        return (isinf(got) && (got > 0) == (ref > 0)) ? 0 : 1e9;
    if (isinf(got))
        return 1e9;
    long double a = fabsl(ref);
    int e;
    frexpl(a, &e); /* a = f * 2^e, f in [0.5, 1) */
    int ue = e - 24;
    if (ue < -149)
        ue = -149;
    return (double)(fabsl((long double)got - ref) / ldexpl(1.0L, ue));
}

static void test_approx_ulp(void **state)
{
    (void)state;
    double worst[8] = {0};
    const char *names[8] = {"sin", "cos", "ex2", "lg2", "rsqrt", "tanh", "rcp", "div.approx"};
    for (int i = 0; i < 200000; i++) {
        float x = bf(rand_f32());
        if (isnan(x))
            continue;
        float xs = fmodf(x, 200.0f); /* sin/cos in the documented range (-100pi, 100pi) */
        float xe = fmodf(x, 150.0f);
        long double refs[8] = {
            sinl(xs), cosl(xs), exp2l(xe), log2l(fabsf(x)), 1.0L / sqrtl(fabsf(x)), tanhl(x),
            1.0L / x, (long double)xe / x,
        };
        uint32_t got[8] = {
            (uint32_t)ptx_fp_unary(PTX_OP_SIN, PTX_T_F32, 0, PTX_F_APPROX, fb(xs)),
            (uint32_t)ptx_fp_unary(PTX_OP_COS, PTX_T_F32, 0, PTX_F_APPROX, fb(xs)),
            (uint32_t)ptx_fp_unary(PTX_OP_EX2, PTX_T_F32, 0, PTX_F_APPROX, fb(xe)),
            (uint32_t)ptx_fp_unary(PTX_OP_LG2, PTX_T_F32, 0, PTX_F_APPROX, fb(fabsf(x))),
            (uint32_t)ptx_fp_unary(PTX_OP_RSQRT, PTX_T_F32, 0, PTX_F_APPROX, fb(fabsf(x))),
            (uint32_t)ptx_fp_unary(PTX_OP_TANH, PTX_T_F32, 0, PTX_F_APPROX, fb(x)),
            (uint32_t)ptx_fp_unary(PTX_OP_RCP, PTX_T_F32, 0, PTX_F_APPROX, fb(x)),
            (uint32_t)ptx_fp_arith(PTX_OP_DIV, PTX_T_F32, 0, PTX_F_APPROX, fb(xe), fb(x), 0),
        };
        for (int k = 0; k < 8; k++) {
            double err = ulp_err_f32(bf(got[k]), refs[k]);
            if (err > worst[k])
                worst[k] = err;
        }
    }
    for (int k = 0; k < 8; k++) {
        /* Every ISA bound is at least 1 ulp (or an absolute error larger than that near the
         * zeros of sin/cos); these stay near the correctly rounded 0.5. */
        if (worst[k] > 0.5001)
            fail_msg("%s.approx.f32: worst error %.4f ulp", names[k], worst[k]);
    }
    /* Half-precision ex2/tanh: within 0.5 ulp + a hair of the exact value for every f16. */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        double x = ptx_fp_f16_to_f32((uint16_t)h);
        uint16_t e = (uint16_t)ptx_fp_unary(PTX_OP_EX2, PTX_T_F16, 0, PTX_F_APPROX, h);
        uint16_t t = (uint16_t)ptx_fp_unary(PTX_OP_TANH, PTX_T_F16, 0, PTX_F_APPROX, h);
        uint16_t we = ref_round_double(dv_f16, db_f16, n_f16, exp2(x), 0, 0x8000);
        uint16_t wt = ref_round_double(dv_f16, db_f16, n_f16, tanh(x), 0, 0x8000);
        assert_int_equal(e, we);
        assert_int_equal(t, wt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cvt_table),
        cmocka_unit_test(test_cvt_f64_f32_sweep),
        cmocka_unit_test(test_cvt_int_float_sweep),
        cmocka_unit_test(test_cvt_float_int_sweep),
        cmocka_unit_test(test_cvt_half_sweep),
        cmocka_unit_test(test_half_roundtrip),
        cmocka_unit_test(test_arith_table),
        cmocka_unit_test(test_f32_arith_sweep),
        cmocka_unit_test(test_f64_arith_modes),
        cmocka_unit_test(test_f16_arith_sweep),
        cmocka_unit_test(test_bf16_arith_sweep),
        cmocka_unit_test(test_unary_table),
        cmocka_unit_test(test_compare_testp_copysign),
        cmocka_unit_test(test_approx_ulp),
    };
    return cmocka_run_group_tests_name("ptx_fp", tests, setup, NULL);
}
