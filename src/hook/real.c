/*
 * real.c: finds and loads the real libcuda.so.1 the hook forwards to.
 *
 * Nothing happens at load time: the first call through any wrapper runs hook_real_load, which
 * (once, under pthread_once) picks the driver (locate.c) — GPOOL_REAL_DRIVER, an absolute path, or
 * else the first libcuda.so.1 in the system's library directories — refuses the hook itself and the
 * toolkit's stub by file identity, dlopens it RTLD_LOCAL|RTLD_NOW and resolves every table entry
 * with dlsym. When nothing usable is found every wrapper answers an error and the reason goes to
 * LOG_ERROR.
 */
#include "hook.h"
#include "locate.h"

#include "gpool/log.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct hook_real hook_real;
atomic_int hook_real_ready;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* Where a CUDA toolkit keeps its stub libcuda.so (relative to a toolkit root). */
static const char *const stub_paths[] = {
    "lib64/stubs/libcuda.so",
    "lib/stubs/libcuda.so",
    "targets/x86_64-linux/lib/stubs/libcuda.so",
    "targets/sbsa-linux/lib/stubs/libcuda.so",
};

/* True when st is the stub libcuda.so of a toolkit at root. */
static int is_toolkit_stub(const char *root, const struct stat *st)
{
    char path[PATH_MAX];
    struct stat s;
    if (!root || !*root)
        return 0;
    for (size_t i = 0; i < sizeof(stub_paths) / sizeof(stub_paths[0]); i++) {
        if (snprintf(path, sizeof(path), "%s/%s", root, stub_paths[i]) >= (int)sizeof(path))
            continue;
        if (stat(path, &s) == 0 && s.st_dev == st->st_dev && s.st_ino == st->st_ino)
            return 1;
    }
    return 0;
}

/* A candidate driver must not be a toolkit's stub (which answers CUDA_ERROR_STUB_LIBRARY). */
static int not_a_stub(const char *path, const struct stat *st, char *why, size_t len)
{
    char resolved[PATH_MAX];
    if ((realpath(path, resolved) && strstr(resolved, "/stubs/")) ||
        is_toolkit_stub(getenv("CUDA_HOME"), st) || is_toolkit_stub(getenv("CUDA_PATH"), st) ||
        is_toolkit_stub("/usr/local/cuda", st)) {
        snprintf(why, len, "'%s' is the CUDA toolkit's stub libcuda.so, not a driver", path);
        return 0;
    }
    return 1;
}

/* Resolves the table in the opened driver; 0, or -1 with the reason in why. */
static int take_driver(void *handle, const char *path, char *why, size_t len)
{
    int found = 0;
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        hook_real.fn[i] = dlsym(handle, gpool_api_table[i].name);
        found += hook_real.fn[i] != NULL;
    }
    if (!found) {
        memset(hook_real.fn, 0, sizeof(hook_real.fn));
        snprintf(why, len, "'%s' exports no CUDA driver entry point", path);
        return -1;
    }
    hook_real.handle = handle;
    snprintf(hook_real.path, sizeof(hook_real.path), "%s", path);
    LOG_INFO("hook", "real driver '%s': %d of %d entry points", path, found, GPOOL_API_COUNT);
    return 0;
}

static void load_once(void)
{
    static const struct hook_lib_spec spec = {
        .env = "GPOOL_REAL_DRIVER",
        .soname = "libcuda.so.1",
        .self = "gpool's hook",
        .addr = (const void *)&hook_real_load,
        .probe = "cuInit",
        .file_ok = not_a_stub,
        .take = take_driver,
    };
    char why[PATH_MAX + 128] = "";
    int from_env = 0;
    if (!hook_lib_open(&spec, &from_env, why, sizeof(why))) {
        if (from_env)
            LOG_ERROR("hook", "GPOOL_REAL_DRIVER: %s; every CUDA call will fail", why);
        else
            LOG_ERROR("hook",
                      "no real CUDA driver found (%s; set GPOOL_REAL_DRIVER to its absolute "
                      "path); every CUDA call will fail",
                      why);
    }
    hook_intercept_init();
    atomic_store_explicit(&hook_real_ready, 1, memory_order_release);
}

void hook_real_load(void)
{
    pthread_once(&real_once, load_once);
}

CUresult hook_real_missing(int id)
{
    if (!hook_real.handle)
        return id == GPOOL_API_ID_cuInit ? CUDA_ERROR_NO_DEVICE : CUDA_ERROR_NOT_INITIALIZED;
    LOG_DEBUG("hook", "%s: not exported by the real driver '%s'", gpool_api_table[id].name,
              hook_real.path);
    return CUDA_ERROR_NOT_FOUND;
}
