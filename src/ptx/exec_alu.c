/*
 * Scalar semantics of the PTX arithmetic the executor does not give its own warp-wide handler:
 * one lane at a time, values as bit patterns in uint64_t (zero-extended from the type's width).
 * Integer rules follow the PTX ISA "Integer Arithmetic" and "Logic and Shift" sections; floating
 * point goes to fp.c. xalu_supported() is the load-time check that keeps anything not listed here
 * from ever running.
 */
#include "exec_internal.h"
#include "fp.h"

#include <math.h>
#include <string.h>

static unsigned tsize(unsigned t)
{
    return ptx_type_size(t);
}

static int is_signed(unsigned t)
{
    return t == PTX_T_S8 || t == PTX_T_S16 || t == PTX_T_S32 || t == PTX_T_S64;
}

static int is_float(unsigned t)
{
    return t == PTX_T_F32 || t == PTX_T_F64 || t == PTX_T_F16 || t == PTX_T_F16X2 ||
           t == PTX_T_BF16 || t == PTX_T_BF16X2;
}

static uint64_t zx(uint64_t v, unsigned bytes)
{
    return bytes >= 8 ? v : v & ((1ull << (bytes * 8)) - 1);
}

static int64_t sx(uint64_t v, unsigned bytes)
{
    if (bytes >= 8)
        return (int64_t)v;
    unsigned sh = 64 - bytes * 8;
    return (int64_t)(v << sh) >> sh;
}

static uint64_t shl_clamp(uint64_t a, uint64_t n, unsigned bits)
{
    return n >= bits ? 0 : zx(a << n, bits / 8);
}

static uint64_t mulhi_u64(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static uint64_t mulhi_s64(int64_t a, int64_t b)
{
    return (uint64_t)(((__int128)a * b) >> 64);
}

/* mul/mad with .lo/.hi/.wide at width n bytes. */
static uint64_t mul_mode(const struct ptx_insn *pi, uint64_t a, uint64_t b, unsigned n)
{
    int s = is_signed(pi->type);
    if (pi->flags & PTX_F_WIDE) {
        if (s)
            return zx((uint64_t)(sx(a, n) * sx(b, n)), 2 * n);
        return zx(zx(a, n) * zx(b, n), 2 * n);
    }
    if (pi->flags & PTX_F_HI) {
        if (n == 8)
            return s ? mulhi_s64((int64_t)a, (int64_t)b) : mulhi_u64(a, b);
        if (s)
            return zx((uint64_t)(sx(a, n) * sx(b, n)) >> (8 * n), n);
        return zx((zx(a, n) * zx(b, n)) >> (8 * n), n);
    }
    return zx(a * b, n);
}

static uint64_t sat_s32(int64_t v)
{
    if (v > INT32_MAX)
        v = INT32_MAX;
    if (v < INT32_MIN)
        v = INT32_MIN;
    return (uint32_t)v;
}

static uint64_t divide(unsigned t, uint64_t a, uint64_t b, int rem)
{
    unsigned n = tsize(t);
    if (is_signed(t)) {
        int64_t x = sx(a, n), y = sx(b, n);
        if (y == 0)
            return rem ? zx((uint64_t)x, n) : zx(~0ull, n);
        if (y == -1)
            return rem ? 0 : zx((uint64_t)0 - (uint64_t)x, n);
        return zx((uint64_t)(rem ? x % y : x / y), n);
    }
    uint64_t x = zx(a, n), y = zx(b, n);
    if (y == 0)
        return rem ? x : zx(~0ull, n);
    return rem ? x % y : x / y;
}

static uint64_t minmax(const struct ptx_insn *pi, uint64_t a, uint64_t b, int max)
{
    unsigned n = tsize(pi->type);
    uint64_t r;
    if (is_signed(pi->type)) {
        int64_t x = sx(a, n), y = sx(b, n);
        r = zx((uint64_t)(max ? (x > y ? x : y) : (x < y ? x : y)), n);
        if ((pi->flags & PTX_F_RELU) && sx(r, n) < 0)
            r = 0;
        return r;
    }
    uint64_t x = zx(a, n), y = zx(b, n);
    return max ? (x > y ? x : y) : (x < y ? x : y);
}

static unsigned popc64(uint64_t v)
{
    return (unsigned)__builtin_popcountll(v);
}

static uint64_t brev(uint64_t v, unsigned bits)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < bits; i++)
        r |= ((v >> i) & 1) << (bits - 1 - i);
    return r;
}

