/*
 * The PTX trap tests: tiny hand-written kernels (traps/<name>.ptx), one per semantic trap of
 * ../shared/design/SIM-FACTS.md, each writing per-lane results. Usage: test_traps TRAP.ptx NAME.
 * The expected lane values are computed here from the PTX ISA's definitions (each rule is quoted
 * beside its reference); the comment at the top of each .ptx lists its output columns.
 */
#include "kernel_test.h"

#define FILL 0xdeadbeefu

/* Launches trap_<name>(out, extra...) on grid x block threads with `cols` columns of `lanes` words,
 * the output prefilled with FILL, and downloads it into got (caller frees). */
static uint32_t *run_trap(const char *name, unsigned grid, unsigned block, unsigned shmem,
                          size_t words, CUdeviceptr *extra, int nextra)
{
    char fname[64];
    snprintf(fname, sizeof fname, "trap_%s", name);
    uint32_t *got = malloc(words * 4);
    REQUIRE(got != NULL, "out of memory");
    for (size_t i = 0; i < words; i++)
        got[i] = FILL;
    CUdeviceptr out = kt_upload(got, words * 4);
    void *args[8] = {&out};
    for (int i = 0; i < nextra; i++)
        args[1 + i] = &extra[i];
    kt_launch(kt_func(fname), grid, block, shmem, args);
    kt_download(got, out, words * 4);
    return got;
}

/* Compares column `col` (of `lanes` words) with want, naming the column. */
static void check_col(const char *trap, const char *colname, const uint32_t *got, int col,
                      int lanes, const uint32_t *want)
{
    char what[96];
    snprintf(what, sizeof what, "%s: %s", trap, colname);
    kt_check_u32(what, got + (size_t)col * lanes, want, (size_t)lanes);
}

/* shfl.sync as the PTX ISA defines it:
 *   maxLane = (lane & segmask) | (c[4:0] & ~segmask); minLane = lane & segmask
 *   up: j = lane - b, pval = j >= maxLane;  down: j = lane + b, pval = j <= maxLane
 *   bfly: j = lane ^ b, pval = j <= maxLane;  idx: j = minLane | (b[4:0] & ~segmask), pval = j <= maxLane
 *   if (!pval) j = lane; d = a[j]; p = pval. */
enum shfl_mode { UP, DOWN, BFLY, IDX };

static uint32_t shfl_ref(enum shfl_mode m, int lane, uint32_t b, uint32_t c, const uint32_t *v)
{
    int seg = (int)(c >> 8 & 31), clamp = (int)(c & 31), bv = (int)(b & 31);
    int max_lane = (lane & seg) | (clamp & ~seg), min_lane = lane & seg, j = lane, pval;
    switch (m) {
    case UP: j = lane - bv; pval = j >= max_lane; break;
    case DOWN: j = lane + bv; pval = j <= max_lane; break;
    case BFLY: j = lane ^ bv; pval = j <= max_lane; break;
    default: j = min_lane | (bv & ~seg); pval = j <= max_lane; break;
    }
    if (!pval)
        j = lane;
    return v[j] + (pval ? 0x10000u : 0);
}

static void trap_shfl(void)
{
    uint32_t *got = run_trap("shfl", 1, 32, 0, 12 * 32, NULL, 0);
    uint32_t v[32], w[32];
    for (int l = 0; l < 32; l++)
        v[l] = (uint32_t)l * 10 + 1;
    struct { enum shfl_mode m; int b_lane; uint32_t b, c; const char *name; } cols[] = {
        {DOWN, 0, 3, 0x1f, "down 3"},         {DOWN, 0, 1, 0x1f, "down 1 in place"},
        {UP, 0, 5, 0, "up 5"},                {BFLY, 0, 6, 0x1f, "bfly 6"},
        {IDX, 0, 37, 0x1f, "idx 37"},         {IDX, 0, 3, 0x181f, "idx 3 width 8"},
        {DOWN, 0, 2, 0x181f, "down 2 width 8"}, {UP, 0, 3, 0x1800, "up 3 width 8"},
        {IDX, 0, 20, 0x0f, "idx 20 clamp 15"}, {IDX, 1, 7, 0x1f, "idx lane+7"},
        {DOWN, 2, 0, 0x1f, "down by lane"},
    };
    for (int k = 0; k < 11; k++) {
        for (int l = 0; l < 32; l++) {
            uint32_t b = cols[k].b_lane == 1 ? (uint32_t)l + 7 : cols[k].b_lane == 2 ? (uint32_t)l : cols[k].b;
            w[l] = shfl_ref(cols[k].m, l, b, cols[k].c, v);
        }
        check_col("shfl", cols[k].name, got, k, 32, w);
    }
    /* Column 11: bfly 0x12 with segmask 0x10 and clamp 0x1f, no predicate. */
    for (int l = 0; l < 32; l++)
        w[l] = shfl_ref(BFLY, l, 0x12, 0x101f, v) & 0xffff;
    check_col("shfl", "bfly 0x12 segmask 0x10", got, 11, 32, w);
    free(got);
}

