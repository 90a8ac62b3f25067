// Corpus: naive GEMM, one thread per output, column-major like BLAS, with alpha/beta (double).
extern "C" __global__ void dgemm_naive(int m, int n, int k, double alpha, const double *A, int lda,
                                       const double *B, int ldb, double beta, double *C, int ldc)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= m || j >= n)
        return;
    double acc = 0.0;
    for (int p = 0; p < k; p++)
        acc += A[i + p * lda] * B[p + j * ldb];
    C[i + j * ldc] = alpha * acc + (beta == 0.0 ? 0.0 : beta * C[i + j * ldc]);
}
