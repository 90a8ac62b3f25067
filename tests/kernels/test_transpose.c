/* transpose<float> and transpose<double>: a non-square matrix whose sides are not multiples of the
 * 32 x 32 tile; out must be exactly in^T (pure data movement). */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { R = 70, C = 101 };
    static float f[R * C], fgot[R * C], fwant[R * C];
    static double d[R * C], dgot[R * C], dwant[R * C];
    for (int i = 0; i < R * C; i++) {
        f[i] = (float)i + 0.5f;
        d[i] = kt_rand_f64(-1, 1);
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            fwant[c * R + r] = f[r * C + c];
            dwant[c * R + r] = d[r * C + c];
        }
    int rows = R, cols = C;
    CUdeviceptr fi = kt_upload(f, sizeof f), fo = kt_alloc(sizeof fgot);
    void *fargs[] = {&fi, &fo, &rows, &cols};
    kt_launch3(kt_func("_Z9transposeIfLi32ELi8EEvPKT_PS0_ii"), (C + 31) / 32, (R + 31) / 32, 1, 32,
               8, 1, 0, fargs);
    kt_download(fgot, fo, sizeof fgot);
    kt_check_f32_ulp("float", fgot, fwant, R * C, 0);

    CUdeviceptr di = kt_upload(d, sizeof d), dout = kt_alloc(sizeof dgot);
    void *dargs[] = {&di, &dout, &rows, &cols};
    kt_launch3(kt_func("_Z9transposeIdLi32ELi8EEvPKT_PS0_ii"), (C + 31) / 32, (R + 31) / 32, 1, 32,
               8, 1, 0, dargs);
    kt_download(dgot, dout, sizeof dgot);
    kt_check_f64_ulp("double", dgot, dwant, R * C, 0);
    return kt_done("kernel-transpose");
}