static uint64_t bfind(const struct ptx_insn *pi, uint64_t a)
{
    unsigned n = tsize(pi->type), bits = n * 8;
    uint64_t v = zx(a, n);
    if (is_signed(pi->type) && sx(a, n) < 0)
        v = zx(~v, n);
    if (!v)
        return 0xffffffffu;
    unsigned pos = 63 - (unsigned)__builtin_clzll(v);
    return (pi->flags & PTX_F_SHIFTAMT) ? bits - 1 - pos : pos;
}

static uint64_t bfe(const struct ptx_insn *pi, uint64_t a, uint64_t b, uint64_t c)
{
    unsigned n = tsize(pi->type), msb = n * 8 - 1;
    unsigned pos = b & 0xff, len = c & 0xff;
    uint64_t sbit = 0;
    if (is_signed(pi->type) && len) {
        unsigned top = pos + len - 1 > msb ? msb : pos + len - 1;
        sbit = (a >> top) & 1;
    }
    uint64_t d = 0;
    for (unsigned i = 0; i <= msb; i++) {
        uint64_t bit = (i < len && pos + i <= msb) ? (a >> (pos + i)) & 1 : sbit;
        d |= bit << i;
    }
    return d;
}

static uint64_t bfi(const struct ptx_insn *pi, uint64_t a, uint64_t b, uint64_t c, uint64_t e)
{
    unsigned n = tsize(pi->type), msb = n * 8 - 1;
    unsigned pos = c & 0xff, len = e & 0xff;
    uint64_t d = zx(b, n);
    for (unsigned i = 0; i < len && pos + i <= msb; i++)
        d = (d & ~(1ull << (pos + i))) | (((a >> i) & 1) << (pos + i));
    return d;
}

static uint64_t prmt(unsigned mode, uint64_t a, uint64_t b, uint64_t c)
{
    uint8_t bytes[8];
    for (int i = 0; i < 4; i++) {
        bytes[i] = (uint8_t)(a >> (8 * i));
        bytes[4 + i] = (uint8_t)(b >> (8 * i));
    }
    uint32_t r = 0;
    if (mode == PTX_MODE_NONE) {
        for (int i = 0; i < 4; i++) {
            unsigned sel = (c >> (4 * i)) & 0xf;
            uint8_t v = bytes[sel & 7];
            if (sel & 8)
                v = (v & 0x80) ? 0xff : 0;
            r |= (uint32_t)v << (8 * i);
        }
        return r;
    }
    /* Selector tables, result bytes b0..b3, per PTX ISA "prmt". */
    static const uint8_t tab[6][4][4] = {
        {{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}}, /* f4e */
        {{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}}, /* b4e */
        {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}, /* rc8 */
        {{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}}, /* ecl */
        {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}}, /* ecr */
        {{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}}, /* rc16 */
    };
    unsigned m = mode - PTX_PRMT_F4E, s = c & 3;
    for (int i = 0; i < 4; i++)
        r |= (uint32_t)bytes[tab[m][s][i]] << (8 * i);
    return r;
}

static uint64_t lop3(uint64_t a, uint64_t b, uint64_t c, unsigned lut)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < 8; i++) {
        if (!((lut >> i) & 1))
            continue;
        r |= ((i & 4) ? a : ~a) & ((i & 2) ? b : ~b) & ((i & 1) ? c : ~c);
    }
    return r;
}

static uint64_t shf(const struct ptx_insn *pi, uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t n = (uint32_t)c;
    if (pi->flags & PTX_F_CLAMP)
        n = n > 32 ? 32 : n;
    else
        n &= 31;
    uint64_t v = (zx(b, 4) << 32) | zx(a, 4);
    if (pi->flags & PTX_F_SHF_L)
        return zx((v << n) >> 32, 4);
    return zx(v >> n, 4);
}

