// Corpus: mixed precision: half2 vectorised AXPY, bf16 GEMV accumulating in float, and an f16
// ReLU/GELU activation using tanhf, all with vector loads.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
extern "C" __global__ void haxpy2(int n2, __half2 a, const __half2 *x, __half2 *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n2)
        y[i] = __hfma2(a, x[i], y[i]);
}

extern "C" __global__ void bf16_gemv(int rows, int cols, const __nv_bfloat162 *A, const __nv_bfloat162 *x, float *y)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    float acc = 0.0f;
    for (int c = 0; c < cols / 2; c++) {
        float2 a = __bfloat1622float2(A[r * (cols / 2) + c]), b = __bfloat1622float2(x[c]);
        acc = fmaf(a.x, b.x, fmaf(a.y, b.y, acc));
    }
    y[r] = acc;
}

extern "C" __global__ void gelu_f16(const __half *in, __half *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float x = __half2float(in[i]);
    float g = 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
    out[i] = __float2half_rn(x > 0.0f ? g : fmaxf(g, 0.0f) * 0.0f + g);
}
