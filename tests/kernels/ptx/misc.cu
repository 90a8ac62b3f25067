// Structs by value, templates, 64-bit and 16-bit atomics, packed-half atomics, dot products,
// grid-stride saxpy, managed and constant memory (gpool PTX front-end test kernel).
#include <cuda_fp16.h>

struct Params { float a; int n; double scale; const float *x; float *y; };

__device__ __managed__ int managed_counter;
__constant__ int lut[64];

__global__ void saxpy_struct(Params p)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += blockDim.x * gridDim.x)
        p.y[i] = p.a * p.x[i] + p.y[i] * (float)p.scale + lut[i & 63];
    if (threadIdx.x == 0 && blockIdx.x == 0) atomicAdd(&managed_counter, 1);
}

template <typename T, int B>
__global__ void tmpl_reduce(const T *in, T *out, int n)
{
    __shared__ T s[B];
    T v = 0;
    for (int i = blockIdx.x * B + threadIdx.x; i < n; i += B * gridDim.x) v += in[i];
    s[threadIdx.x] = v;
    __syncthreads();
#pragma unroll
    for (int k = B / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}
template __global__ void tmpl_reduce<double, 128>(const double *, double *, int);
template __global__ void tmpl_reduce<long long, 64>(const long long *, long long *, int);
template __global__ void tmpl_reduce<short, 32>(const short *, short *, int);

__global__ void atomics_wide(unsigned long long *u64, unsigned short *u16, __half2 *h2, __half *h, double *d)
{
    atomicCAS(u64, 0ull, (unsigned long long)threadIdx.x);
    atomicMin(u64 + 1, (unsigned long long)threadIdx.x);
    atomicCAS(u16, (unsigned short)0, (unsigned short)threadIdx.x);
    atomicAdd(h2, __floats2half2_rn(1.0f, 2.0f));
    atomicAdd(h, __float2half(0.5f));
    double old = __longlong_as_double(atomicCAS((unsigned long long *)d, 0ull, 1ull));
    d[1] = old + __shfl_sync(0xffffffffu, old, 3) + (double)__shfl_down_sync(0xffffffffu, (long long)old, 1);
}

__global__ void simd_bytes(const unsigned *a, const unsigned *b, unsigned *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = __dp4a(a[i], b[i], 7u) + __dp2a_lo(a[i], b[i], 3u) + __hadd(a[i], b[i]) + __rhadd(a[i], b[i])
                 + __usad(a[i], b[i], 1u);
}

__global__ void grid_constant_kernel(const __grid_constant__ Params p, float *out)
{
    out[threadIdx.x] = p.a + (float)p.n + (float)lut[threadIdx.x & 63];
}
