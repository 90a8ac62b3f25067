// Corpus: softmax cross-entropy loss per row with log-sum-exp (logf, expf, max), labels as
// int64, the mean loss by a double atomicAdd and the gradient written in place.
extern "C" __global__ void cross_entropy(float *logits, const long long *labels, int cols, double *loss, int rows)
{
    __shared__ float red[128];
    float *x = logits + (size_t)blockIdx.x * cols;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        m = fmaxf(m, x[c]);
    red[threadIdx.x] = m;
    __syncthreads();
    for (int s = 64; s; s >>= 1) {
        if (threadIdx.x < s)
            red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }
    m = red[0];
    __syncthreads();
    float sum = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        sum += expf(x[c] - m);
    red[threadIdx.x] = sum;
    __syncthreads();
    for (int s = 64; s; s >>= 1) {
        if (threadIdx.x < s)
            red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    float lse = m + logf(red[0]);
    long long lab = labels[blockIdx.x];
    if (threadIdx.x == 0)
        atomicAdd(loss, (double)(lse - x[lab]) / rows);
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        x[c] = expf(x[c] - lse) - (c == lab ? 1.0f : 0.0f);
}
