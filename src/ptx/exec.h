/*
 * The PTX executor: runs a kernel of a parsed module (ptx.h) over a grid, whole warps at a time,
 * on the host's cores. This header is the contract between the executor (src/ptx/exec*.c) and the
 * simulated driver's module and launch layer (src/sim/module.c, src/sim/launch.c), which knows
 * about contexts, device memory and streams; the executor knows none of that.
 *
 * Address spaces seen by a kernel (64-bit generic addressing):
 *   global   the device, managed and page-locked allocations the launch lists in regions[]:
 *            device allocations at their device addresses (not host pointers), managed and
 *            page-locked ones at their host addresses. Anything else faults.
 *   shared   per CTA; generic addresses [PTX_SHARED_WINDOW, +PTX_WINDOW_SIZE).
 *   local    per thread; generic addresses [PTX_LOCAL_WINDOW, +PTX_WINDOW_SIZE).
 *   const    module .const variables live in device memory like .global ones (var_addr[]).
 *   param    the kernel's parameter block (read-only).
 * The windows lie outside any user-space host address and outside the device ranges, so
 * cvta/isspacep can tell them apart.
 */
#ifndef GPOOL_PTX_EXEC_H
#define GPOOL_PTX_EXEC_H

#include "ptx.h"

#include <stddef.h>
#include <stdint.h>

#define PTX_SHARED_WINDOW 0x0001000000000000ull
#define PTX_LOCAL_WINDOW  0x0001100000000000ull
#define PTX_WINDOW_SIZE   0x0000010000000000ull

/* A range of global memory a kernel may touch: [base, base + size) lives at host. */
struct ptx_region {
    uint64_t base;
    uint64_t size;
    uint8_t *host;
};

/* A module prepared for execution: the executor's own compact form of every function, the static
 * shared-memory layout, the call graph's stack needs. Immutable after ptx_program_new, shared by
 * concurrent launches. */
struct ptx_program;

/* What the launch layer needs to know about a kernel (cuFuncGetAttribute, validation). */
struct ptx_kernel_info {
    uint32_t static_shared_bytes; /* .shared variables of the kernel and the functions it calls */
    uint32_t local_bytes;         /* .local frame per thread incl. callees (recursion: a bound) */
    uint32_t num_regs;            /* 32-bit registers per thread, as a real compiler would report */
    uint32_t max_threads_per_block; /* from .maxntid/.reqntid, else 1024 */
    uint32_t const_bytes;         /* module .const bytes */
    int uses_grid_sync;           /* needs a cooperative launch */
};

/* Prepares mod for execution; mod must outlive the program. Returns 0 and *out (caller frees
 * with ptx_program_free), or -EINVAL with err filled for a module that parses but cannot run (e.g.
 * a call to an undefined function other than the built-ins vprintf and __assertfail), or -ENOMEM. */
int ptx_program_new(const struct ptx_module *mod, struct ptx_program **out, struct ptx_error *err);
void ptx_program_free(struct ptx_program *prog);

/* Fills info for the entry fn (a function of the program's module); -EINVAL when fn is not an
 * entry of it. */
int ptx_program_kernel_info(const struct ptx_program *prog, const struct ptx_function *fn,
                            struct ptx_kernel_info *info);

/* Patches the addresses an initialiser names into image, a copy of v->init (v->size bytes) the
 * loader is about to place: each of v->relocs[] gets var_addr[target] + addend (8 bytes, little
 * endian). var_addr is the same per-variable address table a launch passes. Function addresses need
 * no patching (they are load-independent tagged values, see PTX_FUNC_ADDR in ptx.h). Does nothing
 * for a variable without relocations. */
void ptx_var_relocate(const struct ptx_var *v, const uint64_t *var_addr, uint8_t *image);

/* How a launch ended. */
enum ptx_fault {
    PTX_FAULT_NONE = 0,
    PTX_FAULT_ADDRESS,     /* access outside every region/window: CUDA_ERROR_ILLEGAL_ADDRESS */
    PTX_FAULT_MISALIGNED,  /* CUDA_ERROR_MISALIGNED_ADDRESS */
    PTX_FAULT_ASSERT,      /* __assertfail: CUDA_ERROR_ASSERT */
    PTX_FAULT_TRAP,        /* trap/brkpt: CUDA_ERROR_LAUNCH_FAILED */
    PTX_FAULT_STACK,       /* call depth or .local stack exhausted: CUDA_ERROR_LAUNCH_FAILED */
    PTX_FAULT_BARRIER,     /* a barrier that can never complete (divergent bar.sync): LAUNCH_FAILED */
    PTX_FAULT_NOMEM,       /* the host ran out of memory for frames: CUDA_ERROR_OUT_OF_MEMORY */
};

struct ptx_launch {
    const struct ptx_program *prog;
    const struct ptx_function *fn; /* an entry of prog's module */
    uint32_t grid[3], block[3];
    uint32_t dynamic_shared_bytes;
    const void *params;            /* fn->param_size bytes laid out per fn->params */
    const struct ptx_region *regions; /* sorted by base, non-overlapping */
    size_t nregions;
    const uint64_t *var_addr;      /* per module variable: global address of .global/.const
                                      ones (inside a region); ignored for other spaces */
    int cooperative;               /* all CTAs co-resident; grid sync allowed */
    uint32_t sm_count;             /* %nsmid */
    uint32_t grid_id;              /* %gridid */
    unsigned host_threads;         /* CTAs run on up to this many host threads (>= 1) */
    int printf_fd;                 /* device printf output (the program's stdout: 1) */
};

struct ptx_result {
    enum ptx_fault fault;
    uint64_t address;        /* faulting address for ADDRESS/MISALIGNED */
    uint32_t line;           /* PTX source line of the faulting instruction */
    char msg[256];           /* a sentence naming the kernel, instruction, thread and reason */
    uint64_t lane_insns;     /* instructions executed, counting only active lanes */
};

/* Runs the launch to completion (or to its first fault, which stops every CTA). The grid and
 * block sizes, shared memory and parameters have been validated by the caller. Thread-safe:
 * several launches may run at once. Returns 0 (see res->fault) or -ENOMEM. */
int ptx_exec_run(const struct ptx_launch *launch, struct ptx_result *res);

#endif
