/* f64_blas: daxpy (fma, exact), ddot per-block partials (the kernel's fixed order replayed: exact),
 * the atomicAdd total (any order: relative 1e-12) and sqrt(x)/y (both correctly rounded: exact). */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 30011, BLOCK = 128, GRID = 24 };
    static double x[N], y[N], got[N], want[N];
    for (int i = 0; i < N; i++) {
        x[i] = kt_rand_f64(-1e3, 1e3);
        y[i] = kt_rand_f64(-1e3, 1e3);
    }
    double a = -0.3333333333333333;
    for (int i = 0; i < N; i++)
        want[i] = fma(a, x[i], y[i]);
    CUdeviceptr dx = kt_upload(x, sizeof x), dy = kt_upload(y, sizeof y);
    int n = N;
    void *aargs[] = {&n, &a, &dx, &dy};
    kt_launch(kt_func("daxpy"), (N + 255) / 256, 256, 0, aargs);
    kt_download(got, dy, sizeof got);
    kt_check_f64_ulp("daxpy", got, want, N, 0);

    /* ddot over the original y. */
    CUdeviceptr dy0 = kt_upload(y, sizeof y), dpart = kt_alloc(GRID * sizeof(double)),
                dtot = kt_alloc(sizeof(double));
    void *dargs[] = {&n, &dx, &dy0, &dpart, &dtot};
    kt_launch(kt_func("ddot"), GRID, BLOCK, 0, dargs);
    double part[GRID], part_want[GRID], total, total_want = 0;
    kt_download(part, dpart, sizeof part);
    kt_download(&total, dtot, sizeof total);
    for (int b = 0; b < GRID; b++) {
        double s[BLOCK];
        for (int t = 0; t < BLOCK; t++) {
            double acc = 0;
            for (int i = b * BLOCK + t; i < N; i += GRID * BLOCK)
                acc = fma(x[i], y[i], acc);
            s[t] = acc;
        }
        for (int st = BLOCK / 2; st > 0; st >>= 1)
            for (int t = 0; t < st; t++)
                s[t] += s[t + st];
        part_want[b] = s[0];
        total_want += s[0];
    }
    kt_check_f64_ulp("ddot partial", part, part_want, GRID, 0);
    kt_check_f64_rel("ddot total", &total, &total_want, 1, 1e-12, 0);

    for (int i = 0; i < N; i++) {
        x[i] = fabs(x[i]);
        want[i] = sqrt(x[i]) / y[i];
    }
    CUdeviceptr dxa = kt_upload(x, sizeof x), dout = kt_alloc(sizeof got);
    void *sargs[] = {&n, &dxa, &dy0, &dout};
    kt_launch(kt_func("dsqrt_div"), (N + 255) / 256, 256, 0, sargs);
    kt_download(got, dout, sizeof got);
    kt_check_f64_ulp("sqrt/div", got, want, N, 0);
    return kt_done("kernel-f64_blas");
}
