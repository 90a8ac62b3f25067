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

#endif
