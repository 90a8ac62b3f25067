/* libFuzzer target: sim_state_validate (src/sim/state.c) on arbitrary state images. An image
 * it accepts is then formatted-checked again through an aligned copy (same verdict). */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int rc = sim_state_validate(data, size, err, sizeof(err));
    if (rc != 0 && (rc != -EINVAL || err[0] == '\0'))
        abort(); /* a refusal always says why */
    if (size > 0 && size < (64u << 20)) {
        void *copy = aligned_alloc(64, (size + 63) & ~(size_t)63);
        if (copy) {
            memcpy(copy, data, size);
            if (sim_state_validate(copy, size, err, sizeof(err)) != rc)
                abort();
            free(copy);
        }
    }
    return 0;
}
