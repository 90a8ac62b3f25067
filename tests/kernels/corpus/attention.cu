// Corpus: attention-like row: scores = q . K^T / sqrt(d), softmax with exp2f and a running max
// (online softmax), then out = softmax . V, one block per query, head dim 64 in shared memory.
extern "C" __global__ void attention_row(const float *__restrict__ Q, const float *__restrict__ K,
                                         const float *__restrict__ V, float *__restrict__ O, int seq, float scale)
{
    __shared__ float q[64];
    __shared__ float p[128];
    __shared__ float red[2];
    int t = threadIdx.x;
    if (t < 64)
        q[t] = Q[blockIdx.x * 64 + t];
    float acc = 0.0f, run_max = -INFINITY, run_sum = 0.0f;
    for (int base = 0; base < seq; base += 128) {
        __syncthreads();
        int j = base + t;
        float s = -INFINITY;
        if (j < seq) {
            s = 0.0f;
            for (int d = 0; d < 64; d++)
                s = fmaf(q[d], K[j * 64 + d], s);
            s *= scale * 1.4426950408889634f;
        }
        p[t] = s;
        __syncthreads();
        if (t == 0) {
            float m = run_max;
            for (int k = 0; k < 128; k++)
                m = fmaxf(m, p[k]);
            red[0] = m;
        }
        __syncthreads();
        float m = red[0];
        float corr = exp2f(run_max - m);
        p[t] = exp2f(s - m);
        __syncthreads();
        if (t == 0) {
            float sum = 0.0f;
            for (int k = 0; k < 128; k++)
                sum += p[k];
            red[1] = sum;
        }
        __syncthreads();
        run_sum = run_sum * corr + red[1];
        run_max = m;
        if (t < 64) {
            acc *= corr;
            for (int k = 0; k < 128 && base + k < seq; k++)
                acc = fmaf(p[k], V[(base + k) * 64 + t], acc);
        }
    }
    if (t < 64)
        O[blockIdx.x * 64 + t] = acc / run_sum;
}