static uint64_t dp(const struct ptx_insn *pi, uint64_t a, uint64_t b, uint64_t c)
{
    int as = is_signed(pi->type), bs = is_signed(pi->type2);
    int64_t acc = 0;
    if (pi->op == PTX_OP_DP4A) {
        for (int i = 0; i < 4; i++) {
            int64_t x = as ? (int8_t)(a >> (8 * i)) : (uint8_t)(a >> (8 * i));
            int64_t y = bs ? (int8_t)(b >> (8 * i)) : (uint8_t)(b >> (8 * i));
            acc += x * y;
        }
    } else {
        unsigned base = (pi->flags & PTX_F_HI) ? 2 : 0;
        for (int i = 0; i < 2; i++) {
            int64_t x = as ? (int16_t)(a >> (16 * i)) : (uint16_t)(a >> (16 * i));
            int64_t y = bs ? (int8_t)(b >> (8 * (base + i))) : (uint8_t)(b >> (8 * (base + i)));
            acc += x * y;
        }
    }
    int both_unsigned = !as && !bs;
    int64_t cv = both_unsigned ? (int64_t)(uint32_t)c : (int64_t)(int32_t)c;
    return (uint32_t)(acc + cv);
}

int xalu_supported(const struct ptx_insn *pi)
{
    unsigned t = pi->type;
    int fl = is_float(t);
    switch (pi->op) {
    case PTX_OP_ADD:
    case PTX_OP_ADDC:
    case PTX_OP_SUBC:
    case PTX_OP_MADC:
    case PTX_OP_SUB:
    case PTX_OP_MUL:
    case PTX_OP_MAD:
    case PTX_OP_FMA:
    case PTX_OP_DIV:
    case PTX_OP_MIN:
    case PTX_OP_MAX:
    case PTX_OP_ABS:
    case PTX_OP_NEG:
    case PTX_OP_REM:
    case PTX_OP_MUL24:
    case PTX_OP_MAD24:
    case PTX_OP_SAD:
    case PTX_OP_SQRT:
    case PTX_OP_RSQRT:
    case PTX_OP_RCP:
    case PTX_OP_SIN:
    case PTX_OP_COS:
    case PTX_OP_LG2:
    case PTX_OP_EX2:
    case PTX_OP_TANH:
    case PTX_OP_COPYSIGN:
    case PTX_OP_TESTP:
    case PTX_OP_AND:
    case PTX_OP_OR:
    case PTX_OP_XOR:
    case PTX_OP_NOT:
    case PTX_OP_CNOT:
    case PTX_OP_LOP3:
    case PTX_OP_SHL:
    case PTX_OP_SHR:
    case PTX_OP_SHF:
    case PTX_OP_POPC:
    case PTX_OP_CLZ:
    case PTX_OP_BREV:
    case PTX_OP_BFIND:
    case PTX_OP_BFE:
    case PTX_OP_BFI:
    case PTX_OP_PRMT:
    case PTX_OP_DP4A:
    case PTX_OP_DP2A:
        break;
    default:
        return 0;
    }
    if ((pi->flags & PTX_F_CC) || pi->op == PTX_OP_ADDC || pi->op == PTX_OP_SUBC ||
        pi->op == PTX_OP_MADC)
        return 1;
    if ((pi->op == PTX_OP_MUL24 || pi->op == PTX_OP_MAD24) && tsize(t) != 4)
        return 0;
    if (pi->op == PTX_OP_MAD && fl && t != PTX_T_F32 && t != PTX_T_F64)
        return 0;
    if (t == PTX_T_PRED)
        return 0;
    return 1;
}

/* Integer .sat for add/sub s32. */
static uint64_t addsub_int(const struct ptx_insn *pi, uint64_t a, uint64_t b, int sub)
{
    unsigned n = tsize(pi->type);
    if ((pi->flags & PTX_F_SAT) && pi->type == PTX_T_S32) {
        int64_t x = sx(a, 4), y = sx(b, 4);
        return sat_s32(sub ? x - y : x + y);
    }
    return zx(sub ? a - b : a + b, n);
}

