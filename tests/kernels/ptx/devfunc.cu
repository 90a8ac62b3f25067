// Device functions, dynamic shared memory, constants, globals, printf (gpool PTX front-end test kernel).
#include <cstdio>

__constant__ float coeffs[4] = {1.0f, 0.5f, 0.25f, 0.125f};
__device__ int counter = 7;
__device__ int table[8] = {1, 2, 3, 5, 8, 13, 21, 34};

__device__ __noinline__ float poly(float x)
{
    return ((coeffs[3] * x + coeffs[2]) * x + coeffs[1]) * x + coeffs[0];
}

__device__ __noinline__ int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__global__ void __launch_bounds__(128, 4) use_funcs(float *out, int n)
{
    extern __shared__ float dyn[];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    dyn[threadIdx.x] = poly((float)i);
    __syncthreads();
    if (i < n) out[i] = dyn[(threadIdx.x + 1) % blockDim.x] + table[i & 7] + fib(i & 7);
    if (i == 0) {
        counter++;
        printf("counter %d lane\n", counter);
    }
}

__global__ void stencil(const float *in, float *out, int w, int h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x > 0 && y > 0 && x < w - 1 && y < h - 1) {
        float c = in[y * w + x];
        out[y * w + x] = 0.5f * c + 0.125f * (in[y * w + x - 1] + in[y * w + x + 1] +
                                              in[(y - 1) * w + x] + in[(y + 1) * w + x]);
    }
}

__global__ void vec4_copy(const float4 *__restrict__ in, float4 *__restrict__ out, int n, long long stamp)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float4 v = __ldg(&in[i]);
        v.x += (float)(clock64() - stamp);
        out[i] = v;
    }
}
