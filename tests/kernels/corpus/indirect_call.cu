// Corpus: indirect calls through a __device__ function-pointer table (call with a prototype in the
// PTX), virtual-like dispatch on a per-element opcode, and a recursive __noinline__ helper.
typedef float (*unary_fn)(float);
__device__ __noinline__ float op_sq(float x) { return x * x; }
__device__ __noinline__ float op_neg(float x) { return -x; }
__device__ __noinline__ float op_rcp(float x) { return 1.0f / x; }
__device__ __noinline__ float op_exp(float x) { return __expf(x); }
__device__ unary_fn table[4] = {op_sq, op_neg, op_rcp, op_exp};

__device__ __noinline__ int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }

extern "C" __global__ void dispatch(const float *x, const int *op, float *y, const int *p, const int *q, int *g, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    unary_fn f = table[op[i] & 3];
    y[i] = f(x[i]);
    g[i] = gcd(abs(p[i]), abs(q[i]));
}
