// Integer bit manipulation: popc, clz, brev, ffs, byte_perm (prmt), mulhi/umulhi/mul64hi,
// funnel shifts (clamped and wrapping), 64-bit popc/clz, sad, and bfe/bfi through inline PTX (as
// CUB and other libraries use them). out has 20 words per thread.
#define NOPS 20
extern "C" __global__ void intops(const unsigned *__restrict__ a, const unsigned *__restrict__ b,
                                  const unsigned *__restrict__ c, unsigned *__restrict__ out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    unsigned x = a[i], y = b[i], z = c[i];
    unsigned long long xy = ((unsigned long long)x << 32) | y;
    unsigned *o = out + NOPS * i;
    o[0] = __popc(x);
    o[1] = __clz(x);
    o[2] = __brev(x);
    o[3] = __ffs(x);
    o[4] = __byte_perm(x, y, z & 0xffff);
    o[5] = __mulhi((int)x, (int)y);
    o[6] = __umulhi(x, y);
    o[7] = (unsigned)(__umul64hi(xy, ((unsigned long long)z << 32) | x) >> 7);
    o[8] = __funnelshift_l(x, y, z);
    o[9] = __funnelshift_r(x, y, z);
    o[10] = __funnelshift_lc(x, y, z);
    o[11] = __funnelshift_rc(x, y, z);
    o[12] = __popcll(xy);
    o[13] = __clzll(xy);
    unsigned r;
    asm("bfe.u32 %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(y & 63), "r"(z & 63));
    o[14] = r;
    int sr;
    asm("bfe.s32 %0, %1, %2, %3;" : "=r"(sr) : "r"(x), "r"(y & 31), "r"(z & 31));
    o[15] = (unsigned)sr;
    asm("bfi.b32 %0, %1, %2, %3, %4;" : "=r"(r) : "r"(x), "r"(y), "r"(z & 63), "r"((z >> 8) & 63));
    o[16] = r;
    o[17] = __sad((int)x, (int)y, z);
    o[18] = (unsigned)(((long long)(int)x * (long long)(int)z) >> 32) ^ (x * y);
    o[19] = (unsigned)__brevll(xy);
}
