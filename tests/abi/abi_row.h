/*
 * One checked ABI fact: a label ("offsetof CUDA_MEMCPY2D.srcPitch") and its value as one side
 * computes it. abi_gpool.c and abi_toolkit.c each fill a table from the same generated list.
 */
#ifndef GPOOL_TESTS_ABI_ROW_H
#define GPOOL_TESTS_ABI_ROW_H

#include <stddef.h>

struct abi_row {
    const char *label;
    long long value;
};

extern const struct abi_row abi_gpool_rows[];
extern const size_t abi_gpool_count;
extern const struct abi_row abi_toolkit_rows[];
extern const size_t abi_toolkit_count;

#endif
