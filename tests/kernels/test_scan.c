/* scan_warp_inclusive (int, per-block inclusive, partial last block) and scan_blelloch (unsigned,
 * per-block exclusive, 2 * blockDim elements per block, dynamic shared memory): exact integers. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 5000, BLOCK = 512 };
    static int32_t in[N], got[N], want[N];
    for (int i = 0; i < N; i++)
        in[i] = (int32_t)(kt_rand_u32() % 2001) - 1000;
    for (int i = 0; i < N; i++)
        want[i] = (i % BLOCK ? want[i - 1] : 0) + in[i];
    CUdeviceptr di = kt_upload(in, sizeof in), dout = kt_alloc(sizeof got);
    int n = N;
    void *args[] = {&di, &dout, &n};
    kt_launch(kt_func("scan_warp_inclusive"), (N + BLOCK - 1) / BLOCK, BLOCK, 0, args);
    kt_download(got, dout, sizeof got);
    kt_check_i32("inclusive", got, want, N);

    enum { T = 128, SEG = 2 * T, BLOCKS = 9 };
    static uint32_t u[SEG * BLOCKS], ugot[SEG * BLOCKS], uwant[SEG * BLOCKS];
    for (int i = 0; i < SEG * BLOCKS; i++)
        u[i] = kt_rand_u32();
    for (int i = 0; i < SEG * BLOCKS; i++)
        uwant[i] = i % SEG ? uwant[i - 1] + u[i - 1] : 0;
    CUdeviceptr du = kt_upload(u, sizeof u), duo = kt_alloc(sizeof ugot);
    void *bargs[] = {&du, &duo};
    kt_launch(kt_func("scan_blelloch"), BLOCKS, T, SEG * sizeof(uint32_t), bargs);
    kt_download(ugot, duo, sizeof ugot);
    kt_check_u32("blelloch", ugot, uwant, SEG * BLOCKS);
    return kt_done("kernel-scan");
}
