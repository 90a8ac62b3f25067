// f16/bf16 and f64 math, conversions (gpool PTX front-end test kernel).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

__global__ void half_axpy(const __half *x, __half *y, __half a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __hfma(a, x[i], y[i]);
}

__global__ void half2_mul(const __half2 *x, __half2 *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __hmul2(x[i], y[i]);
}

__global__ void bf16_convert(const float *x, __nv_bfloat16 *y, float *z, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        __nv_bfloat16 b = __float2bfloat16(x[i]);
        y[i] = b;
        z[i] = __bfloat162float(b) + __half2float(__float2half(x[i]));
    }
}

__global__ void f64_math(const double *x, double *y, long long *k, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        double v = x[i];
        y[i] = sqrt(fabs(v)) / (v + 1.0) + fmin(v, 2.5) - fmax(v, -1.0);
        k[i] = (long long)v + __double2int_rz(v) + (long long)(float)v;
    }
}

__global__ void float_math(const float *x, float *y, unsigned *u, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        y[i] = __expf(v) + __logf(v + 2.0f) + __sinf(v) * __cosf(v) + rsqrtf(v * v + 1.0f)
               + tanhf(v) + __fdividef(v, 3.0f) + v / (v + 7.0f);
        u[i] = __float2uint_rn(v) + (unsigned)__float2int_rd(v) + __float_as_uint(v) % 7u
               + (unsigned)(i / (n + 1));
    }
}
