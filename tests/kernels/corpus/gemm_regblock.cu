// Corpus: register-blocked SGEMM: 64x64 block tile, 8x8 threads each computing an 8x8 micro-tile
// from shared-memory panels (float4 loads), templated on the K step (C++-mangled).
template <int BK>
__global__ void __launch_bounds__(64) sgemm_regblock(int M, int N, int K, const float *__restrict__ A,
                                                     const float *__restrict__ B, float *__restrict__ C)
{
    __shared__ float As[BK][64];
    __shared__ float Bs[BK][64];
    int tx = threadIdx.x % 8, ty = threadIdx.x / 8;
    int row0 = blockIdx.y * 64, col0 = blockIdx.x * 64;
    float acc[8][8] = {};
    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int e = threadIdx.x; e < BK * 64; e += 64) {
            int kk = e / 64, mm = e % 64;
            As[kk][mm] = (row0 + mm < M && k0 + kk < K) ? A[(row0 + mm) * K + k0 + kk] : 0.0f;
            Bs[kk][mm] = (col0 + mm < N && k0 + kk < K) ? B[(k0 + kk) * N + col0 + mm] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float a[8], b[8];
            *(float4 *)&a[0] = *(const float4 *)&As[kk][ty * 8];
            *(float4 *)&a[4] = *(const float4 *)&As[kk][ty * 8 + 4];
            *(float4 *)&b[0] = *(const float4 *)&Bs[kk][tx * 8];
            *(float4 *)&b[4] = *(const float4 *)&Bs[kk][tx * 8 + 4];
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++)
                    acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            int r = row0 + ty * 8 + i, c = col0 + tx * 8 + j;
            if (r < M && c < N)
                C[r * N + c] = acc[i][j];
        }
}
template __global__ void sgemm_regblock<8>(int, int, int, const float *, const float *, float *);
