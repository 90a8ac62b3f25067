/*
 * The simulated GPU's internal interfaces between its modules. Private to src/sim and src/nvml.
 *
 * Modules and owners of each part:
 *   model.c      the built-in GPU model table                        (sim_model_*)
 *   gpus.c       the GPOOL_SIM_GPUS parser, numeric variables   (sim_gpus_parse, sim_env_u64)
 *   state.c      the shared, cross-process device state: instance directory, robust lock,
 *                process slots (liveness = OFD lock), allocation table, busy time
 *                                                                     (sim_instance_*, sim_state_*)
 *   init.c       cuInit, driver version, per-process lazy init        (sim_process_*)
 *   device.c     cuDevice*, attributes                                (sim_device_*)
 *   context.c    contexts and the per-thread context stack            (sim_ctx_*)
 *   memory.c     device/host/managed allocations, pointer lookup     (sim_mem_*)
 *   stream.c     streams, the per-stream worker threads, ordering    (sim_stream_*)
 *   event.c      events                                               (sim_event_*)
 *   copy.c       memcpy and memset in every form                      (no exported sim_ API)
 *   array.c      CUDA arrays and mipmapped arrays (copies with array operands in copy.c)
 *   exports.c    weak NOT_SUPPORTED stubs for every table entry, cuGetProcAddress, errors
 *
 * Every CUDA-facing function returns CUresult; system-level helpers return -errno.
 */
#ifndef GPOOL_SIM_H
#define GPOOL_SIM_H

#define GPOOL_CUDA_INTERNAL 1 /* declare every export by its exported name, no remapping */
#include "gpool/cuda_api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Models (model.c) ---------------------------------------------------------------------- */

struct sim_model {
    const char *name;          /* as real drivers report it: "NVIDIA H100 80GB HBM3" */
    const char *alias;         /* short name used in GPOOL_SIM_GPUS: "H100-80GB" */
    uint64_t vram_bytes;       /* total memory reported by cuDeviceTotalMem */
    int sm_count;
    int cc_major, cc_minor;
    int clock_khz;             /* SM boost clock */
    int mem_clock_khz;
    int mem_bus_width_bits;
    int l2_bytes;
    int shared_per_sm_bytes;
    int shared_per_block_optin_bytes;
    int regs_per_sm;
    int max_threads_per_sm;
    int max_blocks_per_sm;
    double fp16_tflops;        /* dense FP16 tensor TFLOPs, for the control plane's model table */
    int tdp_watts;
    uint64_t ctx_overhead_bytes;    /* device memory a real driver charges per context */
    uint64_t module_overhead_bytes; /* ... and per loaded module */
    int pci_device_id;         /* PCI device id (vendor is always 0x10de) */
};

/* Looks a model up by its alias or full name (case-insensitive); NULL when unknown. */
const struct sim_model *sim_model_find(const char *name);
/* The i-th model of the table, NULL past the end: for listings and error messages. */
const struct sim_model *sim_model_at(int i);

/* ---- GPOOL_SIM_GPUS (gpus.c) --------------------------------------------------------------- */

#define SIM_MAX_DEVICES 16

/* Parses "[Nx]MODEL[,...]" (e.g. "2xH100-80GB,T4") into up to SIM_MAX_DEVICES models.
 * Returns the device count (>= 1) or -EINVAL, with a message naming the bad part in err. */
int sim_gpus_parse(const char *spec, const struct sim_model **models, int max, char *err,
                   size_t errlen);

#define SIM_DEFAULT_GPUS "H100-80GB"

/* The number in environment variable `name`: `def` when it is unset or empty, and `def` too,
 * with a warning naming the variable, its value and `what`, when it is not a decimal number up
 * to `max` and a multiple of `multiple` (1: any). */
uint64_t sim_env_u64(const char *name, uint64_t max, uint64_t multiple, uint64_t def,
                     const char *what);

/* ---- The shared device state (state.c) ------------------------------------------------------
 * One instance = one set of simulated devices shared by every process on the machine that uses
 * the same GPOOL_SIM_DIR and GPOOL_SIM_INSTANCE. The state file is mapped by all of them. */

