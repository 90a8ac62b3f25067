// Corpus: 2D 5-point Jacobi step on a 16x16 shared tile with a one-cell halo and clamped borders.
extern "C" __global__ void jacobi2d(const float *__restrict__ in, float *__restrict__ out, int w, int h)
{
    __shared__ float t[18][18];
    int x = blockIdx.x * 16 + threadIdx.x, y = blockIdx.y * 16 + threadIdx.y;
    int cx = min(max(x, 0), w - 1), cy = min(max(y, 0), h - 1);
    t[threadIdx.y + 1][threadIdx.x + 1] = in[cy * w + cx];
    if (threadIdx.x == 0)
        t[threadIdx.y + 1][0] = in[cy * w + max(cx - 1, 0)];
    if (threadIdx.x == 15)
        t[threadIdx.y + 1][17] = in[cy * w + min(cx + 1, w - 1)];
    if (threadIdx.y == 0)
        t[0][threadIdx.x + 1] = in[max(cy - 1, 0) * w + cx];
    if (threadIdx.y == 15)
        t[17][threadIdx.x + 1] = in[min(cy + 1, h - 1) * w + cx];
    __syncthreads();
    if (x < w && y < h) {
        int i = threadIdx.y + 1, j = threadIdx.x + 1;
        out[y * w + x] = 0.2f * (t[i][j] + t[i - 1][j] + t[i + 1][j] + t[i][j - 1] + t[i][j + 1]);
    }
}
