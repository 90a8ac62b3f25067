// Barriers with reductions, warp-level intrinsics, cooperative grid sync, assert and trap
// (gpool PTX front-end test kernel).
#include <cassert>
#include <cooperative_groups.h>
namespace cg = cooperative_groups;
// assert() records __FILE__; fix it so the PTX does not depend on the path nvcc was given.
#line 7 "sync.cu"

__global__ void barrier_reductions(const int *in, int *out)
{
    int v = in[blockIdx.x * blockDim.x + threadIdx.x];
    int cnt = __syncthreads_count(v > 0);
    int all = __syncthreads_and(v != 0);
    int any = __syncthreads_or(v < 0);
    __syncwarp();
    unsigned peers = __match_any_sync(0xffffffffu, v);
    int pred;
    unsigned same = __match_all_sync(0xffffffffu, v & 1, &pred);
    int sum = __reduce_add_sync(0xffffffffu, v);
    unsigned mx = __reduce_max_sync(0xffffffffu, (unsigned)v);
    unsigned orr = __reduce_or_sync(0xffffffffu, (unsigned)v);
    out[blockIdx.x * blockDim.x + threadIdx.x] = cnt + all + any + peers + same + pred + sum + mx + orr;
}

__global__ void grid_sync(int *data, int n)
{
    cg::grid_group g = cg::this_grid();
    for (int i = g.thread_rank(); i < n; i += g.size()) data[i] += 1;
    g.sync();
    for (int i = g.thread_rank(); i < n; i += g.size()) data[i] *= data[(i + 1) % n];
}

__global__ void checks(const int *in, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    assert(i < 1 << 30);
    if (in[i] == 12345) __trap();
    if (i < n) out[i] = in[i];
    __nanosleep(100);
}

__global__ void spin_wait(volatile int *flag, long long *cycles)
{
    long long start = clock64();
    while (*flag == 0) { }
    cycles[threadIdx.x] = clock64() - start;
    __threadfence_block();
    __threadfence_system();
}
