/* Fuzz target: the Kubernetes quantity and percent parsers (GPOOL_VRAM_LIMIT/COMPUTE_LIMIT). */
#include "gpool/limiter.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t v = 0;
    uint32_t p = 0;
    char err[128];
    if (limiter_parse_quantity(s, &v, err, sizeof(err)) == 0 && s[0] == '-')
        abort(); /* a negative quantity was accepted */
    if (limiter_parse_percent(s, &p, err, sizeof(err)) == 0 && (p < 1 || p > 100))
        abort();
    return 0;
}