/* Only the 18 lanes left after the exits (lane % 4 != 3 and lane < 24) take part. */
static void trap_vote_exit(void)
{
    uint32_t *got = run_trap("vote_exit", 1, 32, 0, 9 * 32, NULL, 0);
    uint32_t active = 0, ballot = 0, sum = 0, maxl = 0;
    for (int l = 0; l < 24; l++)
        if (l % 4 != 3) {
            active |= 1u << l;
            ballot |= (uint32_t)(l & 1) << l;
            sum += (uint32_t)l;
            maxl = (uint32_t)l;
        }
    uint32_t w[9][32];
    for (int l = 0; l < 32; l++) {
        int on = active >> l & 1;
        uint32_t match = 0;
        for (int k = 0; k < 32; k++)
            if ((active >> k & 1) && (k & 6) == (l & 6))
                match |= 1u << k;
        uint32_t vals[9] = {active, ballot, 0 /* all(l < 20): lanes 20..22 are active */, 1, 0,
                            sum, match, maxl, 1};
        for (int c = 0; c < 9; c++)
            w[c][l] = on ? vals[c] : FILL;
    }
    static const char *names[9] = {"activemask", "ballot", "all", "any(22)", "any(exited 23)",
                                   "redux.add", "match.any", "redux.max", "uni"};
    for (int c = 0; c < 9; c++)
        check_col("vote_exit", names[c], got, c, 32, w[c]);
    free(got);
}

static void trap_bar_red(void)
{
    uint32_t *got = run_trap("bar_red", 1, 96, 0, 7 * 96, NULL, 0);
    uint32_t w[7][96];
    for (int t = 0; t < 96; t++) {
        w[0][t] = 32;  /* popc of t % 3 == 0 over 0..95 */
        w[1][t] = 0;   /* and of t < 95: thread 95 says false */
        w[2][t] = 1;   /* or of t == 77 */
        w[3][t] = 1;   /* and of true */
        w[4][t] = 48;  /* popc of odd t over an explicit count of 96 */
        w[5][t] = t < 32 ? 1 : t < 64 ? 1234 : 2;
        w[6][t] = t < 80 ? 1 : FILL;
    }
    static const char *names[7] = {"bar.red.popc", "bar.red.and", "bar.red.or", "bar.red.and(all)",
                                   "bar.red.popc count 96", "bar.arrive/bar.sync 3, 64",
                                   "bar.sync 0 after exits"};
    for (int c = 0; c < 7; c++)
        check_col("bar_red", names[c], got, c, 96, w[c]);
    free(got);
}

/* cvt float -> integer: round by the mode, clamp to the destination range, NaN -> 0. */
static int64_t sat_int(double v, double (*rnd)(double), double lo, double hi)
{
    if (isnan(v))
        return 0;
    double r = rnd(v);
    return r < lo ? (int64_t)lo : r > hi ? (int64_t)hi : (int64_t)r;
}

