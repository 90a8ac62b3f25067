// Matrix transpose through a shared tile padded by one column (no bank conflicts), templated on
// the element type (C++-mangled): blocks of 32 x 8 threads move 32 x 32 tiles; out is cols x rows.
template <typename T, int TILE = 32, int ROWS = 8>
__global__ void transpose(const T *__restrict__ in, T *__restrict__ out, int rows, int cols)
{
    __shared__ T tile[TILE][TILE + 1];
    int x = blockIdx.x * TILE + threadIdx.x;
    int y = blockIdx.y * TILE + threadIdx.y;
    for (int j = 0; j < TILE; j += ROWS)
        if (x < cols && y + j < rows)
            tile[threadIdx.y + j][threadIdx.x] = in[(y + j) * cols + x];
    __syncthreads();
    x = blockIdx.y * TILE + threadIdx.x;
    y = blockIdx.x * TILE + threadIdx.y;
    for (int j = 0; j < TILE; j += ROWS)
        if (x < rows && y + j < cols)
            out[(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
}

template __global__ void transpose<float>(const float *, float *, int, int);
template __global__ void transpose<double>(const double *, double *, int, int);
