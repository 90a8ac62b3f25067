/* libFuzzer target: the GPOOL_SIM_GPUS parser (src/sim/gpus.c) on arbitrary text. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    const struct sim_model *models[SIM_MAX_DEVICES];
    char err[256];
    int max = size > 0 ? 1 + data[0] % SIM_MAX_DEVICES : SIM_MAX_DEVICES;
    int n = sim_gpus_parse(spec, models, max, err, sizeof(err));
    if (n > 0) {
        if (n > max)
            abort();
        for (int i = 0; i < n; i++)
            if (!models[i] || !sim_model_find(models[i]->alias))
                abort();
    } else if (n != -EINVAL || err[0] == '\0') {
        abort(); /* every failure says why */
    }
    free(spec);
    return 0;
}