static void trap_cvt_sat(void)
{
    static const float fin[32] = {
        NAN, -NAN, INFINITY, -INFINITY, 3e9f, -3e9f, 2147483520.0f, 2147483648.0f,
        -2147483648.0f, -2147483904.0f, 1.5f, 2.5f, -1.5f, -2.5f, 0.5f, -0.5f,
        32767.5f, 32768.0f, -32768.5f, -40000.0f, 65504.0f, 65520.0f, -1.0f, -3.0f,
        0.3f, 1.7f, 4294967040.0f, 4294967296.0f, 1e-40f, 2e19f, 1e20f, 100.5f};
    static const double din[32] = {
        NAN, 1e19, -1e19, 9.3e18, -9.3e18, 2.5, -2.5, 1e300, -INFINITY, INFINITY, 0x1p63, -0x1p63,
        -0x1p63 - 2048, 0x1p63 - 1024, 12345.9, -12345.9, 0.0, -0.0, 1e-300, 4e9, -4e9, 1.0,
        -1.0, 0.99, -0.99, 3.5e18, -3.5e18, 7.0, 8.0, 9.0, NAN, 1e18};
    CUdeviceptr extra[2] = {kt_upload(fin, sizeof fin), kt_upload(din, sizeof din)};
    uint32_t *got = run_trap("cvt_sat", 1, 32, 0, 11 * 32, extra, 2);
    uint32_t w[11][32];
    for (int l = 0; l < 32; l++) {
        float f = fin[l];
        w[0][l] = (uint32_t)sat_int(f, trunc, -2147483648.0, 2147483647.0);
        w[1][l] = (uint32_t)sat_int(f, nearbyint, 0, 4294967295.0);
        w[2][l] = (uint32_t)sat_int(f, nearbyint, -32768.0, 32767.0);
        float s = isnan(f) ? 0.0f : f < 0 ? 0.0f : f > 1 ? 1.0f : f;
        w[3][l] = kt_f32_bits(s);
        /* .relu: negative -> 0, NaN -> canonical NaN 0x7fff. */
        w[4][l] = isnan(f) ? 0x7fffu : f < 0 ? 0u : kt_to_f16(f, KT_RN);
        int64_t q = 0;
        double d = din[l];
        if (!isnan(d)) {
            double r = trunc(d);
            q = r < -0x1p63 ? INT64_MIN : r >= 0x1p63 ? INT64_MAX : (int64_t)r;
        }
        w[5][l] = (uint32_t)(uint64_t)q;
        w[6][l] = (uint32_t)((uint64_t)q >> 32);
        w[7][l] = kt_f32_bits(isnan(f) ? f : floorf(f));
        w[8][l] = (uint32_t)sat_int(f, ceil, -2147483648.0, 2147483647.0);
        uint64_t u = 0;
        if (!isnan(f) && f > 0)
            u = (double)f >= 0x1p64 ? UINT64_MAX : (uint64_t)truncf(f);
        w[9][l] = (uint32_t)u;
        w[10][l] = kt_to_f16(f, KT_RN);
    }
    static const char *names[11] = {"cvt.rzi.s32.f32", "cvt.rni.u32.f32", "cvt.rni.s16.f32",
                                    "cvt.sat.f32.f32", "cvt.rn.relu.f16.f32", "cvt.rzi.s64.f64 lo",
                                    "cvt.rzi.s64.f64 hi", "cvt.rmi.f32.f32", "cvt.rpi.s32.f32",
                                    "cvt.rzi.u64.f32 lo", "cvt.rn.f16.f32"};
    for (int c = 0; c < 11; c++) {
        /* Results that are NaN may carry any NaN payload, except where .relu defines it. */
        for (int l = 0; l < 32; l++) {
            uint32_t g = got[c * 32 + l];
            if (c == 7 && isnan(kt_bits_f32(g)) && isnan(kt_bits_f32(w[c][l])))
                got[c * 32 + l] = w[c][l];
            if (c == 10 && (g & 0x7c00) == 0x7c00 && (g & 0x3ff) && (w[c][l] & 0x3ff) &&
                (w[c][l] & 0x7c00) == 0x7c00)
                got[c * 32 + l] = w[c][l];
        }
        check_col("cvt_sat", names[c], got, c, 32, w[c]);
    }
    free(got);
}

/* shl/shr: "Shift amounts greater than the register width N are clamped to N." */
static void trap_shift(void)
{
    uint32_t *got = run_trap("shift", 1, 32, 0, 11 * 32, NULL, 0);
    uint32_t w[11][32];
    const uint32_t x = 0x80000001u;
    const uint64_t y = 0x8000000000000001ull;
    for (int l = 0; l < 32; l++) {
        unsigned n = (unsigned)l * 3;
        w[0][l] = n >= 32 ? 0 : x << n;
        w[1][l] = n >= 32 ? 0 : x >> n;
        w[2][l] = (uint32_t)(n >= 32 ? -1 : (int32_t)x >> n);
        uint64_t s = n >= 64 ? 0 : y << n;
        w[3][l] = (uint32_t)s, w[4][l] = (uint32_t)(s >> 32);
        int64_t sa = n >= 64 ? -1 : (int64_t)y >> n;
        w[5][l] = (uint32_t)(uint64_t)sa, w[6][l] = (uint32_t)((uint64_t)sa >> 32);
        uint64_t su = n >= 64 ? 0 : y >> n;
        w[7][l] = (uint32_t)su, w[8][l] = (uint32_t)(su >> 32);
        w[9][l] = n >= 16 ? 0 : (uint16_t)(0x8001u << n);
        w[10][l] = (uint32_t)(int32_t)(n >= 16 ? -1 : (int16_t)0x8001 >> n);
    }
    static const char *names[11] = {"shl.b32", "shr.u32", "shr.s32", "shl.b64 lo", "shl.b64 hi",
                                    "shr.s64 lo", "shr.s64 hi", "shr.u64 lo", "shr.u64 hi",
                                    "shl.b16", "shr.s16"};
    for (int c = 0; c < 11; c++)
        check_col("shift", names[c], got, c, 32, w[c]);
    free(got);
}

