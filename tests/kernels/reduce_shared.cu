// Shared-memory tree reduction with __syncthreads, templated on the block size (C++-mangled
// names). Each thread sums its grid-stride slice in order, then the block halves the active range
// each step; block b writes its partial sum to out[b]. The order of additions is fixed, so the
// host reference reproduces the result bit for bit.
template <unsigned BLOCK>
__global__ void reduce_shared(const float *__restrict__ in, float *__restrict__ out, int n)
{
    __shared__ float s[BLOCK];
    unsigned t = threadIdx.x;
    float sum = 0.0f;
    for (int i = blockIdx.x * BLOCK + t; i < n; i += gridDim.x * BLOCK)
        sum += in[i];
    s[t] = sum;
    __syncthreads();
    for (unsigned stride = BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride)
            s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = s[0];
}

template __global__ void reduce_shared<256>(const float *, float *, int);
template __global__ void reduce_shared<64>(const float *, float *, int);
