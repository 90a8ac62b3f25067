// Device functions that are not inlined (__noinline__): so the PTX has .func definitions called
// with call.uni and arguments/returns through .param. fib is recursive (needs a per-thread local
// stack), horner takes a pointer and returns a float, divmod returns a struct, and sum_digits
// takes many arguments. Threads recurse to different depths (divergent calls).
struct divmod_result {
    int quot;
    int rem;
};

__device__ __noinline__ int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__device__ __noinline__ float horner(float x, const float *c, int degree)
{
    float r = c[degree];
    for (int k = degree - 1; k >= 0; k--)
        r = fmaf(r, x, c[k]);
    return r;
}

__device__ __noinline__ divmod_result divmod(int a, int b)
{
    divmod_result r;
    r.quot = a / b;
    r.rem = a % b;
    return r;
}

__device__ __noinline__ long long weighted(int a, int b, int c, int d, long long e, short f, char g, double h)
{
    return (long long)a * 1 + (long long)b * 3 + (long long)c * 5 + (long long)d * 7 + e * 11 + f * 13 + g * 17 +
           (long long)h;
}

extern "C" __global__ void devfunc(const int *__restrict__ in, const float *__restrict__ coef, int degree,
                                   int *__restrict__ fib_out, float *__restrict__ poly_out,
                                   int *__restrict__ dm_out, long long *__restrict__ w_out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int v = in[i];
    fib_out[i] = fib(v & 15);
    poly_out[i] = horner((float)v * 0.01f, coef, degree);
    divmod_result r = divmod(v * 7919 - 50000, (v & 7) + 1);
    dm_out[2 * i] = r.quot;
    dm_out[2 * i + 1] = r.rem;
    w_out[i] = weighted(v, -v, v * 2, i, (long long)v << 33, (short)(v * 100), (char)v, v * 0.5);
}