struct sim_instance; /* this process's attachment to an instance: fds, mappings */

/* Attaches to the instance named by the environment, creating it on first use. On failure
 * returns -errno and writes the reason to err (e.g. a bad GPOOL_SIM_GPUS, a spec that differs
 * from the existing instance, a corrupt state file). */
int sim_instance_attach(struct sim_instance **out, char *err, size_t errlen);
void sim_instance_detach(struct sim_instance *inst);

int sim_instance_device_count(const struct sim_instance *inst);
const struct sim_model *sim_instance_model(const struct sim_instance *inst, int dev);
void sim_instance_uuid(const struct sim_instance *inst, int dev, unsigned char uuid[16]);
/* PCI location: "00000000:BB:00.0" style bus id parts. */
void sim_instance_pci(const struct sim_instance *inst, int dev, int *domain, int *bus,
                      int *device);

/* Whole-device memory as every process sees it. */
void sim_instance_mem_info(struct sim_instance *inst, int dev, uint64_t *total, uint64_t *used);

struct sim_proc_info {
    int32_t pid;               /* as seen in the process's own PID namespace */
    uint64_t used_bytes;       /* device memory charged to it on this device */
    char name[64];             /* its command name */
};
/* Lists live processes using a device (reaping dead ones first); returns the count written. */
int sim_instance_processes(struct sim_instance *inst, int dev, struct sim_proc_info *out, int max);

/* Cumulative time the device's engine was busy, and the clock it is measured on
 * (CLOCK_MONOTONIC ns), for utilisation = delta busy / delta time. */
void sim_instance_busy(struct sim_instance *inst, int dev, uint64_t *busy_ns, uint64_t *now_ns);
/* Adds busy time measured by the engine. */
void sim_instance_busy_add(struct sim_instance *inst, int dev, uint64_t ns);

/* One live process attachment's own engine time on a device (sim_instance_engine_busy). */
struct sim_proc_busy {
    uint32_t slot;       /* its slot; (slot, generation) names one attachment for its life */
    uint64_t generation; /* the slot's claim count when it was read */
    int32_t pid;         /* as seen in the process's own PID namespace */
    uint64_t busy_ns;    /* cumulative engine busy time of its work on dev since it attached */
};
/* Lists the live slots with non-zero engine time on device dev into out (at most max, in slot
 * order) and returns how many there are in all, which may exceed max (0 for a bad dev). Takes
 * no lock: each slot is read consistently (a slot reclaimed while it is read is left out), and
 * the slots of dead processes not yet reaped are left out. Read-only. */
int sim_instance_engine_busy(struct sim_instance *inst, int dev, struct sim_proc_busy *out,
                             int max);

/* Allocation table. Capacity is exact: every byte charged is counted against the device's
 * total, whatever process charged it, and is released when that process frees it or dies. */
#define SIM_ALLOC_GRANULE 4096ull

enum sim_charge_kind {
    SIM_CHARGE_MEMORY = 1, /* backed by device memory: reserves backing in the device file */
    SIM_CHARGE_OVERHEAD,   /* capacity only: context and module overhead a real driver charges */
};

/* Charges size bytes (rounded up to SIM_ALLOC_GRANULE) of device dev to this process. For
 * SIM_CHARGE_MEMORY, *offset is the byte offset of the block in device memory (its device
 * address is sim_dev_base(dev) + offset) and its backing is reserved, so a full file system is
 * -ENOMEM, never a SIGBUS later; for SIM_CHARGE_OVERHEAD *offset is only a handle for
 * sim_state_free. *charged (may be NULL) receives the rounded size. Returns 0 or -ENOMEM
 * (capacity or backing exhausted, after reaping dead processes) or -ENOSPC (table full). */
int sim_state_alloc(struct sim_instance *inst, int dev, uint64_t size, enum sim_charge_kind kind,
                    uint64_t *offset, uint64_t *charged);
/* Releases a charge made by this process; -ENOENT when offset names none of its charges. */
int sim_state_free(struct sim_instance *inst, int dev, uint64_t offset);
/* This process's mapping of device dev's memory: the host address of offset 0. */
void *sim_instance_dev_memory(struct sim_instance *inst, int dev);

