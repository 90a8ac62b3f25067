/*
 * Where NVIDIA's user-space libraries (libcuda.so.1, libnvidia-ml.so.1) live on the distributions
 * and container images gpool meets: the directories ld.so's cache covers, NVIDIA's container
 * toolkit's, WSL's. Searched in this order, by absolute path, when GPOOL_REAL_DRIVER /
 * GPOOL_REAL_NVML is not set (locate.c).
 */
#ifndef GPOOL_HOOK_SYSTEM_DIRS_H
#define GPOOL_HOOK_SYSTEM_DIRS_H

#include <stddef.h>

static const char *const hook_system_dirs[] = {
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
    "/usr/lib",                  "/lib/x86_64-linux-gnu",      "/lib64",
    "/usr/local/nvidia/lib64",   "/usr/local/nvidia/lib",      "/usr/lib/wsl/lib",
};
#define HOOK_SYSTEM_DIRS (sizeof(hook_system_dirs) / sizeof(hook_system_dirs[0]))

#endif
