// Element-wise vector addition: the smallest kernel, used to check that committed PTX matches
// what the toolkit's nvcc produces from this source (see tests/kernels/meson.build).
extern "C" __global__ void vector_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}
