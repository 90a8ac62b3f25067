/* The ABI facts as gpool's own header declares them. */
#include <stddef.h>
#include <stdint.h>

#include <gpool/cuda_abi.h>

#include "abi_row.h"

/* The signedness rows compare unsigned types with zero on purpose. */
#pragma GCC diagnostic ignored "-Wtype-limits"
#define ABI_ROW(label, expr) {label, (long long)(expr)},
const struct abi_row abi_gpool_rows[] = {
#include "abi_table.inc"
};
const size_t abi_gpool_count = sizeof(abi_gpool_rows) / sizeof(abi_gpool_rows[0]);
