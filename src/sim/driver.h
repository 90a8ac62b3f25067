/*
 * Private interfaces between the driver's process, device, context and memory layers (init.c,
 * device.c, context.c, memory.c). Not part of the contract in sim.h: other modules use sim.h only.
 */
#ifndef GPOOL_SIM_DRIVER_H
#define GPOOL_SIM_DRIVER_H

#include "sim.h"

/* The driver version cuDriverGetVersion reports: CUDA 13.0. */
#define SIM_DRIVER_VERSION 13000

/* Validates a device ordinal of the attached instance (cuInit must have succeeded) and returns
 * its model through model (may be NULL). CUDA_ERROR_INVALID_DEVICE for an unknown ordinal. */
CUresult sim_device_check(CUdevice dev, const struct sim_model **model);

/* Fork handlers of the context and memory layers, called by init.c's pthread_atfork handlers
 * in this order: prepare (context, then memory), parent/child (memory, then context). The child
 * handlers forget every context and allocation inherited from the parent: CUDA state does not
 * cross fork, and the child must call cuInit again. */
void sim_ctx_fork_prepare(void);
void sim_ctx_fork_parent(void);
void sim_ctx_fork_child(void);
void sim_mem_fork_prepare(void);
void sim_mem_fork_parent(void);
void sim_mem_fork_child(void);

/* Releases every allocation ctx made (device, pitched, managed, page-locked host memory and host
 * registrations), as cuCtxDestroy and a primary context reset do. The caller has already waited
 * for the context's work. */
void sim_mem_release_ctx(struct CUctx_st *ctx);

/* Enters a device range owned by vmm.c, pool.c or ipc.c (kind SIM_MEM_VMM, _POOL or _IPC) into
 * the process's allocation table, so that sim_mem_lookup and kernels find it: [base, base+size)
 * has its bytes at device offset `offset` of device dev. ctx is NULL for a range that belongs to
 * the device (every context of dev sees it in kernels). CUDA_ERROR_INVALID_VALUE when the range
 * overlaps a known one; CUDA_ERROR_OUT_OF_MEMORY. The table never releases such a range's
 * backing: its owner does, after sim_mem_unregister. */
CUresult sim_mem_register(enum sim_mem_kind kind, int dev, struct CUctx_st *ctx, uint64_t base,
                          uint64_t size, uint64_t offset);
/* Removes the range of that kind starting at base; 0 or -ENOENT. */
int sim_mem_unregister(enum sim_mem_kind kind, uint64_t base);

/* Shared-state tags (state.c): a 32-bit value stored with one of this process's live memory
 * charges, so another process can check an IPC or VMM handle names a real, exported charge. */
int sim_state_tag(struct sim_instance *inst, int dev, uint64_t offset, uint32_t tag);
/* Finds a live memory charge of any process at exactly offset: its size and tag. 0 or -ENOENT. */
int sim_state_find(struct sim_instance *inst, int dev, uint64_t offset, uint64_t *size,
                   uint32_t *tag);
/* The instance's directory (borrowed until detach): IPC event files live there. */
const char *sim_instance_dir(const struct sim_instance *inst);

/* IPC events (ipc.c), used by event.c for events made with CU_EVENT_INTERPROCESS: the state of
 * such an event lives in a small shared file (two counters: records made, records completed), so
 * every process that opened it sees its completion. */
struct sim_ipc_event;
/* Creates the shared state of a new interprocess event; NULL on failure. */
struct sim_ipc_event *sim_ipc_event_new(void);
/* Unmaps it (and removes the file when this process created it). Accepts NULL. */
void sim_ipc_event_free(struct sim_ipc_event *ie);
/* A record is being enqueued: returns its number, for sim_ipc_event_complete. */
uint32_t sim_ipc_event_record(struct sim_ipc_event *ie);
/* Record number gen has run (or was never enqueued): publishes it and wakes waiters. */
void sim_ipc_event_complete(struct sim_ipc_event *ie, uint32_t gen);
/* The number of the latest record, to wait for. */
uint32_t sim_ipc_event_target(struct sim_ipc_event *ie);
/* Whether record number target has completed. */
int sim_ipc_event_reached(struct sim_ipc_event *ie, uint32_t target);
/* Blocks until record number target has completed. */
void sim_ipc_event_wait(struct sim_ipc_event *ie, uint32_t target);

/* event.c: the interprocess state of an event (NULL when it has none) and a new event of the
 * current context made around an opened interprocess state (which it then owns). */
CUresult sim_event_ipc(CUevent h, struct sim_ipc_event **out);
CUresult sim_event_create_ipc(struct sim_ipc_event *ie, CUevent *out);

/* Frees a stream-ordered allocation (pool block or live graph allocation) at once, as cuMemFree
 * may (pool.c); CUDA_ERROR_INVALID_VALUE when addr is neither. */
CUresult sim_pool_free_now(uint64_t addr);

#endif
