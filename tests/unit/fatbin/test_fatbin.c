/*
 * Unit tests of the fatbin reader over fatbins nvcc 13 made (tests/unit/fatbin/gen.sh): plain,
 * zstd and LZ4 entries give the same PTX; the best PTX for a device is chosen; host wrappers from
 * object files and a linked program lead to their containers; cubin-only fatbins and truncated or
 * corrupt ones are refused with a message naming the offset and the reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fatbin.h"

#ifndef FATBIN_DATA_DIR
#error "FATBIN_DATA_DIR must name tests/unit/fatbin/data"
#endif

struct blob {
    uint8_t *p;
    size_t n;
};

static struct blob load(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", FATBIN_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    struct blob b = {malloc(n ? (size_t)n : 1), (size_t)n};
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, b.n, f), b.n);
    fclose(f);
    return b;
}

/* An exact-size copy of the first n bytes, so that ASan catches any read past them. */
static uint8_t *prefix(const struct blob *b, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, b->p, n);
    return p;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static char *ptx_of(const struct blob *b, unsigned cc, unsigned *arch)
{
    char msg[512] = "", *ptx = NULL;
    size_t len = 0;
    int rc = fatbin_ptx_for_device(b->p, b->n, cc, &ptx, &len, arch, msg, sizeof(msg));
    if (rc)
        fail_msg("cc %u: rc %d: %s", cc, rc, msg);
    assert_int_equal(strlen(ptx), len);
    return ptx;
}

static void expect_error(const struct blob *b, int want, const char *needle)
{
    char msg[512] = "", *ptx = NULL;
    size_t len = 0;
    int rc = fatbin_ptx_for_device(b->p, b->n, 80, &ptx, &len, NULL, msg, sizeof(msg));
    if (rc != want || !strstr(msg, needle))
        fail_msg("rc %d (want %d), message \"%s\" (want \"%s\")", rc, want, msg, needle);
    assert_null(ptx);
}

/* The PTX of vadd.cu for sm_80, as nvcc stored it without compression. */
static char *reference_ptx(void)
{
    struct blob b = load("ptx80_plain.fatbin");
    char *ptx = ptx_of(&b, 80, NULL);
    free(b.p);
    return ptx;
}

static void test_plain_entry(void **state)
{
    struct blob b = load("ptx80_plain.fatbin");
    struct fatbin fb;
    char msg[256] = "";
    assert_int_equal(fatbin_parse(b.p, b.n, &fb, msg, sizeof(msg)), 0);
    assert_int_equal(fb.ncontainers, 1);
    assert_int_equal(fb.nentries, 1);
    const struct fatbin_entry *e = &fb.entries[0];
    assert_int_equal(e->kind, FATBIN_KIND_PTX);
    assert_int_equal(e->arch, 80);
    assert_int_equal(e->major, 9);
    assert_int_equal(e->minor, 0);
    assert_int_equal(e->flags & (FATBIN_FLAG_ZSTD | FATBIN_FLAG_LZ4), 0);
    assert_int_equal(e->offset, 16);
    assert_int_equal(e->offset + 80 + e->data_size, b.n);
    fatbin_free(&fb);

    unsigned arch = 0;
    char *ptx = ptx_of(&b, 80, &arch);
    assert_int_equal(arch, 80);
    assert_non_null(strstr(ptx, ".version 9.0"));
    assert_non_null(strstr(ptx, ".target sm_80"));
    assert_non_null(strstr(ptx, ".entry vadd("));
    free(ptx);
    free(b.p);
}

