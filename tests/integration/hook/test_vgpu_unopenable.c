/*
 * A vGPU whose ledger cannot be opened (GPOOL_VGPU_DIR under a file, so not even root can make
 * it) fails closed: cuInit, which attaches to the vGPU, answers CUDA_ERROR_OPERATING_SYSTEM each
 * time it is called, no allocation gets through, and the reason is logged once with the vGPU's
 * name and the path (GPOOL_LOG=error:<file>), not once per call.
 */
#include "hook_test.h"
#include "log_file.h"

int main(void)
{
    const char *log_path = log_file_reset();

    for (int i = 0; i < 3; i++)
        CHECK_RC(cuInit(0), CUDA_ERROR_OPERATING_SYSTEM);
    CUdeviceptr p = 0;
    CHECK(cuMemAlloc_v2(&p, 1 << 20) != CUDA_SUCCESS && p == 0,
          "an allocation got through a vGPU without a ledger: %llx", (unsigned long long)p);

    char buf[8192];
    log_file_read(log_path, buf, sizeof(buf));
    int times = count_of(buf, "cannot open its ledger");
    CHECK(times == 1, "the reason was logged %d times: %s", times, buf);
    CHECK(strstr(buf, getenv("GPOOL_VGPU")) && strstr(buf, "/dev/null/gpool-vgpu") &&
              strstr(buf, "Not a directory"),
          "the log does not name the vGPU, the path and the reason: %s", buf);
    return check_done("hook-vgpu-unopenable");
}
