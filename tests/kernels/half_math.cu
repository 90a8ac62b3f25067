// binary16 through cuda_fp16.h: conversions with every rounding mode, scalar and packed (half2)
// add/sub/mul/fma (one rounding each), comparisons, and half <-> int conversions.
#include <cuda_fp16.h>

extern "C" __global__ void half_convert(int n, const float *__restrict__ x, unsigned short *__restrict__ rn,
                                        unsigned short *__restrict__ rz, unsigned short *__restrict__ rd,
                                        unsigned short *__restrict__ ru, float *__restrict__ back)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    __half h = __float2half_rn(x[i]);
    rn[i] = __half_as_ushort(h);
    rz[i] = __half_as_ushort(__float2half_rz(x[i]));
    rd[i] = __half_as_ushort(__float2half_rd(x[i]));
    ru[i] = __half_as_ushort(__float2half_ru(x[i]));
    back[i] = __half2float(h);
}

// a, b, c: binary16 bit patterns. out[4*i + k]: add, sub, mul, fma.
extern "C" __global__ void half_arith(int n, const __half *__restrict__ a, const __half *__restrict__ b,
                                      const __half *__restrict__ c, __half *__restrict__ out,
                                      int *__restrict__ cmp)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    out[4 * i + 0] = __hadd(a[i], b[i]);
    out[4 * i + 1] = __hsub(a[i], b[i]);
    out[4 * i + 2] = __hmul(a[i], b[i]);
    out[4 * i + 3] = __hfma(a[i], b[i], c[i]);
    cmp[i] = (__hlt(a[i], b[i]) ? 1 : 0) | (__heq(a[i], b[i]) ? 2 : 0) | (__hge(a[i], c[i]) ? 4 : 0);
}

// Packed: out2[2*i] = a2 + b2 (lanes), out2[2*i+1] = fma(a2, b2, c2).
extern "C" __global__ void half2_arith(int n, const __half2 *__restrict__ a, const __half2 *__restrict__ b,
                                       const __half2 *__restrict__ c, __half2 *__restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    out[2 * i] = __hadd2(a[i], b[i]);
    out[2 * i + 1] = __hfma2(a[i], b[i], c[i]);
}

extern "C" __global__ void half_int(int n, const int *__restrict__ v, unsigned short *__restrict__ h,
                                    int *__restrict__ back)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    __half x = __int2half_rn(v[i]);
    h[i] = __half_as_ushort(x);
    back[i] = __half2int_rz(x);
}
