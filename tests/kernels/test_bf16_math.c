/*
 * bf16_math: float -> bfloat16 (round to nearest even and toward zero), bf16 -> float, add/mul/fma
 * with one rounding each (the reference rounds the exact double result once), packed bf162 fma,
 * and a bf16 dot product accumulated in float with fmaf in the kernel's order (exact).
 */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 512 };
    static float x[N], back[N], wback[N];
    static uint16_t rn[N], rz[N], wrn[N], wrz[N];
    for (int i = 0; i < N; i++) {
        uint32_t bits = kt_rand_u32();
        /* Random bit patterns (all magnitudes, subnormals), minus NaNs; plus halfway cases. */
        if ((bits & 0x7f800000u) == 0x7f800000u)
            bits &= 0xbfffffffu;
        if (i % 8 == 0)
            bits = (bits & 0xffff0000u) | 0x8000u;
        x[i] = kt_bits_f32(bits);
        wrn[i] = kt_to_bf16(x[i], KT_RN);
        wrz[i] = kt_to_bf16(x[i], KT_RZ);
        wback[i] = (float)kt_from_bf16(wrn[i]);
    }
    CUdeviceptr dx = kt_upload(x, sizeof x), d1 = kt_alloc(sizeof rn), d2 = kt_alloc(sizeof rz),
                d3 = kt_alloc(sizeof back);
    int n = N;
    void *cargs[] = {&n, &dx, &d1, &d2, &d3};
    kt_launch(kt_func("bf16_convert"), N / 128, 128, 0, cargs);
    kt_download(rn, d1, sizeof rn), kt_download(rz, d2, sizeof rz), kt_download(back, d3, sizeof back);
    kt_check_u16("cvt.rn.bf16.f32", rn, wrn, N);
    kt_check_u16("cvt.rz.bf16.f32", rz, wrz, N);
    kt_check_f32_ulp("cvt.f32.bf16", back, wback, N, 0);

    /* Operands with 8 significant bits in [2^-8, 2^8): products (16 bits) and sums are exact in
     * double. */
    static uint16_t a[N], b[N], c[N], out[3 * N], want[3 * N], out2[N], want2[N];
    for (int i = 0; i < N; i++) {
        double av = ldexp((double)(128 + kt_rand_u32() % 128), (int)(kt_rand_u32() % 16) - 15);
        double bv = ldexp((double)(128 + kt_rand_u32() % 128), (int)(kt_rand_u32() % 16) - 15);
        double cv = ldexp((double)(128 + kt_rand_u32() % 128), (int)(kt_rand_u32() % 16) - 15);
        if (kt_rand_u32() & 1)
            bv = -bv;
        if (kt_rand_u32() & 1)
            cv = -cv;
        a[i] = kt_to_bf16(av, KT_RN), b[i] = kt_to_bf16(bv, KT_RN), c[i] = kt_to_bf16(cv, KT_RN);
        want[3 * i + 0] = kt_to_bf16(av + bv, KT_RN);
        want[3 * i + 1] = kt_to_bf16(av * bv, KT_RN);
        want[3 * i + 2] = kt_to_bf16(av * bv + cv, KT_RN);
        want2[i] = want[3 * i + 2];
    }
    CUdeviceptr da = kt_upload(a, sizeof a), db = kt_upload(b, sizeof b), dc = kt_upload(c, sizeof c),
                dout = kt_alloc(sizeof out), dout2 = kt_alloc(sizeof out2);
    void *aargs[] = {&n, &da, &db, &dc, &dout};
    kt_launch(kt_func("bf16_arith"), N / 128, 128, 0, aargs);
    kt_download(out, dout, sizeof out);
    kt_check_u16("bf16 add/mul/fma", out, want, 3 * N);
    int n2 = N / 2;
    void *pargs[] = {&n2, &da, &db, &dc, &dout2};
    kt_launch(kt_func("bf162_fma"), 2, 128, 0, pargs);
    kt_download(out2, dout2, sizeof out2);
    kt_check_u16("bf162 fma", out2, want2, N);

    enum { ROWS = 64, COLS = 40 };
    static uint16_t ma[ROWS * COLS], mb[ROWS * COLS];
    float dot[ROWS], dot_want[ROWS];
    for (int i = 0; i < ROWS * COLS; i++) {
        ma[i] = kt_to_bf16(kt_rand_f32(-4, 4), KT_RN);
        mb[i] = kt_to_bf16(kt_rand_f32(-4, 4), KT_RN);
    }
    for (int r = 0; r < ROWS; r++) {
        float acc = 0;
        for (int k = 0; k < COLS; k++)
            acc = fmaf((float)kt_from_bf16(ma[r * COLS + k]), (float)kt_from_bf16(mb[r * COLS + k]),
                       acc);
        dot_want[r] = acc;
    }
    CUdeviceptr dma = kt_upload(ma, sizeof ma), dmb = kt_upload(mb, sizeof mb), ddot = kt_alloc(sizeof dot);
    int rows = ROWS, cols = COLS;
    void *dargs[] = {&rows, &cols, &dma, &dmb, &ddot};
    kt_launch(kt_func("bf16_dot"), 2, 32, 0, dargs);
    kt_download(dot, ddot, sizeof dot);
    kt_check_f32_ulp("bf16 dot", dot, dot_want, ROWS, 0);
    return kt_done("kernel-bf16_math");
}
