// Corpus: C++ templates and functors (mangled names): a generic elementwise transform with a
// functor, a generic block reduction with an operator, instantiated for several types.
template <typename T>
struct Square {
    __device__ T operator()(T x) const { return x * x; }
};
template <typename T>
struct Max {
    __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};

template <typename T, typename F>
__global__ void transform(const T *in, T *out, int n, F f)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        out[i] = f(in[i]);
}

template <typename T, typename Op, int BLOCK>
__global__ void block_reduce(const T *in, T *out, int n, T identity, Op op)
{
    __shared__ T s[BLOCK];
    T v = identity;
    for (int i = blockIdx.x * BLOCK + threadIdx.x; i < n; i += gridDim.x * BLOCK)
        v = op(v, in[i]);
    s[threadIdx.x] = v;
    __syncthreads();
    for (int st = BLOCK / 2; st > 0; st >>= 1) {
        if (threadIdx.x < st)
            s[threadIdx.x] = op(s[threadIdx.x], s[threadIdx.x + st]);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        out[blockIdx.x] = s[0];
}

template __global__ void transform<float, Square<float>>(const float *, float *, int, Square<float>);
template __global__ void transform<int, Square<int>>(const int *, int *, int, Square<int>);
template __global__ void transform<double, Square<double>>(const double *, double *, int, Square<double>);
template __global__ void block_reduce<float, Max<float>, 256>(const float *, float *, int, float, Max<float>);
template __global__ void block_reduce<long long, Max<long long>, 128>(const long long *, long long *, int, long long,
                                                                      Max<long long>);
