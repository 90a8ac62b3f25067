/*
 * PTX floating-point semantics on bit patterns (see fp.h). Everything narrower than f64 is
 * computed exactly, or with an exact error term, in double and rounded once by a software
 * rounder (round_pack) that knows every PTX rounding mode and the subnormal range of the
 * target format; f64 under a directed rounding mode uses the host FPU with the rounding mode
 * set for that one operation and restored at once. Nothing here changes the host's FTZ/DAZ.
 *
 * Rules follow the PTX ISA (9.0) sections named in the comments: "Floating Point Instructions"
 * (add, sub, mul, fma, mad, div, min, max, rcp, sqrt, rsqrt, sin, cos, lg2, ex2, tanh, abs, neg,
 * copysign, testp), "Half Precision Floating Point Instructions" and "Data Movement and
 * Conversion Instructions: cvt".
 */
#include "fp.h"

#include <fenv.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ptx.h"

/* The four IEEE binary formats PTX computes in. */
enum fp_fmt { FMT_F16, FMT_BF16, FMT_F32, FMT_F64 };

struct fp_format {
    unsigned mbits; /* stored fraction bits */
    unsigned ebits; /* exponent bits */
    int bias;
    uint64_t qnan; /* PTX canonical NaN */
};

static const struct fp_format fmts[] = {
    [FMT_F16] = {10, 5, 15, 0x7fffu},
    [FMT_BF16] = {7, 8, 127, 0x7fffu},
    [FMT_F32] = {23, 8, 127, 0x7fffffffu},
    [FMT_F64] = {52, 11, 1023, 0x7fffffffffffffffull},
};

/* Base rounding directions (the integer-rounding variants map onto these). */
enum { R_N, R_Z, R_M, R_P };

static unsigned base_rnd(unsigned rnd)
{
    switch (rnd) {
    case PTX_RND_RZ:
    case PTX_RND_RZI:
        return R_Z;
    case PTX_RND_RM:
    case PTX_RND_RMI:
        return R_M;
    case PTX_RND_RP:
    case PTX_RND_RPI:
        return R_P;
    default:
        return R_N;
    }
}

static bool is_int_rnd(unsigned rnd)
{
    return rnd >= PTX_RND_RNI && rnd <= PTX_RND_RPI;
}

static int type_fmt(unsigned type)
{
    switch (type) {
    case PTX_T_F16:
    case PTX_T_F16X2:
        return FMT_F16;
    case PTX_T_BF16:
    case PTX_T_BF16X2:
        return FMT_BF16;
    case PTX_T_F32:
        return FMT_F32;
    case PTX_T_F64:
        return FMT_F64;
    default:
        return -1;
    }
}

static bool is_x2(unsigned type)
{
    return type == PTX_T_F16X2 || type == PTX_T_BF16X2;
}

/* ---- bit-level helpers ---- */

static uint64_t fmt_sign(int f)
{
    return 1ull << (fmts[f].mbits + fmts[f].ebits);
}

static uint64_t fmt_mask(int f)
{
    unsigned w = fmts[f].mbits + fmts[f].ebits + 1;
    return w == 64 ? ~0ull : (1ull << w) - 1;
}

static uint64_t fmt_inf(int f)
{
    return ((1ull << fmts[f].ebits) - 1) << fmts[f].mbits;
}

static uint64_t fmt_maxnorm(int f)
{
    return fmt_inf(f) - 1;
}

static bool bits_isnan(int f, uint64_t x)
{
    return (x & (fmt_sign(f) - 1)) > fmt_inf(f);
}

static bool bits_isinf(int f, uint64_t x)
{
    return (x & (fmt_sign(f) - 1)) == fmt_inf(f);
}

static bool bits_issub(int f, uint64_t x)
{
    uint64_t mag = x & (fmt_sign(f) - 1);
    return mag != 0 && mag < (1ull << fmts[f].mbits);
}

static bool bits_neg(int f, uint64_t x)
{
    return (x & fmt_sign(f)) != 0;
}

