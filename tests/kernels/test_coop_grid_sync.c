/* coop_grid_sync: grid_rotate launched with cuLaunchCooperativeKernel (every block resident). Each
 * round reads a value another block wrote in the previous round, so a missing grid barrier shows
 * as stale values. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { BLOCKS = 8, T = 128, N = BLOCKS * T, ROUNDS = 7 };
    int attr = 0;
    CUdevice dev;
    REQUIRE_OK(cuCtxGetDevice(&dev));
    CHECK_OK(cuDeviceGetAttribute(&attr, CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, dev));
    CHECK(attr == 1, "cooperative launch attribute is %d", attr);
    int32_t ha[N], hb[N], got[N], want[N];
    for (int i = 0; i < N; i++)
        ha[i] = i;
    for (int r = 0; r < ROUNDS; r++) {
        int32_t *src = (r & 1) ? hb : ha, *dst = (r & 1) ? ha : hb;
        for (int i = 0; i < N; i++)
            dst[i] = src[(i + T + 1) % N] * 3 + r;
    }
    memcpy(want, (ROUNDS & 1) ? hb : ha, sizeof want);
    CUdeviceptr da = kt_alloc(sizeof ha), db = kt_alloc(sizeof hb);
    int rounds = ROUNDS;
    void *args[] = {&da, &db, &rounds};
    CUfunction f = kt_func("grid_rotate");
    int per_sm = 0;
    CHECK_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, T, 0));
    CHECK(per_sm >= 1, "occupancy %d blocks per SM", per_sm);
    REQUIRE_OK(cuLaunchCooperativeKernel(f, BLOCKS, 1, 1, T, 1, 1, 0, NULL, args));
    REQUIRE_OK(cuCtxSynchronize());
    kt_download(got, (ROUNDS & 1) ? db : da, sizeof got);
    kt_check_i32("grid_rotate", got, want, N);
    return kt_done("kernel-coop_grid_sync");
}
