// Corpus: 2D convolution (single channel, KxK filter in constant memory, zero padding) and a
// direct multi-channel NCHW 3x3 convolution with one thread per output pixel.
__constant__ float c_filter[7 * 7];
extern "C" __global__ void conv2d_const(const float *__restrict__ img, float *__restrict__ out, int w, int h, int k)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    int r = k / 2;
    float acc = 0.0f;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int sx = x + dx, sy = y + dy;
            if (sx >= 0 && sx < w && sy >= 0 && sy < h)
                acc += c_filter[(dy + r) * k + dx + r] * img[sy * w + sx];
        }
    out[y * w + x] = acc;
}

extern "C" __global__ void conv3x3_nchw(const float *__restrict__ in, const float *__restrict__ wt,
                                        const float *__restrict__ bias, float *__restrict__ out, int C, int K,
                                        int H, int W)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, ko = blockIdx.z;
    if (x >= W || y >= H)
        return;
    float acc = bias[ko];
    for (int c = 0; c < C; c++)
#pragma unroll
        for (int i = 0; i < 3; i++)
#pragma unroll
            for (int j = 0; j < 3; j++) {
                int yy = y + i - 1, xx = x + j - 1;
                float v = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? in[(c * H + yy) * W + xx] : 0.0f;
                acc = fmaf(wt[((ko * C + c) * 3 + i) * 3 + j], v, acc);
            }
    out[(ko * H + y) * W + x] = fmaxf(acc, 0.0f);
}
