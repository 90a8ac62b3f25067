/*
 * The hook refuses a GPOOL_REAL_DRIVER that is not a real driver (argv[1] says which case the
 * environment sets up: the hook itself, the toolkit's stub, a relative or missing path): every
 * call fails cleanly — cuInit with CUDA_ERROR_NO_DEVICE, the rest with CUDA_ERROR_NOT_INITIALIZED
 * — without recursion or crash, and the reason is logged (GPOOL_LOG=error:<file>).
 */
#define GPOOL_CUDA_INTERNAL 1
#include "gpool/api_table.h"

#include "check.h"
#include "log_file.h"

#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *expect = argc > 1 ? argv[1] : "";
    const char *log_path = log_file_reset();

    CHECK_RC(cuInit(0), CUDA_ERROR_NO_DEVICE);
    CHECK_RC(cuInit(0), CUDA_ERROR_NO_DEVICE);
    int count = -1;
    CHECK_RC(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
    CUdeviceptr ptr = 0;
    CHECK_RC(cuMemAlloc_v2(&ptr, 16), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuLaunchKernel(NULL, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL),
             CUDA_ERROR_NOT_INITIALIZED);
    void *p = (void *)1;
    CHECK_RC(cuGetProcAddress_v2("cuInit", &p, 12000, 0, NULL), CUDA_ERROR_NOT_INITIALIZED);
    CHECK(p == (void *)1 || p == NULL, "pfn %p", p);

    char buf[4096];
    log_file_read(log_path, buf, sizeof(buf));
    CHECK(strstr(buf, "GPOOL_REAL_DRIVER") && strstr(buf, expect), "log lacks '%s': %s", expect,
          buf);
    /* Logged once: the driver is looked for once, not on every call. */
    int times = count_of(buf, "GPOOL_REAL_DRIVER:");
    CHECK(times == 1, "the reason was logged %d times", times);
    return check_done("hook-refuse");
}
