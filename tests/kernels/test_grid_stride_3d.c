/* grid_stride_3d: coords3d over a 3D grid of 3D blocks (volume not a multiple of the block: edge
 * threads must do nothing), and stride2d, a 2D grid-stride loop over a problem larger than the
 * grid. Exact. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { NX = 37, NY = 11, NZ = 9, BX = 8, BY = 4, BZ = 2 };
    enum { GX = (NX + BX - 1) / BX, GY = (NY + BY - 1) / BY, GZ = (NZ + BZ - 1) / BZ };
    static uint32_t got[NX * NY * NZ], want[NX * NY * NZ];
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                unsigned tid = (unsigned)(x % BX + BX * (y % BY + BY * (z % BZ)));
                unsigned blk = (unsigned)(x / BX + GX * (y / BY + GY * (z / BZ)));
                want[(z * NY + y) * NX + x] = (blk << 16) | (tid << 4) | ((x + y + z) & 15);
            }
    CUdeviceptr d = kt_alloc(sizeof got);
    int nx = NX, ny = NY, nz = NZ;
    void *args[] = {&d, &nx, &ny, &nz};
    kt_launch3(kt_func("coords3d"), GX, GY, GZ, BX, BY, BZ, 0, args);
    kt_download(got, d, sizeof got);
    kt_check_u32("coords3d", got, want, NX * NY * NZ);

    enum { W = 300, H = 77 };
    static float a[W * H], agot[W * H], awant[W * H];
    float scale = 1.5f;
    for (int i = 0; i < W * H; i++) {
        a[i] = kt_rand_f32(-1, 1);
        awant[i] = a[i] * scale + (float)(i % W - i / W);
    }
    CUdeviceptr da = kt_upload(a, sizeof a);
    int w = W, h = H;
    void *sargs[] = {&da, &w, &h, &scale};
    kt_launch3(kt_func("stride2d"), 3, 2, 1, 16, 8, 1, 0, sargs);
    kt_download(agot, da, sizeof agot);
    /* a*scale + k may be contracted into one fma by nvcc: accept either rounding. */
    size_t bad = 0;
    for (int i = 0; i < W * H; i++) {
        float alt = fmaf(a[i], scale, (float)(i % W - i / W));
        if (agot[i] != awant[i] && agot[i] != alt && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  stride2d[%d] = %.9g, expected %.9g\n", i, agot[i], awant[i]);
    }
    kt_check_summary("stride2d", bad, W * H);
    return kt_done("kernel-grid_stride_3d");
}
