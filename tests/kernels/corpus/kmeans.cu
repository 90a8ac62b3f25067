// Corpus: k-means assignment step (nearest centroid by squared distance, centroids staged in
// dynamic shared memory) and the update step accumulating sums with float atomics.
extern "C" __global__ void kmeans_assign(const float *__restrict__ pts, const float *__restrict__ cent, int n,
                                         int k, int dim, int *__restrict__ label)
{
    extern __shared__ float c[];
    for (int e = threadIdx.x; e < k * dim; e += blockDim.x)
        c[e] = cent[e];
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float best = INFINITY;
    int bi = 0;
    for (int j = 0; j < k; j++) {
        float d = 0.0f;
        for (int t = 0; t < dim; t++) {
            float u = pts[i * dim + t] - c[j * dim + t];
            d = fmaf(u, u, d);
        }
        if (d < best)
            best = d, bi = j;
    }
    label[i] = bi;
}

extern "C" __global__ void kmeans_update(const float *pts, const int *label, int n, int dim, float *sums, int *counts)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int l = label[i];
    atomicAdd(&counts[l], 1);
    for (int t = 0; t < dim; t++)
        atomicAdd(&sums[l * dim + t], pts[i * dim + t]);
}
