/* locate.c: finding and opening the real NVIDIA library (see locate.h). */
#include "locate.h"

#include "gpool/log.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* Where NVIDIA's user-space libraries live on the distributions and container images gpool
 * meets: the directories ld.so's cache covers, NVIDIA's container toolkit's, WSL's. Searched in
 * this order, by absolute path, when the spec's variable is not set. */
static const char *const system_dirs[] = {
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/usr/lib/wsl/lib",
};

/* Whether path may be opened; the reason goes to why when not. */
static int candidate_ok(const struct hook_lib_spec *s, const char *path, const struct stat *self,
                        char *why, size_t len)
{
    struct stat st;
    if (path[0] != '/') {
        snprintf(why, len, "'%s' is not an absolute path", path);
        return 0;
    }
    if (stat(path, &st) != 0) {
        snprintf(why, len, "'%s' does not exist", path);
        return 0;
    }
    if (self && st.st_dev == self->st_dev && st.st_ino == self->st_ino) {
        snprintf(why, len, "'%s' is %s itself", path, s->self);
        return 0;
    }
    return s->file_ok ? s->file_ok(path, &st, why, len) : 1;
}

/* Opens path; NULL with the reason in why. */
static void *open_candidate(const struct hook_lib_spec *s, const char *path, char *why, size_t len)
{
    void *h = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, len, "dlopen('%s'): %s", path, e ? e : "failed");
        return NULL;
    }
    /* The file checks ran before; this catches a loader that handed back ourselves anyway
     * (the handle is our own: closing it only drops a reference). */
    Dl_info self_info, probe_info;
    void *probe = dlsym(h, s->probe);
    if (probe && dladdr(s->addr, &self_info) && dladdr(probe, &probe_info) &&
        self_info.dli_fbase == probe_info.dli_fbase) {
        snprintf(why, len, "'%s' resolves to %s itself", path, s->self);
        return NULL;
    }
    if (s->take && s->take(h, path, why, len) != 0) {
        dlclose(h);
        return NULL;
    }
    snprintf(why, len, "%s", path);
    return h;
}

void *hook_lib_open(const struct hook_lib_spec *s, int *from_env, char *why, size_t len)
{
    struct stat self_st, *self = NULL;
    Dl_info info;
    if (dladdr(s->addr, &info) && info.dli_fname && stat(info.dli_fname, &self_st) == 0)
        self = &self_st;
    else
        LOG_WARN("hook", "cannot locate %s's own file; relying on the loader check", s->self);

    const char *env = getenv(s->env);
    *from_env = env && *env;
    if (*from_env)
        return candidate_ok(s, env, self, why, len) ? open_candidate(s, env, why, len) : NULL;
    for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", system_dirs[i], s->soname);
        if (!candidate_ok(s, path, self, why, len)) {
            LOG_DEBUG("hook", "skipping %s", why);
            continue;
        }
        void *h = open_candidate(s, path, why, len);
        if (h)
            return h;
        LOG_WARN("hook", "%s", why);
    }
    snprintf(why, len, "no %s in the system's library directories", s->soname);
    return NULL;
}

void *hook_nvml_open(const char *self, const void *addr, int *from_env, char *why, size_t len)
{
    const struct hook_lib_spec spec = {
        .env = "GPOOL_REAL_NVML",
        .soname = "libnvidia-ml.so.1",
        .self = self,
        .addr = addr,
        .probe = "nvmlInit_v2",
    };
    return hook_lib_open(&spec, from_env, why, len);
}
