// Cooperative grid synchronisation (cooperative_groups grid.sync(); launch with
// cuLaunchCooperativeKernel). nvcc 13 needs no -rdc for this: grid.sync() is inlined, reads the
// grid workspace pointer from %envreg1/%envreg2 (a null workspace executes trap) and synchronises
// with barrier.sync + atom.add.release.gpu + ld.acquire.gpu spinning. Each round every thread
// reads its neighbour's value from the previous round, written by another block.
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

extern "C" __global__ void grid_rotate(int *__restrict__ a, int *__restrict__ b, int rounds)
{
    cg::grid_group g = cg::this_grid();
    unsigned n = g.size();
    unsigned i = g.thread_rank();
    a[i] = (int)i;
    for (int r = 0; r < rounds; r++) {
        g.sync();
        int *src = (r & 1) ? b : a;
        int *dst = (r & 1) ? a : b;
        dst[i] = src[(i + blockDim.x + 1) % n] * 3 + r;
    }
}
