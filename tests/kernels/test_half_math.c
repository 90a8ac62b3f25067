/*
 * half_math: binary16 conversions from float in all four rounding modes (including subnormal,
 * overflow and halfway cases), add/sub/mul/fma on scalars and half2, comparisons, int <-> half.
 * Each result must be the exactly rounded value (IEEE 754 binary16, one rounding): the reference
 * computes in double, where these operands' results are exact, and rounds once on the host.
 */
#include "kernel_test.h"

static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 1e6f,
                                -1e6f, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f,
                                2.98023259e-08f, 1e-9f, 1.00048828125f, 1.00146484375f,
                                -2.0009765625f, 3.14159265f, INFINITY, -INFINITY};

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 512, NS = sizeof special / sizeof special[0] };
    static float x[N], back[N];
    static uint16_t rn[N], rz[N], rd[N], ru[N], wrn[N], wrz[N], wrd[N], wru[N];
    static float wback[N];
    for (int i = 0; i < N; i++)
        x[i] = i < NS ? special[i] : kt_rand_f32(-70000, 70000) * (i & 1 ? 1.0f : 1e-4f);
    for (int i = 0; i < N; i++) {
        wrn[i] = kt_to_f16(x[i], KT_RN);
        wrz[i] = kt_to_f16(x[i], KT_RZ);
        wrd[i] = kt_to_f16(x[i], KT_RD);
        wru[i] = kt_to_f16(x[i], KT_RU);
        wback[i] = (float)kt_from_f16(wrn[i]);
    }
    CUdeviceptr dx = kt_upload(x, sizeof x), d1 = kt_alloc(sizeof rn), d2 = kt_alloc(sizeof rn),
                d3 = kt_alloc(sizeof rn), d4 = kt_alloc(sizeof rn), d5 = kt_alloc(sizeof back);
    int n = N;
    void *cargs[] = {&n, &dx, &d1, &d2, &d3, &d4, &d5};
    kt_launch(kt_func("half_convert"), N / 128, 128, 0, cargs);
    kt_download(rn, d1, sizeof rn), kt_download(rz, d2, sizeof rz);
    kt_download(rd, d3, sizeof rd), kt_download(ru, d4, sizeof ru);
    kt_download(back, d5, sizeof back);
    kt_check_u16("cvt.rn.f16.f32", rn, wrn, N);
    kt_check_u16("cvt.rz.f16.f32", rz, wrz, N);
    kt_check_u16("cvt.rm.f16.f32", rd, wrd, N);
    kt_check_u16("cvt.rp.f16.f32", ru, wru, N);
    kt_check_f32_ulp("cvt.f32.f16", back, wback, N, 0);

    /* Operands k/256 with |k| <= 2047: products and sums are exact in double. Some large ones
     * (k * 16) make sums overflow past 65504 to infinity. */
    static uint16_t a[N], b[N], c[N], out[4 * N], want[4 * N];
    static int32_t cmp[N], cmp_want[N];
    for (int i = 0; i < N; i++) {
        double scale = i % 17 == 0 ? 16.0 : 1.0 / 256;
        double av = (double)((int)(kt_rand_u32() % 4095) - 2047) * scale;
        double bv = (double)((int)(kt_rand_u32() % 4095) - 2047) * scale;
        double cv = (double)((int)(kt_rand_u32() % 4095) - 2047) / 256;
        if (i % 29 == 0)
            bv = av;
        a[i] = kt_to_f16(av, KT_RN), b[i] = kt_to_f16(bv, KT_RN), c[i] = kt_to_f16(cv, KT_RN);
        av = kt_from_f16(a[i]), bv = kt_from_f16(b[i]), cv = kt_from_f16(c[i]);
        want[4 * i + 0] = kt_to_f16(av + bv, KT_RN);
        want[4 * i + 1] = kt_to_f16(av - bv, KT_RN);
        want[4 * i + 2] = kt_to_f16(av * bv, KT_RN);
        want[4 * i + 3] = kt_to_f16(av * bv + cv, KT_RN);
        cmp_want[i] = (av < bv ? 1 : 0) | (av == bv ? 2 : 0) | (av >= cv ? 4 : 0);
    }
    CUdeviceptr da = kt_upload(a, sizeof a), db = kt_upload(b, sizeof b), dc = kt_upload(c, sizeof c),
                dout = kt_alloc(sizeof out), dcmp = kt_alloc(sizeof cmp);
    void *aargs[] = {&n, &da, &db, &dc, &dout, &dcmp};
    kt_launch(kt_func("half_arith"), N / 64, 64, 0, aargs);
    kt_download(out, dout, sizeof out);
    kt_download(cmp, dcmp, sizeof cmp);
    kt_check_u16("half add/sub/mul/fma", out, want, 4 * N);
    kt_check_i32("half compare", cmp, cmp_want, N);

    /* half2: element 2*i+lane of a/b/c as packed pairs. */
    static uint16_t out2[4 * N], want2[4 * N];
    for (int i = 0; i < N / 2; i++)
        for (int l = 0; l < 2; l++) {
            double av = kt_from_f16(a[2 * i + l]), bv = kt_from_f16(b[2 * i + l]),
                   cv = kt_from_f16(c[2 * i + l]);
            want2[4 * i + l] = kt_to_f16(av + bv, KT_RN);
            want2[4 * i + 2 + l] = kt_to_f16(av * bv + cv, KT_RN);
        }
    int n2 = N / 2;
    CUdeviceptr dout2 = kt_alloc(sizeof out2);
    void *hargs[] = {&n2, &da, &db, &dc, &dout2};
    kt_launch(kt_func("half2_arith"), N / 128, 64, 0, hargs);
    kt_download(out2, dout2, 2 * N * sizeof(uint16_t));
    kt_check_u16("half2 add/fma", out2, want2, 2 * N);

    /* int -> half (rn) -> int (rz): large values round to 16-bit precision or infinity, and
     * cvt.rzi.s32.f16 of infinity saturates to INT_MAX/INT_MIN. */
    static int32_t iv[N], iback[N], iback_want[N];
    static uint16_t ih[N], ih_want[N];
    for (int i = 0; i < N; i++) {
        iv[i] = (int32_t)(kt_rand_u32() % 140001) - 70000;
        ih_want[i] = kt_to_f16(iv[i], KT_RN);
        double h = kt_from_f16(ih_want[i]);
        iback_want[i] = isinf(h) ? (h > 0 ? INT32_MAX : INT32_MIN) : (int32_t)h;
    }
    CUdeviceptr div_ = kt_upload(iv, sizeof iv), dih = kt_alloc(sizeof ih), dib = kt_alloc(sizeof iback);
    void *iargs[] = {&n, &div_, &dih, &dib};
    kt_launch(kt_func("half_int"), N / 128, 128, 0, iargs);
    kt_download(ih, dih, sizeof ih);
    kt_download(iback, dib, sizeof iback);
    kt_check_u16("cvt.rn.f16.s32", ih, ih_want, N);
    kt_check_i32("cvt.rzi.s32.f16", iback, iback_want, N);
    return kt_done("kernel-half_math");
}
