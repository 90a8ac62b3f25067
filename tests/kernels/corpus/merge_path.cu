// Corpus: merge of two sorted int arrays by merge path: each thread binary-searches its diagonal,
// then merges a fixed number of elements sequentially.
extern "C" __global__ void merge_path(const int *a, int na, const int *b, int nb, int *out, int per_thread)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int diag = t * per_thread;
    if (diag >= na + nb)
        return;
    int lo = max(0, diag - nb), hi = min(diag, na);
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (a[mid] <= b[diag - 1 - mid])
            lo = mid + 1;
        else
            hi = mid;
    }
    int i = lo, j = diag - lo;
    for (int k = 0; k < per_thread && diag + k < na + nb; k++) {
        bool take_a = j >= nb || (i < na && a[i] <= b[j]);
        out[diag + k] = take_a ? a[i++] : b[j++];
    }
}