static void test_zstd_and_lz4_match_plain(void **state)
{
    char *ref = reference_ptx();
    const char *files[] = {"ptx80_zstd.fatbin", "ptx80_lz4.fatbin"};
    const uint64_t flag[] = {FATBIN_FLAG_ZSTD, FATBIN_FLAG_LZ4};
    for (int i = 0; i < 2; i++) {
        struct blob b = load(files[i]);
        struct fatbin fb;
        assert_int_equal(fatbin_parse(b.p, b.n, &fb, NULL, 0), 0);
        assert_int_equal(fb.nentries, 1);
        assert_true(fb.entries[0].flags & flag[i]);
        assert_true(fb.entries[0].uncompressed_size > fb.entries[0].data_size);
        if (flag[i] == FATBIN_FLAG_ZSTD)
            assert_memory_equal(fb.entries[0].data, "\x28\xb5\x2f\xfd", 4);
        fatbin_free(&fb);
        char *ptx = ptx_of(&b, 80, NULL);
        assert_string_equal(ptx, ref);
        free(ptx);
        free(b.p);
    }
    free(ref);
}

static void test_select_by_arch(void **state)
{
    struct blob b = load("multi.fatbin");
    struct fatbin fb;
    assert_int_equal(fatbin_parse(b.p, b.n, &fb, NULL, 0), 0);
    assert_int_equal(fb.nentries, 5);
    const unsigned cc[] = {75, 80, 86, 89, 90, 100, 120};
    const unsigned want[] = {75, 80, 80, 80, 90, 90, 90};
    for (int i = 0; i < 7; i++) {
        const struct fatbin_entry *e = fatbin_select_ptx(&fb, cc[i], NULL, 0);
        assert_non_null(e);
        assert_int_equal(e->kind, FATBIN_KIND_PTX);
        assert_int_equal(e->arch, want[i]);
        unsigned arch = 0;
        char *ptx = ptx_of(&b, cc[i], &arch);
        char target[32];
        snprintf(target, sizeof(target), ".target sm_%u", want[i]);
        assert_int_equal(arch, want[i]);
        assert_non_null(strstr(ptx, target));
        free(ptx);
    }
    char msg[512];
    assert_null(fatbin_select_ptx(&fb, 70, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "PTX for sm_70 or lower is needed"));
    assert_non_null(strstr(msg, "the simulated GPU runs PTX only"));
    assert_non_null(strstr(msg, "PTX for sm_75, sm_80, sm_90"));
    assert_non_null(strstr(msg, "cubin (ELF) for sm_80, sm_90"));

    /* The cubins are ELF files, stored plain by nvcc 13's default. */
    for (size_t i = 0; i < fb.nentries; i++) {
        if (fb.entries[i].kind != FATBIN_KIND_ELF)
            continue;
        uint8_t *elf = NULL;
        size_t n = 0;
        assert_int_equal(fatbin_entry_extract(&fb.entries[i], 0, &elf, &n, NULL, 0), 0);
        assert_memory_equal(elf, "\177ELF", 4);
        free(elf);
    }
    fatbin_free(&fb);
    free(b.p);
}

static void test_cubin_only_refused(void **state)
{
    struct blob b = load("sm80_cubin.fatbin");
    char msg[512] = "", *ptx = NULL;
    size_t len = 0;
    int rc = fatbin_ptx_for_device(b.p, b.n, 80, &ptx, &len, NULL, msg, sizeof(msg));
    assert_int_equal(rc, -ENOENT);
    assert_null(ptx);
    assert_non_null(strstr(msg, "PTX for sm_80 or lower is needed"));
    assert_non_null(strstr(msg, "the fatbin holds cubin (ELF) for sm_80"));
    assert_null(strstr(msg, "holds PTX"));
    free(b.p);
}

static void test_ptx_for_newer_arch_refused(void **state)
{
    struct blob b = load("ptx90_zstd.fatbin");
    char msg[512] = "", *ptx = NULL;
    size_t len = 0;
    assert_int_equal(fatbin_ptx_for_device(b.p, b.n, 80, &ptx, &len, NULL, msg, sizeof(msg)),
                     -ENOENT);
    assert_non_null(strstr(msg, "PTX for sm_80 or lower is needed"));
    assert_non_null(strstr(msg, "the fatbin holds PTX for sm_90"));
    ptx = ptx_of(&b, 90, NULL);
    free(ptx);
    free(b.p);
}

