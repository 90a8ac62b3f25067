// Corpus: double-buffered tiled SGEMM: the next tiles are prefetched into registers while the
// current shared-memory buffer is consumed; two shared buffers alternate.
#define T 16
extern "C" __global__ void sgemm_double_buffer(int M, int N, int K, const float *__restrict__ A,
                                               const float *__restrict__ B, float *__restrict__ C)
{
    __shared__ float As[2][T][T], Bs[2][T][T];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * T + ty, col = blockIdx.x * T + tx;
    float acc = 0.0f;
    float ra = (row < M && tx < K) ? A[row * K + tx] : 0.0f;
    float rb = (ty < K && col < N) ? B[ty * N + col] : 0.0f;
    As[0][ty][tx] = ra;
    Bs[0][ty][tx] = rb;
    __syncthreads();
    int buf = 0;
    for (int k0 = 0; k0 < K; k0 += T) {
        int nk = k0 + T;
        if (nk < K) {
            ra = (row < M && nk + tx < K) ? A[row * K + nk + tx] : 0.0f;
            rb = (nk + ty < K && col < N) ? B[(nk + ty) * N + col] : 0.0f;
        }
#pragma unroll
        for (int k = 0; k < T; k++)
            acc = fmaf(As[buf][ty][k], Bs[buf][k][tx], acc);
        if (nk < K) {
            As[buf ^ 1][ty][tx] = ra;
            Bs[buf ^ 1][ty][tx] = rb;
        }
        __syncthreads();
        buf ^= 1;
    }
    if (row < M && col < N)
        C[row * N + col] = acc;
}
