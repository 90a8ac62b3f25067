// Corpus: 1D 7-point stencil with a shared-memory halo, coefficients in __constant__ memory.
__constant__ float c_coef[7];
#define R 3
extern "C" __global__ void stencil1d(const float *__restrict__ in, float *__restrict__ out, int n)
{
    extern __shared__ float s[];
    int g = blockIdx.x * blockDim.x + threadIdx.x, l = threadIdx.x + R;
    s[l] = g < n ? in[g] : 0.0f;
    if (threadIdx.x < R) {
        s[l - R] = g >= R ? in[g - R] : 0.0f;
        int h = g + blockDim.x;
        s[l + blockDim.x] = h < n ? in[h] : 0.0f;
    }
    __syncthreads();
    if (g >= n)
        return;
    float acc = 0.0f;
#pragma unroll
    for (int k = -R; k <= R; k++)
        acc += c_coef[k + R] * s[l + k];
    out[g] = acc;
}
