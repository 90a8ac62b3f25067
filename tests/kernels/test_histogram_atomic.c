/* histogram_atomic: 256 bins of a skewed byte stream (many collisions on a few bins), counted with
 * shared then global atomicAdd; the counts are exact whatever the interleaving. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 200000 };
    static unsigned char data[N];
    uint32_t want[256] = {0}, got[256];
    for (int i = 0; i < N; i++) {
        uint32_t r = kt_rand_u32();
        data[i] = (r & 0x300) ? (unsigned char)(r & 7) : (unsigned char)(r >> 24);
        want[data[i]]++;
    }
    CUdeviceptr dd = kt_upload(data, sizeof data), db = kt_alloc(sizeof got);
    int n = N;
    void *args[] = {&dd, &n, &db};
    kt_launch(kt_func("histogram_atomic"), 30, 192, 0, args);
    kt_download(got, db, sizeof got);
    kt_check_u32("bins", got, want, 256);
    return kt_done("kernel-histogram_atomic");
}
