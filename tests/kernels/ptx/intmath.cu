// Integer and rounding corner cases: 64-bit division, sub-word types, saturation, explicit
// rounding intrinsics, strings (gpool PTX front-end test kernel).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

__global__ void int64_ops(const long long *a, const unsigned long long *b, long long *q, unsigned long long *r, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        q[i] = a[i] / (long long)(b[i] | 1) + __mul64hi(a[i], 77) + llabs(a[i]);
        r[i] = b[i] % 1000003ull + __umul64hi(b[i], b[i]) + __brevll(b[i]) + __clzll(a[i]);
    }
}

__global__ void subword(const signed char *sc, const short *ss, const unsigned short *us, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        short s = ss[i];
        out[i] = sc[i] * 3 + s / 7 + us[i] % 5 + (signed char)(s >> 3) + __sad(i, n, 1);
    }
}

__global__ void rounding(const float *x, const double *d, float *y, double *z, int *k, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        y[i] = __fadd_rd(v, 1.0f) + __fmul_ru(v, 3.0f) + __fmaf_rz(v, v, 1.0f) + __saturatef(v)
               + __frcp_rn(v) + __fsqrt_rn(v) + __fdiv_rz(v, 3.0f) + copysignf(v, -1.0f) + truncf(v)
               + floorf(v) + ceilf(v) + rintf(v) + (isnan(v) ? 1.0f : 0.0f) + (isinf(v) ? 2.0f : 0.0f);
        z[i] = __dadd_rn(d[i], 1.0) + __dmul_rz(d[i], 3.0) + __fma_rd(d[i], d[i], 1.0) + __drcp_rn(d[i])
               + rsqrt(d[i]) + (double)__double2float_rn(d[i]) + exp(d[i]) + log(d[i]);
        k[i] = __float2int_ru(v) + __double2int_rd(d[i]) + (int)__double2ull_rz(d[i]) + __float2ll_rn(v);
    }
}

__global__ void bf16_math(const __nv_bfloat16 *a, const __half *h, __nv_bfloat16 *out, __half *hout, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = __hadd(a[i], __hmul(a[i], a[i]));
        __half x = h[i];
        hout[i] = __hlt(x, __float2half(1.0f)) ? __hsub(x, __hneg(x)) : hexp(x);
    }
}

__global__ void to_upper(const char *in, char *out, int *count, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        char c = in[i];
        bool lower = c >= 'a' && c <= 'z';
        out[i] = lower ? c - 32 : c;
        if (lower) atomicAdd_block(count, 1);
    }
}

__global__ void atomics_shared_f(float *out, double *dout)
{
    __shared__ float f;
    __shared__ double d;
    if (threadIdx.x == 0) { f = 0.0f; d = 0.0; }
    __syncthreads();
    atomicAdd(&f, 1.5f);
    atomicAdd(&d, 0.25);
    atomicMax((unsigned long long *)dout, (unsigned long long)threadIdx.x);
    __syncthreads();
    if (threadIdx.x == 0) { out[blockIdx.x] = f; dout[blockIdx.x + 1] = d; }
}
