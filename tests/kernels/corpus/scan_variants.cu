// Corpus: scans: Hillis-Steele inclusive scan of floats in shared memory (double-buffered), a
// segmented warp scan with head flags, and a 64-bit exclusive scan by warp shuffles.
extern "C" __global__ void scan_hillis_steele(const float *in, float *out, int n)
{
    __shared__ float buf[2][512];
    int t = threadIdx.x, i = blockIdx.x * 512 + t;
    int pout = 0, pin = 1;
    buf[pout][t] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (int off = 1; off < 512; off <<= 1) {
        pout = 1 - pout;
        pin = 1 - pout;
        buf[pout][t] = t >= off ? buf[pin][t] + buf[pin][t - off] : buf[pin][t];
        __syncthreads();
    }
    if (i < n)
        out[i] = buf[pout][t];
}

extern "C" __global__ void segmented_warp_scan(const int *v, const int *flags, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lane = threadIdx.x & 31;
    int x = i < n ? v[i] : 0;
    unsigned heads = __ballot_sync(0xffffffffu, i < n && flags[i]);
    unsigned seg_start = 31 - __clz(heads & ((2u << lane) - 1) | 1u);
    for (int d = 1; d < 32; d <<= 1) {
        int y = __shfl_up_sync(0xffffffffu, x, d);
        if (lane >= seg_start + d)
            x += y;
    }
    if (i < n)
        out[i] = x;
}

extern "C" __global__ void exclusive_scan_u64(const unsigned long long *in, unsigned long long *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lane = threadIdx.x & 31;
    unsigned long long x = i < n ? in[i] : 0, incl = x;
    for (int d = 1; d < 32; d <<= 1) {
        unsigned long long y = __shfl_up_sync(0xffffffffu, incl, d);
        if (lane >= d)
            incl += y;
    }
    if (i < n)
        out[i] = incl - x;
}
