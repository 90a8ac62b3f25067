/*
 * Writes seed state images for the fuzz_sim_state corpus: a valid image with a few live
 * records (2 devices, 4 slots, 8 records per device) and corrupt variants of it.
 *   gen_state_seed DIR
 */
#include "sim.h"
#include "state_layout.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_seed(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) {
        fprintf(stderr, "gen_state_seed: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_state_seed DIR\n");
        return 2;
    }
    const struct sim_model *m[2] = {sim_model_find("T4"), sim_model_find("H100-80GB")};
    uint64_t dev_off, slot_off, rec_off;
    uint64_t size = sim_state_layout(2, 4, 8, &dev_off, &slot_off, &rec_off);
    char *img = aligned_alloc(64, size);
    if (!img)
        return 1;
    memset(img, 0, size);
    if (sim_state_format(img, size, "seed", m, 2, 4, 8) != 0)
        return 1;
    /* The mutexes' bytes are whatever this libc writes; zero them so seeds are reproducible. */
    struct sim_state_hdr *h = (struct sim_state_hdr *)img;
    h->created = 0;
    memset(&h->lock, 0, sizeof(h->lock));
    struct sim_state_dev *devs = (struct sim_state_dev *)(img + dev_off);
    struct sim_state_slot *slots = (struct sim_state_slot *)(img + slot_off);
    struct sim_state_rec *recs = (struct sim_state_rec *)(img + rec_off);
    for (int d = 0; d < 2; d++)
        memset(&devs[d].engine, 0, sizeof(devs[d].engine));
    slots[0].state = SIM_SLOT_LIVE;
    slots[0].pid = 42;
    snprintf(slots[0].name, sizeof(slots[0].name), "seed");
    recs[0] = (struct sim_state_rec){.offset = 0, .size = 1 << 20, .state = SIM_REC_LIVE,
                                     .kind = SIM_CHARGE_MEMORY, .owner = 0};
    recs[1] = (struct sim_state_rec){.offset = SIM_OVERHEAD_HANDLE_BASE + SIM_ALLOC_GRANULE,
                                     .size = 256ull << 20, .state = SIM_REC_LIVE,
                                     .kind = SIM_CHARGE_OVERHEAD, .owner = 0};
    devs[0].nrec_used = 2;
    devs[0].used_bytes = (1 << 20) + (256ull << 20);
    slots[0].used[0] = devs[0].used_bytes;
    char err[256];
    if (sim_state_validate(img, size, err, sizeof(err)) != 0) {
        fprintf(stderr, "gen_state_seed: seed invalid: %s\n", err);
        return 1;
    }
    int bad = write_seed(argv[1], "valid-2dev", img, size);

    char *c = malloc(size);
    if (!c)
        return 1;
    memcpy(c, img, size);
    ((struct sim_state_rec *)(c + rec_off))[1].offset = 4096; /* wrong overhead handle */
    ((struct sim_state_rec *)(c + rec_off))[1].kind = SIM_CHARGE_MEMORY; /* now overlaps */
    bad |= write_seed(argv[1], "overlap", c, size);
    memcpy(c, img, size);
    ((struct sim_state_hdr *)c)->version = 2;
    bad |= write_seed(argv[1], "version-2", c, size);
    memcpy(c, img, size);
    ((struct sim_state_hdr *)c)->nrecs = 9;
    bad |= write_seed(argv[1], "size-mismatch", c, size);
    memcpy(c, img, size);
    snprintf(((struct sim_state_dev *)(c + dev_off))[1].alias, 32, "H999");
    bad |= write_seed(argv[1], "unknown-model", c, size);
    bad |= write_seed(argv[1], "truncated", img, size / 3);
    free(c);
    free(img);
    return bad;
}
