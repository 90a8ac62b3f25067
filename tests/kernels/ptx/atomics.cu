// Atomics on global and shared memory (gpool PTX front-end test kernel).
__global__ void histogram(const unsigned char *data, unsigned *bins, int n)
{
    __shared__ unsigned local[256];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) local[i] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        atomicAdd(&local[data[i]], 1u);
    __syncthreads();
    for (int i = threadIdx.x; i < 256; i += blockDim.x) atomicAdd(&bins[i], local[i]);
}

__global__ void atomic_mix(int *ip, unsigned *up, float *fp, unsigned long long *lp, int v)
{
    atomicMin(ip, v);
    atomicMax(ip + 1, v);
    atomicAnd(up, (unsigned)v);
    atomicOr(up + 1, (unsigned)v);
    atomicXor(up + 2, (unsigned)v);
    atomicExch(up + 3, (unsigned)v);
    atomicInc(up + 4, 17u);
    atomicDec(up + 5, 17u);
    int old = atomicCAS(ip + 2, 0, v);
    atomicAdd(fp, (float)old);
    atomicAdd(lp, 3ull);
    __threadfence();
    ip[3] = old;
}
