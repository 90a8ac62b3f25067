// Corpus: matrix-vector products: y = A x with one warp per row (shuffle reduction) and y = A^T x
// with one thread per column (coalesced), both float.
extern "C" __global__ void gemv_warp_row(int rows, int cols, const float *__restrict__ A,
                                         const float *__restrict__ x, float *__restrict__ y)
{
    int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (row >= rows)
        return;
    float acc = 0.0f;
    for (int c = lane; c < cols; c += 32)
        acc += A[(size_t)row * cols + c] * __ldg(&x[c]);
    for (int o = 16; o; o >>= 1)
        acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0)
        y[row] = acc;
}

extern "C" __global__ void gemv_transposed(int rows, int cols, const float *__restrict__ A,
                                           const float *__restrict__ x, float *__restrict__ y)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols)
        return;
    float acc = 0.0f;
    for (int r = 0; r < rows; r++)
        acc = fmaf(A[(size_t)r * cols + c], x[r], acc);
    y[c] = acc;
}