static void trap_subword(void)
{
    uint8_t in[64];
    for (int i = 0; i < 64; i++)
        in[i] = (uint8_t)(i * 37 + 0x55);
    in[0] = 0x80, in[1] = 0x7f, in[2] = 0xff, in[3] = 0x00;
    uint8_t bytes[40];
    uint16_t halves[40];
    memset(bytes, 0xaa, sizeof bytes);
    memset(halves, 0xaa, sizeof halves);
    CUdeviceptr extra[3] = {kt_upload(in, sizeof in), kt_upload(bytes, sizeof bytes),
                            kt_upload(halves, sizeof halves)};
    uint32_t *got = run_trap("subword", 1, 32, 0, 8 * 32, extra, 3);
    uint32_t w[8][32];
    for (int l = 0; l < 32; l++) {
        int16_t h = (int16_t)(in[2 * l] | in[2 * l + 1] << 8);
        w[0][l] = (uint32_t)(int32_t)(int8_t)in[l];
        w[1][l] = in[l];
        w[2][l] = (uint32_t)(int32_t)h;
        w[3][l] = (uint16_t)h;
        w[4][l] = w[0][l];
        w[5][l] = w[0][l];
        w[6][l] = (int8_t)in[l] < 0 ? 0xffffffffu : 0;
        w[7][l] = (uint16_t)(int16_t)(int8_t)in[l];
    }
    static const char *names[8] = {"ld.s8", "ld.u8", "ld.s16", "ld.u16", "ld.global.nc.s8",
                                   "ld.s8 -> b64 lo", "ld.s8 -> b64 hi", "ld.s8 -> b16"};
    for (int c = 0; c < 8; c++)
        check_col("subword", names[c], got, c, 32, w[c]);
    uint8_t bgot[40];
    uint16_t hgot[40];
    kt_download(bgot, extra[1], sizeof bgot);
    kt_download(hgot, extra[2], sizeof hgot);
    uint32_t gb[40], wb[40], gh[40], wh[40];
    for (int i = 0; i < 40; i++) {
        gb[i] = bgot[i], gh[i] = hgot[i];
        wb[i] = i < 32 ? (uint8_t)(0x12345680u + 7u * (uint32_t)i) : 0xaa;
        wh[i] = i < 32 ? (uint16_t)(0x1111u * (uint32_t)i) : 0xaaaa;
    }
    kt_check_u32("subword: st.b8 (bytes beyond lane 31 untouched)", gb, wb, 40);
    kt_check_u32("subword: st.b16 (halves beyond lane 31 untouched)", gh, wh, 40);
    free(got);
}

/* .ftz flushes subnormal inputs and results to sign-preserving zero; without it they are kept. */
static void trap_ftz(void)
{
    uint32_t *got = run_trap("ftz", 1, 32, 0, 17 * 32, NULL, 0);
    static const uint32_t want[17] = {
        0x00400001u, 0, 0x00800000u, 0, 0x00400000u, 0, 0x00400001u, 0, 1, 0, 0x80000000u,
        0x80400000u, 0x38000000u /* 2^-127 as a double: exponent 896 */, 0, 0x00000001u, 0,
        0x80000000u};
    static const char *names[17] = {"add", "add.ftz", "mul", "mul.ftz (input)", "mul",
                                    "mul.ftz (result)", "fma", "fma.ftz", "setp.gt", "setp.gt.ftz",
                                    "neg.ftz", "neg", "cvt.f64.f32", "cvt.ftz.f64.f32", "min",
                                    "min.ftz", "sub.ftz of -subnormal"};
    for (int c = 0; c < 17; c++) {
        uint32_t w[32];
        for (int l = 0; l < 32; l++)
            w[l] = want[c];
        check_col("ftz", names[c], got, c, 32, w);
    }
    free(got);
}

static uint32_t fact(uint32_t n)
{
    return n <= 1 ? 1 : n * fact(n - 1);
}

static void trap_func_param(void)
{
    const char *name = "trap_func_param";
    uint32_t *got = malloc(4 * 32 * 4);
    REQUIRE(got != NULL, "out of memory");
    for (int i = 0; i < 4 * 32; i++)
        got[i] = FILL;
    CUdeviceptr out = kt_upload(got, 4 * 32 * 4);
    struct { uint32_t w[4]; } kp = {{11, 22, 33, 44}};
    void *args[] = {&out, &kp};
    kt_launch(kt_func(name), 1, 32, 0, args);
    kt_download(got, out, 4 * 32 * 4);
    uint32_t w[4][32];
    for (uint32_t l = 0; l < 32; l++) {
        uint32_t arr[4] = {l, l + 100, l + 200, l + 300};
        uint64_t r = ((uint64_t)l << 33) + 1000ull * l + 10ull * arr[l & 3] + 7;
        w[0][l] = (uint32_t)r, w[1][l] = (uint32_t)(r >> 32);
        w[2][l] = fact(l % 13);
        w[3][l] = kp.w[l & 3];
    }
    static const char *names[4] = {"combine lo", "combine hi", "recursive fact",
                                   "kernel param by address"};
    for (int c = 0; c < 4; c++)
        check_col("func_param", names[c], got, c, 32, w[c]);
    free(got);
}

static void trap_clock64(void)
{
    uint32_t *got = run_trap("clock64", 1, 64, 0, 3 * 64, NULL, 0);
    uint32_t w[64];
    for (int t = 0; t < 64; t++)
        w[t] = 1;
    check_col("clock64", "%clock64 advanced by 1000 while spinning", got, 0, 64, w);
    check_col("clock64", "%globaltimer advanced while spinning", got, 1, 64, w);
    check_col("clock64", "%clock64 monotonic", got, 2, 64, w);
    free(got);
}

