// Kernels of the committed test fatbins (tests/unit/fatbin/gen.sh).
extern "C" __global__ void scale(float *x, float s, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] *= s;
}