/* Flushes a subnormal to a zero of the same sign (the .ftz rule). */
static uint64_t flush(int f, uint64_t x)
{
    return bits_issub(f, x) ? (x & fmt_sign(f)) : x;
}

static uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bits_dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static uint32_t flt_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_flt(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The exact value of an f16/bf16/f32/f64 bit pattern as a double. */
static double to_double(int f, uint64_t x)
{
    if (f == FMT_F64)
        return bits_dbl(x);
    if (f == FMT_F32)
        return (double)bits_flt((uint32_t)x);
    if (f == FMT_BF16)
        return (double)bits_flt((uint32_t)(x & 0xffff) << 16);
    return (double)ptx_fp_f16_to_f32((uint16_t)x);
}

/* IEEE 754 7.4: an overflow gives infinity when rounding to nearest or away from zero, and the
 * largest finite magnitude when rounding toward zero. */
static uint64_t overflow_bits(int f, bool neg, unsigned r)
{
    bool to_inf = r == R_N || (r == R_M && neg) || (r == R_P && !neg);
    return to_inf ? fmt_inf(f) : fmt_maxnorm(f);
}

/*
 * Rounds the value (mant + sticky * epsilon) * 2^exp, 0 < epsilon < 1, with the given sign to
 * format f under base rounding mode r, handling subnormal results and overflow (IEEE 754: an
 * overflow gives infinity or the largest finite number by rounding direction). mant may be
 * zero only when sticky is set.
 */
static uint64_t round_pack(int f, bool neg, uint64_t mant, int exp, bool sticky, unsigned r)
{
    const struct fp_format *F = &fmts[f];
    uint64_t sign = neg ? fmt_sign(f) : 0;
    int emin = 1 - F->bias, emax = F->bias;
    if (mant == 0 && !sticky)
        return sign;
    if (mant == 0) {
        /* Only a tiny positive remainder: below half of any representable quantum. */
        bool up = (r == R_M && neg) || (r == R_P && !neg);
        return sign | (up ? 1 : 0);
    }
    int n = 63 - __builtin_clzll(mant);
    int E = n + exp;
    if (E > emax) /* at least 2^(emax+1): overflows in every mode */
        return sign | overflow_bits(f, neg, r);
    int qexp = (E < emin ? emin : E) - (int)F->mbits;
    int shift = qexp - exp;
    uint64_t kept;
    bool gt, eq, nz;
    if (shift <= 0) {
        kept = mant << -shift;
        gt = eq = false;
        nz = sticky;
    } else if (shift < 64) {
        uint64_t rem = mant & ((1ull << shift) - 1), half = 1ull << (shift - 1);
        kept = mant >> shift;
        gt = rem > half || (rem == half && sticky);
        eq = rem == half && !sticky;
        nz = rem || sticky;
    } else {
        kept = 0;
        gt = shift == 64 && (mant > (1ull << 63) || (mant == (1ull << 63) && sticky));
        eq = shift == 64 && mant == (1ull << 63) && !sticky;
        nz = true;
    }
    bool up;
    switch (r) {
    case R_Z:
        up = false;
        break;
    case R_M:
        up = neg && nz;
        break;
    case R_P:
        up = !neg && nz;
        break;
    default:
        up = gt || (eq && (kept & 1));
        break;
    }
    kept += up;
    /* A normal result carries its implicit bit in kept, which bumps the exponent field by one;
     * a rounding carry out of the fraction bumps it once more, exactly as IEEE needs. */
    uint64_t bits = E < emin ? kept : ((uint64_t)(E + F->bias - 1) << F->mbits) + kept;
    if (bits >= fmt_inf(f))
        bits = overflow_bits(f, neg, r);
    return sign | bits;
}

/*
 * Rounds a double hi to format f; tail says where the exact value lies relative to hi: 0 exact,
 * +1 slightly larger in magnitude, -1 slightly smaller (by less than half an ulp of hi). NaN gives
 * the canonical NaN.
 */
static uint64_t round_double(int f, double hi, int tail, unsigned r)
{
    uint64_t u = dbl_bits(hi);
    bool neg = u >> 63;
    unsigned e = (unsigned)(u >> 52) & 0x7ff;
    uint64_t m = u & ((1ull << 52) - 1);
    if (e == 0x7ff)
        return m ? fmts[f].qnan : ((neg ? fmt_sign(f) : 0) | fmt_inf(f));
    if (f == FMT_F64 && tail == 0)
        return u;
    int exp;
    if (e == 0) {
        exp = -1074;
    } else {
        m |= 1ull << 52;
        exp = (int)e - 1075;
    }
    if (m == 0)
        return neg ? fmt_sign(f) : 0;
    if (tail < 0) {
        m = m * 2 - 1;
        exp -= 1;
    }
    return round_pack(f, neg, m, exp, tail != 0, r);
}

/* The direction (+1/-1/0) of an error term lo relative to the magnitude of hi. */
static int tail_of(double hi, double lo)
{
    if (lo == 0 || !isfinite(lo) || !isfinite(hi))
        return 0;
    return (signbit(hi) != 0) == (signbit(lo) != 0) ? 1 : -1;
}

/* Knuth's TwoSum: hi + lo == a + b exactly when no overflow. */
static double two_sum(double a, double b, double *lo)
{
    double s = a + b;
    double bb = s - a;
    *lo = (a - (s - bb)) + (b - bb);
    return s;
}

/* The sign of an exact zero sum hi = a + b (IEEE 754 6.3): the host's round-to-nearest gives +0
 * unless both addends are -0; under .rm it is -0 unless both are +0. */
static double zero_sum_sign(double hi, double a, double b, unsigned r)
{
    if (hi == 0 && r == R_M && !(a == 0 && b == 0 && !signbit(a) && !signbit(b)))
        return -0.0;
    return hi;
}

/* Applies the result modifiers: .ftz (subnormal result to signed zero), .sat ([0, 1], NaN to
 * +0), .relu (negative to +0, NaN canonical), .satfinite (|x| > MAX_NORM to signed MAX_NORM, NaN
 * stays NaN). */
static uint64_t finish(int f, uint64_t x, unsigned flags)
{
    if (bits_isnan(f, x)) {
        if (flags & PTX_F_SAT)
            return 0;
        return fmts[f].qnan;
    }
    if (flags & PTX_F_FTZ)
        x = flush(f, x);
    if (flags & PTX_F_SATFINITE) {
        if (bits_isinf(f, x))
            x = (x & fmt_sign(f)) | fmt_maxnorm(f);
    }
    if (flags & (PTX_F_SAT | PTX_F_RELU)) {
        if (bits_neg(f, x))
            return 0;
    }
    if (flags & PTX_F_SAT) {
        uint64_t one = (uint64_t)(fmts[f].bias) << fmts[f].mbits;
        if (x > one)
            return one;
    }
    return x;
}

/* ---- f64 under a rounding mode: the host FPU with the mode set for one operation ---- */

static int host_mode(unsigned r)
{
    switch (r) {
    case R_Z:
        return FE_TOWARDZERO;
    case R_M:
        return FE_DOWNWARD;
    case R_P:
        return FE_UPWARD;
    default:
        return FE_TONEAREST;
    }
}

/* Volatile operands and result keep the compiler from moving the operation across the
 * fesetround calls. */
static double f64_op(unsigned op, unsigned r, double a, double b, double c)
{
    volatile double va = a, vb = b, vc = c, vr;
    int old = r != R_N ? fegetround() : FE_TONEAREST;
    if (r != R_N)
        fesetround(host_mode(r));
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
        vr = sqrt(va);
        break;
    default: /* FMA, MAD */
        vr = fma(va, vb, vc);
        break;
    }
    if (r != R_N)
        fesetround(old);
    return vr;
}

