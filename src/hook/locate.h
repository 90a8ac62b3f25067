/*
 * locate.h: finding the real NVIDIA library gpool's hook or shim forwards to (libcuda.so.1 for
 * the hook, libnvidia-ml.so.1 for the NVML shim and for the hook's device-time reads).
 *
 * The library is $<env> when that is set — an absolute path, never replaced by a search, since a
 * wrong path is a configuration error to report — else the first usable <soname> in the system
 * library directories (locate.c). A candidate is refused when it is not an absolute path, does not
 * exist, is the calling library itself (compared by device and inode, then by where the loader
 * resolves <probe> in it) or fails the caller's own checks. It is opened RTLD_LOCAL|RTLD_NOW.
 */
#ifndef GPOOL_HOOK_LOCATE_H
#define GPOOL_HOOK_LOCATE_H

#include <stddef.h>
#include <sys/stat.h>

struct hook_lib_spec {
    const char *env;    /* "GPOOL_REAL_DRIVER" */
    const char *soname; /* "libcuda.so.1" */
    const char *self;   /* the calling library, for messages: "gpool's hook" */
    const void *addr;   /* an address inside the calling library */
    const char *probe;  /* a symbol the real library exports ("cuInit") */
    /* Optional: whether the file may be loaded; 0 with the reason in why when not. */
    int (*file_ok)(const char *path, const struct stat *st, char *why, size_t len);
    /* Optional: takes the opened library (0), or refuses it (-1, reason in why; the handle is
     * closed). */
    int (*take)(void *handle, const char *path, char *why, size_t len);
};

/* The real library's handle (its path in why), or NULL with the reason in why (logged by the
 * caller, which knows how much a missing library matters). *from_env tells whether $<env> named it.
 * Candidates of the search that fail are logged at LOG_DEBUG (refused) or LOG_WARN (would not
 * load). */
void *hook_lib_open(const struct hook_lib_spec *spec, int *from_env, char *why, size_t len);

/* The real NVML (GPOOL_REAL_NVML, libnvidia-ml.so.1), for the library `self` ("gpool's NVML
 * shim") that `addr` lies in: hook_lib_open with NVML's names. */
void *hook_nvml_open(const char *self, const void *addr, int *from_env, char *why, size_t len);

#endif
