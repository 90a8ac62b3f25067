/*
 * GPOOL_TFLOPS_LIMIT (src/hook/vram.c): converted to a compute share with the device model's
 * FP16 TFLOPs when cuInit creates the vGPU's ledger. Run as `test_hook_tflops <pct>` (the share
 * the ledger must hold) or `test_hook_tflops invalid` (cuInit must answer
 * CUDA_ERROR_INVALID_VALUE); GPOOL_VGPU, GPOOL_TFLOPS_LIMIT and GPOOL_VGPU_DIR come from the
 * environment, the simulated H100 (989.4 TFLOPs) is the device.
 */
#include "hook_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_hook_tflops <pct>|invalid");
    char path[4096];
    vgpu_ledger_path(path, sizeof(path));
    unlink(path);
    if (strcmp(argv[1], "invalid") == 0) {
        CHECK_RC(cuInit(0), CUDA_ERROR_INVALID_VALUE);
        CHECK(access(path, F_OK) != 0, "a ledger was created for a bad GPOOL_TFLOPS_LIMIT");
        return check_done(argv[1]);
    }
    unsigned want = (unsigned)atoi(argv[1]);
    REQUIRE_OK(cuInit(0));
    struct ledger *l = open_ledger();
    struct ledger_limits lim;
    CHECK_OK(ledger_get_limits(l, &lim));
    CHECK(lim.compute_pct == want, "GPOOL_TFLOPS_LIMIT=%s: share %u%%, expected %u%%",
          getenv("GPOOL_TFLOPS_LIMIT"), lim.compute_pct, want);
    ledger_close(l);
    return check_done(argv[1]);
}
