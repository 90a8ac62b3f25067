/*
 * A vGPU whose ledger cannot be opened (GPOOL_VGPU_DIR under a file, so not even root can make
 * it) fails closed: cuInit, which attaches to the vGPU, answers CUDA_ERROR_OPERATING_SYSTEM each
 * time it is called, no allocation gets through, and the reason is logged once with the vGPU's
 * name and the path (GPOOL_LOG=error:<file>), not once per call.
 */
#include "hook_test.h"

int main(void)
{
    const char *log = getenv("GPOOL_LOG");
    const char *log_path = log ? strchr(log, ':') : NULL;
    REQUIRE(log_path, "GPOOL_LOG must be error:<file>");
    log_path++;
    unlink(log_path);

    for (int i = 0; i < 3; i++)
        CHECK_RC(cuInit(0), CUDA_ERROR_OPERATING_SYSTEM);
    CUdeviceptr p = 0;
    CHECK(cuMemAlloc_v2(&p, 1 << 20) != CUDA_SUCCESS && p == 0,
          "an allocation got through a vGPU without a ledger: %llx", (unsigned long long)p);

    FILE *f = fopen(log_path, "r");
    REQUIRE(f != NULL, "nothing logged to %s", log_path);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    int times = 0;
    for (const char *s = buf; (s = strstr(s, "cannot open its ledger")); s++)
        times++;
    CHECK(times == 1, "the reason was logged %d times: %s", times, buf);
    CHECK(strstr(buf, getenv("GPOOL_VGPU")) && strstr(buf, "/dev/null/gpool-vgpu") &&
              strstr(buf, "Not a directory"),
          "the log does not name the vGPU, the path and the reason: %s", buf);
    return check_done("hook-vgpu-unopenable");
}
