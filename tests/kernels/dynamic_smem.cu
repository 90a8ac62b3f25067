// Dynamic shared memory (extern __shared__, size given at launch) beside a static array: each
// block reverses its segment through the dynamic buffer. Two extern __shared__ declarations alias
// the same base, so a value written through one is read through the other.
extern __shared__ float dyn_f[];
extern __shared__ int dyn_i[];

extern "C" __global__ void reverse_dynamic(const float *__restrict__ in, float *__restrict__ out, int seg)
{
    __shared__ int block_tag;
    const float *src = in + blockIdx.x * seg;
    float *dst = out + blockIdx.x * seg;
    if (threadIdx.x == 0)
        block_tag = blockIdx.x;
    for (int k = threadIdx.x; k < seg; k += blockDim.x)
        dyn_f[k] = src[k];
    __syncthreads();
    for (int k = threadIdx.x; k < seg; k += blockDim.x)
        dst[k] = dyn_f[seg - 1 - k] + (float)block_tag;
}

// aliased[i] = bits of the float written through dyn_f, read back through dyn_i.
extern "C" __global__ void alias_dynamic(const float *__restrict__ in, int *__restrict__ aliased)
{
    int t = threadIdx.x;
    dyn_f[t] = in[blockIdx.x * blockDim.x + t] * 2.0f;
    __syncthreads();
    aliased[blockIdx.x * blockDim.x + t] = dyn_i[blockDim.x - 1 - t];
}
