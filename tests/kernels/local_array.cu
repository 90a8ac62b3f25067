// Per-thread arrays in local memory indexed with run-time values: an insertion sort of 16 floats
// and a 32-entry table walked by data-dependent indices (nvcc cannot keep either in registers).
extern "C" __global__ void local_array(const float *__restrict__ in, const int *__restrict__ steps,
                                       float *__restrict__ sorted, int *__restrict__ walk, int n)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n)
        return;
    float v[16];
    for (int k = 0; k < 16; k++)
        v[k] = in[t * 16 + k];
    for (int k = 1; k < 16; k++) {
        float key = v[k];
        int j = k - 1;
        while (j >= 0 && v[j] > key) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = key;
    }
    for (int k = 0; k < 16; k++)
        sorted[t * 16 + k] = v[k];

    int table[32];
    for (int k = 0; k < 32; k++)
        table[k] = (k * 7 + t) & 31;
    int pos = t & 31, acc = 0;
    for (int s = 0; s < 24; s++) {
        int st = steps[(t + s) % 64];
        pos = table[(pos + st) & 31];
        table[(pos * 3) & 31] += st;
        acc = acc * 31 + pos;
    }
    walk[t] = acc;
}