/* ---- arithmetic on one lane of format f (f16, bf16, f32) ---- */

static uint64_t minmax(int f, unsigned op, unsigned flags, uint64_t a, uint64_t b)
{
    /* "min/max": if one operand is NaN the result is the other; both NaN (or either with .NaN)
     * gives the canonical NaN; -0.0 is treated as less than +0.0. .xorsign.abs compares
     * magnitudes and gives the result the XOR of the operands' signs. */
    uint64_t sx = (a ^ b) & fmt_sign(f);
    if (flags & PTX_F_ABS) {
        a &= ~fmt_sign(f);
        b &= ~fmt_sign(f);
    }
    bool na = bits_isnan(f, a), nb = bits_isnan(f, b);
    uint64_t res;
    if ((na && nb) || ((flags & PTX_F_NAN) && (na || nb)))
        return fmts[f].qnan;
    if (na) {
        res = b;
    } else if (nb) {
        res = a;
    } else {
        double x = to_double(f, a), y = to_double(f, b);
        bool a_less = x < y || (x == y && bits_neg(f, a) && !bits_neg(f, b));
        if (op == PTX_OP_MIN)
            res = a_less ? a : b;
        else
            res = a_less ? b : a;
    }
    if (flags & PTX_F_XORSIGN)
        res = (res & ~fmt_sign(f)) | sx;
    if ((flags & PTX_F_RELU) && bits_neg(f, res))
        res = 0;
    return res;
}

