// Warp-wide collectives with partial and divergent warps: ballot/any/all, activemask inside a
// branch, match_any/match_all, and the sm_80 redux (__reduce_add/min/max/and/or/xor_sync). The
// block has a partial last warp (blockDim.x not a multiple of 32); lanes beyond n exit early, so
// only the remaining lanes take part. out has 12 words per thread.
#define NV 12
extern "C" __global__ void warp_vote(const unsigned *__restrict__ v, unsigned *__restrict__ out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    unsigned x = v[i];
    unsigned mask = __activemask();
    unsigned *o = out + NV * i;
    o[0] = mask;
    o[1] = __ballot_sync(mask, x & 1);
    o[2] = __any_sync(mask, x > 1000000u);
    o[3] = __all_sync(mask, x != 0);
    if (x & 2)
        o[4] = __activemask();
    else
        o[4] = ~__activemask();
    o[5] = __match_any_sync(mask, x & 7);
    int pred;
    o[6] = __match_all_sync(mask, x >> 30, &pred);
    o[7] = __reduce_add_sync(mask, x & 0xffff) ^ (pred ? 0x80000000u : 0);
    o[8] = __reduce_min_sync(mask, x);
    o[9] = (unsigned)__reduce_max_sync(mask, (int)x);
    o[10] = __reduce_and_sync(mask, x) ^ __reduce_or_sync(mask, x);
    o[11] = __reduce_xor_sync(mask, x);
}