/* Copies a wrapper from an object file with its data pointer set to data. */
static void wrapper_at(uint8_t w[FATBIN_WRAPPER_SIZE], const struct blob *seg, const void *data)
{
    assert_int_equal(seg->n, FATBIN_WRAPPER_SIZE);
    memcpy(w, seg->p, FATBIN_WRAPPER_SIZE);
    put64(w + 8, (uint64_t)(uintptr_t)data);
}

static void test_object_wrapper(void **state)
{
    struct blob seg = load("obj.nvFatBinSegment"), fat = load("obj.nv_fatbin");
    struct fatbin_wrapper w;
    char msg[256] = "";
    /* In the object file the data pointer is a relocation, zero until linked. */
    assert_int_equal(fatbin_wrapper_parse(seg.p, seg.n, &w, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "data pointer is NULL"));

    uint8_t wr[FATBIN_WRAPPER_SIZE];
    wrapper_at(wr, &seg, fat.p);
    assert_int_equal(fatbin_wrapper_parse(wr, sizeof(wr), &w, NULL, 0), 0);
    assert_int_equal(w.version, 1);
    assert_ptr_equal(w.data, fat.p);
    assert_null(w.prelinked);
    assert_int_equal(fatbin_wrapper_parse(wr, sizeof(wr) - 1, &w, msg, sizeof(msg)), -EINVAL);

    const void *image = NULL;
    size_t len = 0;
    assert_int_equal(fatbin_locate(wr, &image, &len, msg, sizeof(msg)), 0);
    assert_ptr_equal(image, fat.p);
    assert_int_equal(len, fat.n);
    struct blob located = {(uint8_t *)image, len};
    char *ptx = ptx_of(&located, 80, NULL);
    assert_non_null(strstr(ptx, ".entry vadd("));
    free(ptx);
    free(seg.p);
    free(fat.p);
}

static void test_rdc_object(void **state)
{
    struct blob seg = load("rdc.nvFatBinSegment"), fat = load("rdc.nv_relfatbin");
    uint8_t wr[FATBIN_WRAPPER_SIZE];
    wrapper_at(wr, &seg, fat.p);
    const void *image = NULL;
    size_t len = 0;
    assert_int_equal(fatbin_locate(wr, &image, &len, NULL, 0), 0);
    assert_int_equal(len, fat.n);

    struct fatbin fb;
    assert_int_equal(fatbin_parse(fat.p, fat.n, &fb, NULL, 0), 0);
    assert_int_equal(fb.nentries, 2);
    /* nvcc stores the PTX's compile options in a longer (96-byte) entry header. */
    const struct fatbin_entry *ptx = &fb.entries[0];
    assert_int_equal(ptx->kind, FATBIN_KIND_PTX);
    assert_int_equal(ptx->data - fat.p - ptx->offset, 96);
    assert_int_equal(ptx->options_len, strlen("--compile-only"));
    assert_memory_equal(ptx->options, "--compile-only", ptx->options_len);
    /* Relocatable cubins are compressed too. */
    const struct fatbin_entry *elf = &fb.entries[1];
    assert_int_equal(elf->kind, FATBIN_KIND_ELF);
    assert_true(elf->flags & FATBIN_FLAG_ZSTD);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(fatbin_entry_extract(elf, 0, &out, &n, NULL, 0), 0);
    assert_int_equal(n, elf->uncompressed_size);
    assert_memory_equal(out, "\177ELF", 4);
    free(out);
    fatbin_free(&fb);
    free(seg.p);
    free(fat.p);
}