static uint64_t arith_lane(int f, unsigned op, unsigned rnd, unsigned flags, uint64_t a,
                           uint64_t b, uint64_t c)
{
    unsigned r = base_rnd(rnd);
    uint64_t m = fmt_mask(f);
    a &= m;
    b &= m;
    c &= m;
    if (flags & PTX_F_FTZ) {
        a = flush(f, a);
        b = flush(f, b);
        c = flush(f, c);
    }
    if (op == PTX_OP_MIN || op == PTX_OP_MAX)
        return minmax(f, op, flags, a, b);

    double x = to_double(f, a), y = to_double(f, b), z = to_double(f, c);
    if (op == PTX_OP_SUB) {
        y = -y;
        op = PTX_OP_ADD;
    }
    if (f == FMT_F64) {
        double d;
        if (op == PTX_OP_DIV && (flags & (PTX_F_APPROX | PTX_F_FULL)))
            d = x / y; /* correctly rounded: within any documented approximate bound */
        else
            d = f64_op(op, r, x, y, z);
        return finish(f, dbl_bits(d), flags);
    }

    /* "add/sub/mul/fma/mad/div": .rnd defaults to .rn; .ftz flushes subnormal inputs and results
     * (f32, f16); .sat clamps to [0, 1] with NaN giving +0; fma and mad.rnd round once. */
    double hi, lo = 0;
    int tail = 0;
    switch (op) {
    case PTX_OP_ADD:
        /* Exact: TwoSum, then the sign an exact zero takes under .rm. */
        hi = two_sum(x, y, &lo);
        tail = tail_of(hi, lo);
        hi = zero_sum_sign(hi, x, y, r);
        break;
    case PTX_OP_MUL:
        /* Exact in double: two 24-bit significands give at most 48 bits and the exponent range
         * of f32 products (2^-298 .. 2^256) is inside double's normal range. */
        hi = x * y;
        break;
    case PTX_OP_DIV:
        if (flags & (PTX_F_APPROX | PTX_F_FULL)) {
            /* div.approx.f32 / div.full.f32 are allowed 2 ulp; the correctly rounded quotient
             * meets that. */
            r = R_N;
        }
        hi = x / y;
        if (isfinite(hi) && hi != 0) {
            /* The remainder of a correctly rounded quotient is exact (no underflow for these
             * ranges); its sign tells on which side of hi the true quotient lies. */
            double rem = fma(-hi, y, x);
            if (rem != 0)
                tail = ((rem > 0) == (y > 0)) == (hi > 0) ? 1 : -1;
        }
        break;
    default: { /* FMA, MAD: one rounding of a*b+c */
        double p = x * y; /* exact, as for MUL */
        hi = two_sum(p, z, &lo);
        tail = tail_of(hi, lo);
        hi = zero_sum_sign(hi, p, z, r);
        break;
    }
    }
    return finish(f, round_double(f, hi, tail, r), flags);
}

