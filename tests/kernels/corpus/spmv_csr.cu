// Corpus: sparse matrix-vector product in CSR: scalar (thread per row) and vector (warp per row).
extern "C" __global__ void spmv_csr_scalar(int rows, const int *__restrict__ rowptr, const int *__restrict__ colidx,
                                           const double *__restrict__ val, const double *__restrict__ x,
                                           double *__restrict__ y)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    double acc = 0.0;
    for (int k = rowptr[r]; k < rowptr[r + 1]; k++)
        acc += val[k] * x[colidx[k]];
    y[r] = acc;
}

extern "C" __global__ void spmv_csr_vector(int rows, const int *__restrict__ rowptr, const int *__restrict__ colidx,
                                           const float *__restrict__ val, const float *__restrict__ x,
                                           float *__restrict__ y)
{
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (warp >= rows)
        return;
    float acc = 0.0f;
    for (int k = rowptr[warp] + lane; k < rowptr[warp + 1]; k += 32)
        acc += val[k] * x[colidx[k]];
    for (int o = 16; o; o >>= 1)
        acc += __shfl_down_sync(0xffffffffu, acc, o);
    if (lane == 0)
        y[warp] = acc;
}