/* div/rem: truncating division; x / 0 is unspecified (any value is accepted, but the kernel must
 * complete); INT_MIN / -1 wraps to INT_MIN with remainder 0 (also for 64 bits). */
static void trap_divrem(void)
{
    static const int32_t a[32] = {7, -7, 7, -7, INT32_MIN, INT32_MIN, 5, -5, 0, -1,
                                  INT32_MAX, INT32_MIN, 100, -100, 1, 123456789, 13, 13, -13, 0,
                                  INT32_MAX, 6, 6, -6, 99, 1000000, -1000000, 3, 4, 5, 6, 7};
    static const int32_t b[32] = {2, 2, -2, -2, -1, 1, 0, 0, 0, 0, -1, 2, 7, 7, INT32_MIN, -10,
                                  1, -1, 5, 5, INT32_MAX, 3, -3, 3, 0, 3, 3, 1, 2, 3, 4, 5};
    CUdeviceptr extra[2] = {kt_upload(a, sizeof a), kt_upload(b, sizeof b)};
    uint32_t *got = run_trap("divrem", 1, 32, 0, 8 * 32, extra, 2);
    uint32_t w[8][32];
    for (int l = 0; l < 32; l++) {
        int64_t A = (int64_t)((uint64_t)(int64_t)a[l] << 32), B = b[l];
        if (b[l] == 0) {
            for (int c = 0; c < 8; c++)
                w[c][l] = got[c * 32 + l]; /* unspecified: accept what ran */
            continue;
        }
        int32_t q = (a[l] == INT32_MIN && b[l] == -1) ? INT32_MIN : a[l] / b[l];
        int32_t r = (a[l] == INT32_MIN && b[l] == -1) ? 0 : a[l] % b[l];
        int64_t q64 = (A == INT64_MIN && B == -1) ? INT64_MIN : A / B;
        int64_t r64 = (A == INT64_MIN && B == -1) ? 0 : A % B;
        w[0][l] = (uint32_t)q, w[1][l] = (uint32_t)r;
        w[2][l] = (uint32_t)a[l] / (uint32_t)b[l];
        w[3][l] = (uint32_t)a[l] % (uint32_t)b[l];
        w[4][l] = (uint32_t)(uint64_t)q64, w[5][l] = (uint32_t)((uint64_t)q64 >> 32);
        w[6][l] = (uint32_t)(uint64_t)r64, w[7][l] = (uint32_t)((uint64_t)r64 >> 32);
    }
    static const char *names[8] = {"div.s32", "rem.s32", "div.u32", "rem.u32", "div.s64 lo",
                                   "div.s64 hi", "rem.s64 lo", "rem.s64 hi"};
    for (int c = 0; c < 8; c++)
        check_col("divrem", names[c], got, c, 32, w[c]);
    free(got);
}

/* bfe: pos = b & 0xff, len = c & 0xff; d[i] = i < len && pos + i <= msb ? a[pos + i] : sbit, with
 * sbit = 0 (unsigned) or a[min(pos + len - 1, msb)] (signed; 0 when len == 0). */
static uint64_t bfe_ref(uint64_t a, unsigned msb, unsigned pos, unsigned len, int is_signed)
{
    pos &= 0xff, len &= 0xff;
    uint64_t sbit = 0, d = 0;
    if (is_signed && len)
        sbit = a >> (pos + len - 1 > msb ? msb : pos + len - 1) & 1;
    for (unsigned i = 0; i <= msb; i++)
        d |= ((i < len && pos + i <= msb) ? (a >> (pos + i) & 1) : sbit) << i;
    return d;
}

/* bfi: d = b, then d[pos + i] = f[i] for i < len while pos + i <= 31. */
static uint32_t bfi_ref(uint32_t f, uint32_t b, unsigned pos, unsigned len)
{
    pos &= 0xff, len &= 0xff;
    for (unsigned i = 0; i < len && pos + i <= 31; i++)
        b = (b & ~(1u << (pos + i))) | ((f >> i & 1) << (pos + i));
    return b;
}

/* shf: the 64-bit {b:a} shifted; .clamp uses min(c, 32), .wrap c & 31; l returns the high word,
 * r the low word. */
static uint32_t shf_ref(uint32_t a, uint32_t b, uint32_t c, int left, int clamp)
{
    uint32_t n = clamp ? (c > 32 ? 32 : c) : (c & 31);
    uint64_t v = (uint64_t)b << 32 | a;
    return left ? (uint32_t)(n ? (v << n) >> 32 : b) : (uint32_t)(n == 32 ? b : v >> n);
}

/* prmt default mode: nibble n of c: byte (nib & 7) of {b, a}, sign-replicated if nib & 8. The
 * other modes use c[1:0] and the ISA's table of byte indices (d.b3 d.b2 d.b1 d.b0). */
