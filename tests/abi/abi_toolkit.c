/*
 * The same ABI facts as the CUDA toolkit's headers declare them. The internal-version macros make
 * cuda.h declare the legacy _v1 types too (gpool declares them), without its internal *_MAX
 * enumerators. Graphics types come from the system headers, or from stub/ where those are absent.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#define __CUDA_API_VERSION_INTERNAL_ODR 1

#include <stddef.h>
#include <stdint.h>

#include <cuda.h>
#include <cudaProfiler.h>
#include <cudaGL.h>
#include <cudaEGL.h>
#include <vdpau/vdpau.h>
#include <cudaVDPAU.h>

#include "abi_foreign.h"
#include "abi_row.h"

/* The signedness rows compare unsigned types with zero on purpose. */
#pragma GCC diagnostic ignored "-Wtype-limits"
#define ABI_ROW(label, expr) {label, (long long)(expr)},
const struct abi_row abi_toolkit_rows[] = {
#include "abi_table.inc"
};
const size_t abi_toolkit_count = sizeof(abi_toolkit_rows) / sizeof(abi_toolkit_rows[0]);
