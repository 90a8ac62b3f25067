/*
 * Compares gpool's cuda_abi.h with the CUDA toolkit's headers: every enumerator value, type size
 * and alignment, member offset and size, typedef identity and macro value, plus every name one
 * side declares and the other lacks. Prints each disagreement by name; exits 1 if there is any.
 */
#include <stdio.h>
#include <string.h>

#include "abi_row.h"

static const char *const abi_missing[] = {
#define ABI_MISSING(label) label,
#define ABI_EXTRA(label)
#include "abi_diff.inc"
#undef ABI_MISSING
#undef ABI_EXTRA
    NULL};

static const char *const abi_extra[] = {
#define ABI_MISSING(label)
#define ABI_EXTRA(label) label,
#include "abi_diff.inc"
#undef ABI_MISSING
#undef ABI_EXTRA
    NULL};

int main(void)
{
    size_t bad = 0;

    for (size_t i = 0; abi_missing[i] != NULL; i++) {
        printf("missing from cuda_abi.h: %s\n", abi_missing[i]);
        bad++;
    }
    for (size_t i = 0; abi_extra[i] != NULL; i++) {
        printf("not in the toolkit: %s\n", abi_extra[i]);
        bad++;
    }
    if (abi_gpool_count != abi_toolkit_count) {
        printf("table sizes differ: gpool %zu, toolkit %zu\n", abi_gpool_count, abi_toolkit_count);
        return 1;
    }
    for (size_t i = 0; i < abi_gpool_count; i++) {
        const struct abi_row *g = &abi_gpool_rows[i];
        const struct abi_row *t = &abi_toolkit_rows[i];

        if (strcmp(g->label, t->label) != 0) {
            printf("row %zu: labels differ: '%s' vs '%s'\n", i, g->label, t->label);
            return 1;
        }
        if (g->value != t->value) {
            printf("mismatch: %s: gpool %lld, toolkit %lld\n", g->label, g->value, t->value);
            bad++;
        }
    }
    printf("%zu ABI facts checked, %zu disagreements\n", abi_gpool_count, bad);
    return bad == 0 ? 0 : 1;
}
