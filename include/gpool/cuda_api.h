/*
 * BOOTSTRAP SHIM — to be replaced by gpool's own declarations (owner: the API-table work).
 * Until then it takes the toolkit's cuda.h so the simulator can be written in parallel.
 */
#ifndef GPOOL_CUDA_API_H
#define GPOOL_CUDA_API_H
#ifdef GPOOL_CUDA_INTERNAL
#define __CUDA_API_VERSION_INTERNAL 1
#endif
#include "/usr/local/cuda/include/cuda.h"
#endif
