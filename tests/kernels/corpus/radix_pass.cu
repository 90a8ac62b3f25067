// Corpus: one pass of an LSD radix sort (4-bit digits): per-block digit histograms with shared
// atomics, then a stable scatter using ballot/popc ranks within each warp.
extern "C" __global__ void radix_histogram(const unsigned *keys, int n, int shift, unsigned *hist)
{
    __shared__ unsigned h[16];
    if (threadIdx.x < 16)
        h[threadIdx.x] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        atomicAdd(&h[(keys[i] >> shift) & 15], 1u);
    __syncthreads();
    if (threadIdx.x < 16)
        hist[threadIdx.x * gridDim.x + blockIdx.x] = h[threadIdx.x];
}

extern "C" __global__ void radix_scatter_warp(const unsigned *keys, unsigned *out, const unsigned *offsets,
                                              int n, int shift)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lane = threadIdx.x & 31;
    bool valid = i < n;
    unsigned key = valid ? keys[i] : 0xffffffffu;
    unsigned digit = (key >> shift) & 15;
    unsigned mask = __match_any_sync(0xffffffffu, valid ? digit : 16u);
    unsigned rank = __popc(mask & ((1u << lane) - 1));
    unsigned leader = __ffs(mask) - 1;
    unsigned base = 0;
    if (lane == leader && valid)
        base = atomicAdd((unsigned *)&offsets[digit], __popc(mask));
    base = __shfl_sync(mask, base, leader);
    if (valid)
        out[base + rank] = key;
}
