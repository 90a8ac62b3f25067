// Corpus: LayerNorm over rows (one block per row): Welford mean/variance per thread, combined
// across the block with shuffles and shared memory, rsqrtf, affine gamma/beta, f16 input/output.
#include <cuda_fp16.h>
extern "C" __global__ void layernorm_f16(const __half *__restrict__ x, const float *__restrict__ gamma,
                                         const float *__restrict__ beta, __half *__restrict__ y, int cols, float eps)
{
    __shared__ float sm[32], sv[32], sn[32];
    const __half *row = x + (size_t)blockIdx.x * cols;
    float mean = 0.0f, m2 = 0.0f, cnt = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = __half2float(row[c]);
        cnt += 1.0f;
        float d = v - mean;
        mean += d / cnt;
        m2 += d * (v - mean);
    }
    for (int o = 16; o; o >>= 1) {
        float om = __shfl_xor_sync(0xffffffffu, mean, o), o2 = __shfl_xor_sync(0xffffffffu, m2, o);
        float on = __shfl_xor_sync(0xffffffffu, cnt, o);
        float n = cnt + on;
        if (n > 0.0f) {
            float d = om - mean;
            mean += d * on / n;
            m2 += o2 + d * d * cnt * on / n;
        }
        cnt = n;
    }
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    if (lane == 0)
        sm[w] = mean, sv[w] = m2, sn[w] = cnt;
    __syncthreads();
    if (threadIdx.x == 0) {
        float M = 0.0f, V = 0.0f, N = 0.0f;
        for (int k = 0; k < (int)(blockDim.x >> 5); k++) {
            float n = N + sn[k];
            if (n > 0.0f) {
                float d = sm[k] - M;
                M += d * sn[k] / n;
                V += sv[k] + d * d * N * sn[k] / n;
            }
            N = n;
        }
        sm[0] = M;
        sv[0] = rsqrtf(V / N + eps);
    }
    __syncthreads();
    float M = sm[0], inv = sv[0];
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        y[(size_t)blockIdx.x * cols + c] = __float2half((__half2float(row[c]) - M) * inv * gamma[c] + beta[c]);
}
