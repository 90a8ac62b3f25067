// Corpus: bit manipulation: Morton (Z-order) encode/decode, bit-plane transpose of 32x32 bit
// blocks with shuffles, population-count histograms and Gray code, all on 32/64-bit words.
__device__ __forceinline__ unsigned long long spread2(unsigned x)
{
    unsigned long long v = x;
    v = (v | (v << 16)) & 0x0000ffff0000ffffull;
    v = (v | (v << 8)) & 0x00ff00ff00ff00ffull;
    v = (v | (v << 4)) & 0x0f0f0f0f0f0f0f0full;
    v = (v | (v << 2)) & 0x3333333333333333ull;
    v = (v | (v << 1)) & 0x5555555555555555ull;
    return v;
}

extern "C" __global__ void morton2d(const unsigned *x, const unsigned *y, unsigned long long *code, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        code[i] = spread2(x[i]) | (spread2(y[i]) << 1);
}

extern "C" __global__ void transpose_bits32(const unsigned *in, unsigned *out)
{
    unsigned lane = threadIdx.x & 31, v = in[blockIdx.x * 32 + lane], r = 0;
    for (int b = 0; b < 32; b++)
        r |= (unsigned)((__ballot_sync(0xffffffffu, (v >> b) & 1) >> lane) & 1) << b;
    out[blockIdx.x * 32 + lane] = r;
}

extern "C" __global__ void popc_gray(const unsigned long long *in, unsigned *hist, unsigned long long *gray, int n)
{
    __shared__ unsigned h[65];
    for (int k = threadIdx.x; k < 65; k += blockDim.x)
        h[k] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        unsigned long long v = in[i];
        atomicAdd(&h[__popcll(v)], 1u);
        gray[i] = v ^ (v >> 1);
    }
    __syncthreads();
    for (int k = threadIdx.x; k < 65; k += blockDim.x)
        atomicAdd(&hist[k], h[k]);
}