/* Applies a one-lane function to each 16-bit half of an x2 value. */
uint64_t ptx_fp_arith(unsigned op, unsigned type, unsigned rnd, unsigned flags, uint64_t a,
                      uint64_t b, uint64_t c)
{
    int f = type_fmt(type);
    if (f < 0)
        return 0;
    if (is_x2(type)) {
        uint64_t lo = arith_lane(f, op, rnd, flags, a, b, c);
        uint64_t hi = arith_lane(f, op, rnd, flags, a >> 16, b >> 16, c >> 16);
        return (lo & 0xffff) | (hi & 0xffff) << 16;
    }
    return arith_lane(f, op, rnd, flags, a, b, c);
}

/* ---- unary ---- */

static uint64_t unary_lane(int f, unsigned op, unsigned rnd, unsigned flags, uint64_t a)
{
    unsigned r = base_rnd(rnd);
    a &= fmt_mask(f);
    if (flags & PTX_F_FTZ)
        a = flush(f, a);
    switch (op) {
    case PTX_OP_ABS:
        /* "abs": clears the sign bit; NaN in gives NaN out. */
        return a & ~fmt_sign(f);
    case PTX_OP_NEG:
        /* "neg": flips the sign bit. */
        return a ^ fmt_sign(f);
    default:
        break;
    }
    double x = to_double(f, a);
    if (op == PTX_OP_RCP) {
        /* "rcp": 1/x, correctly rounded under .rnd; .approx is given the same (exact) answer. */
        static const uint64_t one[] = {[FMT_F16] = 0x3c00u, [FMT_BF16] = 0x3f80u,
                                       [FMT_F32] = 0x3f800000u,
                                       [FMT_F64] = 0x3ff0000000000000ull};
        return arith_lane(f, PTX_OP_DIV, rnd, flags, one[f], a, 0);
    }
    if (op == PTX_OP_SQRT) {
        if (f == FMT_F64 && !(flags & PTX_F_APPROX))
            return finish(f, dbl_bits(f64_op(PTX_OP_SQRT, r, x, 0, 0)), flags);
        if (flags & PTX_F_APPROX)
            r = R_N;
        double s = sqrt(x);
        int tail = 0;
        if (f != FMT_F64 && isfinite(s) && s > 0) {
            /* The square root's remainder x - s*s is exact; its sign is the direction. */
            double rem = fma(-s, s, x);
            tail = rem > 0 ? 1 : rem < 0 ? -1 : 0;
        }
        return finish(f, round_double(f, s, tail, r), flags);
    }
    /* The approximate functions: computed in a wider format and rounded to nearest once, so
     * the error is at most 0.5 ulp plus the wide format's error -- inside every bound the ISA
     * documents for the .approx instructions. */
    double y;
    switch (op) {
    case PTX_OP_RSQRT:
        y = f == FMT_F64 ? (double)(1.0L / sqrtl((long double)x)) : 1.0 / sqrt(x);
        break;
    case PTX_OP_SIN:
        y = sin(x);
        break;
    case PTX_OP_COS:
        y = cos(x);
        break;
    case PTX_OP_LG2:
        y = log2(x);
        break;
    case PTX_OP_EX2:
        y = exp2(x);
        break;
    case PTX_OP_TANH:
        y = tanh(x);
        break;
    default:
        return fmts[f].qnan;
    }
    return finish(f, round_double(f, y, 0, R_N), flags);
}

uint64_t ptx_fp_unary(unsigned op, unsigned type, unsigned rnd, unsigned flags, uint64_t a)
{
    int f = type_fmt(type);
    if (f < 0)
        return 0;
    if (is_x2(type)) {
        uint64_t lo = unary_lane(f, op, rnd, flags, a);
        uint64_t hi = unary_lane(f, op, rnd, flags, a >> 16);
        return (lo & 0xffff) | (hi & 0xffff) << 16;
    }
    return unary_lane(f, op, rnd, flags, a);
}

