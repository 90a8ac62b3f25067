// 256-bin byte histogram: each block counts into a shared histogram with shared-memory atomicAdd,
// then adds its bins to the global histogram with global atomicAdd. Grid-stride over the input.
extern "C" __global__ void histogram_atomic(const unsigned char *__restrict__ data, int n,
                                            unsigned int *__restrict__ bins)
{
    __shared__ unsigned int local[256];
    for (int b = threadIdx.x; b < 256; b += blockDim.x)
        local[b] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        atomicAdd(&local[data[i]], 1u);
    __syncthreads();
    for (int b = threadIdx.x; b < 256; b += blockDim.x)
        if (local[b])
            atomicAdd(&bins[b], local[b]);
}
