// Atomics of several kinds and widths, on global and shared memory. Every result is independent
// of the order in which threads run: float adds use values whose sums are exact, the CAS loop
// builds a maximum of doubles, atomicInc/atomicDec wrap (their final value is fixed by the count).
// g layout: see the host test (test_atomics_mix.c).
struct atomics_out {
    int add_i32;
    unsigned inc_wrap;
    unsigned dec_wrap;
    int max_i32;
    int min_i32;
    unsigned max_u32;
    unsigned and_u32;
    unsigned or_u32;
    unsigned xor_u32;
    float add_f32;
    unsigned long long add_u64;
    unsigned long long cas_max_f64_bits;
    unsigned long long max_u64;
    unsigned shared_sum;
    int exch_seen;
};

__device__ __noinline__ double atomic_max_double(double *addr, double v)
{
    unsigned long long *p = (unsigned long long *)addr;
    unsigned long long old = *p, assumed;
    do {
        assumed = old;
        if (__longlong_as_double(assumed) >= v)
            break;
        old = atomicCAS(p, assumed, (unsigned long long)__double_as_longlong(v));
    } while (old != assumed);
    return __longlong_as_double(old);
}

extern "C" __global__ void atomics_mix(const int *__restrict__ in, atomics_out *g, unsigned *__restrict__ inc_old,
                                       int *__restrict__ exch_slot, int n)
{
    __shared__ unsigned ssum;
    if (threadIdx.x == 0)
        ssum = 0;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int v = in[i];
        atomicAdd(&g->add_i32, v);
        inc_old[i] = atomicInc(&g->inc_wrap, 16u);
        atomicDec(&g->dec_wrap, 9u);
        atomicMax(&g->max_i32, v);
        atomicMin(&g->min_i32, v);
        atomicMax(&g->max_u32, (unsigned)v);
        atomicAnd(&g->and_u32, ~(1u << (i & 31)) | (unsigned)v);
        atomicOr(&g->or_u32, 1u << (v & 31));
        atomicXor(&g->xor_u32, (unsigned)v);
        atomicAdd(&g->add_f32, (float)(v & 255) * 0.25f);
        atomicAdd(&g->add_u64, (unsigned long long)(unsigned)v << 20);
        atomic_max_double((double *)&g->cas_max_f64_bits, (double)v * 1.5);
        atomicMax(&g->max_u64, ((unsigned long long)(unsigned)v << 32) | (unsigned)i);
        atomicAdd(&ssum, (unsigned)v & 0xff);
        // Every thread swaps its id into one slot; the ids that come back, plus the final one,
        // are each id exactly once.
        exch_slot[i + 1] = atomicExch(&exch_slot[0], i);
    }
    __syncthreads();
    if (threadIdx.x == 0)
        atomicAdd((unsigned *)&g->shared_sum, ssum);
}