/* ---- compare, testp, copysign ---- */

static unsigned compare_lane(int f, unsigned cmp, unsigned flags, uint64_t a, uint64_t b)
{
    a &= fmt_mask(f);
    b &= fmt_mask(f);
    if (flags & PTX_F_FTZ) {
        a = flush(f, a);
        b = flush(f, b);
    }
    double x = to_double(f, a), y = to_double(f, b);
    bool un = isnan(x) || isnan(y);
    /* "setp": the ordered comparisons are false and the unordered (u-suffixed) ones true when
     * either operand is NaN; num is true when both are numbers, nan when either is NaN. */
    switch (cmp) {
    case PTX_CMP_EQ:
        return !un && x == y;
    case PTX_CMP_NE:
        return !un && x != y;
    case PTX_CMP_LT:
    case PTX_CMP_LO:
        return !un && x < y;
    case PTX_CMP_LE:
    case PTX_CMP_LS:
        return !un && x <= y;
    case PTX_CMP_GT:
    case PTX_CMP_HI:
        return !un && x > y;
    case PTX_CMP_GE:
    case PTX_CMP_HS:
        return !un && x >= y;
    case PTX_CMP_EQU:
        return un || x == y;
    case PTX_CMP_NEU:
        return un || x != y;
    case PTX_CMP_LTU:
        return un || x < y;
    case PTX_CMP_LEU:
        return un || x <= y;
    case PTX_CMP_GTU:
        return un || x > y;
    case PTX_CMP_GEU:
        return un || x >= y;
    case PTX_CMP_NUM:
        return !un;
    case PTX_CMP_NAN:
        return un;
    default:
        return 0;
    }
}

unsigned ptx_fp_compare(unsigned cmp, unsigned type, unsigned flags, uint64_t a, uint64_t b)
{
    int f = type_fmt(type);
    if (f < 0)
        return 0;
    if (is_x2(type))
        return compare_lane(f, cmp, flags, a, b) | compare_lane(f, cmp, flags, a >> 16, b >> 16) << 1;
    return compare_lane(f, cmp, flags, a, b);
}

int ptx_fp_testp(unsigned mode, unsigned type, uint64_t a)
{
    /* "testp": finite, infinite, number (not NaN), notanumber, normal (finite, non-zero, not
     * subnormal) and subnormal (non-zero, exponent field zero). */
    int f = type_fmt(type);
    if (f < 0)
        return 0;
    a &= fmt_mask(f);
    bool nan = bits_isnan(f, a), inf = bits_isinf(f, a), sub = bits_issub(f, a);
    bool zero = (a & (fmt_sign(f) - 1)) == 0;
    switch (mode) {
    case PTX_TESTP_FINITE:
        return !nan && !inf;
    case PTX_TESTP_INFINITE:
        return inf;
    case PTX_TESTP_NUMBER:
        return !nan;
    case PTX_TESTP_NOTANUMBER:
        return nan;
    case PTX_TESTP_NORMAL:
        return !nan && !inf && !sub && !zero;
    case PTX_TESTP_SUBNORMAL:
        return sub;
    default:
        return 0;
    }
}

uint64_t ptx_fp_copysign(unsigned type, uint64_t a, uint64_t b)
{
    /* "copysign": d = b with the sign bit of a. */
    int f = type_fmt(type);
    if (f < 0)
        return 0;
    uint64_t s = fmt_sign(f);
    return ((b & ~s) | (a & s)) & fmt_mask(f);
}

/* ---- cvt ---- */

static bool type_is_int(unsigned t)
{
    return t >= PTX_T_B8 && t <= PTX_T_S64 && t != PTX_T_B128;
}

static bool type_is_signed(unsigned t)
{
    return t >= PTX_T_S8 && t <= PTX_T_S64;
}

static unsigned int_bits(unsigned t)
{
    return ptx_type_size(t) * 8;
}

/* Truncates v to the width of integer type t and extends it back to 64 bits: sign-extended for
 * signed types, zero-extended otherwise. */
