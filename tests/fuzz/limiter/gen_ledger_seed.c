/*
 * Writes the seed corpus of fuzz_ledger: each seed is a list of patches to the image that
 * fuzz_ledger formats (12-byte chunks: a 32-bit offset, then the 8 bytes to write there; the
 * offset 0xffffffff truncates the image to the length that follows). The patches are computed
 * from the layout (src/limiter/ledger_layout.h), so regenerate the seeds whenever it changes:
 *   gen_ledger_seed tests/fuzz/limiter/corpus/ledger
 * Valid seeds must pass ledger_validate and corrupt ones fail it; the generator checks both.
 * With --check it writes nothing and fails when a committed seed differs from what it would
 * write (the test fuzz-ledger-seeds runs it so).
 */
#include "ledger_layout.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *base;
static size_t len;
static int check_only;

/* Whether the file at path holds exactly buf. */
static int same_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char *have = malloc(n + 1);
    int same = have && fread(have, 1, n + 1, f) == n && (n == 0 || !memcmp(have, buf, n));
    free(have);
    fclose(f);
    return same;
}

static int write_seed(const char *dir, const char *name, const void *buf, size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (check_only) {
        if (same_file(path, buf, n))
            return 0;
        fprintf(stderr,
                "gen_ledger_seed: %s is missing or stale: regenerate with "
                "gen_ledger_seed %s\n",
                path, dir);
        return 1;
    }
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(buf, 1, n, f) != n)) {
        fprintf(stderr, "gen_ledger_seed: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

/* The patches that turn the base image into img (each differing 8-byte word), then `cut` (the
 * image's length when shorter than the file) as a truncation chunk. Caller frees *out. */
static size_t diff_patches(const char *img, size_t cut, unsigned char **out)
{
    size_t n = 0, cap = 64;
    unsigned char *p = malloc(cap * 12);
    if (!p)
        exit(1);
    for (size_t off = 0; off + 8 <= len; off += 8) {
        if (memcmp(img + off, (const char *)base + off, 8) == 0)
            continue;
        if (off >= len - 8) { /* fuzz_ledger reduces offsets modulo len - 8 */
            fprintf(stderr, "gen_ledger_seed: cannot patch the last word of the image\n");
            exit(1);
        }
        if (n == cap && !(p = realloc(p, (cap *= 2) * 12)))
            exit(1);
        uint32_t o = (uint32_t)off;
        memcpy(p + n * 12, &o, 4);
        memcpy(p + n * 12 + 4, img + off, 8);
        n++;
    }
    if (cut < len) {
        if (n == cap && !(p = realloc(p, (cap += 1) * 12)))
            exit(1);
        uint32_t mark = 0xffffffffu, c = (uint32_t)cut;
        memcpy(p + n * 12, &mark, 4);
        memcpy(p + n * 12 + 4, &c, 4);
        memset(p + n * 12 + 8, 0, 4);
        n++;
    }
    *out = p;
    return n * 12;
}

/* Writes one seed: img (a patched copy of the base) cut to `cut` bytes, after checking that
 * ledger_validate answers `want` for it. */
static int seed(const char *dir, const char *name, const char *img, size_t cut, int want)
{
    char err[256] = "";
    int rc = ledger_validate(img, cut, err, sizeof(err));
    if (rc != want) {
        fprintf(stderr, "gen_ledger_seed: %s: ledger_validate gives %d (%s), expected %d\n", name,
                rc, err, want);
        return 1;
    }
    unsigned char *patches;
    size_t n = diff_patches(img, cut, &patches);
    rc = write_seed(dir, name, patches, n);
    free(patches);
    return rc;
}

static struct ledger_hdr *hdr_of(char *img)
{
    return (struct ledger_hdr *)img;
}

static struct ledger_slot *slot_of(char *img, uint32_t s)
{
    return (struct ledger_slot *)(img + hdr_of(img)->slot_off) + s;
}

static struct ledger_rec *rec_of(char *img, uint32_t r)
{
    return (struct ledger_rec *)(img + hdr_of(img)->rec_off) + r;
}

/* Adds a record (with its sums) to img. */
static void add_rec(char *img, uint32_t r, uint32_t state, uint16_t dev, uint16_t slot,
                    uint64_t key, uint64_t bytes, uint64_t owner)
{
    *rec_of(img, r) = (struct ledger_rec){.state = state,
                                          .dev = dev,
                                          .slot = slot,
                                          .seq = 1,
                                          .key = key,
                                          .bytes = bytes,
                                          .owner = owner};
    hdr_of(img)->used[dev] += bytes;
    slot_of(img, slot)->used[dev] += bytes;
}

static void live_slot(char *img, uint32_t s)
{
    slot_of(img, s)->state = LEDGER_SLOT_LIVE;
    slot_of(img, s)->pid = 100 + (int32_t)s;
    slot_of(img, s)->generation = 1;
    snprintf(slot_of(img, s)->name, sizeof(slot_of(img, s)->name), "seed%u", s);
}

int main(int argc, char **argv)
{
    check_only = argc == 3 && !strcmp(argv[1], "--check");
    if (argc != 2 + check_only) {
        fprintf(stderr, "usage: gen_ledger_seed [--check] DIR\n");
        return 2;
    }
    const char *dir = argv[1 + check_only];
    /* The same image as fuzz_ledger.c formats. */
    struct ledger_limits lim = {.vram_bytes = 1u << 30, .compute_pct = 50, .ndev = 2};
    len = ledger_file_size(lim.ndev);
    base = aligned_alloc(4096, len);
    char *img = aligned_alloc(4096, len);
    if (!base || !img || ledger_format(base, len, "fuzz", &lim, 1) != 0)
        return 1;
    int bad = 0;
#define FRESH() memcpy(img, base, len)

    FRESH();
    bad |= seed(dir, "valid", img, len, 0);

    /* Two processes, two owners (CUDA contexts), both devices, a reservation. */
    FRESH();
    live_slot(img, 0);
    live_slot(img, 5);
    add_rec(img, 0, LEDGER_REC_COMMITTED, 0, 0, 0x7f0000200000, 4096, 0x5555aaaa0001);
    add_rec(img, 1, LEDGER_REC_COMMITTED, 1, 0, 0x7f0000200000, 8192, 0x5555aaaa0001);
    add_rec(img, 2, LEDGER_REC_COMMITTED, 0, 0, 0x7f0000400000, 1 << 20, 0x5555aaaa0002);
    add_rec(img, 7, LEDGER_REC_COMMITTED, 0, 5, 0x7f0000200000, 2 << 20, 0x5555aaaa0001);
    add_rec(img, 9, LEDGER_REC_RESERVED, 1, 5, 0, 512, 0);
    add_rec(img, LEDGER_RECS - 1, LEDGER_REC_COMMITTED, 1, 5, 0x1000, 3, 0);
    bad |= seed(dir, "records", img, len, 0);
    /* The same, one record's owner tag changed: still valid (an owner is any value). */
    rec_of(img, 7)->owner = ~0ull;
    bad |= seed(dir, "owner_any", img, len, 0);
    /* Broken records. */
    rec_of(img, 7)->bytes = 0;
    bad |= seed(dir, "record_zero", img, len, -EPROTO);
    rec_of(img, 7)->bytes = 2 << 20;
    rec_of(img, 2)->dev = 2;
    bad |= seed(dir, "record_dev", img, len, -EPROTO);
    rec_of(img, 2)->dev = 0;
    rec_of(img, 9)->state = 3;
    bad |= seed(dir, "record_state", img, len, -EPROTO);
    rec_of(img, 9)->state = LEDGER_REC_RESERVED;
    slot_of(img, 5)->state = LEDGER_SLOT_FREE;
    bad |= seed(dir, "record_free_slot", img, len, -EPROTO);
    slot_of(img, 5)->state = LEDGER_SLOT_LIVE;
    slot_of(img, 0)->used[1] += 1;
    bad |= seed(dir, "slot_usage", img, len, -EPROTO);
    slot_of(img, 0)->used[1] -= 1;
    /* The records cut off: the file is shorter than its header says. */
    bad |= seed(dir, "truncated_records", img, (size_t)hdr_of(img)->rec_off + 4096, -EBADMSG);

    FRESH();
    hdr_of(img)->used[0] = 12345; /* usage that no record explains */
    bad |= seed(dir, "usage", img, len, -EPROTO);
    FRESH();
    hdr_of(img)->compute_pct = 12345;
    bad |= seed(dir, "compute", img, len, -EPROTO);
    FRESH();
    hdr_of(img)->magic = 0;
    bad |= seed(dir, "bad_magic", img, len, -EBADMSG);
    FRESH();
    hdr_of(img)->version = LEDGER_VERSION + 7;
    bad |= seed(dir, "bad_version", img, len, -EBADMSG);
    FRESH();
    hdr_of(img)->version = LEDGER_VERSION - 1; /* the layout before this one */
    bad |= seed(dir, "old_version", img, len, -EBADMSG);
    FRESH();
    hdr_of(img)->ndev = 99;
    bad |= seed(dir, "bad_ndev", img, len, -EBADMSG);
    FRESH();
    hdr_of(img)->rec_off += 40;
    bad |= seed(dir, "bad_offset", img, len, -EBADMSG);
    FRESH();
    bad |= seed(dir, "truncated", img, 100, -EBADMSG);

    /* Small values written all over the header and the first slots. */
    FRESH();
    for (uint32_t i = 1; i <= 39; i++) {
        uint64_t v = i;
        memcpy(img + 0x40 * i, &v, 8);
    }
    bad |= seed(dir, "many", img, len, -EPROTO);
#undef FRESH
    free(base);
    free(img);
    return bad;
}
