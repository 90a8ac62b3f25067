/* Fuzz target: validating a (possibly corrupted) ledger image, as ledger_open does. The input
 * patches a valid image: each 12-byte chunk is (offset, 8 bytes to write there; offset
 * 0xffffffff truncates the image). The seeds are written by gen_ledger_seed.c. */
#include "gpool/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *base;
    static size_t len;
    if (!base) {
        struct ledger_limits lim = {.vram_bytes = 1u << 30, .compute_pct = 50, .ndev = 2};
        len = ledger_file_size(lim.ndev);
        base = aligned_alloc(4096, len);
        char err[256];
        /* Every image ledger_format makes is valid. */
        if (!base || ledger_format(base, len, "fuzz", &lim, 1) != 0 ||
            ledger_validate(base, len, err, sizeof(err)) != 0)
            abort();
    }
    char *img = malloc(len);
    if (!img)
        return 0;
    memcpy(img, base, len);
    size_t cut = len;
    for (size_t i = 0; i + 12 <= size; i += 12) {
        uint32_t off;
        memcpy(&off, data + i, 4);
        if (off == 0xffffffffu) { /* truncate */
            memcpy(&off, data + i + 4, 4);
            cut = off % (len + 1);
            continue;
        }
        off %= (uint32_t)(len - 8);
        memcpy(img + off, data + i + 4, 8);
    }
    char err[256];
    (void)ledger_validate(img, cut, err, sizeof(err));
    free(img);
    return 0;
}