static uint64_t int_fit(unsigned t, uint64_t v)
{
    unsigned w = int_bits(t);
    if (w >= 64)
        return v;
    uint64_t mask = (1ull << w) - 1;
    v &= mask;
    if (type_is_signed(t) && (v >> (w - 1)) & 1)
        v |= ~mask;
    return v;
}

static int64_t int_min(unsigned t)
{
    return type_is_signed(t) ? -(int64_t)((1ull << (int_bits(t) - 1)) - 1) - 1 : 0;
}

static uint64_t int_max(unsigned t)
{
    unsigned w = int_bits(t);
    if (type_is_signed(t))
        return (1ull << (w - 1)) - 1;
    return w >= 64 ? ~0ull : (1ull << w) - 1;
}

/* Rounds a double to an integral value in base mode r; exact for every input. */
static double round_integral(double x, unsigned r)
{
    if (!isfinite(x))
        return x;
    switch (r) {
    case R_Z:
        return trunc(x);
    case R_M:
        return floor(x);
    case R_P:
        return ceil(x);
    default: {
        double t = trunc(x), d = x - t; /* exact */
        if (fabs(d) > 0.5 || (fabs(d) == 0.5 && fmod(t, 2.0) != 0))
            t += x > 0 ? 1.0 : -1.0;
        return t == 0 ? copysign(0.0, x) : t;
    }
    }
}

/* The value of cvt's float source src of format sf. "cvt": .ftz flushes single-precision
 * subnormal inputs only. */
static double cvt_source(int sf, unsigned flags, uint64_t src)
{
    src &= fmt_mask(sf);
    if ((flags & PTX_F_FTZ) && sf == FMT_F32)
        src = flush(sf, src);
    return to_double(sf, src);
}

static uint64_t cvt_float_to_int(unsigned dtype, double x, unsigned r)
{
    /* "cvt": float-to-integer conversions saturate to the destination range (so .sat is
     * redundant) and NaN converts to 0. */
    if (isnan(x))
        return 0;
    double v = round_integral(x, r);
    if (type_is_signed(dtype)) {
        double lo = (double)int_min(dtype), hi_excl = ldexp(1.0, (int)int_bits(dtype) - 1);
        if (v < lo)
            return int_fit(dtype, (uint64_t)int_min(dtype));
        if (v >= hi_excl)
            return int_max(dtype);
        return int_fit(dtype, (uint64_t)(int64_t)v);
    }
    double hi_excl = ldexp(1.0, (int)int_bits(dtype));
    if (v <= 0)
        return 0;
    if (v >= hi_excl)
        return int_max(dtype);
    return (uint64_t)v;
}

static uint64_t cvt_int_to_int(unsigned dtype, unsigned stype, unsigned flags, uint64_t src)
{
    /* "cvt": integer conversions sign-extend (signed source) or zero-extend, or truncate;
     * .sat clamps to the destination range. */
    uint64_t v = int_fit(stype, src);
    if (flags & PTX_F_SAT) {
        if (type_is_signed(stype)) {
            int64_t sv = (int64_t)v;
            if (sv < int_min(dtype))
                return int_fit(dtype, (uint64_t)int_min(dtype));
            if (sv > 0 && (uint64_t)sv > int_max(dtype))
                return int_max(dtype);
        } else if (v > int_max(dtype)) {
            return int_max(dtype);
        }
    }
    return int_fit(dtype, v);
}

