/* saxpy: y = a*x + y, contracted by nvcc into one fma.rn.f32, so fmaf is the exact reference. A
 * last partial block checks the bounds guard: y beyond n must stay untouched. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 100003, PAD = 64 };
    static float x[N], y[N + PAD], got[N + PAD], want[N + PAD];
    float a = 2.718281828f;
    for (int i = 0; i < N; i++)
        x[i] = kt_rand_f32(-1000, 1000);
    for (int i = 0; i < N + PAD; i++)
        y[i] = kt_rand_f32(-1000, 1000);
    for (int i = 0; i < N + PAD; i++)
        want[i] = i < N ? fmaf(a, x[i], y[i]) : y[i];
    CUdeviceptr dx = kt_upload(x, sizeof x), dy = kt_upload(y, sizeof y);
    int n = N;
    void *args[] = {&n, &a, &dx, &dy};
    kt_launch(kt_func("saxpy"), (N + 127) / 128, 128, 0, args);
    kt_download(got, dy, sizeof got);
    kt_check_f32_ulp("y", got, want, N + PAD, 0);
    return kt_done("kernel-saxpy");
}
