// 2D/3D grids and blocks and grid-stride loops. coords3d: every thread of a 3D grid of 3D blocks
// writes its coordinates into its slot of the linearised volume. stride2d: a 2D grid much smaller
// than the 2D problem covers it with nested grid-stride loops.
extern "C" __global__ void coords3d(unsigned *__restrict__ out, int nx, int ny, int nz)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int z = blockIdx.z * blockDim.z + threadIdx.z;
    if (x >= nx || y >= ny || z >= nz)
        return;
    unsigned linear_tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned linear_block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    out[((size_t)z * ny + y) * nx + x] = (linear_block << 16) | (linear_tid << 4) | ((x + y + z) & 15);
}

extern "C" __global__ void stride2d(float *__restrict__ a, int w, int h, float scale)
{
    for (int y = blockIdx.y * blockDim.y + threadIdx.y; y < h; y += gridDim.y * blockDim.y)
        for (int x = blockIdx.x * blockDim.x + threadIdx.x; x < w; x += gridDim.x * blockDim.x)
            a[y * w + x] = a[y * w + x] * scale + (float)(x - y);
}