/* Checks every invariant of the attached shared state (sums match records, no overlapping
 * blocks, no block past capacity, no charge owned by a free slot). 0 or -EUCLEAN with the first
 * violation in err. Used by tests after killing processes at failpoints. */
int sim_state_check(struct sim_instance *inst, char *err, size_t errlen);
/* Validates an untrusted state image (as read from the state file) before it is used; 0 or
 * -EINVAL with the reason in err. The fuzz target for shared state calls this. */
int sim_state_validate(const void *image, size_t len, char *err, size_t errlen);

/* Cross-process execution engine of a device: work from different contexts and processes
 * time-slices by holding it while it runs on the device. Waiting processes get it in turn (round
 * robin), a releaser that wants it back included; a holder or waiter that dies never blocks the
 * others. A thread's nested acquisitions of one device only count (see docs/internals/sim.md,
 * "Engine"). */
void sim_engine_acquire(struct sim_instance *inst, int dev);
void sim_engine_release(struct sim_instance *inst, int dev);

/* A stream worker's time slice: it keeps its device's engine across consecutive ready device
 * operations of its stream, and gives it up between two of them once it has held it this long
 * and someone else waits. A real GPU switches contexts after a time slice of this order (about
 * a millisecond to a few); GPOOL_SIM_ENGINE_SLICE_US overrides it (0: hand over at every
 * operation boundary when someone waits). */
#define SIM_ENGINE_SLICE_NS (2ull * 1000 * 1000)

/* For stream workers: makes sure the calling thread holds device dev's engine (taking it, or
 * handing it round first when its slice is over and others wait), and keeps it after the
 * operation until sim_engine_unhold. Never call it while anything the engine's holder may need
 * could be waited for: the worker unholds before it blocks or runs work that may block. */
void sim_engine_hold(struct sim_instance *inst, int dev);
/* Gives up what sim_engine_hold holds (no-op when nothing). */
void sim_engine_unhold(void);

/* ---- Per-process driver state (init.c) ----------------------------------------------------- */

/* The instance this process attached to in cuInit; NULL before cuInit succeeded. */
struct sim_instance *sim_process_instance(void);
/* CUDA_SUCCESS once cuInit succeeded, else CUDA_ERROR_NOT_INITIALIZED (or the cuInit error). */
CUresult sim_process_check(void);

/* ---- Contexts (context.c) ------------------------------------------------------------------ */

struct sim_stream_set; /* owned by stream.c */

struct CUctx_st {
    uint32_t magic;            /* SIM_CTX_MAGIC while alive: validates handles */
    int device;
    unsigned int flags;
    int is_primary;
    uint64_t id;               /* cuCtxGetId */
    _Atomic int sticky_error;  /* a CUresult that fails every later call (as on a real GPU) */
    struct sim_stream_set *streams; /* created by sim_stream_ctx_init */
    size_t limits[16];         /* CUlimit values */
};
#define SIM_CTX_MAGIC 0x43545831u

/* The calling thread's current context (after primary-context binding rules), or an error:
 * CUDA_ERROR_NOT_INITIALIZED, CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_CONTEXT_IS_DESTROYED (made
 * current, then destroyed by another thread). When the context has a sticky error, *out is set
 * and that error is returned, so a caller that fails on any error honours sticky errors. */
CUresult sim_ctx_current(struct CUctx_st **out);
/* Validates a context handle given by the application. */
CUresult sim_ctx_check(CUcontext ctx);

/* ---- Memory (memory.c) ---------------------------------------------------------------------- */

enum sim_mem_kind {
    SIM_MEM_DEVICE = 1,   /* cuMemAlloc/Pitch: device range, not a host pointer */
    SIM_MEM_MANAGED,      /* cuMemAllocManaged: same address on host and device */
    SIM_MEM_HOST,         /* cuMemAllocHost/HostAlloc: page-locked host memory */
    SIM_MEM_REGISTERED,   /* cuMemHostRegister: the application's memory */
    SIM_MEM_VMM,          /* cuMemMap'ed range with access set (vmm.c): device range */
    SIM_MEM_POOL,         /* cuMemAllocAsync/FromPoolAsync block (pool.c): device range */
    SIM_MEM_IPC,          /* cuIpcOpenMemHandle mapping (ipc.c): device range */
};

