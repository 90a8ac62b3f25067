/*
 * float_convert: PTX cvt semantics, not C's. Float -> integer rounds by the mode (.rni nearest
 * even, .rzi toward zero, .rmi down, .rpi up), then saturates to the destination range, and NaN
 * converts to 0 (PTX ISA, cvt: "saturation modifier ... is implied for float-to-integer
 * conversions"). cvt.sat.f32 clamps to [0, 1] with NaN -> +0. double -> float honours
 * .rn/.rz/.rm/.rp, including overflow (rz/toward-zero directions give FLT_MAX).
 */
#include "kernel_test.h"

#include <float.h>

#define NC 12

static double round_mode(double v, enum kt_round m)
{
    switch (m) {
    case KT_RZ: return trunc(v);
    case KT_RD: return floor(v);
    case KT_RU: return ceil(v);
    default: return nearbyint(v); /* the host runs in round-to-nearest-even */
    }
}

static int32_t to_s32(float f, enum kt_round m)
{
    if (isnan(f))
        return 0;
    double r = round_mode(f, m);
    return r < -2147483648.0 ? INT32_MIN : r > 2147483647.0 ? INT32_MAX : (int32_t)r;
}

static uint32_t to_u32(float f, enum kt_round m)
{
    if (isnan(f))
        return 0;
    double r = round_mode(f, m);
    return r < 0 ? 0 : r > 4294967295.0 ? UINT32_MAX : (uint32_t)r;
}

static int64_t to_s64(double f, enum kt_round m)
{
    if (isnan(f))
        return 0;
    double r = round_mode(f, m);
    return r < -9223372036854775808.0 ? INT64_MIN
           : r >= 9223372036854775808.0 ? INT64_MAX
                                        : (int64_t)r;
}

static uint64_t to_u64(double f, enum kt_round m)
{
    if (isnan(f))
        return 0;
    double r = round_mode(f, m);
    return r < 0 ? 0 : r >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)r;
}

/* double -> float with a directed rounding: round to nearest, then step toward the mode. */
static float d2f(double d, enum kt_round m)
{
    float f = (float)d;
    if (isnan(d) || (double)f == d)
        return f;
    if (m == KT_RZ && fabs((double)f) > fabs(d))
        f = nextafterf(f, 0.0f);
    else if (m == KT_RD && (double)f > d)
        f = nextafterf(f, -INFINITY);
    else if (m == KT_RU && (double)f < d)
        f = nextafterf(f, INFINITY);
    return f;
}

static float saturate(float f)
{
    return isnan(f) ? 0.0f : f < 0.0f ? 0.0f : f > 1.0f ? 1.0f : f;
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    static const float fspecial[] = {
        0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, -0.49999997f, 1.0f, 0.0f,
        2147483520.0f, 2147483648.0f, -2147483648.0f, -2147483904.0f, 4294967040.0f,
        4294967296.0f, 1e20f, -1e20f, 9.3e18f, -9.3e18f, INFINITY, -INFINITY, NAN, -NAN,
        1e-40f, -1e-40f, 0.999999f, 1.000001f, 8388607.5f, -8388607.5f, 16777217.0f, -7.25f};
    static const double dspecial[] = {
        1.0 + 0x1p-24, 1.0 + 0x1p-23 + 0x1p-25, -(1.0 + 0x1p-24), 3.4028235677973366e38,
        3.4028235677973367e38, 1e39, -1e39, 1e-46, -1e-46, 0x1p-149, 0x1.8p-149, 0x1p-150,
        1.8446744073709552e19, 2e19, -3.5, 2.5, 3.5, 4294967295.5, NAN, INFINITY, -INFINITY};
    enum { NF = sizeof fspecial / sizeof fspecial[0], ND = sizeof dspecial / sizeof dspecial[0] };
    enum { N = 256 };
    static float x[N];
    static double d[N];
    for (int i = 0; i < N; i++) {
        x[i] = i < NF ? fspecial[i] : kt_rand_f32(-3e9f, 3e9f) * (i & 1 ? 1.0f : 1e-8f);
        d[i] = i < ND ? dspecial[i] : kt_rand_f64(-1e40, 1e40) * (i & 2 ? 1.0 : 1e-80);
    }
    static uint32_t got[NC * N], want[NC * N];
    static uint64_t got64[2 * N], want64[2 * N];
    for (int i = 0; i < N; i++) {
        float f = x[i];
        uint32_t *o = want + NC * i;
        o[0] = (uint32_t)to_s32(f, KT_RN);
        o[1] = (uint32_t)to_s32(f, KT_RZ);
        o[2] = (uint32_t)to_s32(f, KT_RD);
        o[3] = (uint32_t)to_s32(f, KT_RU);
        o[4] = to_u32(f, KT_RN);
        o[5] = (uint32_t)to_s32(f, KT_RZ);
        o[6] = kt_f32_bits(saturate(f));
        o[7] = kt_f32_bits(isnan(f) ? f : nearbyintf(f));
        o[8] = kt_f32_bits(d2f(d[i], KT_RN));
        o[9] = kt_f32_bits(d2f(d[i], KT_RZ));
        o[10] = kt_f32_bits(d2f(d[i], KT_RD));
        o[11] = kt_f32_bits(d2f(d[i], KT_RU));
        want64[2 * i] = (uint64_t)to_s64(f, KT_RZ);
        want64[2 * i + 1] = to_u64(d[i], KT_RN);
    }
    CUdeviceptr dx = kt_upload(x, sizeof x), dd = kt_upload(d, sizeof d),
                dout = kt_alloc(sizeof got), dout64 = kt_alloc(sizeof got64);
    int n = N;
    void *args[] = {&dx, &dd, &dout, &dout64, &n};
    kt_launch(kt_func("float_convert"), N / 64, 64, 0, args);
    kt_download(got, dout, sizeof got);
    kt_download(got64, dout64, sizeof got64);
    static const char *names[NC] = {"float2int_rn", "float2int_rz", "float2int_rd", "float2int_ru",
                                    "float2uint_rn", "(int)f", "saturatef", "rintf",
                                    "double2float_rn", "double2float_rz", "double2float_rd",
                                    "double2float_ru"};
    for (int k = 0; k < NC; k++) {
        uint32_t g[N], w[N];
        for (int i = 0; i < N; i++) {
            g[i] = got[NC * i + k], w[i] = want[NC * i + k];
            /* A NaN result may carry any NaN payload (the GPU's canonical one is 0x7fffffff). */
            if (isnan(kt_bits_f32(g[i])) && isnan(kt_bits_f32(w[i])) && k >= 6)
                g[i] = w[i];
        }
        kt_check_u32(names[k], g, w, N);
    }
    kt_check_u64("float2ll_rz / double2ull_rn", got64, want64, 2 * N);
    return kt_done("kernel-float_convert");
}
