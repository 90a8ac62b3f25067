/* vector_add: c = a + b over a grid whose last block is partial (exact). */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 10007 };
    static float a[N], b[N], c[N], want[N];
    for (int i = 0; i < N; i++) {
        a[i] = kt_rand_f32(-100, 100);
        b[i] = kt_rand_f32(-1, 1);
        want[i] = a[i] + b[i];
    }
    CUdeviceptr da = kt_upload(a, sizeof a), db = kt_upload(b, sizeof b), dc = kt_alloc(sizeof c);
    int n = N;
    void *args[] = {&da, &db, &dc, &n};
    kt_launch(kt_func("vector_add"), (N + 255) / 256, 256, 0, args);
    kt_download(c, dc, sizeof c);
    kt_check_f32_ulp("c", c, want, N, 0);
    return kt_done("kernel-vector_add");
}