/* A linked program: four wrappers with real addresses into four concatenated containers. */
static void test_linked_program(void **state)
{
    struct blob seg = load("app.nvFatBinSegment"), fat = load("app.nv_fatbin"),
                vma_txt = load("app.vma");
    char buf[64] = "";
    memcpy(buf, vma_txt.p, vma_txt.n < sizeof(buf) - 1 ? vma_txt.n : sizeof(buf) - 1);
    uint64_t vma = strtoull(buf, NULL, 16);
    assert_true(vma != 0);

    struct fatbin fb;
    char msg[256] = "";
    assert_int_equal(fatbin_parse(fat.p, fat.n, &fb, msg, sizeof(msg)), 0);
    assert_int_equal(fb.ncontainers, 4);
    assert_int_equal(fb.nentries, 3);
    fatbin_free(&fb);

    assert_int_equal(seg.n % FATBIN_WRAPPER_SIZE, 0);
    size_t nw = seg.n / FATBIN_WRAPPER_SIZE, covered = 0;
    assert_int_equal(nw, 4);
    int seen_vadd = 0, seen_scale = 0;
    for (size_t i = 0; i < nw; i++) {
        uint8_t *w = seg.p + i * FATBIN_WRAPPER_SIZE;
        uint64_t off = get64(w + 8) - vma;
        assert_true(off < fat.n);
        uint8_t wr[FATBIN_WRAPPER_SIZE];
        memcpy(wr, w, sizeof(wr));
        put64(wr + 8, (uint64_t)(uintptr_t)(fat.p + off));
        struct fatbin_wrapper pw;
        assert_int_equal(fatbin_wrapper_parse(wr, sizeof(wr), &pw, NULL, 0), 0);
        /* The device-link wrapper comes first, version 2, with the list the runtime fills. */
        assert_int_equal(pw.version, i == 0 ? 2 : 1);
        assert_true(i == 0 ? pw.prelinked != NULL : pw.prelinked == NULL);
        const void *image;
        size_t len;
        assert_int_equal(fatbin_locate(wr, &image, &len, msg, sizeof(msg)), 0);
        covered += len;
        struct blob one = {(uint8_t *)image, len};
        if (i == 0) {
            assert_int_equal(len, 16); /* An empty container. */
            continue;
        }
        char *ptx = ptx_of(&one, 90, NULL);
        seen_vadd += strstr(ptx, ".entry vadd(") != NULL;
        seen_scale += strstr(ptx, ".entry scale(") != NULL;
        free(ptx);
    }
    assert_int_equal(covered, fat.n);
    assert_int_equal(seen_vadd, 1);
    assert_int_equal(seen_scale, 1);
    free(seg.p);
    free(fat.p);
    free(vma_txt.p);
}

static void test_concatenated_and_padding(void **state)
{
    struct blob a = load("ptx80_plain.fatbin"), c = load("ptx90_zstd.fatbin");
    struct blob cat = {malloc(a.n + c.n + 8), a.n + c.n + 8};
    assert_non_null(cat.p);
    memcpy(cat.p, a.p, a.n);
    memcpy(cat.p + a.n, c.p, c.n);
    memset(cat.p + a.n + c.n, 0, 8);
    struct fatbin fb;
    assert_int_equal(fatbin_parse(cat.p, cat.n, &fb, NULL, 0), 0);
    assert_int_equal(fb.ncontainers, 2);
    assert_int_equal(fb.entries[1].container, 1);
    fatbin_free(&fb);
    unsigned arch = 0;
    char *ptx = ptx_of(&cat, 90, &arch);
    assert_int_equal(arch, 90);
    free(ptx);
    ptx = ptx_of(&cat, 86, &arch);
    assert_int_equal(arch, 80);
    free(ptx);
    /* Only the first container is measured through a bare pointer. */
    size_t len = 0;
    assert_int_equal(fatbin_image_size(cat.p, &len, NULL, 0), 0);
    assert_int_equal(len, a.n);

    /* Non-zero bytes after a container must be another container. */
    memset(cat.p + a.n, 0xab, 8);
    cat.n = a.n + 8;
    expect_error(&cat, -EINVAL, "offset 0x3c8: 8 trailing bytes");
    memset(cat.p + a.n, 0xab, 16);
    cat.n = a.n + 16;
    expect_error(&cat, -EINVAL, "offset 0x3c8: container magic 0xabababab");
    free(a.p);
    free(c.p);
    free(cat.p);
}

