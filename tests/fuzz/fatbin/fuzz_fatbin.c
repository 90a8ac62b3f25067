/*
 * libFuzzer target for the fatbin reader: any bytes are parsed with their exact length, the best
 * PTX is selected for a few devices, and every entry is decompressed under a small cap. The
 * reader must either succeed with self-consistent results or fail with a message; never crash,
 * read out of bounds, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fatbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decompressed output is capped low so that a claimed size cannot make the fuzzer allocate much. */
#define FUZZ_MAX_OUT ((size_t)1 << 20)

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void check_entries(const uint8_t *data, size_t size, const struct fatbin *fb)
{
    char msg[256];
    for (size_t i = 0; i < fb->nentries; i++) {
        const struct fatbin_entry *e = &fb->entries[i];
        if (e->offset >= size || e->data < data || e->data + e->data_size > data + size)
            abort();
        if (e->options && (e->options < (const char *)data + e->offset ||
                           e->options + e->options_len > (const char *)e->data))
            abort();
        uint8_t *out = NULL;
        size_t n = 0;
        msg[0] = 0;
        int rc = fatbin_entry_extract(e, FUZZ_MAX_OUT, &out, &n, msg, sizeof(msg));
        if (rc == 0 && (!out || out[n] != 0 || n > FUZZ_MAX_OUT))
            abort();
        if (rc != 0 && (out || msg[0] == 0))
            abort();
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[512];
    struct fatbin fb;
    msg[0] = 0;
    int rc = fatbin_parse(data, size, &fb, msg, sizeof(msg));
    if (rc != 0 && (fb.nentries || fb.entries || msg[0] == 0))
        abort();
    if (rc == 0) {
        check_entries(data, size, &fb);
        static const unsigned ccs[] = {75, 80, 90, 120};
        for (size_t i = 0; i < sizeof(ccs) / sizeof(ccs[0]); i++) {
            const struct fatbin_entry *e = fatbin_select_ptx(&fb, ccs[i], msg, sizeof(msg));
            if (e && (e->kind != FATBIN_KIND_PTX || e->arch > ccs[i]))
                abort();
            if (!e && !strstr(msg, "or lower is needed"))
                abort();
        }
        fatbin_free(&fb);
    }
    /* The pointer-only measure, when the input holds all that the first header claims. */
    if (size >= FATBIN_CONTAINER_HDR) {
        uint64_t claimed = (uint64_t)(data[6] | data[7] << 8) + rd64(data + 8);
        size_t len = 0;
        if (claimed <= size && fatbin_image_size(data, &len, msg, sizeof(msg)) == 0 &&
            len != claimed)
            abort();
    }
    /* The whole path a loader takes, with the real cap. */
    char *ptx = NULL;
    size_t ptx_len = 0;
    if (fatbin_ptx_for_device(data, size, 80, &ptx, &ptx_len, NULL, msg, sizeof(msg)) == 0) {
        if (strlen(ptx) != ptx_len)
            abort();
        free(ptx);
    }
    return 0;
}