uint64_t xalu_eval(const struct ptx_insn *pi, uint64_t a, uint64_t b, uint64_t c, uint64_t e,
                   unsigned *carry)
{
    unsigned t = pi->type, n = tsize(t);
    if (is_float(t)) {
        switch (pi->op) {
        case PTX_OP_ADD:
        case PTX_OP_SUB:
        case PTX_OP_MUL:
        case PTX_OP_DIV:
        case PTX_OP_MIN:
        case PTX_OP_MAX:
            return ptx_fp_arith(pi->op, t, pi->rnd, pi->flags, a, b, 0);
        case PTX_OP_FMA:
        case PTX_OP_MAD:
            return ptx_fp_arith(PTX_OP_FMA, t, pi->rnd, pi->flags, a, b, c);
        case PTX_OP_COPYSIGN:
            return ptx_fp_copysign(t, a, b);
        case PTX_OP_TESTP:
            return (uint64_t)ptx_fp_testp(pi->mode, t, a);
        default:
            return ptx_fp_unary(pi->op, t, pi->rnd, pi->flags, a);
        }
    }
    int s = is_signed(t);
    switch (pi->op) {
    case PTX_OP_ADD:
    case PTX_OP_ADDC: {
        if ((pi->flags & PTX_F_CC) || pi->op == PTX_OP_ADDC) {
            uint64_t cin = pi->op == PTX_OP_ADDC ? (*carry & 1) : 0;
            uint64_t x = zx(a, n), y = zx(b, n);
            unsigned __int128 r = (unsigned __int128)x + y + cin;
            if (pi->flags & PTX_F_CC)
                *carry = (unsigned)((r >> (n * 8)) & 1);
            return zx((uint64_t)r, n);
        }
        return addsub_int(pi, a, b, 0);
    }
    case PTX_OP_SUB:
    case PTX_OP_SUBC: {
        if ((pi->flags & PTX_F_CC) || pi->op == PTX_OP_SUBC) {
            uint64_t bin = pi->op == PTX_OP_SUBC ? (*carry & 1) : 0;
            uint64_t x = zx(a, n), y = zx(b, n);
            unsigned __int128 sub = (unsigned __int128)y + bin;
            if (pi->flags & PTX_F_CC)
                *carry = (unsigned __int128)x < sub;
            return zx((uint64_t)(x - (uint64_t)sub), n);
        }
        return addsub_int(pi, a, b, 1);
    }
    case PTX_OP_MUL:
        return mul_mode(pi, a, b, n);
    case PTX_OP_MAD:
    case PTX_OP_MADC: {
        uint64_t p = mul_mode(pi, a, b, n);
        unsigned pn = (pi->flags & PTX_F_WIDE) ? 2 * n : n;
        if ((pi->flags & PTX_F_CC) || pi->op == PTX_OP_MADC) {
            uint64_t cin = pi->op == PTX_OP_MADC ? (*carry & 1) : 0;
            unsigned __int128 r = (unsigned __int128)zx(p, pn) + zx(c, pn) + cin;
            if (pi->flags & PTX_F_CC)
                *carry = (unsigned)((r >> (pn * 8)) & 1);
            return zx((uint64_t)r, pn);
        }
        if ((pi->flags & PTX_F_SAT) && t == PTX_T_S32 && (pi->flags & PTX_F_HI))
            return sat_s32(sx(p, 4) + sx(c, 4));
        return zx(p + c, pn);
    }
    case PTX_OP_MUL24:
    case PTX_OP_MAD24: {
        int64_t x = s ? sx(a, 3) : (int64_t)zx(a, 3), y = s ? sx(b, 3) : (int64_t)zx(b, 3);
        int64_t p = x * y;
        uint64_t r = (pi->flags & PTX_F_HI) ? (uint64_t)(p >> 16) : (uint64_t)p;
        if (pi->op == PTX_OP_MAD24) {
            if ((pi->flags & PTX_F_SAT) && s)
                return sat_s32(sx(r, 4) + sx(c, 4));
            r += c;
        }
        return zx(r, 4);
    }
    case PTX_OP_SAD: {
        uint64_t d;
        if (s) {
            int64_t x = sx(a, n), y = sx(b, n);
            d = (uint64_t)(x > y ? x - y : y - x);
        } else {
            uint64_t x = zx(a, n), y = zx(b, n);
            d = x > y ? x - y : y - x;
        }
        return zx(c + d, n);
    }
    case PTX_OP_DIV:
        return divide(t, a, b, 0);
    case PTX_OP_REM:
        return divide(t, a, b, 1);
    case PTX_OP_MIN:
        return minmax(pi, a, b, 0);
    case PTX_OP_MAX:
        return minmax(pi, a, b, 1);
    case PTX_OP_ABS: {
        int64_t x = sx(a, n);
        return zx((uint64_t)(x < 0 ? -(uint64_t)x : (uint64_t)x), n);
    }
    case PTX_OP_NEG:
        return zx((uint64_t)0 - a, n);
    case PTX_OP_AND:
        return zx(a & b, n);
    case PTX_OP_OR:
        return zx(a | b, n);
    case PTX_OP_XOR:
        return zx(a ^ b, n);
    case PTX_OP_NOT:
        return zx(~a, n);
    case PTX_OP_CNOT:
        return zx(a, n) == 0;
    case PTX_OP_LOP3:
        return zx(lop3(a, b, c, (unsigned)e), n);
    case PTX_OP_SHL:
        return shl_clamp(zx(a, n), (uint32_t)b, n * 8);
    case PTX_OP_SHR: {
        uint32_t k = (uint32_t)b;
        if (s) {
            int64_t x = sx(a, n);
            return zx((uint64_t)(x >> (k >= n * 8 ? n * 8 - 1 : k)), n);
        }
        return k >= n * 8 ? 0 : zx(a, n) >> k;
    }
    case PTX_OP_SHF:
        return shf(pi, a, b, c);
    case PTX_OP_POPC:
        return popc64(zx(a, n));
    case PTX_OP_CLZ: {
        uint64_t v = zx(a, n);
        return v ? (unsigned)__builtin_clzll(v) - (64 - n * 8) : n * 8;
    }
    case PTX_OP_BREV:
        return brev(zx(a, n), n * 8);
    case PTX_OP_BFIND:
        return bfind(pi, a);
    case PTX_OP_BFE:
        return bfe(pi, a, b, c);
    case PTX_OP_BFI:
        return bfi(pi, a, b, c, e);
    case PTX_OP_PRMT:
        return prmt(pi->mode, a, b, c);
    case PTX_OP_DP4A:
    case PTX_OP_DP2A:
        return dp(pi, a, b, c);
    default:
        return 0;
    }
}

