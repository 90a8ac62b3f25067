// Corpus: Mandelbrot escape-time iteration (divergent loop lengths per lane), double precision,
// writing 8-bit colours.
extern "C" __global__ void mandelbrot(unsigned char *img, int w, int h, double x0, double y0, double step, int maxit)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    double cr = x0 + x * step, ci = y0 + y * step, zr = 0, zi = 0;
    int it = 0;
    while (it < maxit && zr * zr + zi * zi <= 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        it++;
    }
    img[y * w + x] = it == maxit ? 0 : (unsigned char)(it * 255 / maxit);
}
