// Double precision: daxpy with an explicit fma, a dot product whose per-block partials come from a
// fixed-order fma accumulation and shared-memory tree (bit-exact on the host), the grand total by
// double atomicAdd (order varies: checked with a relative bound), and correctly rounded f64
// sqrt and division (sqrt.rn.f64, div.rn.f64: exact).
extern "C" __global__ void daxpy(int n, double a, const double *__restrict__ x, double *__restrict__ y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = fma(a, x[i], y[i]);
}

extern "C" __global__ void ddot(int n, const double *__restrict__ x, const double *__restrict__ y,
                                double *__restrict__ partial, double *__restrict__ total)
{
    __shared__ double s[128];
    double acc = 0.0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        acc = fma(x[i], y[i], acc);
    s[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned st = blockDim.x / 2; st > 0; st >>= 1) {
        if (threadIdx.x < st)
            s[threadIdx.x] += s[threadIdx.x + st];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = s[0];
        atomicAdd(total, s[0]);
    }
}

extern "C" __global__ void dsqrt_div(int n, const double *__restrict__ x, const double *__restrict__ y,
                                     double *__restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = sqrt(x[i]) / y[i];
}
