// Warp-shuffle reductions. reduce_shuffle_f32: each warp folds its values with __shfl_down_sync
// (offsets 16..1) and every lane's final register is written to lanes_out, so lanes whose source
// is out of range (they get their own value back) are checked too; lane 0 of each warp stores the
// warp's sum in shared memory and warp 0 folds those into out[block].
// reduce_shuffle_xor_i32: butterfly (__shfl_xor_sync) sum, every lane ends with the warp total.
extern "C" __global__ void reduce_shuffle_f32(const float *__restrict__ in, float *__restrict__ lanes_out,
                                              float *__restrict__ out, int n)
{
    __shared__ float warp_sums[32];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, off);
    if (i < n)
        lanes_out[i] = v;
    unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0)
        warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        unsigned nwarps = (blockDim.x + 31) >> 5;
        v = lane < nwarps ? warp_sums[lane] : 0.0f;
        for (int off = 16; off > 0; off >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, off);
        if (lane == 0)
            out[blockIdx.x] = v;
    }
}

extern "C" __global__ void reduce_shuffle_xor_i32(const int *__restrict__ in, int *__restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[i];
    for (int mask = 1; mask < 32; mask <<= 1)
        v += __shfl_xor_sync(0xffffffffu, v, mask);
    out[i] = v;
}