/* Every proper prefix of a one-container fatbin is refused, without reading past it. */
static void test_truncated(void **state)
{
    const char *files[] = {"ptx80_zstd.fatbin", "ptx80_lz4.fatbin", "multi.fatbin",
                           "sm80_cubin.fatbin"};
    for (int f = 0; f < 4; f++) {
        struct blob b = load(files[f]);
        for (size_t n = 0; n < b.n; n++) {
            uint8_t *p = prefix(&b, n);
            char msg[256] = "", *ptx = NULL;
            size_t len = 0;
            int rc = fatbin_ptx_for_device(p, n, 80, &ptx, &len, NULL, msg, sizeof(msg));
            if (rc != -EINVAL || !strstr(msg, "offset 0x"))
                fail_msg("%s cut to %zu bytes: rc %d, \"%s\"", files[f], n, rc, msg);
            free(p);
        }
        free(b.p);
    }
}

static void test_corrupt_headers(void **state)
{
    struct blob orig = load("ptx80_zstd.fatbin");
    struct blob b = {malloc(orig.n), orig.n};
    assert_non_null(b.p);
    const size_t E = 16; /* The entry header. */
#define CASE(edit, rc, text)                                                                       \
    do {                                                                                           \
        memcpy(b.p, orig.p, orig.n);                                                               \
        edit;                                                                                      \
        expect_error(&b, rc, text);                                                                \
    } while (0)
    CASE(put32(b.p, 0x12345678), -EINVAL, "offset 0x0: container magic 0x12345678");
    CASE(b.p[4] = 2, -ENOTSUP, "offset 0x0: container version 2");
    CASE(b.p[6] = 8, -EINVAL, "offset 0x0: container header_size 8 is smaller than 16");
    CASE(put64(b.p + 8, 1ull << 40), -EFBIG, "over the");
    CASE(put64(b.p + 8, orig.n), -EINVAL, "offset 0x0: container of 16+480 bytes is truncated");
    CASE(put32(b.p + E + 4, 12), -EINVAL, "offset 0x10: entry header_size 12 is smaller than 64");
    CASE(put32(b.p + E + 4, 0xffffffffu), -EINVAL, "offset 0x10: entry of 4294967295+");
    CASE(put64(b.p + E + 8, ~0ull), -EINVAL, "runs past its container");
    CASE(put32(b.p + E + 16, 0), -EINVAL, "offset 0x10: compressed size 0");
    CASE(put32(b.p + E + 16, 10000), -EINVAL, "compressed size 10000 outside");
    CASE(b.p[E + 41] |= 0x20, -ENOTSUP, "name both zstd and LZ4");
    CASE(put64(b.p + E + 56, 1ull << 40), -EFBIG, "uncompressed size 1099511627776 is over");
    CASE(put64(b.p + E + 56, 0), -EINVAL, "zero for a compressed entry");
    CASE(put64(b.p + E + 56, 868), -EBADMSG, "zstd frame holds 867 bytes, the header claims 868");
    CASE(b.p[E + 80] = 0, -EBADMSG, "zstd flag set but no zstd frame");
    CASE(put32(b.p + E + 16, 200), -EBADMSG, "zstd payload does not decompress");
#undef CASE
    free(b.p);

    /* Bytes after the last entry, too few for another entry header, inside the container. */
    b = (struct blob){calloc(1, orig.n + 40), orig.n + 40};
    assert_non_null(b.p);
    memcpy(b.p, orig.p, orig.n);
    put64(b.p + 8, orig.n - 16 + 40);
    expect_error(&b, -EINVAL, "offset 0x1e0: 40 bytes left in the container, too few for an entry");
    free(b.p);
    free(orig.p);

    /* The same for LZ4: a short stream or a wrong claimed size fails to decompress. */
    orig = load("ptx80_lz4.fatbin");
    b = (struct blob){malloc(orig.n), orig.n};
    assert_non_null(b.p);
    memcpy(b.p, orig.p, orig.n);
    put32(b.p + E + 16, 100);
    expect_error(&b, -EBADMSG, "offset 0x10: LZ4 payload does not decompress");
    memcpy(b.p, orig.p, orig.n);
    put64(b.p + E + 56, 900);
    expect_error(&b, -EBADMSG, "LZ4 payload does not decompress to the 900 bytes claimed");
    memcpy(b.p, orig.p, orig.n);
    memset(b.p + E + 80, 0xff, 32);
    expect_error(&b, -EBADMSG, "LZ4 payload");
    free(b.p);
    free(orig.p);
}

