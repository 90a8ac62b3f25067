/* devfunc: non-inlined device functions: recursive fib, horner through a pointer (fmaf: exact),
 * a struct-returning divmod (C's truncating / and %, as PTX div.s32/rem.s32) and an 8-argument
 * function of mixed widths. */
#include "kernel_test.h"

static int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 300, DEG = 6 };
    static int32_t in[N], fib_got[N], fib_want[N], dm[2 * N], dm_want[2 * N];
    static float poly[N], poly_want[N];
    static int64_t w[N], w_want[N];
    float coef[DEG + 1] = {1.0f, -0.5f, 0.25f, 0.125f, -2.0f, 0.75f, 0.001f};
    for (int i = 0; i < N; i++)
        in[i] = (int32_t)(kt_rand_u32() % 2000) - 1000;
    for (int i = 0; i < N; i++) {
        int v = in[i];
        fib_want[i] = fib(v & 15);
        float xv = (float)v * 0.01f, r = coef[DEG];
        for (int k = DEG - 1; k >= 0; k--)
            r = fmaf(r, xv, coef[k]);
        poly_want[i] = r;
        int a = v * 7919 - 50000, b = (v & 7) + 1;
        dm_want[2 * i] = a / b;
        dm_want[2 * i + 1] = a % b;
        w_want[i] = (int64_t)v + (int64_t)(-v) * 3 + (int64_t)(v * 2) * 5 + (int64_t)i * 7 +
                    (int64_t)((uint64_t)(int64_t)v << 33) * 11 + (int64_t)(short)(v * 100) * 13 +
                    (int64_t)(signed char)v * 17 + (int64_t)(v * 0.5);
    }
    CUdeviceptr din = kt_upload(in, sizeof in), dc = kt_upload(coef, sizeof coef),
                df = kt_alloc(sizeof fib_got), dp = kt_alloc(sizeof poly), ddm = kt_alloc(sizeof dm),
                dw = kt_alloc(sizeof w);
    int deg = DEG, n = N;
    void *args[] = {&din, &dc, &deg, &df, &dp, &ddm, &dw, &n};
    kt_launch(kt_func("devfunc"), (N + 63) / 64, 64, 0, args);
    kt_download(fib_got, df, sizeof fib_got), kt_download(poly, dp, sizeof poly);
    kt_download(dm, ddm, sizeof dm), kt_download(w, dw, sizeof w);
    kt_check_i32("fib", fib_got, fib_want, N);
    kt_check_f32_ulp("horner", poly, poly_want, N, 0);
    kt_check_i32("divmod", dm, dm_want, 2 * N);
    kt_check_u64("weighted", (uint64_t *)w, (uint64_t *)w_want, N);
    return kt_done("kernel-devfunc");
}
