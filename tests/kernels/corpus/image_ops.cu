// Corpus: image processing on uchar4 pixels: RGBA -> grey with rounding conversions, a 3x3 Sobel
// edge magnitude with sqrtf and saturation, and bilinear resize.
extern "C" __global__ void rgba_to_grey(const uchar4 *in, unsigned char *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    uchar4 p = in[i];
    out[i] = (unsigned char)__float2uint_rn(0.299f * p.x + 0.587f * p.y + 0.114f * p.z);
}

extern "C" __global__ void sobel(const unsigned char *in, unsigned char *out, int w, int h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < 1 || y < 1 || x >= w - 1 || y >= h - 1)
        return;
#define P(dx, dy) (int)in[(y + (dy)) * w + x + (dx)]
    int gx = -P(-1, -1) - 2 * P(-1, 0) - P(-1, 1) + P(1, -1) + 2 * P(1, 0) + P(1, 1);
    int gy = -P(-1, -1) - 2 * P(0, -1) - P(1, -1) + P(-1, 1) + 2 * P(0, 1) + P(1, 1);
#undef P
    out[y * w + x] = (unsigned char)(__saturatef(sqrtf((float)(gx * gx + gy * gy)) / 1442.0f) * 255.0f);
}

extern "C" __global__ void resize_bilinear(const float *in, int iw, int ih, float *out, int ow, int oh)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ow || y >= oh)
        return;
    float fx = (x + 0.5f) * iw / ow - 0.5f, fy = (y + 0.5f) * ih / oh - 0.5f;
    int x0 = max((int)floorf(fx), 0), y0 = max((int)floorf(fy), 0);
    int x1 = min(x0 + 1, iw - 1), y1 = min(y0 + 1, ih - 1);
    float ax = fx - floorf(fx), ay = fy - floorf(fy);
    float top = in[y0 * iw + x0] * (1 - ax) + in[y0 * iw + x1] * ax;
    float bot = in[y1 * iw + x0] * (1 - ax) + in[y1 * iw + x1] * ax;
    out[y * ow + x] = top * (1 - ay) + bot * ay;
}
