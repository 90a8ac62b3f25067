// Block prefix scans of each block's segment. scan_warp_inclusive: warp scans with __shfl_up_sync,
// warp totals in shared memory scanned by warp 0, then added back (inclusive, int). scan_blelloch:
// the work-efficient up-sweep / down-sweep exclusive scan in shared memory (unsigned, two elements
// per thread, blockDim.x * 2 elements per block).
extern "C" __global__ void scan_warp_inclusive(const int *__restrict__ in, int *__restrict__ out, int n)
{
    __shared__ int warp_tot[32];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int v = i < n ? in[i] : 0;
    for (int d = 1; d < 32; d <<= 1) {
        int u = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d)
            v += u;
    }
    if (lane == 31)
        warp_tot[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int t = lane < (blockDim.x >> 5) ? warp_tot[lane] : 0;
        for (int d = 1; d < 32; d <<= 1) {
            int u = __shfl_up_sync(0xffffffffu, t, d);
            if (lane >= d)
                t += u;
        }
        warp_tot[lane] = t;
    }
    __syncthreads();
    if (warp > 0)
        v += warp_tot[warp - 1];
    if (i < n)
        out[i] = v;
}

extern "C" __global__ void scan_blelloch(const unsigned *__restrict__ in, unsigned *__restrict__ out)
{
    extern __shared__ unsigned temp[];
    unsigned n = 2 * blockDim.x, t = threadIdx.x;
    const unsigned *src = in + blockIdx.x * n;
    unsigned *dst = out + blockIdx.x * n;
    temp[2 * t] = src[2 * t];
    temp[2 * t + 1] = src[2 * t + 1];
    unsigned offset = 1;
    for (unsigned d = n >> 1; d > 0; d >>= 1) {
        __syncthreads();
        if (t < d) {
            unsigned ai = offset * (2 * t + 1) - 1, bi = offset * (2 * t + 2) - 1;
            temp[bi] += temp[ai];
        }
        offset <<= 1;
    }
    if (t == 0)
        temp[n - 1] = 0;
    for (unsigned d = 1; d < n; d <<= 1) {
        offset >>= 1;
        __syncthreads();
        if (t < d) {
            unsigned ai = offset * (2 * t + 1) - 1, bi = offset * (2 * t + 2) - 1;
            unsigned x = temp[ai];
            temp[ai] = temp[bi];
            temp[bi] += x;
        }
    }
    __syncthreads();
    dst[2 * t] = temp[2 * t];
    dst[2 * t + 1] = temp[2 * t + 1];
}
