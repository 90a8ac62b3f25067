/*
 * math_funcs: each result against a double-precision reference, within the maximum error the CUDA
 * C++ Programming Guide documents (appendix "Mathematical Functions"), plus 1 ulp for the
 * reference's own rounding to float: sqrtf and x/y are IEEE (0), rsqrtf 2, expf 2, __expf
 * 2 + floor(|1.173 x|), logf 1, sinf 2, tanhf 2, __fdividef 2 (|y| in [2^-126, 2^126]), exp2f 2,
 * log2f 1 (sqrtf and x/y: the double result rounded once to float is the correctly rounded one,
 * so 0). __sinf/__cosf have an absolute bound: 2^-21.41 for |x| <= pi ("larger otherwise": the
 * hardware's range reduction loses about |x| * 2^-22, so |x| * 2^-21 is allowed there).
 */
#include "kernel_test.h"

#define NM 12

static float ulp_of(float v)
{
    v = fabsf(v);
    return nextafterf(v, INFINITY) - v;
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 2048 };
    static float x[N], y[N], got[NM * N];
    for (int i = 0; i < N; i++) {
        x[i] = kt_rand_f32(-10, 10);
        y[i] = kt_rand_f32(0.01f, 50) * (i & 1 ? -1.0f : 1.0f);
    }
    x[0] = 0.0f, x[1] = 1.0f, x[2] = -1.0f, x[3] = 3.14159265f, x[4] = 1e-30f;
    CUdeviceptr dx = kt_upload(x, sizeof x), dy = kt_upload(y, sizeof y), dout = kt_alloc(sizeof got);
    int n = N;
    void *args[] = {&dx, &dy, &dout, &n};
    kt_launch(kt_func("math_funcs"), N / 128, 128, 0, args);
    kt_download(got, dout, sizeof got);

    static const char *names[NM] = {"sqrtf", "rsqrtf", "x/y", "expf", "__expf", "logf", "sinf",
                                    "__sinf", "__cosf", "tanhf", "__fdividef", "exp2f+log2f"};
    size_t bad[NM] = {0};
    for (int i = 0; i < N; i++) {
        double a = x[i], b = y[i];
        double ref[NM] = {sqrt(fabs(a)), 1.0 / sqrt(fabs(a) + 0.5), a / b, exp(a), exp(a),
                          log(fabs(a) + 1.0), sin(a), sin(a), cos(a), tanh(a), a / b,
                          exp2(a) + log2(fabs(b))};
        /* rsqrtf and logf take float arguments that are themselves rounded. */
        ref[1] = 1.0 / sqrt((double)(fabsf(x[i]) + 0.5f));
        ref[5] = log((double)(fabsf(x[i]) + 1.0f));
        uint64_t ulps[NM] = {0, 3, 0, 3, 3 + (uint64_t)floor(fabs(1.173 * a)), 2, 3, 0, 0, 3, 3, 0};
        for (int k = 0; k < NM; k++) {
            float g = got[NM * i + k];
            int ok;
            if (k == 7 || k == 8) {
                double tol = fabs(a) <= 3.14159265358979 ? exp2(-21.41) : fabs(a) * 0x1p-21;
                ok = fabs((double)g - ref[k]) <= tol;
            } else if (k == 11) {
                float e = (float)exp2(a), l = (float)log2(fabs(b));
                double tol = 3 * ulp_of(e) + 2 * ulp_of(l) + ulp_of((float)ref[k]);
                ok = fabs((double)g - ref[k]) <= tol;
            } else {
                ok = kt_ulp_diff_f32(g, (float)ref[k]) <= ulps[k];
            }
            if (!ok && bad[k]++ < KT_MAX_REPORT)
                fprintf(stderr, "  %s(%.9g, %.9g) = %.9g, expected %.9g\n", names[k], x[i], y[i],
                        g, ref[k]);
        }
    }
    for (int k = 0; k < NM; k++)
        kt_check_summary(names[k], bad[k], N);
    return kt_done("kernel-math_funcs");
}
