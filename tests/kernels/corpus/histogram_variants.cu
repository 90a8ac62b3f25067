// Corpus: histogram variants: privatised per-warp sub-histograms in shared memory, a 64-bit
// weighted histogram with float atomics on global memory, and warp-aggregated atomics
// (match_any + one atomic per distinct bin).
extern "C" __global__ void hist_per_warp(const unsigned char *d, int n, unsigned *bins)
{
    __shared__ unsigned h[8][256];
    unsigned w = threadIdx.x >> 5;
    for (int k = threadIdx.x; k < 8 * 256; k += blockDim.x)
        (&h[0][0])[k] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        atomicAdd(&h[w][d[i]], 1u);
    __syncthreads();
    for (int b = threadIdx.x; b < 256; b += blockDim.x) {
        unsigned s = 0;
        for (int k = 0; k < 8; k++)
            s += h[k][b];
        atomicAdd(&bins[b], s);
    }
}

extern "C" __global__ void hist_weighted(const float *x, const float *wgt, int n, float lo, float hi, int nb,
                                         float *bins)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int b = (int)((x[i] - lo) / (hi - lo) * nb);
    b = min(max(b, 0), nb - 1);
    atomicAdd(&bins[b], wgt[i]);
}

extern "C" __global__ void hist_warp_aggregated(const unsigned *keys, int n, unsigned nb, unsigned *bins)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned b = i < n ? keys[i] % nb : 0xffffffffu;
    unsigned peers = __match_any_sync(0xffffffffu, b);
    unsigned leader = __ffs(peers) - 1;
    if ((threadIdx.x & 31) == leader && b != 0xffffffffu)
        atomicAdd(&bins[b], __popc(peers));
}