static uint32_t prmt_ref(uint32_t a, uint32_t b, uint32_t c, int mode)
{
    static const uint8_t table[6][4][4] = {
        /* f4e */ {{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}},
        /* b4e */ {{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}},
        /* rc8 */ {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}},
        /* ecl */ {{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}},
        /* ecr */ {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}},
        /* rc16 */ {{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}},
    };
    uint64_t src = (uint64_t)b << 32 | a;
    uint32_t d = 0;
    for (int n = 0; n < 4; n++) {
        uint32_t byte;
        if (mode < 0) {
            uint32_t nib = c >> (4 * n) & 0xf;
            byte = (uint32_t)(src >> (8 * (nib & 7))) & 0xff;
            if (nib & 8)
                byte = (byte & 0x80) ? 0xff : 0;
        } else {
            byte = (uint32_t)(src >> (8 * table[mode][c & 3][n])) & 0xff;
        }
        d |= byte << (8 * n);
    }
    return d;
}

/* bfind: position of the most significant non-sign bit (0xffffffff if none); .shiftamt returns
 * 31 - position instead. */
static uint32_t bfind_ref(uint32_t a, int is_signed, int shiftamt)
{
    if (is_signed && (int32_t)a < 0)
        a = ~a;
    if (!a)
        return 0xffffffffu;
    uint32_t pos = 31;
    while (!(a >> pos & 1))
        pos--;
    return shiftamt ? 31 - pos : pos;
}

static void trap_bitops(void)
{
    uint32_t *got = run_trap("bitops", 1, 32, 0, 21 * 32, NULL, 0);
    uint32_t w[21][32];
    for (uint32_t l = 0; l < 32; l++) {
        uint32_t x = 0x9abcdef1u ^ (l * 0x01010101u), y = 0x87654321u + l, p = 3 * l, n = 2 * l + 1;
        w[0][l] = (uint32_t)bfe_ref(x, 31, p, n, 0);
        w[1][l] = (uint32_t)bfe_ref(x, 31, p, n, 1);
        w[2][l] = bfi_ref(y, x, p, n);
        w[3][l] = shf_ref(x, y, p, 1, 1);
        w[4][l] = shf_ref(x, y, p, 0, 0);
        w[5][l] = shf_ref(x, y, p, 1, 0);
        w[6][l] = shf_ref(x, y, p, 0, 1);
        w[7][l] = (uint32_t)(((int64_t)(int32_t)x * (int32_t)y) >> 32);
        w[8][l] = (uint32_t)(((uint64_t)x * y) >> 32);
        int64_t wide = (int64_t)(int32_t)x * (int32_t)y;
        w[9][l] = (uint32_t)(uint64_t)wide, w[10][l] = (uint32_t)((uint64_t)wide >> 32);
        w[11][l] = (uint32_t)bfe_ref((uint64_t)y << 32 | x, 63, p, n, 0);
        w[12][l] = prmt_ref(x, y, 0x4d3cu ^ (0x1111u * l), -1);
        for (int m = 0; m < 6; m++)
            w[13 + m][l] = prmt_ref(x, y, l, m);
        w[19][l] = bfind_ref(x >> l, 0, 0);
        w[20][l] = bfind_ref((uint32_t)((int32_t)x >> l), 1, 1);
    }
    static const char *names[21] = {"bfe.u32", "bfe.s32", "bfi.b32", "shf.l.clamp", "shf.r.wrap",
                                    "shf.l.wrap", "shf.r.clamp", "mul.hi.s32", "mul.hi.u32",
                                    "mul.wide.s32 lo", "mul.wide.s32 hi", "bfe.u64", "prmt",
                                    "prmt.f4e", "prmt.b4e", "prmt.rc8", "prmt.ecl", "prmt.ecr",
                                    "prmt.rc16", "bfind.u32", "bfind.shiftamt.s32"};
    for (int c = 0; c < 21; c++)
        check_col("bitops", names[c], got, c, 32, w[c]);
    free(got);
}

static float minmax_ref(float a, float b, int is_max, int nan_mode)
{
    const float canon = kt_bits_f32(0x7fffffffu);
    if (isnan(a) || isnan(b)) {
        if (nan_mode || (isnan(a) && isnan(b)))
            return canon;
        return isnan(a) ? b : a;
    }
    return is_max ? (a > b ? a : b) : (a < b ? a : b);
}

