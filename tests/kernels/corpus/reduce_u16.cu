// Corpus: sum of a u16 array. Grid-stride accumulation in unsigned, warp shuffle reduction,
// per-warp partials in shared memory, one atomic per block; also the block's min and max.

template <typename T, typename A>
__device__ __forceinline__ A warp_sum(A v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

extern "C" __global__ void reduce_u16(const unsigned short *__restrict__ in, unsigned *__restrict__ out,
                                        unsigned *__restrict__ minmax, int n)
{
    __shared__ unsigned part[32];
    __shared__ unsigned lo[32], hi[32];
    unsigned v = 0, mn = 0, mx = 0;
    bool any = false;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        unsigned x = (unsigned)in[i];
        v += x;
        mn = any ? (x < mn ? x : mn) : x;
        mx = any ? (x > mx ? x : mx) : x;
        any = true;
    }
    v = warp_sum<unsigned short, unsigned>(v);
    for (int o = 16; o > 0; o >>= 1) {
        unsigned a = __shfl_down_sync(0xffffffffu, mn, o), b = __shfl_down_sync(0xffffffffu, mx, o);
        mn = a < mn ? a : mn;
        mx = b > mx ? b : mx;
    }
    unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        part[warp] = v;
        lo[warp] = mn;
        hi[warp] = mx;
    }
    __syncthreads();
    if (warp == 0) {
        unsigned nw = blockDim.x >> 5;
        v = lane < nw ? part[lane] : (unsigned)0;
        mn = lane < nw ? lo[lane] : lo[0];
        mx = lane < nw ? hi[lane] : hi[0];
        v = warp_sum<unsigned short, unsigned>(v);
        for (int o = 16; o > 0; o >>= 1) {
            unsigned a = __shfl_down_sync(0xffffffffu, mn, o), b = __shfl_down_sync(0xffffffffu, mx, o);
            mn = a < mn ? a : mn;
            mx = b > mx ? b : mx;
        }
        if (lane == 0) {
            atomicAdd(out, v);
            minmax[2 * blockIdx.x] = mn;
            minmax[2 * blockIdx.x + 1] = mx;
        }
    }
}
