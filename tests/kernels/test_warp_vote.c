/*
 * warp_vote: 3 blocks of 80 threads (warps of 32, 32 and 16 lanes) and n = 230, so the last warp
 * has 6 lanes left after the others return. Only active, non-exited lanes take part in each vote,
 * match and redux (PTX ISA: vote.sync, match.sync, redux.sync with membermask = activemask). The
 * activemask inside the if/else is the set of lanes on that side of the branch.
 */
#include "kernel_test.h"

#define NV 12

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { BLOCK = 80, GRID = 3, N = 230, TOTAL = BLOCK * GRID };
    static uint32_t v[TOTAL], got[NV * TOTAL], want[NV * TOTAL];
    for (int i = 0; i < TOTAL; i++) {
        int warp = (i % BLOCK) / 32 + 3 * (i / BLOCK);
        uint32_t r = kt_rand_u32();
        switch (warp % 4) {
        case 0: v[i] = r % 1000; break;                         /* small, some zero-free */
        case 1: v[i] = 0x40000000u | (r & 0x3fffffffu) | 1; break; /* same top bits, no zero */
        case 2: v[i] = r; break;
        default: v[i] = (r % 5 == 0) ? 0 : r | 0x80000000u; break;
        }
    }
    memset(want, 0, sizeof want);
    for (int b = 0; b < GRID; b++)
        for (int w0 = 0; w0 < BLOCK; w0 += 32) {
            int width = BLOCK - w0 < 32 ? BLOCK - w0 : 32;
            uint32_t mask = 0;
            for (int l = 0; l < width; l++)
                if (b * BLOCK + w0 + l < N)
                    mask |= 1u << l;
            uint32_t ballot = 0, any = 0, all = 1, sum = 0, mn = UINT32_MAX, andv = ~0u, orv = 0,
                     xorv = 0, br = 0;
            int32_t mx = INT32_MIN;
            int same_top = 1;
            uint32_t top0 = 0;
            int first = 1;
            for (int l = 0; l < 32; l++) {
                if (!(mask >> l & 1))
                    continue;
                uint32_t x = v[b * BLOCK + w0 + l];
                ballot |= (x & 1) << l;
                any |= x > 1000000u;
                all &= x != 0;
                br |= (x & 2) ? 1u << l : 0;
                sum += x & 0xffff;
                mn = x < mn ? x : mn;
                mx = (int32_t)x > mx ? (int32_t)x : mx;
                andv &= x, orv |= x, xorv ^= x;
                if (first)
                    top0 = x >> 30, first = 0;
                else if (x >> 30 != top0)
                    same_top = 0;
            }
            for (int l = 0; l < 32; l++) {
                if (!(mask >> l & 1))
                    continue;
                int i = b * BLOCK + w0 + l;
                uint32_t x = v[i], *o = want + NV * i, match = 0;
                for (int k = 0; k < 32; k++)
                    if ((mask >> k & 1) && (v[b * BLOCK + w0 + k] & 7) == (x & 7))
                        match |= 1u << k;
                o[0] = mask;
                o[1] = ballot;
                o[2] = any;
                o[3] = all;
                o[4] = (x & 2) ? br : ~(mask & ~br);
                o[5] = match;
                o[6] = same_top ? mask : 0;
                o[7] = sum ^ (same_top ? 0x80000000u : 0);
                o[8] = mn;
                o[9] = (uint32_t)mx;
                o[10] = andv ^ orv;
                o[11] = xorv;
            }
        }
    CUdeviceptr dv = kt_upload(v, sizeof v), dout = kt_alloc(sizeof got);
    int n = N;
    void *args[] = {&dv, &dout, &n};
    kt_launch(kt_func("warp_vote"), GRID, BLOCK, 0, args);
    kt_download(got, dout, sizeof got);
    static const char *names[NV] = {"activemask", "ballot", "any", "all", "activemask(branch)",
                                    "match.any", "match.all", "redux.add^pred", "redux.min.u32",
                                    "redux.max.s32", "redux.and^or", "redux.xor"};
    for (int k = 0; k < NV; k++) {
        uint32_t g[N], w[N];
        for (int i = 0; i < N; i++)
            g[i] = got[NV * i + k], w[i] = want[NV * i + k];
        kt_check_u32(names[k], g, w, N);
    }
    return kt_done("kernel-warp_vote");
}