/* One float destination lane of cvt from a source float (sf >= 0) or integer type. */
static uint64_t cvt_to_float(int df, unsigned stype, unsigned rnd, unsigned flags, uint64_t src)
{
    int sf = type_fmt(stype);
    unsigned r = base_rnd(rnd);
    /* "cvt": .ftz flushes single-precision subnormal inputs and results only. */
    unsigned oflags = flags & ~PTX_F_FTZ;
    if ((flags & PTX_F_FTZ) && df == FMT_F32)
        oflags |= PTX_F_FTZ;
    uint64_t res;
    if (sf < 0) {
        /* "cvt": integer-to-float needs a floating-point rounding modifier (default .rn). */
        uint64_t v = int_fit(stype, src);
        bool neg = type_is_signed(stype) && (int64_t)v < 0;
        uint64_t mag = neg ? 0 - v : v;
        res = mag ? round_pack(df, neg, mag, 0, false, r) : 0;
        return finish(df, res, oflags);
    }
    double x = cvt_source(sf, flags, src);
    if (is_int_rnd(rnd)) {
        /* "cvt": .rni/.rzi/.rmi/.rpi round a float to an integral value of the same type. */
        x = round_integral(x, r);
        r = R_N;
    }
    res = round_double(df, x, 0, r);
    return finish(df, res, oflags);
}

uint64_t ptx_fp_cvt(unsigned dtype, unsigned stype, unsigned rnd, unsigned flags, uint64_t src)
{
    int df = type_fmt(dtype), sf = type_fmt(stype);
    if (is_x2(dtype)) {
        /* "cvt.frnd2{.relu}{.satfinite}.f16x2.f32 d, a, b": a goes to the upper half, b to the
         * lower; here src carries a in bits 32-63 and b in bits 0-31. */
        uint64_t hi = cvt_to_float(df, stype, rnd, flags, src >> 32);
        uint64_t lo = cvt_to_float(df, stype, rnd, flags, src & 0xffffffffu);
        return (hi & 0xffff) << 16 | (lo & 0xffff);
    }
    if (stype == PTX_T_F32 && (rnd == PTX_RND_RN || rnd == PTX_RND_NONE) && !(flags & ~PTX_F_FTZ)) {
        float x = bits_flt((uint32_t)((flags & PTX_F_FTZ) ? flush(FMT_F32, src & 0xffffffffu) : src));
        if (dtype == PTX_T_F16)
            return ptx_fp_f32_to_f16(x);
        if (dtype == PTX_T_BF16)
            return ptx_fp_f32_to_bf16(x);
    }
    if (df >= 0)
        return cvt_to_float(df, stype, rnd, flags, src);
    if (!type_is_int(dtype))
        return src;
    if (sf < 0)
        return cvt_int_to_int(dtype, stype, flags, src);
    /* Float to integer: an integer rounding modifier is required; absent, round toward zero. */
    return cvt_float_to_int(dtype, cvt_source(sf, flags, src),
                            rnd == PTX_RND_NONE ? R_Z : base_rnd(rnd));
}

/* ---- hot-path helpers ---- */

uint16_t ptx_fp_f32_to_f16(float f)
{
    uint32_t x = flt_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u)
        return 0x7fff;
    if (x >= 0x477ff000u) /* 65520 and up round to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (x >= 0x38800000u) { /* normal f16 */
        x += 0xc8000fffu + ((x >> 13) & 1);
        return (uint16_t)(sign | (x >> 13));
    }
    if (x <= 0x33000000u) /* at most 2^-25: rounds (to even) to zero */
        return (uint16_t)sign;
    unsigned e = x >> 23, s = 126 - e;
    uint32_t m = (x & 0x7fffffu) | 0x800000u;
    uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return (uint16_t)(sign | q);
}

float ptx_fp_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    if (e == 0x1f) /* infinity, or NaN with its payload widened */
        return bits_flt(sign | 0x7f800000u | m << 13);
    if (e == 0) {
        if (m == 0)
            return bits_flt(sign);
        /* Subnormal: normalise; every f16 subnormal is a normal f32. */
        int sh = __builtin_clz(m) - 21; /* shifts the leading one to bit 10 */
        m = (m << sh) & 0x3ffu;
        e = (uint32_t)(1 - sh);
    }
    return bits_flt(sign | (e + 112) << 23 | m << 13);
}

uint16_t ptx_fp_f32_to_bf16(float f)
{
    uint32_t x = flt_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return 0x7fff;
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

float ptx_fp_bf16_to_f32(uint16_t h)
{
    return bits_flt((uint32_t)h << 16);
}
