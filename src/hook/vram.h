/*
 * The VRAM limiter's private interface, shared by its files:
 *
 *   vram.c          configuration, the vGPU's ledger, the ALLOCATES/FREES interceptors, the
 *                   virtualised memory view (cuMemGetInfo, cuDeviceTotalMem)
 *   vram_vmm.c      VMM mappings and references (cuMemMap/cuMemUnmap/cuMemRetainAllocationHandle):
 *                   a handle is credited when its last mapping and reference are gone
 *   vram_overhead.c context, module and library overhead per device model (cuCtxCreate*, primary
 *                   contexts, cuModuleLoad*, cuLibraryLoad*)
 *   vram_graph.c    graph memory: allocation nodes charged when a launch (or upload) backs
 *                   them, credited when the driver no longer backs them
 *   vram_pool.c     stream-ordered pools: blocks stay charged after their free until the pool's
 *                   reserved memory shows the driver gave them back
 *
 * See the "VRAM" section of docs/internals/hook.md.
 */
#ifndef GPOOL_HOOK_VRAM_H
#define GPOOL_HOOK_VRAM_H

#include "hook.h"

#include "gpool/ledger.h"

#include <stdint.h>

/* Charges are rounded up to this: the simulator's allocation granule (4 KiB). A real driver
 * rounds small allocations to at least this much too. */
#define HOOK_VRAM_GRANULE 4096ull

/* Ledger keys of handles that are not device pointers carry their kind in the top bits, so no
 * handle can be taken for a pointer (or another kind of handle) of the same value. */
#define HOOK_VRAM_KEY_ARRAY   (1ull << 60)
#define HOOK_VRAM_KEY_MIPMAP  (2ull << 60)
#define HOOK_VRAM_KEY_VMM     (3ull << 60)
#define HOOK_VRAM_KEY_CTX     (4ull << 60)
#define HOOK_VRAM_KEY_PRIMARY (5ull << 60)
#define HOOK_VRAM_KEY_MODULE  (6ull << 60)
#define HOOK_VRAM_KEY_GRAPH   (7ull << 60) /* a graph allocation node's address */
#define HOOK_VRAM_KEY_LIBRARY (8ull << 60) /* a library's module overhead (cuLibraryLoad*) */

/* The vGPU configuration read from the environment (vram.c, on the first call). */
struct hook_vram_config {
    int enabled; /* GPOOL_VGPU set */
    int bad;     /* configuration error: cuInit answers CUDA_ERROR_INVALID_VALUE */
    char name[LEDGER_NAME_MAX + 1];
    int have_vram;
    uint64_t vram_bytes;
    int have_pct;
    uint32_t compute_pct;
    int have_tflops; /* GPOOL_TFLOPS_LIMIT: converted to compute_pct when the ledger is made */
    double tflops;
    int no_overhead; /* GPOOL_VRAM_OVERHEAD=0: contexts and modules are not charged */
};
extern struct hook_vram_config hook_vram_cfg;

/* The ledger of this process's vGPU, opened (or created with the environment's limits) on
 * first use; needs an initialised driver for the device count. CUDA_SUCCESS and *out, or the
 * error to return to the application. */
CUresult hook_vram_ledger(struct ledger **out);

/* The ledger once hook_vram_ledger() succeeded (NULL before). */
struct ledger *hook_vram_ledger_opened(void);

/* What the application gets for a ledger error: OUT_OF_MEMORY past the cap or with the record
 * table full, OPERATING_SYSTEM otherwise. */
CUresult hook_vram_errno_result(int rc);

/* The current context's device (the real driver's cuCtxGetDevice). */
CUresult hook_vram_current_device(int *dev);

/* The current context (the real driver's cuCtxGetCurrent) as a ledger owner; 0 when none. */
uint64_t hook_vram_current_owner(void);

/* Credits the record `key` on device `first` (none when < 0), else on whichever device has it:
 * 0, or -1 when no device has it. */
int hook_vram_release_any(struct ledger *l, int first, uint64_t key);

/* Context ctx was destroyed (or a primary context deactivated): the driver freed everything made
 * in it, so credit every allocation of this process the ledger records with that owner. */
void hook_vram_context_gone(uint64_t ctx);

/* bytes rounded up to HOOK_VRAM_GRANULE into *out; -1 on overflow. */
int hook_vram_round_granule(uint64_t bytes, uint64_t *out);

/* vram_vmm.c: whether cuMemRelease(h), which the driver accepted, must leave the credit to the
 * last unmap or release (h is still mapped or referenced); drops the released reference. */
int hook_vram_vmm_release_deferred(CUmemGenericAllocationHandle h);

/* vram_vmm.c: credits the VMM handle h wherever it was charged. */
void hook_vram_vmm_credit(CUmemGenericAllocationHandle h);

/* vram_graph.c: whether call is a stream-ordered allocation or free (cuMemAllocAsync,
 * cuMemAllocFromPoolAsync, cuMemFreeAsync, each with _ptsz) into a stream being captured. Such a
 * call makes a graph node and takes or gives back no memory now: the graph's launch is charged.
 * 0 when the driver cannot tell. */
int hook_vram_call_captured(const struct hook_call *call);

/* vram_graph.c: whether stream s is being captured into a graph (per_thread: s is the argument
 * of a _ptsz entry, whose stream 0 is the per-thread default stream). 0 when the driver cannot
 * tell. */
int hook_vram_stream_captured(CUstream s, int per_thread);

/* vram_pool.c: stream-ordered pools, charged by what each pool holds on the device. Blocks are
 * recorded under their pointers (untagged) and stay charged after they are freed until the
 * pool's reserved memory shows the driver gave them back. */

/* Reserves the bytes of a stream-ordered allocation outside capture (call->state becomes 2 when
 * after() must run); CUDA_ERROR_OUT_OF_MEMORY past the cap once the process's pools were
 * reconciled, unless the pool holds that much freed memory already. */
CUresult hook_vram_pool_alloc_before(struct hook_call *call, uint64_t bytes);

/* Commits (or rolls back) what hook_vram_pool_alloc_before reserved; a block the pool reused
 * keeps the charge it had. */
CUresult hook_vram_pool_alloc_after(struct hook_call *call, CUresult rc);

/* A free the driver accepted of ptr (now: cuMemFree, else an enqueued cuMemFreeAsync): 1 when
 * ptr is a pool block of this process (marked freed, credited once its pool no longer holds
 * it), 0 otherwise. */
int hook_vram_pool_freed(uint64_t ptr, int now);

/* Reconciles pool h (cuMemPoolTrimTo, a new release threshold) with what the driver holds. */
void hook_vram_pool_trimmed(CUmemoryPool h);

/* Reconciles every pool of this process holding freed blocks (synchronisations, cuMemGetInfo). */
void hook_vram_pool_reconcile_all(void);

/* models.c: what the hook knows of a GPU model, by the name cuDeviceGetName reports. */
struct hook_model {
    const char *name;
    double fp16_tflops; /* dense FP16 tensor TFLOPs (GPOOL_TFLOPS_LIMIT) */
    uint64_t ctx_bytes;    /* device memory a driver takes per context */
    uint64_t module_bytes; /* ... and per loaded module */
};
/* The model called `name`, or NULL when the table does not know it. */
const struct hook_model *hook_model_find(const char *name);
/* The largest context and module figures of the table (what an unknown model is charged). */
void hook_model_largest_overhead(uint64_t *ctx_bytes, uint64_t *module_bytes);

#endif
