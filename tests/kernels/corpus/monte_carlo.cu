// Corpus: Monte-Carlo estimate of pi with a per-thread xorshift128+ generator, integer-to-float
// conversion of random bits, block reduction and a 64-bit atomic total.
__device__ __forceinline__ unsigned long long xs128p(unsigned long long &a, unsigned long long &b)
{
    unsigned long long t = a, s = b;
    a = s;
    t ^= t << 23;
    t ^= t >> 17;
    t ^= s ^ (s >> 26);
    b = t;
    return t + s;
}

extern "C" __global__ void mc_pi(unsigned long long seed, int samples, unsigned long long *hits)
{
    __shared__ unsigned long long part[256];
    unsigned long long a = seed ^ (0x9E3779B97F4A7C15ull * (blockIdx.x * blockDim.x + threadIdx.x + 1)),
                       b = a * 0xBF58476D1CE4E5B9ull + 1;
    unsigned long long h = 0;
    for (int k = 0; k < samples; k++) {
        unsigned long long r = xs128p(a, b);
        float x = (float)(unsigned)(r >> 40) * 0x1p-24f, y = (float)(unsigned)(r & 0xffffff) * 0x1p-24f;
        h += x * x + y * y <= 1.0f;
    }
    part[threadIdx.x] = h;
    __syncthreads();
    for (int s = blockDim.x / 2; s; s >>= 1) {
        if (threadIdx.x < s)
            part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        atomicAdd(hits, part[0]);
}