static int cmp_int(unsigned cmp, int s, uint64_t x, uint64_t y, unsigned n)
{
    if (s) {
        int64_t a = sx(x, n), b = sx(y, n);
        switch (cmp) {
        case PTX_CMP_EQ: return a == b;
        case PTX_CMP_NE: return a != b;
        case PTX_CMP_LT: case PTX_CMP_LO: return a < b;
        case PTX_CMP_LE: case PTX_CMP_LS: return a <= b;
        case PTX_CMP_GT: case PTX_CMP_HI: return a > b;
        case PTX_CMP_GE: case PTX_CMP_HS: return a >= b;
        default: return 0;
        }
    }
    uint64_t a = zx(x, n), b = zx(y, n);
    switch (cmp) {
    case PTX_CMP_EQ: return a == b;
    case PTX_CMP_NE: return a != b;
    case PTX_CMP_LT: case PTX_CMP_LO: return a < b;
    case PTX_CMP_LE: case PTX_CMP_LS: return a <= b;
    case PTX_CMP_GT: case PTX_CMP_HI: return a > b;
    case PTX_CMP_GE: case PTX_CMP_HS: return a >= b;
    default: return 0;
    }
}

/* The comparison of setp/set of source type stype (pi->type for setp, pi->type2 for set): for
 * x2 types bits 0 and 1 hold the two halves' results. */
uint64_t xalu_setp(const struct ptx_insn *pi, uint64_t a, uint64_t b)
{
    unsigned t = pi->op == PTX_OP_SET ? pi->type2 : pi->type;
    if (is_float(t))
        return ptx_fp_compare(pi->cmp, t, pi->flags, a, b);
    return (uint64_t)cmp_int(pi->cmp, is_signed(t), a, b, tsize(t));
}

/* cvt for the integer<->integer cases and everything fp.c handles; dst_bytes is the width of the
 * destination register (a signed result narrower than it is sign-extended). */
uint64_t xalu_cvt(const struct ptx_insn *pi, uint64_t a, unsigned dst_bytes)
{
    unsigned dt = pi->type, st = pi->type2;
    uint64_t r = ptx_fp_cvt(dt, st, pi->rnd, pi->flags, a);
    unsigned dn = tsize(dt);
    if (is_signed(dt) && dst_bytes > dn)
        return zx((uint64_t)sx(r, dn), dst_bytes);
    return zx(r, dn < dst_bytes ? dn : dst_bytes);
}
