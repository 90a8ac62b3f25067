#line 1 "assert_trap.cu"
// Corpus (the #line above keeps __FILE__, which assert embeds, independent of the build path):
// device-side assert (__assertfail), an explicit __trap() on corrupt input and device
// printf of diagnostics: the error paths real kernels carry.
#include <cassert>
#include <cstdio>
extern "C" __global__ void checked_gather(const int *idx, const float *src, float *dst, int n, int nsrc)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int k = idx[i];
    assert(k >= 0);
    if (k >= nsrc) {
        printf("checked_gather: index %d out of range at %d (block %d)\n", k, i, blockIdx.x);
        __trap();
    }
    dst[i] = src[k];
}
