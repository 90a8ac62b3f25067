/* dynamic_smem: reverse_dynamic with a segment size chosen at launch (dynamic shared memory of
 * seg floats beside a static int), and alias_dynamic, where two extern __shared__ arrays share one
 * base: a float stored through one is read back as its bit pattern through the other. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { SEG = 3000, BLOCKS = 5 };
    static float in[SEG * BLOCKS], got[SEG * BLOCKS], want[SEG * BLOCKS];
    for (int i = 0; i < SEG * BLOCKS; i++)
        in[i] = kt_rand_f32(-100, 100);
    for (int b = 0; b < BLOCKS; b++)
        for (int k = 0; k < SEG; k++)
            want[b * SEG + k] = in[b * SEG + SEG - 1 - k] + (float)b;
    CUdeviceptr di = kt_upload(in, sizeof in), dout = kt_alloc(sizeof got);
    int seg = SEG;
    void *args[] = {&di, &dout, &seg};
    kt_launch(kt_func("reverse_dynamic"), BLOCKS, 96, SEG * sizeof(float), args);
    kt_download(got, dout, sizeof got);
    kt_check_f32_ulp("reverse", got, want, SEG * BLOCKS, 0);

    enum { T = 64, B2 = 3 };
    static uint32_t al[T * B2], al_want[T * B2];
    for (int b = 0; b < B2; b++)
        for (int t = 0; t < T; t++)
            al_want[b * T + t] = kt_f32_bits(in[b * T + T - 1 - t] * 2.0f);
    CUdeviceptr da = kt_alloc(sizeof al);
    void *aargs[] = {&di, &da};
    kt_launch(kt_func("alias_dynamic"), B2, T, T * sizeof(float), aargs);
    kt_download(al, da, sizeof al);
    kt_check_u32("aliased", al, al_want, T * B2);
    return kt_done("kernel-dynamic_smem");
}
