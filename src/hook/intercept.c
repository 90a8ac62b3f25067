/*
 * intercept.c: the per-class interceptor slots of the hooked wrappers, and the one interceptor
 * the hook ships today: GPOOL_HOOK_TRACE, a test interface.
 *
 *   GPOOL_HOOK_TRACE=<path>     every call through an ALLOCATES, FREES or LAUNCHES wrapper
 *                               appends "<name>\n" to path before it is forwarded
 *   GPOOL_HOOK_TRACE_REFUSE=1   ... and is refused with CUDA_ERROR_NOT_PERMITTED instead of
 *                               forwarded (proves the hook point can stop a call, as a limit will)
 *
 * The limits install their interceptors from hook_intercept_init too, in this order: vram.c on
 * ALLOCATES and FREES, compute.c on LAUNCHES, then vram_graph.c in front of both on LAUNCHES and
 * FREES (hook_intercept_add: a class may carry two, run as nested layers). When a vGPU is named,
 * GPOOL_HOOK_TRACE (installed last, with hook_intercept_set) replaces all of them, so the two are
 * not meant to be combined.
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

/*
 * A class carrying two interceptors: its slot points at chain[cls].layered, whose before/after
 * run the two as nested layers. Each sees its own call->state: the outer one's is kept in a
 * thread-local from before() to after() (a call through a wrapper never nests: interceptors call
 * the real driver, never the hook's wrappers).
 */
struct chain {
    struct hook_interceptor layered;
    const struct hook_interceptor *outer, *inner;
};
static struct chain chains[HOOK_CLASS_COUNT];
static _Thread_local unsigned long long chain_outer_state;

static CUresult chain_before(struct hook_call *call)
{
    const struct chain *c = &chains[gpool_api_table[call->id].cls];
    call->state = 0;
    CUresult rc = c->outer->before ? c->outer->before(call) : CUDA_SUCCESS;
    if (rc != CUDA_SUCCESS)
        return rc; /* the outer one refused: it undid its own work */
    unsigned long long outer_state = call->state;
    call->state = 0;
    rc = c->inner->before ? c->inner->before(call) : CUDA_SUCCESS;
    if (rc != CUDA_SUCCESS) {
        /* The driver is not called: the outer one's after() sees the refusal and rolls back. */
        call->state = outer_state;
        return c->outer->after ? c->outer->after(call, rc) : rc;
    }
    chain_outer_state = outer_state;
    return CUDA_SUCCESS;
}

static CUresult chain_after(struct hook_call *call, CUresult rc)
{
    const struct chain *c = &chains[gpool_api_table[call->id].cls];
    unsigned long long outer_state = chain_outer_state;
    if (c->inner->after)
        rc = c->inner->after(call, rc);
    call->state = outer_state;
    return c->outer->after ? c->outer->after(call, rc) : rc;
}

int hook_intercept_add(enum gpool_api_class cls, const struct hook_interceptor *ic)
{
    if ((int)cls < 0 || cls >= HOOK_CLASS_COUNT || !ic)
        return -1;
    const struct hook_interceptor *cur = hook_intercept_get(cls);
    if (!cur) {
        hook_intercept_set(cls, ic);
        return 0;
    }
    if (cur == &chains[cls].layered)
        return -1;
    chains[cls] = (struct chain){{chain_before, chain_after}, ic, cur};
    hook_intercept_set(cls, &chains[cls].layered);
    return 0;
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
    hook_vram_graph_init(); /* in front of compute.c on LAUNCHES and vram.c on FREES */
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
