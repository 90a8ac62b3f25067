// Corpus: bitonic sort of 1024 keys per block in shared memory (compare-exchange with barriers),
// plus the global-memory step kernel used for arrays larger than a block.
extern "C" __global__ void bitonic_sort_block(unsigned *keys)
{
    __shared__ unsigned s[1024];
    unsigned t = threadIdx.x, base = blockIdx.x * 1024;
    s[t] = keys[base + t];
    s[t + 512] = keys[base + t + 512];
    __syncthreads();
    for (unsigned k = 2; k <= 1024; k <<= 1)
        for (unsigned j = k >> 1; j > 0; j >>= 1) {
            for (unsigned i = t; i < 1024; i += 512) {
                unsigned ixj = i ^ j;
                if (ixj > i) {
                    bool up = (i & k) == 0;
                    unsigned a = s[i], b = s[ixj];
                    if ((a > b) == up) {
                        s[i] = b;
                        s[ixj] = a;
                    }
                }
            }
            __syncthreads();
        }
    keys[base + t] = s[t];
    keys[base + t + 512] = s[t + 512];
}

extern "C" __global__ void bitonic_step(float *a, unsigned j, unsigned k, unsigned n)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x, ixj = i ^ j;
    if (i >= n || ixj <= i || ixj >= n)
        return;
    float x = a[i], y = a[ixj];
    bool up = (i & k) == 0;
    if ((x > y) == up) {
        a[i] = y;
        a[ixj] = x;
    }
}
