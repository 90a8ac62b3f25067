/*
 * intops: every result follows the PTX ISA definitions (popc, clz, brev, bfind, prmt, mul.hi,
 * shf, bfe, bfi, sad), implemented here bit by bit. Inputs mix random words with edge cases
 * (0, all ones, single bits, shift and field positions past 31).
 */
#include "kernel_test.h"

#define NOPS 20

static uint32_t popc32(uint32_t x)
{
    uint32_t n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static uint32_t clz32(uint32_t x)
{
    uint32_t n = 0;
    for (int b = 31; b >= 0 && !(x >> b & 1); b--)
        n++;
    return n;
}

static uint64_t brev64(uint64_t x)
{
    uint64_t r = 0;
    for (int b = 0; b < 64; b++)
        r |= (x >> b & 1) << (63 - b);
    return r;
}

/* prmt.b32 default mode: selector nibble n picks byte (nib & 7) of {b, a}; nib & 8 replicates
 * that byte's sign bit. */
static uint32_t prmt(uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t bytes = ((uint64_t)b << 32) | a;
    uint32_t r = 0;
    for (int n = 0; n < 4; n++) {
        uint32_t nib = c >> (4 * n) & 0xf;
        uint32_t byte = (uint32_t)(bytes >> (8 * (nib & 7))) & 0xff;
        if (nib & 8)
            byte = (byte & 0x80) ? 0xff : 0;
        r |= byte << (8 * n);
    }
    return r;
}

/* bfe.{u32,s32}: pos and len are the low 8 bits; bits beyond the field (or past bit 31) are 0
 * (u32) or the sign bit a[min(pos+len-1, 31)] (s32, 0 when len is 0). */
static uint32_t bfe32(uint32_t a, uint32_t pos, uint32_t len, int is_signed)
{
    pos &= 0xff, len &= 0xff;
    uint32_t sbit = 0;
    if (is_signed && len != 0) {
        uint32_t top = pos + len - 1 > 31 ? 31 : pos + len - 1;
        sbit = a >> top & 1;
    }
    uint32_t d = 0;
    for (uint32_t i = 0; i < 32; i++) {
        uint32_t bit = (i < len && pos + i <= 31) ? (a >> (pos + i) & 1) : sbit;
        d |= bit << i;
    }
    return d;
}

/* bfi.b32 d, f, b, pos, len: d = b with bits [pos, pos+len) (clipped at 31) taken from f. */
static uint32_t bfi32(uint32_t f, uint32_t b, uint32_t pos, uint32_t len)
{
    pos &= 0xff, len &= 0xff;
    uint32_t d = b;
    for (uint32_t i = 0; i < len && pos + i <= 31; i++)
        d = (d & ~(1u << (pos + i))) | ((f >> i & 1) << (pos + i));
    return d;
}

/* shf.{l,r}.{wrap,clamp}: n = c & 31 (wrap) or min(c, 32) (clamp) over the 64-bit {hi:lo}. */
static uint32_t shf(uint32_t lo, uint32_t hi, uint32_t c, int left, int clamp)
{
    uint32_t n = clamp ? (c > 32 ? 32 : c) : (c & 31);
    uint64_t v = ((uint64_t)hi << 32) | lo;
    if (left)
        return n == 0 ? hi : (uint32_t)((v << n) >> 32);
    return n == 32 ? hi : (uint32_t)(v >> n);
}

static void reference(uint32_t x, uint32_t y, uint32_t z, uint32_t *o)
{
    uint64_t xy = ((uint64_t)x << 32) | y;
    o[0] = popc32(x);
    o[1] = clz32(x);
    o[2] = (uint32_t)(brev64(x) >> 32);
    o[3] = 0;
    for (int b = 0; b < 32; b++)
        if (x >> b & 1) {
            o[3] = (uint32_t)b + 1;
            break;
        }
    /* __byte_perm uses only the low 3 bits of each selector nibble: nvcc masks the selector with
     * 0x7777 before prmt, so the sign-replicating form never occurs here (traps/bitops.ptx
     * covers it). */
    o[4] = prmt(x, y, z & 0x7777);
    o[5] = (uint32_t)(((int64_t)(int32_t)x * (int64_t)(int32_t)y) >> 32);
    o[6] = (uint32_t)(((uint64_t)x * y) >> 32);
    unsigned __int128 p = (unsigned __int128)xy * ((((uint64_t)z) << 32) | x);
    o[7] = (uint32_t)((uint64_t)(p >> 64) >> 7);
    o[8] = shf(x, y, z, 1, 0);
    o[9] = shf(x, y, z, 0, 0);
    o[10] = shf(x, y, z, 1, 1);
    o[11] = shf(x, y, z, 0, 1);
    o[12] = popc32(x) + popc32(y);
    o[13] = x ? clz32(x) : 32 + clz32(y);
    o[14] = bfe32(x, y & 63, z & 63, 0);
    o[15] = bfe32(x, y & 31, z & 31, 1);
    o[16] = bfi32(x, y, z & 63, (z >> 8) & 63);
    int64_t diff = (int64_t)(int32_t)x - (int64_t)(int32_t)y;
    o[17] = (uint32_t)(diff < 0 ? -diff : diff) + z;
    o[18] = (uint32_t)(((int64_t)(int32_t)x * (int64_t)(int32_t)z) >> 32) ^ (x * y);
    o[19] = (uint32_t)brev64(xy);
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 1024 };
    static const uint32_t edge[] = {0, 1, 0x80000000u, 0xffffffffu, 0x7fffffffu, 31, 32, 33, 63,
                                    64, 0x8080u, 0x0f0fu, 0xfedcba98u, 0x3210u, 0x7654u};
    enum { NE = sizeof edge / sizeof edge[0] };
    static uint32_t a[N], b[N], c[N], got[NOPS * N], want[NOPS * N];
    for (int i = 0; i < N; i++) {
        a[i] = i < NE * NE ? edge[i % NE] : kt_rand_u32();
        b[i] = i < NE * NE ? edge[i / NE] : kt_rand_u32();
        c[i] = i < NE * NE ? edge[(i * 7) % NE] : (i & 1 ? kt_rand_u32() : kt_rand_u32() % 70);
        reference(a[i], b[i], c[i], want + NOPS * i);
    }
    CUdeviceptr da = kt_upload(a, sizeof a), db = kt_upload(b, sizeof b), dc = kt_upload(c, sizeof c),
                dout = kt_alloc(sizeof got);
    int n = N;
    void *args[] = {&da, &db, &dc, &dout, &n};
    kt_launch(kt_func("intops"), N / 128, 128, 0, args);
    kt_download(got, dout, sizeof got);
    static const char *names[NOPS] = {"popc", "clz", "brev", "ffs", "byte_perm", "mulhi",
                                      "umulhi", "umul64hi", "funnelshift_l", "funnelshift_r",
                                      "funnelshift_lc", "funnelshift_rc", "popcll", "clzll",
                                      "bfe.u32", "bfe.s32", "bfi.b32", "sad", "mul.wide>>32",
                                      "brevll"};
    for (int op = 0; op < NOPS; op++) {
        uint32_t g[N], w[N];
        for (int i = 0; i < N; i++)
            g[i] = got[NOPS * i + op], w[i] = want[NOPS * i + op];
        kt_check_u32(names[op], g, w, N);
    }
    return kt_done("kernel-intops");
}
