/* local_array: per-thread insertion sort of 16 floats and a data-dependent walk over a 32-entry
 * table, both in local memory; the reference repeats them with wrapping 32-bit arithmetic. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 200 };
    static float in[16 * N], got[16 * N], want[16 * N];
    static int32_t steps[64], walk[N], walk_want[N];
    for (int i = 0; i < 16 * N; i++)
        in[i] = kt_rand_f32(-1000, 1000);
    for (int i = 0; i < 64; i++)
        steps[i] = (int32_t)(kt_rand_u32() % 1000) - 500;
    for (int t = 0; t < N; t++) {
        float v[16];
        memcpy(v, in + 16 * t, sizeof v);
        for (int k = 1; k < 16; k++) {
            float key = v[k];
            int j = k - 1;
            while (j >= 0 && v[j] > key) {
                v[j + 1] = v[j];
                j--;
            }
            v[j + 1] = key;
        }
        memcpy(want + 16 * t, v, sizeof v);
        uint32_t table[32];
        for (int k = 0; k < 32; k++)
            table[k] = (uint32_t)((k * 7 + t) & 31);
        int32_t pos = t & 31;
        uint32_t acc = 0;
        for (int s = 0; s < 24; s++) {
            int32_t st = steps[(t + s) % 64];
            pos = (int32_t)table[(pos + st) & 31];
            table[(pos * 3) & 31] += (uint32_t)st;
            acc = acc * 31 + (uint32_t)pos;
        }
        walk_want[t] = (int32_t)acc;
    }
    CUdeviceptr di = kt_upload(in, sizeof in), ds = kt_upload(steps, sizeof steps),
                dsorted = kt_alloc(sizeof got), dwalk = kt_alloc(sizeof walk);
    int n = N;
    void *args[] = {&di, &ds, &dsorted, &dwalk, &n};
    kt_launch(kt_func("local_array"), (N + 63) / 64, 64, 0, args);
    kt_download(got, dsorted, sizeof got);
    kt_download(walk, dwalk, sizeof walk);
    kt_check_f32_ulp("sorted", got, want, 16 * N, 0);
    kt_check_i32("walk", walk, walk_want, N);
    return kt_done("kernel-local_array");
}
