// Device printf (vprintf with a packed argument buffer): a few threads print integers of several
// widths, hex, a float, a double, a string and a char. The host captures stdout and compares the
// set of lines (their order across threads is not defined).
#include <cstdio>

extern "C" __global__ void device_printf(int base, const char *tag)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    long long big = (long long)(base + t) << 32;
    printf("t=%d u=%u x=%x ll=%lld f=%.3f g=%g s=%s c=%c\n", t, (unsigned)(base * t), 0xabc0u + t, big,
           (float)t * 0.5f, (double)t / 4.0, tag, 'A' + t);
}
