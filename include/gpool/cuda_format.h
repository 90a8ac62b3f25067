/*
 * Facts about CUDA array formats shared by every layer that sizes arrays: the simulated driver
 * (which allocates them) and the hook (which charges them to a vGPU before the driver runs).
 */
#ifndef GPOOL_CUDA_FORMAT_H
#define GPOOL_CUDA_FORMAT_H

#include "gpool/cuda_abi.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes per element of an array of format with nch channels, as the driver lays it out: 0 when
 * the pair is invalid (a channel count other than 1, 2, 4, or one a normalized format's name
 * contradicts), SIZE_MAX for a valid format that has no per-element size (block-compressed and
 * planar YUV formats). */
size_t gpool_cuda_array_element_size(CUarray_format format, unsigned nch);

#endif
