/*
 * real.c: finds and loads the real libcuda.so.1 the hook forwards to.
 *
 * Nothing happens at load time: the first call through any wrapper runs hook_real_load, which
 * (once, under pthread_once) picks the driver — GPOOL_REAL_DRIVER, an absolute path, or else the
 * first libcuda.so.1 in the system's library directories — refuses the hook itself and the
 * toolkit's stub by file identity, dlopens it RTLD_LOCAL|RTLD_NOW and resolves every table entry
 * with dlsym. When nothing usable is found every wrapper answers an error and the reason goes to
 * LOG_ERROR.
 */
#include "hook.h"
#include "system_dirs.h"

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

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

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
        if (stat(path, &s) == 0 && same_file(&s, st))
            return 1;
    }
    return 0;
}

/*
 * Whether path may be loaded as the real driver: an absolute path to an existing file that is
 * neither this library (self, NULL when unknown) nor a toolkit's stub. On refusal writes the
 * reason to why.
 */
static int candidate_usable(const char *path, const struct stat *self, char *why, size_t len)
{
    struct stat st;
    char resolved[PATH_MAX];

    if (path[0] != '/') {
        snprintf(why, len, "'%s' is not an absolute path", path);
        return 0;
    }
    if (stat(path, &st) != 0) {
        snprintf(why, len, "'%s' does not exist", path);
        return 0;
    }
    if (self && same_file(&st, self)) {
        snprintf(why, len, "'%s' is gpool's hook itself", path);
        return 0;
    }
    if ((realpath(path, resolved) && strstr(resolved, "/stubs/")) ||
        is_toolkit_stub(getenv("CUDA_HOME"), &st) || is_toolkit_stub(getenv("CUDA_PATH"), &st) ||
        is_toolkit_stub("/usr/local/cuda", &st)) {
        snprintf(why, len, "'%s' is the CUDA toolkit's stub libcuda.so, not a driver", path);
        return 0;
    }
    return 1;
}

/* Loads path and resolves the table; 0 on success, -1 with the reason in why. */
static int load_driver(const char *path, char *why, size_t len)
{
    void *handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (!handle) {
        const char *err = dlerror();
        snprintf(why, len, "dlopen('%s'): %s", path, err ? err : "failed");
        return -1;
    }
    /* The file checks ran before; this catches a loader that handed back the hook anyway. */
    void *init = dlsym(handle, "cuInit");
    Dl_info self_info, init_info;
    if (init && dladdr((void *)&hook_real_load, &self_info) && dladdr(init, &init_info) &&
        self_info.dli_fbase == init_info.dli_fbase) {
        snprintf(why, len, "'%s' resolves to gpool's hook itself", path);
        return -1; /* the hook's own handle: dlclose would only drop a reference */
    }
    int found = 0;
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        hook_real.fn[i] = dlsym(handle, gpool_api_table[i].name);
        found += hook_real.fn[i] != NULL;
    }
    if (!found) {
        memset(hook_real.fn, 0, sizeof(hook_real.fn));
        dlclose(handle);
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
    char why[PATH_MAX + 128] = "";
    struct stat self_st, *self = NULL;
    Dl_info info;

    if (dladdr((void *)&hook_real_load, &info) && info.dli_fname && stat(info.dli_fname, &self_st) == 0)
        self = &self_st;
    else
        LOG_WARN("hook", "cannot locate the hook's own file; relying on the loader check");

    const char *env = getenv("GPOOL_REAL_DRIVER");
    if (env && *env) {
        /* An explicit choice is never replaced by a search: a wrong path is a configuration
         * error to report, not to paper over. */
        if (!candidate_usable(env, self, why, sizeof(why)) || load_driver(env, why, sizeof(why)) < 0)
            LOG_ERROR("hook", "GPOOL_REAL_DRIVER: %s; every CUDA call will fail", why);
    } else {
        int loaded = 0;
        for (size_t i = 0; i < HOOK_SYSTEM_DIRS && !loaded; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/libcuda.so.1", hook_system_dirs[i]);
            char skip[PATH_MAX + 128];
            if (!candidate_usable(path, self, skip, sizeof(skip))) {
                LOG_DEBUG("hook", "skipping %s", skip);
                continue;
            }
            loaded = load_driver(path, why, sizeof(why)) == 0;
            if (!loaded)
                LOG_WARN("hook", "%s", why);
        }
        if (!loaded)
            LOG_ERROR("hook", "no real CUDA driver found (set GPOOL_REAL_DRIVER to its absolute "
                              "path); every CUDA call will fail");
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
