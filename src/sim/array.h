/*
 * CUDA arrays of the simulated GPU (array.c): the interface copy.c and context.c use.
 *
 * An array's bytes live in a backing block of the device file (one charge of the shared state,
 * shared by every level of a mipmapped array), laid out row-major and layer-major: element
 * (x, y, z) of a level is at byte base + z * slice + y * pitch + x * elem of the backing. The
 * backing is reference counted, so a copy queued on a stream keeps it alive after the array
 * is destroyed.
 */
#ifndef GPOOL_SIM_ARRAY_H
#define GPOOL_SIM_ARRAY_H

#include "sim.h"

struct sim_array_mem; /* an array's backing block */

/* One array (or mipmap level) as a copy sees it. */
struct sim_array_view {
    struct sim_array_mem *mem; /* a reference the caller drops with sim_array_put */
    int device;
    size_t elem;      /* bytes per element (all channels) */
    size_t row_bytes; /* Width * elem */
    size_t rows;      /* Height, at least 1 */
    size_t layers;    /* Depth (or layers), at least 1 */
    size_t pitch;     /* bytes between rows */
    size_t slice;     /* bytes between layers: pitch * rows */
    uint64_t base;    /* byte offset of the array's first element in its backing */
};

/* Validates an array handle and describes it, taking a reference on its backing.
 * CUDA_ERROR_INVALID_HANDLE for an unknown or destroyed handle, CUDA_ERROR_INVALID_VALUE for an
 * array without backing (created with CUDA_ARRAY3D_DEFERRED_MAPPING). */
CUresult sim_array_get(CUarray h, struct sim_array_view *v);
/* Takes another reference on a backing; sim_array_put drops one (accepts NULL). The last one
 * releases the device charge. */
void sim_array_hold(struct sim_array_mem *m);
void sim_array_put(struct sim_array_mem *m);
/* Where the backing's first byte lives in this process. */
unsigned char *sim_array_host(const struct sim_array_mem *m);

/* Destroys every array and mipmapped array ctx created (cuCtxDestroy, primary reset). The
 * caller has already waited for the context's work. */
void sim_array_release_ctx(struct CUctx_st *ctx);

#endif