static void test_extract_cap(void **state)
{
    struct blob b = load("ptx80_zstd.fatbin"), p = load("ptx80_plain.fatbin");
    struct fatbin fb;
    char msg[256] = "";
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(fatbin_parse(b.p, b.n, &fb, NULL, 0), 0);
    assert_int_equal(fatbin_entry_extract(&fb.entries[0], 100, &out, &n, msg, sizeof(msg)), -EFBIG);
    assert_null(out);
    assert_non_null(strstr(msg, "offset 0x10: uncompressed size 867 is over the cap"));
    fatbin_free(&fb);
    assert_int_equal(fatbin_parse(p.p, p.n, &fb, NULL, 0), 0);
    assert_int_equal(fatbin_entry_extract(&fb.entries[0], 100, &out, &n, msg, sizeof(msg)), -EFBIG);
    assert_non_null(strstr(msg, "payload of 872 bytes is over the 100-byte cap"));
    fatbin_free(&fb);
    fatbin_free(NULL);
    free(b.p);
    free(p.p);
}

static void test_locate(void **state)
{
    struct blob b = load("multi.fatbin");
    const void *image = NULL;
    size_t len = 0;
    char msg[256] = "";
    assert_int_equal(fatbin_locate(b.p, &image, &len, msg, sizeof(msg)), 0);
    assert_ptr_equal(image, b.p);
    assert_int_equal(len, b.n);

    /* Headers that do not tile the container are refused before any payload is read. */
    put32(b.p + 16 + 4, 8);
    assert_int_equal(fatbin_image_size(b.p, &len, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "offset 0x10: entry header_size 8"));
    assert_int_equal(len, 0);
    put64(b.p + 8, (uint64_t)2 << 30);
    assert_int_equal(fatbin_image_size(b.p, &len, msg, sizeof(msg)), -EFBIG);

    const char text[] = ".version 9.0\n.target sm_80\n";
    assert_int_equal(fatbin_locate(text, &image, &len, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "neither a fatbin container"));
    assert_null(image);
    uint8_t w[FATBIN_WRAPPER_SIZE] = {0};
    put32(w, FATBIN_WRAPPER_MAGIC);
    put32(w + 4, 3);
    put64(w + 8, (uint64_t)(uintptr_t)b.p);
    assert_int_equal(fatbin_locate(w, &image, &len, msg, sizeof(msg)), -ENOTSUP);
    assert_non_null(strstr(msg, "host wrapper version 3"));
    put32(w + 4, 1);
    put64(w + 8, (uint64_t)(uintptr_t)text);
    assert_int_equal(fatbin_locate(w, &image, &len, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "container magic"));
    free(b.p);
}

static void test_tiny_message_buffers(void **state)
{
    struct blob b = load("sm80_cubin.fatbin");
    char msg[8];
    char *ptx = NULL;
    size_t len = 0;
    memset(msg, 'x', sizeof(msg));
    assert_int_equal(fatbin_ptx_for_device(b.p, b.n, 80, &ptx, &len, NULL, msg, sizeof(msg)),
                     -ENOENT);
    assert_int_equal(strlen(msg), sizeof(msg) - 1);
    assert_int_equal(fatbin_ptx_for_device(b.p, 3, 80, &ptx, &len, NULL, msg, 1), -EINVAL);
    assert_int_equal(msg[0], 0);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_entry),
        cmocka_unit_test(test_zstd_and_lz4_match_plain),
        cmocka_unit_test(test_select_by_arch),
        cmocka_unit_test(test_cubin_only_refused),
        cmocka_unit_test(test_ptx_for_newer_arch_refused),
        cmocka_unit_test(test_object_wrapper),
        cmocka_unit_test(test_rdc_object),
        cmocka_unit_test(test_linked_program),
        cmocka_unit_test(test_concatenated_and_padding),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_extract_cap),
        cmocka_unit_test(test_locate),
        cmocka_unit_test(test_tiny_message_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
