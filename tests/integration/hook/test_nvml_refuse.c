/*
 * gpool's NVML shim refuses a GPOOL_REAL_NVML that is not a real NVML (run as
 * `test_nvml_refuse SHIM EXPECT`, the environment sets up the case: the shim itself, a relative
 * or a missing path): every call answers NVML_ERROR_LIBRARY_NOT_FOUND without recursion or
 * crash, and the reason (EXPECT) is logged once (GPOOL_LOG=error:<file>).
 */
#include "check.h"
#include "log_file.h"

#include "gpool/nvml_abi.h"

#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    REQUIRE(argc == 3, "usage: test_nvml_refuse SHIM EXPECT");
    const char *log_path = log_file_reset();

    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    REQUIRE(h, "dlopen %s: %s", argv[1], dlerror());
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*count)(unsigned int *);
    *(void **)&init = dlsym(h, "nvmlInit_v2");
    *(void **)&count = dlsym(h, "nvmlDeviceGetCount_v2");
    REQUIRE(init && count, "%s lacks nvmlInit_v2 or nvmlDeviceGetCount_v2", argv[1]);
    CHECK_RC(init(), NVML_ERROR_LIBRARY_NOT_FOUND);
    CHECK_RC(init(), NVML_ERROR_LIBRARY_NOT_FOUND);
    unsigned int n = 7;
    CHECK_RC(count(&n), NVML_ERROR_LIBRARY_NOT_FOUND);

    char buf[4096];
    log_file_read(log_path, buf, sizeof(buf));
    CHECK(strstr(buf, "GPOOL_REAL_NVML") && strstr(buf, argv[2]), "log lacks '%s': %s", argv[2],
          buf);
    int times = count_of(buf, "GPOOL_REAL_NVML:");
    CHECK(times == 1, "the reason was logged %d times", times);
    return check_done("hook-nvml-refuse");
}
