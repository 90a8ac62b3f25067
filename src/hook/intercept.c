/*
 * intercept.c: the per-class interceptor slots of the hooked wrappers, and the one interceptor
 * the hook ships today: GPOOL_HOOK_TRACE, a test interface.
 *
 *   GPOOL_HOOK_TRACE=<path>     every call through an ALLOCATES, FREES or LAUNCHES wrapper
 *                               appends "<name>\n" to path before it is forwarded
 *   GPOOL_HOOK_TRACE_REFUSE=1   ... and is refused with CUDA_ERROR_NOT_PERMITTED instead of
 *                               forwarded (proves the hook point can stop a call, as a limit will)
 *
 * The VRAM limiter (vram.c) installs its interceptors from hook_intercept_init too; when a vGPU
 * is named, GPOOL_HOOK_TRACE (installed after it) takes the ALLOCATES/FREES slots instead, so the
 * two are not meant to be combined.
 */
#include "hook.h"

#include "gpool/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Atomic(const struct hook_interceptor *) hook_interceptors[HOOK_CLASS_COUNT];

void hook_intercept_set(enum gpool_api_class cls, const struct hook_interceptor *ic)
{
    if ((int)cls < 0 || cls >= HOOK_CLASS_COUNT)
        return;
    atomic_store_explicit(&hook_interceptors[cls], ic, memory_order_release);
}

static int trace_fd = -1;
static int trace_refuse;

static CUresult trace_before(struct hook_call *call)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "%s\n", gpool_api_table[call->id].name);
    /* One write per line with O_APPEND: lines of concurrent threads never interleave. */
    if (n > 0 && write(trace_fd, line, (size_t)n) < 0)
        LOG_DEBUG("hook", "GPOOL_HOOK_TRACE: write failed");
    return trace_refuse ? CUDA_ERROR_NOT_PERMITTED : CUDA_SUCCESS;
}

static const struct hook_interceptor trace_interceptor = {trace_before, NULL};

void hook_intercept_init(void)
{
    hook_vram_init();
    hook_compute_init();
    const char *path = getenv("GPOOL_HOOK_TRACE");
    if (!path || !*path)
        return;
    trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (trace_fd < 0) {
        LOG_ERROR("hook", "GPOOL_HOOK_TRACE: cannot open '%s'", path);
        return;
    }
    const char *refuse = getenv("GPOOL_HOOK_TRACE_REFUSE");
    trace_refuse = refuse && strcmp(refuse, "1") == 0;
    hook_intercept_set(GPOOL_API_ALLOCATES, &trace_interceptor);
    hook_intercept_set(GPOOL_API_FREES, &trace_interceptor);
    hook_intercept_set(GPOOL_API_LAUNCHES, &trace_interceptor);
}
