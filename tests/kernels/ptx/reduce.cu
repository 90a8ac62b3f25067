// Reductions: shared-memory tree, warp shuffles, atomics (gpool PTX front-end test kernel).
#include <cuda_runtime.h>

__global__ void reduce_shared(const float *in, float *out, int n)
{
    __shared__ float buf[256];
    unsigned t = threadIdx.x;
    unsigned i = blockIdx.x * blockDim.x * 2 + t;
    float v = 0.0f;
    if (i < n) v = in[i];
    if (i + blockDim.x < n) v += in[i + blockDim.x];
    buf[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] += buf[t + s];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = buf[0];
}

__global__ void reduce_shfl(const int *in, int *out, int n)
{
    int sum = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        sum += in[i];
    for (int off = 16; off > 0; off >>= 1)
        sum += __shfl_down_sync(0xffffffffu, sum, off);
    int x = __shfl_xor_sync(0xffffffffu, sum, 1);
    int y = __shfl_up_sync(0xffffffffu, x, 2);
    int z = __shfl_sync(0xffffffffu, y, 0);
    if ((threadIdx.x & 31) == 0) atomicAdd(out, sum + (z & 0));
}

__global__ void reduce_f64(const double *in, double *out, int n)
{
    double s = 0.0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        s = fma(in[i], in[i], s);
    for (int off = 16; off > 0; off >>= 1)
        s += __shfl_down_sync(0xffffffffu, s, off);
    if ((threadIdx.x & 31) == 0) atomicAdd(out, s);
}

__global__ void vote_ballot(const int *in, unsigned *out)
{
    int v = in[threadIdx.x];
    unsigned b = __ballot_sync(0xffffffffu, v > 0);
    int all = __all_sync(0xffffffffu, v != 0);
    int any = __any_sync(0xffffffffu, v < -5);
    unsigned act = __activemask();
    out[threadIdx.x] = b ^ (all << 1) ^ (any << 2) ^ act ^ __popc(v) ^ __clz(v) ^ __brev(v) ^ __ffs(v);
}
