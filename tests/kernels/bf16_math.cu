// bfloat16 through cuda_bf16.h: float -> bf16 with round-to-nearest-even and toward zero, bf16 ->
// float, scalar add/mul/fma (native on sm_80: one rounding), packed bf162 fma and a bf16 dot
// product accumulated in float (what mixed-precision kernels do).
#include <cuda_bf16.h>

extern "C" __global__ void bf16_convert(int n, const float *__restrict__ x, unsigned short *__restrict__ rn,
                                        unsigned short *__restrict__ rz, float *__restrict__ back)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    __nv_bfloat16 h = __float2bfloat16_rn(x[i]);
    rn[i] = __bfloat16_as_ushort(h);
    rz[i] = __bfloat16_as_ushort(__float2bfloat16_rz(x[i]));
    back[i] = __bfloat162float(h);
}

extern "C" __global__ void bf16_arith(int n, const __nv_bfloat16 *__restrict__ a, const __nv_bfloat16 *__restrict__ b,
                                      const __nv_bfloat16 *__restrict__ c, __nv_bfloat16 *__restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    out[3 * i + 0] = __hadd(a[i], b[i]);
    out[3 * i + 1] = __hmul(a[i], b[i]);
    out[3 * i + 2] = __hfma(a[i], b[i], c[i]);
}

extern "C" __global__ void bf162_fma(int n, const __nv_bfloat162 *__restrict__ a, const __nv_bfloat162 *__restrict__ b,
                                     const __nv_bfloat162 *__restrict__ c, __nv_bfloat162 *__restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = __hfma2(a[i], b[i], c[i]);
}

// One thread per row: dot of bf16 rows, accumulated in float with fmaf in order.
extern "C" __global__ void bf16_dot(int rows, int cols, const __nv_bfloat16 *__restrict__ a,
                                    const __nv_bfloat16 *__restrict__ b, float *__restrict__ out)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    float acc = 0.0f;
    for (int c = 0; c < cols; c++)
        acc = fmaf(__bfloat162float(a[r * cols + c]), __bfloat162float(b[r * cols + c]), acc);
    out[r] = acc;
}
