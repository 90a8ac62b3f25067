/*
 * reduce_shuffle_f32 / reduce_shuffle_xor_i32. The reference simulates each warp's registers: a
 * shfl.down whose source lane (lane + offset) is past 31 returns the lane's own value (PTX ISA,
 * shfl.sync), so lanes 16..31 end with sums that count some values twice; every lane's final value
 * is checked, bit for bit (the order of additions is the kernel's).
 */
#include "kernel_test.h"

static void warp_down(float v[32])
{
    for (int off = 16; off > 0; off >>= 1) {
        float src[32];
        for (int l = 0; l < 32; l++)
            src[l] = l + off < 32 ? v[l + off] : v[l];
        for (int l = 0; l < 32; l++)
            v[l] += src[l];
    }
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 4000, BLOCK = 256, GRID = (N + BLOCK - 1) / BLOCK };
    static float in[N], lanes[N], want_lanes[N];
    float out[GRID], want_out[GRID];
    for (int i = 0; i < N; i++)
        in[i] = kt_rand_f32(-10, 10);
    for (int w = 0; w < GRID * BLOCK / 32; w++) {
        float v[32];
        for (int l = 0; l < 32; l++)
            v[l] = w * 32 + l < N ? in[w * 32 + l] : 0.0f;
        warp_down(v);
        for (int l = 0; l < 32; l++)
            if (w * 32 + l < N)
                want_lanes[w * 32 + l] = v[l];
    }
    for (int b = 0; b < GRID; b++) {
        float v[32];
        for (int l = 0; l < 32; l++)
            /* Warps entirely past n contribute their lane 0 value: 0 + (sum of zeros). */
            v[l] = l < BLOCK / 32 && b * BLOCK + l * 32 < N ? want_lanes[b * BLOCK + l * 32]
                                                             : 0.0f;
        warp_down(v);
        want_out[b] = v[0];
    }
    CUdeviceptr din = kt_upload(in, sizeof in), dl = kt_alloc(sizeof lanes),
                dout = kt_alloc(sizeof out);
    int n = N;
    void *args[] = {&din, &dl, &dout, &n};
    kt_launch(kt_func("reduce_shuffle_f32"), GRID, BLOCK, 0, args);
    kt_download(lanes, dl, sizeof lanes);
    kt_download(out, dout, sizeof out);
    kt_check_f32_ulp("lanes_out", lanes, want_lanes, N, 0);
    kt_check_f32_ulp("out", out, want_out, GRID, 0);

    enum { M = 1024 };
    static int32_t iv[M], igot[M], iwant[M];
    for (int i = 0; i < M; i++)
        iv[i] = (int32_t)kt_rand_u32();
    for (int w = 0; w < M / 32; w++) {
        uint32_t s = 0;
        for (int l = 0; l < 32; l++)
            s += (uint32_t)iv[w * 32 + l];
        for (int l = 0; l < 32; l++)
            iwant[w * 32 + l] = (int32_t)s;
    }
    CUdeviceptr di = kt_upload(iv, sizeof iv), dio = kt_alloc(sizeof igot);
    void *iargs[] = {&di, &dio};
    kt_launch(kt_func("reduce_shuffle_xor_i32"), M / 128, 128, 0, iargs);
    kt_download(igot, dio, sizeof igot);
    kt_check_i32("xor_sum", igot, iwant, M);
    return kt_done("kernel-reduce_shuffle");
}