/* Whether an allocation kind lives at a device address with its bytes in the device file. */
static inline int sim_mem_kind_is_device(enum sim_mem_kind k)
{
    return k == SIM_MEM_DEVICE || k == SIM_MEM_VMM || k == SIM_MEM_POOL || k == SIM_MEM_IPC;
}

struct sim_mem_ref {
    enum sim_mem_kind kind;
    uint64_t base;        /* the allocation's start address (as the application sees it) */
    size_t size;          /* its size in bytes */
    void *host;           /* where the byte at the looked-up address lives in this process */
    int device;
    struct CUctx_st *ctx; /* the context that allocated it */
};

/* Looks [addr, addr+len) up among this process's live allocations. CUDA_SUCCESS and ref filled
 * when the whole range lies in one allocation; CUDA_ERROR_INVALID_VALUE when addr is in no
 * allocation or the range runs past its end. Thread-safe. */
CUresult sim_mem_lookup(uint64_t addr, size_t len, struct sim_mem_ref *ref);

/* One live allocation as a kernel sees it: [base, base + size) lives at host in this process. */
struct sim_mem_span {
    uint64_t base;
    uint64_t size;
    void *host;
};

/* Snapshots the allocations a kernel launched in ctx may touch: every allocation ctx made
 * (device, managed, page-locked, registered) and the portable page-locked / registered memory of
 * other contexts, sorted by base. *out is a new array the caller frees (NULL when *count is 0).
 * CUDA_ERROR_OUT_OF_MEMORY when the array cannot be allocated. Thread-safe (launch.c). */
CUresult sim_mem_snapshot(struct CUctx_st *ctx, struct sim_mem_span **out, size_t *count);

/* Device address ranges: device d's allocations lie in [sim_dev_base(d), +vram). These are not
 * valid host pointers (bit 57 set, outside any user address space). */
#define SIM_DEV_BASE   0x0200000000000000ull
#define SIM_DEV_STRIDE 0x0000100000000000ull /* 16 TiB per device */
static inline uint64_t sim_dev_base(int dev)
{
    return SIM_DEV_BASE + (uint64_t)dev * SIM_DEV_STRIDE;
}

/* ---- Streams and events (stream.c, event.c) ------------------------------------------------ */

/* One unit of work on a stream, run by the stream's worker in order. */
struct sim_op {
    CUresult (*run)(struct sim_op *op); /* does the work; an error becomes sticky on the ctx */
    void (*release)(struct sim_op *op); /* frees the op (may be NULL when run frees it) */
    struct sim_op *next;
    int engine; /* runs on its stream's device and never blocks (kernel, copy, memset, event
                 * record): the stream's worker holds the engine across such ops */
};

/* Creates / destroys the context's streams (its NULL stream, per-thread streams). Destroy
 * waits for all work. */
CUresult sim_stream_ctx_init(struct CUctx_st *ctx);
void sim_stream_ctx_fini(struct CUctx_st *ctx);

/* Resolves an application stream handle (NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD or a
 * created stream) in the current context; per_thread says the call came through a _ptsz/_ptds
 * export, so NULL means the per-thread default stream. */
struct sim_stream;
CUresult sim_stream_resolve(CUstream handle, int per_thread, struct CUctx_st **ctx,
                            struct sim_stream **out);
/* Enqueues op (ownership passes to the stream) honouring legacy default stream ordering. */
CUresult sim_stream_enqueue(struct sim_stream *s, struct sim_op *op);
/* Waits until everything enqueued on s so far has run; returns the ctx's sticky error if any. */
CUresult sim_stream_wait_idle(struct sim_stream *s);
/* Waits for every stream of the context. */
CUresult sim_stream_ctx_synchronize(struct CUctx_st *ctx);

#endif
