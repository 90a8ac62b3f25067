/*
 * atomics_mix: every result is independent of the order threads run in. atomicInc(p, 16) stores
 * (old >= 16) ? 0 : old + 1 and atomicDec(p, 9) stores (old == 0 || old > 9) ? 9 : old - 1 (PTX
 * atom.inc/atom.dec), so after k operations their values are fixed, and the old values atomicInc
 * returned are, as a multiset, 0..16 repeated. The exchanged ids plus the final one are a
 * permutation of -1, 0..n-1.
 */
#include "kernel_test.h"

struct atomics_out {
    int32_t add_i32;
    uint32_t inc_wrap, dec_wrap;
    int32_t max_i32, min_i32;
    uint32_t max_u32, and_u32, or_u32, xor_u32;
    float add_f32;
    uint64_t add_u64, cas_max_f64_bits, max_u64;
    uint32_t shared_sum;
    int32_t exch_seen;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { N = 1000, BLOCK = 128 };
    static int32_t in[N];
    for (int i = 0; i < N; i++)
        in[i] = (int32_t)kt_rand_u32() >> (i % 9);
    struct atomics_out init = {0}, got, want;
    init.max_i32 = INT32_MIN, init.min_i32 = INT32_MAX, init.and_u32 = ~0u;
    double neg_inf = -INFINITY;
    memcpy(&init.cas_max_f64_bits, &neg_inf, 8);
    want = init;
    uint32_t ssum = 0;
    double dmax = -INFINITY;
    for (int i = 0; i < N; i++) {
        int32_t v = in[i];
        want.add_i32 = (int32_t)((uint32_t)want.add_i32 + (uint32_t)v);
        want.inc_wrap = want.inc_wrap >= 16 ? 0 : want.inc_wrap + 1;
        want.dec_wrap = (want.dec_wrap == 0 || want.dec_wrap > 9) ? 9 : want.dec_wrap - 1;
        want.max_i32 = v > want.max_i32 ? v : want.max_i32;
        want.min_i32 = v < want.min_i32 ? v : want.min_i32;
        want.max_u32 = (uint32_t)v > want.max_u32 ? (uint32_t)v : want.max_u32;
        want.and_u32 &= ~(1u << (i & 31)) | (uint32_t)v;
        want.or_u32 |= 1u << (v & 31);
        want.xor_u32 ^= (uint32_t)v;
        want.add_f32 += (float)(v & 255) * 0.25f;
        want.add_u64 += (uint64_t)(uint32_t)v << 20;
        dmax = fmax(dmax, (double)v * 1.5);
        uint64_t m = ((uint64_t)(uint32_t)v << 32) | (uint32_t)i;
        want.max_u64 = m > want.max_u64 ? m : want.max_u64;
        ssum += (uint32_t)v & 0xff;
    }
    memcpy(&want.cas_max_f64_bits, &dmax, 8);
    want.shared_sum = ssum;

    static int32_t exch[N + 1];
    exch[0] = -1;
    CUdeviceptr din = kt_upload(in, sizeof in), dg = kt_upload(&init, sizeof init),
                dinc = kt_alloc(N * sizeof(uint32_t)), dex = kt_upload(exch, sizeof exch);
    int n = N;
    void *args[] = {&din, &dg, &dinc, &dex, &n};
    kt_launch(kt_func("atomics_mix"), (N + BLOCK - 1) / BLOCK, BLOCK, 0, args);
    kt_download(&got, dg, sizeof got);
#define FIELD(f) CHECK(got.f == want.f, #f ": got 0x%llx, expected 0x%llx", \
                       (unsigned long long)got.f, (unsigned long long)want.f)
    FIELD(add_i32);
    FIELD(inc_wrap);
    FIELD(dec_wrap);
    FIELD(max_i32);
    FIELD(min_i32);
    FIELD(max_u32);
    FIELD(and_u32);
    FIELD(or_u32);
    FIELD(xor_u32);
    FIELD(add_u64);
    FIELD(cas_max_f64_bits);
    FIELD(max_u64);
    FIELD(shared_sum);
#undef FIELD
    CHECK(got.add_f32 == want.add_f32, "add_f32: got %.9g, expected %.9g", got.add_f32,
          want.add_f32);

    static uint32_t olds[N], olds_want[N];
    kt_download(olds, dinc, sizeof olds);
    for (int k = 0; k < N; k++)
        olds_want[k] = (uint32_t)(k % 17);
    qsort(olds, N, sizeof olds[0], cmp_u32);
    qsort(olds_want, N, sizeof olds_want[0], cmp_u32);
    kt_check_u32("atomicInc old values (sorted)", olds, olds_want, N);

    kt_download(exch, dex, sizeof exch);
    static uint32_t ids[N + 1], ids_want[N + 1];
    for (int k = 0; k <= N; k++) {
        ids[k] = (uint32_t)(exch[k] + 1);
        ids_want[k] = (uint32_t)k;
    }
    qsort(ids, N + 1, sizeof ids[0], cmp_u32);
    kt_check_u32("atomicExch ids + 1 (sorted)", ids, ids_want, N + 1);
    return kt_done("kernel-atomics_mix");
}