static void trap_minmax_nan(void)
{
    const float qn = kt_bits_f32(0x7fc00001u), nqn = kt_bits_f32(0xffc12345u);
    float fa[32] = {qn, 1.0f, qn, -1.0f, INFINITY, -INFINITY, nqn, 2.0f, 3.0f, qn, -5.0f, 1e-40f};
    float fb[32] = {1.0f, qn, nqn, 2.0f, qn, nqn, -INFINITY, 2.0f, -3.0f, 0.0f, qn, 2e-40f};
    for (int l = 12; l < 32; l++) {
        fa[l] = (float)(l * 3 % 7) - 3.0f;
        fb[l] = l % 5 == 0 ? nqn : (float)(l % 4) - 1.5f;
    }
    CUdeviceptr extra[2] = {kt_upload(fa, sizeof fa), kt_upload(fb, sizeof fb)};
    uint32_t *got = run_trap("minmax_nan", 1, 32, 0, 9 * 32, extra, 2);
    uint32_t w[9][32];
    for (int l = 0; l < 32; l++) {
        float a = fa[l], b = fb[l];
        w[0][l] = kt_f32_bits(minmax_ref(a, b, 0, 0));
        w[1][l] = kt_f32_bits(minmax_ref(a, b, 1, 0));
        w[2][l] = kt_f32_bits(minmax_ref(a, b, 0, 1));
        w[3][l] = kt_f32_bits(minmax_ref(a, b, 1, 1));
        float af = fabsf(a) < 0x1p-126f && !isnan(a) ? 0.0f * a : a;
        float bf = fabsf(b) < 0x1p-126f && !isnan(b) ? 0.0f * b : b;
        w[4][l] = kt_f32_bits(minmax_ref(af, bf, 0, 0));
        w[5][l] = a < b;
        w[6][l] = isnan(a) || isnan(b) || a < b;
        w[7][l] = isnan(a) || isnan(b);
        double m;
        if (isnan(a) && isnan(b))
            m = kt_bits_f32(0x7fffffffu); /* canonical f64 NaN: 0x7fffffff_ffffffff */
        else
            m = isnan(a) ? (double)b : isnan(b) ? (double)a : fmax(a, b);
        w[8][l] = isnan(m) ? 0x7fffffffu : (uint32_t)(kt_f64_bits(m) >> 32);
    }
    static const char *names[9] = {"min.f32", "max.f32", "min.NaN.f32", "max.NaN.f32",
                                   "min.ftz.f32", "setp.lt", "setp.ltu", "setp.nan",
                                   "max.f64 hi"};
    for (int c = 0; c < 9; c++)
        check_col("minmax_nan", names[c], got, c, 32, w[c]);
    free(got);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void trap_atom_wrap(void)
{
    static const uint32_t init[32] = {5, 10, 11, 0, 0xffffffffu, 0, 3, 7, 100, 1, 2, 3, 4, 5, 6, 7,
                                      5, 0, 11, 10, 0, 1, 0xffffffffu, 3, 7, 9, 2, 3, 4, 5, 6, 0};
    static const uint32_t lim[32] = {10, 10, 10, 0, 0xffffffffu, 0xffffffffu, 3, 8, 50, 1, 2, 3,
                                     4, 5, 6, 7, 10, 10, 10, 10, 0, 0, 5, 0xffffffffu, 7, 8, 2, 3,
                                     4, 5, 6, 0xffffffffu};
    uint32_t xw = FILL;
    CUdeviceptr extra[3] = {kt_upload(init, sizeof init), kt_upload(lim, sizeof lim),
                            kt_upload(&xw, sizeof xw)};
    uint32_t *got = run_trap("atom_wrap", 1, 32, 0, 6 * 32, extra, 3);
    uint32_t gfinal[32], wfinal[32], w[32];
    kt_download(gfinal, extra[0], sizeof gfinal);
    for (int l = 0; l < 32; l++) {
        uint32_t old = init[l], b = lim[l];
        w[l] = old;
        if (l < 16)
            wfinal[l] = old >= b ? 0 : old + 1;                 /* atom.inc */
        else
            wfinal[l] = (old == 0 || old > b) ? b : old - 1;    /* atom.dec */
    }
    check_col("atom_wrap", "global inc/dec old", got, 0, 32, w);
    kt_check_u32("atom_wrap: global inc/dec new", gfinal, wfinal, 32);

    uint32_t col[32];
    memcpy(col, got + 32, sizeof col);
    qsort(col, 32, sizeof col[0], cmp_u32);
    for (int l = 0; l < 32; l++)
        w[l] = (uint32_t)l / 4;
    kt_check_u32("atom_wrap: shared inc(7) old values (sorted)", col, w, 32);
    for (int l = 0; l < 32; l++)
        w[l] = 0;
    check_col("atom_wrap", "shared counter after 32 inc(7)", got, 2, 32, w);
    /* Only lane 0's compare (100) matches; the others see 100 or 500 depending on order. */
    size_t bad = 0;
    for (int l = 0; l < 32; l++) {
        uint32_t g = got[3 * 32 + l];
        if ((l == 0 ? g != 100 : (g != 100 && g != 500)) && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  atom_wrap cas old[%d] = %u\n", l, g);
    }
    kt_check_summary("atom_wrap: shared cas old", bad, 32);
    for (int l = 0; l < 32; l++)
        w[l] = 500;
    check_col("atom_wrap", "shared cas word", got, 4, 32, w);
    /* exch: the old values and the final word are FILL and the lane ids, each once. */
    uint32_t ids[33], want_ids[33];
    for (int l = 0; l < 32; l++)
        ids[l] = got[5 * 32 + l];
    kt_download(&ids[32], extra[2], 4);
    for (int l = 0; l < 32; l++)
        want_ids[l] = (uint32_t)l;
    want_ids[32] = FILL;
    qsort(ids, 33, sizeof ids[0], cmp_u32);
    qsort(want_ids, 33, sizeof want_ids[0], cmp_u32);
    kt_check_u32("atom_wrap: exch old values + final (sorted)", ids, want_ids, 33);
    free(got);
}

static void trap_generic_addr(void)
{
    uint32_t *got = run_trap("generic_addr", 1, 32, 256, 9 * 32, NULL, 0);
    uint32_t want[9] = {1, 0, 1, 0, 1, 0, 0, 1, 1};
    static const char *names[9] = {"isspacep.shared(shared)", "isspacep.global(shared)",
                                   "isspacep.local(local)", "isspacep.shared(local)",
                                   "isspacep.global(global)", "generic st -> ld.shared",
                                   "generic st -> ld.local", "extern shared arrays alias",
                                   "cvta.to.shared round trip"};
    for (int c = 0; c < 9; c++) {
        uint32_t w[32];
        for (uint32_t l = 0; l < 32; l++)
            w[l] = c == 5 ? l * 3 + 1 : c == 6 ? l + 77 : want[c];
        check_col("generic_addr", names[c], got, c, 32, w);
    }
    free(got);
}

static void trap_sreg(void)
{
    const char *name = "trap_sreg";
    enum { T = 384, COLS = 13 };
    uint32_t *got = malloc(COLS * T * 4);
    REQUIRE(got != NULL, "out of memory");
    for (int i = 0; i < COLS * T; i++)
        got[i] = FILL;
    CUdeviceptr out = kt_upload(got, COLS * T * 4);
    void *args[] = {&out};
    kt_launch3(kt_func(name), 3, 2, 1, 8, 8, 1, 0, args);
    kt_download(got, out, COLS * T * 4);
    CUdevice dev;
    int sms = 0;
    REQUIRE_OK(cuCtxGetDevice(&dev));
    REQUIRE_OK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    static uint32_t w[COLS][T];
    for (uint32_t g = 0; g < T; g++) {
        uint32_t block = g / 64, t = g % 64, lane = t % 32, warp = t / 32;
        uint32_t bx = block % 3, by = block / 3;
        w[0][g] = lane;
        w[1][g] = warp;
        w[2][g] = 1u << lane;
        w[3][g] = (1u << lane) - 1;
        w[4][g] = lane == 31 ? 0xffffffffu : (2u << lane) - 1;
        w[5][g] = lane == 31 ? 0 : ~((2u << lane) - 1);
        w[6][g] = ~((1u << lane) - 1);
        w[7][g] = (uint32_t)sms;
        w[8][g] = 1;
        w[9][g] = by * 100 + bx;
        w[10][g] = 3;
        w[11][g] = 8;
        w[12][g] = 1;
    }
    static const char *names[COLS] = {"%laneid", "%warpid", "%lanemask_eq", "%lanemask_lt",
                                      "%lanemask_le", "%lanemask_gt", "%lanemask_ge", "%nsmid",
                                      "%smid < %nsmid", "%ctaid", "%nctaid.x", "%ntid.y",
                                      "%nwarpid >= 2"};
    for (int c = 0; c < COLS; c++)
        check_col("sreg", names[c], got, c, T, w[c]);
    free(got);
}

static const struct {
    const char *name;
    void (*run)(void);
} traps[] = {
    {"shfl", trap_shfl},           {"vote_exit", trap_vote_exit},
    {"bar_red", trap_bar_red},     {"cvt_sat", trap_cvt_sat},
    {"shift", trap_shift},         {"subword", trap_subword},
    {"ftz", trap_ftz},             {"func_param", trap_func_param},
    {"clock64", trap_clock64},     {"divrem", trap_divrem},
    {"bitops", trap_bitops},       {"minmax_nan", trap_minmax_nan},
    {"atom_wrap", trap_atom_wrap}, {"generic_addr", trap_generic_addr},
    {"sreg", trap_sreg},
};

int main(int argc, char **argv)
{
    REQUIRE(argc == 3, "usage: %s TRAP.ptx NAME", argv[0]);
    for (size_t i = 0; i < sizeof traps / sizeof traps[0]; i++)
        if (strcmp(traps[i].name, argv[2]) == 0) {
            kt_init(argc, argv);
            traps[i].run();
            char done[64];
            snprintf(done, sizeof done, "kernel-trap-%s", argv[2]);
            return kt_done(done);
        }
    fprintf(stderr, "unknown trap '%s'\n", argv[2]);
    return 1;
}
