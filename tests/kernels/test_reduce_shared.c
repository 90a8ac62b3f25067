/* reduce_shared<256> and <64>: per-block partial sums. The reference replays the kernel's exact
 * order of float additions (grid-stride accumulation, then the halving tree), so it is exact. */
#include "kernel_test.h"

static void reference(const float *in, int n, unsigned block, unsigned grid, float *out)
{
    float s[256];
    for (unsigned b = 0; b < grid; b++) {
        for (unsigned t = 0; t < block; t++) {
            float sum = 0.0f;
            for (long i = (long)b * block + t; i < n; i += (long)grid * block)
                sum += in[i];
            s[t] = sum;
        }
        for (unsigned stride = block / 2; stride > 0; stride >>= 1)
            for (unsigned t = 0; t < stride; t++)
                s[t] += s[t + stride];
        out[b] = s[0];
    }
}

static void run(const char *name, unsigned block, unsigned grid, const float *in, int n,
                CUdeviceptr din)
{
    float got[64], want[64];
    CUdeviceptr dout = kt_alloc(sizeof got);
    void *args[] = {&din, &dout, &n};
    kt_launch(kt_func(name), grid, block, 0, args);
    kt_download(got, dout, grid * sizeof(float));
    reference(in, n, block, grid, want);
    kt_check_f32_ulp(name, got, want, grid, 0);
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 50001 };
    static float in[N];
    for (int i = 0; i < N; i++)
        in[i] = kt_rand_f32(-1, 1);
    CUdeviceptr din = kt_upload(in, sizeof in);
    run("_Z13reduce_sharedILj256EEvPKfPfi", 256, 40, in, N, din);
    run("_Z13reduce_sharedILj64EEvPKfPfi", 64, 64, in, N, din);
    run("_Z13reduce_sharedILj64EEvPKfPfi", 64, 3, in, 100, din); /* most threads idle */
    return kt_done("kernel-reduce_shared");
}
