// Corpus: radix-2 decimation-in-time FFT of 1024 complex floats per block in shared memory:
// bit-reversal with __brev, twiddles by sincospif, butterflies with barriers.
extern "C" __global__ void fft1024(float2 *data, int inverse)
{
    __shared__ float2 s[1024];
    float2 *d = data + blockIdx.x * 1024;
    for (int i = threadIdx.x; i < 1024; i += blockDim.x)
        s[__brev(i) >> 22] = d[i];
    __syncthreads();
    for (int len = 2; len <= 1024; len <<= 1) {
        int half = len >> 1;
        for (int k = threadIdx.x; k < 512; k += blockDim.x) {
            int grp = k / half, pos = k % half, i = grp * len + pos;
            float sn, cs;
            sincospif((inverse ? 2.0f : -2.0f) * pos / len, &sn, &cs);
            float2 u = s[i], v = s[i + half];
            float2 t = make_float2(v.x * cs - v.y * sn, v.x * sn + v.y * cs);
            s[i] = make_float2(u.x + t.x, u.y + t.y);
            s[i + half] = make_float2(u.x - t.x, u.y - t.y);
        }
        __syncthreads();
    }
    float sc = inverse ? 1.0f / 1024 : 1.0f;
    for (int i = threadIdx.x; i < 1024; i += blockDim.x)
        d[i] = make_float2(s[i].x * sc, s[i].y * sc);
}
