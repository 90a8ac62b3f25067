// Corpus: single-pass prefix sum with decoupled look-back: each block publishes its aggregate and
// then its inclusive prefix through flag-tagged 64-bit words (volatile loads, __threadfence,
// atomics), and spins on its predecessors' status. Block ids come from an atomic ticket so blocks
// that start later never wait on ones that have not started.
#define FLAG_A 1ull
#define FLAG_P 2ull
extern "C" __global__ void scan_lookback(const int *__restrict__ in, int *__restrict__ out,
                                         unsigned long long *status, unsigned *ticket, int n)
{
    __shared__ int s[256];
    __shared__ unsigned bid;
    __shared__ int exclusive;
    if (threadIdx.x == 0)
        bid = atomicAdd(ticket, 1u);
    __syncthreads();
    int i = bid * 256 + threadIdx.x;
    s[threadIdx.x] = i < n ? in[i] : 0;
    __syncthreads();
    for (int d = 1; d < 256; d <<= 1) {
        int v = threadIdx.x >= d ? s[threadIdx.x - d] : 0;
        __syncthreads();
        s[threadIdx.x] += v;
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        int agg = s[255];
        if (bid == 0) {
            atomicExch(&status[0], ((unsigned long long)(unsigned)agg << 2) | FLAG_P);
            exclusive = 0;
        } else {
            atomicExch(&status[bid], ((unsigned long long)(unsigned)agg << 2) | FLAG_A);
            int sum = 0;
            int p = bid - 1;
            while (p >= 0) {
                unsigned long long st = *(volatile unsigned long long *)&status[p];
                if ((st & 3) == 0)
                    continue;
                sum += (int)(unsigned)(st >> 2);
                if ((st & 3) == FLAG_P)
                    break;
                p--;
            }
            __threadfence();
            atomicExch(&status[bid], ((unsigned long long)(unsigned)(sum + agg) << 2) | FLAG_P);
            exclusive = sum;
        }
    }
    __syncthreads();
    if (i < n)
        out[i] = s[threadIdx.x] + exclusive;
}
