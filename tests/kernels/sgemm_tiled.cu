// Tiled SGEMM, C = alpha*A*B + beta*C (row-major, M x K times K x N), templated on the tile size
// (C++-mangled). Each block stages TILE x TILE tiles of A and B in shared memory with barriers
// before and after use; edges are padded with zeros, so M, N, K need not be multiples of TILE.
template <int TILE>
__global__ void sgemm_tiled(int M, int N, int K, float alpha, const float *__restrict__ A,
                            const float *__restrict__ B, float beta, float *__restrict__ C)
{
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;
        Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TILE; k++)
            acc += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (row < M && col < N)
        C[row * N + col] = alpha * acc + beta * C[row * N + col];
}

template __global__ void sgemm_tiled<16>(int, int, int, float, const float *, const float *, float, float *);
template __global__ void sgemm_tiled<8>(int, int, int, float, const float *, const float *, float, float *);
