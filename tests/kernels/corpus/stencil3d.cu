// Corpus: 3D 7-point stencil marching along z with the column held in registers (double).
extern "C" __global__ void stencil3d(const double *__restrict__ in, double *__restrict__ out, int nx, int ny,
                                     int nz, double c0, double c1)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < 1 || y < 1 || x >= nx - 1 || y >= ny - 1)
        return;
    size_t plane = (size_t)nx * ny;
    double below = in[y * nx + x], cur = in[plane + y * nx + x];
    for (int z = 1; z < nz - 1; z++) {
        size_t i = z * plane + y * nx + x;
        double above = in[i + plane];
        out[i] = c0 * cur + c1 * (below + above + in[i - 1] + in[i + 1] + in[i - nx] + in[i + nx]);
        below = cur;
        cur = above;
    }
}
