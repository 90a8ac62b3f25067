/*
 * The fatbinary reader. The layout (docs/internals/fatbin.md) is read field by field from
 * little-endian bytes, never by casting the image to a struct, so that an unaligned or truncated
 * image cannot fault, and every offset is checked against the length before it is read.
 */
#include "fatbin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>

/* Offsets inside an entry header. */
#define ENT_KIND         0  /* u16 */
#define ENT_HDR_SIZE     4  /* u32 */
#define ENT_PAYLOAD_SIZE 8  /* u64: stored payload, padded to 8 bytes */
#define ENT_COMPRESSED   16 /* u32: compressed stream size; 0 when stored plain */
#define ENT_MINOR        24 /* u16 */
#define ENT_MAJOR        26 /* u16 */
#define ENT_ARCH         28 /* u32 */
#define ENT_FLAGS        40 /* u64 */
#define ENT_UNCOMPRESSED 56 /* u64: 0 when stored plain */
#define ENT_OPT_OFFSET   64 /* u32, from the entry header's start; present when header >= 72 */
#define ENT_OPT_LEN      68 /* u32 */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int fail(char *msg, size_t msgsz, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "fatbin: <reason>" to msg and returns err. */
static int fail(char *msg, size_t msgsz, int err, const char *fmt, ...)
{
    if (msg && msgsz) {
        int n = snprintf(msg, msgsz, "fatbin: ");
        if (n >= 0 && (size_t)n < msgsz) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg + n, msgsz - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return err;
}

int fatbin_wrapper_parse(const void *p, size_t len, struct fatbin_wrapper *w, char *msg,
                         size_t msgsz)
{
    const uint8_t *b = p;
    memset(w, 0, sizeof(*w));
    if (!p || len < FATBIN_WRAPPER_SIZE)
        return fail(msg, msgsz, -EINVAL, "offset 0x0: host wrapper needs %u bytes, have %zu",
                    FATBIN_WRAPPER_SIZE, p ? len : 0);
    uint32_t magic = rd32(b);
    if (magic != FATBIN_WRAPPER_MAGIC)
        return fail(msg, msgsz, -EINVAL, "offset 0x0: host wrapper magic 0x%08x, expected 0x%08x",
                    magic, FATBIN_WRAPPER_MAGIC);
    uint32_t version = rd32(b + 4);
    if (version != 1 && version != 2)
        return fail(msg, msgsz, -ENOTSUP, "offset 0x4: host wrapper version %u (known: 1, 2)",
                    version);
    uintptr_t data = (uintptr_t)rd64(b + 8), list = (uintptr_t)rd64(b + 16);
    if (!data)
        return fail(msg, msgsz, -EINVAL, "offset 0x8: host wrapper data pointer is NULL");
    w->version = version;
    w->data = (const void *)data;
    w->prelinked = version == 2 ? (const void *)list : NULL;
    return 0;
}

/*
 * Checks the container header at b (16 bytes readable, avail bytes from b to the end of the
 * image) and sets *total to its header plus entries. off is b's offset, for messages.
 */
static int container_header(const uint8_t *b, uint64_t avail, size_t off, uint64_t *hdr,
                            uint64_t *total, char *msg, size_t msgsz)
{
    uint32_t magic = rd32(b);
    if (magic != FATBIN_CONTAINER_MAGIC)
        return fail(msg, msgsz, -EINVAL, "offset 0x%zx: container magic 0x%08x, expected 0x%08x",
                    off, magic, FATBIN_CONTAINER_MAGIC);
    unsigned version = rd16(b + 4), hsize = rd16(b + 6);
    if (version != 1)
        return fail(msg, msgsz, -ENOTSUP, "offset 0x%zx: container version %u (known: 1)", off,
                    version);
    if (hsize < FATBIN_CONTAINER_HDR)
        return fail(msg, msgsz, -EINVAL,
                    "offset 0x%zx: container header_size %u is smaller than %u", off, hsize,
                    FATBIN_CONTAINER_HDR);
    uint64_t entries = rd64(b + 8);
    if (entries > FATBIN_MAX_IMAGE - hsize)
        return fail(msg, msgsz, -EFBIG,
                    "offset 0x%zx: container claims %u+%llu bytes, over the %zu-byte cap", off,
                    hsize, (unsigned long long)entries, FATBIN_MAX_IMAGE);
    if (hsize + entries > avail)
        return fail(msg, msgsz, -EINVAL,
                    "offset 0x%zx: container of %u+%llu bytes is truncated (%llu bytes left)", off,
                    hsize, (unsigned long long)entries, (unsigned long long)avail);
    *hdr = hsize;
    *total = hsize + entries;
    return 0;
}

/*
 * Checks the sizes of the entry header at b (16 bytes readable; avail bytes to the end of its
 * container) and sets *span to header plus payload.
 */
static int entry_span(const uint8_t *b, uint64_t avail, size_t off, uint64_t *span, char *msg,
                      size_t msgsz)
{
    uint32_t hsize = rd32(b + ENT_HDR_SIZE);
    uint64_t psize = rd64(b + ENT_PAYLOAD_SIZE);
    if (hsize < FATBIN_ENTRY_HDR_MIN)
        return fail(msg, msgsz, -EINVAL, "offset 0x%zx: entry header_size %u is smaller than %u",
                    off, hsize, FATBIN_ENTRY_HDR_MIN);
    if (hsize > avail || psize > avail - hsize)
        return fail(msg, msgsz, -EINVAL,
                    "offset 0x%zx: entry of %u+%llu bytes runs past its container (%llu bytes "
                    "left)",
                    off, hsize, (unsigned long long)psize, (unsigned long long)avail);
    *span = hsize + psize;
    return 0;
}

int fatbin_image_size(const void *p, size_t *len, char *msg, size_t msgsz)
{
    const uint8_t *b = p;
    *len = 0;
    if (!p)
        return fail(msg, msgsz, -EINVAL, "offset 0x0: NULL image");
    uint64_t hdr, total;
    /* The claim is capped, so the walk below stays within FATBIN_MAX_IMAGE bytes of p. */
    int rc = container_header(b, FATBIN_MAX_IMAGE, 0, &hdr, &total, msg, msgsz);
    if (rc)
        return rc;
    for (uint64_t off = hdr; off < total;) {
        uint64_t span = 0;
        if (total - off < FATBIN_ENTRY_HDR_MIN)
            return fail(msg, msgsz, -EINVAL,
                        "offset 0x%llx: %llu bytes left in the container, too few for an entry",
                        (unsigned long long)off, (unsigned long long)(total - off));
        rc = entry_span(b + off, total - off, (size_t)off, &span, msg, msgsz);
        if (rc)
            return rc;
        off += span;
    }
    *len = (size_t)total;
    return 0;
}

int fatbin_locate(const void *p, const void **image, size_t *len, char *msg, size_t msgsz)
{
    *image = NULL;
    *len = 0;
    if (!p)
        return fail(msg, msgsz, -EINVAL, "offset 0x0: NULL image");
    uint32_t magic = rd32(p);
    if (magic == FATBIN_WRAPPER_MAGIC) {
        struct fatbin_wrapper w;
        int rc = fatbin_wrapper_parse(p, FATBIN_WRAPPER_SIZE, &w, msg, msgsz);
        if (rc)
            return rc;
        p = w.data;
        if (rd32(p) != FATBIN_CONTAINER_MAGIC)
            return fail(msg, msgsz, -EINVAL,
                        "host wrapper data %p: container magic 0x%08x, expected 0x%08x", p, rd32(p),
                        FATBIN_CONTAINER_MAGIC);
    } else if (magic != FATBIN_CONTAINER_MAGIC) {
        return fail(msg, msgsz, -EINVAL,
                    "offset 0x0: magic 0x%08x is neither a fatbin container (0x%08x) nor a host "
                    "wrapper (0x%08x)",
                    magic, FATBIN_CONTAINER_MAGIC, FATBIN_WRAPPER_MAGIC);
    }
    int rc = fatbin_image_size(p, len, msg, msgsz);
    if (rc)
        return rc;
    *image = p;
    return 0;
}

void fatbin_free(struct fatbin *fb)
{
    if (!fb)
        return;
    free(fb->entries);
    fb->entries = NULL;
    fb->nentries = 0;
    fb->ncontainers = 0;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Fills e from the entry at image + off, whose header and payload span lies inside the image. */
static int entry_decode(const uint8_t *image, size_t off, struct fatbin_entry *e, char *msg,
                        size_t msgsz)
{
    const uint8_t *b = image + off;
    uint32_t hsize = rd32(b + ENT_HDR_SIZE);
    uint64_t psize = rd64(b + ENT_PAYLOAD_SIZE);
    memset(e, 0, sizeof(*e));
    e->offset = off;
    e->kind = rd16(b + ENT_KIND);
    e->minor = rd16(b + ENT_MINOR);
    e->major = rd16(b + ENT_MAJOR);
    e->arch = rd32(b + ENT_ARCH);
    e->flags = rd64(b + ENT_FLAGS);
    e->data = b + hsize;
    e->data_size = (size_t)psize;
    if (e->flags & (FATBIN_FLAG_ZSTD | FATBIN_FLAG_LZ4)) {
        uint32_t csize = rd32(b + ENT_COMPRESSED);
        if ((e->flags & FATBIN_FLAG_ZSTD) && (e->flags & FATBIN_FLAG_LZ4))
            return fail(msg, msgsz, -ENOTSUP,
                        "offset 0x%zx: entry flags 0x%llx name both zstd and LZ4", off,
                        (unsigned long long)e->flags);
        if (csize == 0 || csize > psize)
            return fail(msg, msgsz, -EINVAL,
                        "offset 0x%zx: compressed size %u outside the %llu-byte payload", off,
                        csize, (unsigned long long)psize);
        e->data_size = csize;
        e->uncompressed_size = rd64(b + ENT_UNCOMPRESSED);
    }
    if (hsize >= ENT_OPT_LEN + 4) {
        /* Options are informational: ignore a reference that points outside the header. */
        uint32_t oo = rd32(b + ENT_OPT_OFFSET), ol = rd32(b + ENT_OPT_LEN);
        if (ol && oo >= ENT_OPT_LEN + 4 && oo <= hsize && ol <= hsize - oo) {
            const char *s = (const char *)b + oo;
            size_t n = strnlen(s, ol);
            while (n && s[n - 1] == ' ')
                n--;
            e->options = s;
            e->options_len = n;
        }
    }
    return 0;
}

int fatbin_parse(const void *image, size_t len, struct fatbin *fb, char *msg, size_t msgsz)
{
    const uint8_t *b = image;
    struct fatbin out = {0};
    size_t cap = 0;
    int rc = 0;
    memset(fb, 0, sizeof(*fb));
    if (!image)
        return fail(msg, msgsz, -EINVAL, "offset 0x0: NULL image");
    if (len < FATBIN_CONTAINER_HDR) {
        rc =
            fail(msg, msgsz, -EINVAL, "offset 0x0: %zu bytes, too few for a container header", len);
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        if (len - off < FATBIN_CONTAINER_HDR || rd32(b + off) != FATBIN_CONTAINER_MAGIC) {
            /* Section alignment may leave zeros after the last container. */
            if (out.ncontainers && all_zero(b + off, len - off))
                break;
            if (len - off < FATBIN_CONTAINER_HDR) {
                rc = fail(msg, msgsz, -EINVAL,
                          "offset 0x%zx: %zu trailing bytes, too few for a container header", off,
                          len - off);
                goto out;
            }
        }
        uint64_t hdr, total;
        rc = container_header(b + off, len - off, off, &hdr, &total, msg, msgsz);
        if (rc)
            goto out;
        size_t end = off + (size_t)total;
        for (size_t eo = off + (size_t)hdr; eo < end;) {
            uint64_t span = 0;
            if (end - eo < FATBIN_ENTRY_HDR_MIN) {
                rc = fail(msg, msgsz, -EINVAL,
                          "offset 0x%zx: %zu bytes left in the container, too few for an entry", eo,
                          end - eo);
                goto out;
            }
            rc = entry_span(b + eo, end - eo, eo, &span, msg, msgsz);
            if (rc)
                goto out;
            if (out.nentries == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                struct fatbin_entry *ne = realloc(out.entries, ncap * sizeof(*ne));
                if (!ne) {
                    rc = fail(msg, msgsz, -ENOMEM, "offset 0x%zx: out of memory", eo);
                    goto out;
                }
                out.entries = ne;
                cap = ncap;
            }
            struct fatbin_entry *e = &out.entries[out.nentries];
            rc = entry_decode(b, eo, e, msg, msgsz);
            if (rc)
                goto out;
            e->container = out.ncontainers;
            out.nentries++;
            eo += (size_t)span;
        }
        out.ncontainers++;
        off = end;
    }
out:
    if (rc) {
        fatbin_free(&out);
        return rc;
    }
    *fb = out;
    return 0;
}

/* Appends to a message buffer, keeping it NUL-terminated and silently truncating. */
struct text {
    char *buf;
    size_t size, len;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    if (!t->buf || t->len + 1 >= t->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->size ? t->len + (size_t)n : t->size - 1;
}

/* Lists the distinct archs of entries of one kind: "sm_80, sm_90". Returns how many. */
static size_t list_archs(const struct fatbin *fb, unsigned kind, struct text *t)
{
    size_t n = 0;
    for (size_t i = 0; i < fb->nentries; i++) {
        const struct fatbin_entry *e = &fb->entries[i];
        bool seen = false;
        if (e->kind != kind)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = fb->entries[j].kind == kind && fb->entries[j].arch == e->arch;
        if (!seen)
            text_add(t, "%ssm_%u", n++ ? ", " : "", e->arch);
    }
    return n;
}

const struct fatbin_entry *fatbin_select_ptx(const struct fatbin *fb, unsigned cc, char *msg,
                                             size_t msgsz)
{
    const struct fatbin_entry *best = NULL;
    for (size_t i = 0; i < fb->nentries; i++) {
        const struct fatbin_entry *e = &fb->entries[i];
        if (e->kind == FATBIN_KIND_PTX && e->arch <= cc && (!best || e->arch >= best->arch))
            best = e;
    }
    if (best || !msg || !msgsz)
        return best;

    struct text t = {msg, msgsz, 0};
    msg[0] = 0;
    text_add(&t,
             "fatbin: PTX for sm_%u or lower is needed (the simulated GPU runs PTX only; build "
             "with -gencode arch=compute_XX,code=compute_XX, XX <= %u); the fatbin holds ",
             cc, cc);
    size_t other = 0;
    for (size_t i = 0; i < fb->nentries; i++)
        other += fb->entries[i].kind != FATBIN_KIND_PTX && fb->entries[i].kind != FATBIN_KIND_ELF;
    if (fb->nentries == 0) {
        text_add(&t, "no entries");
        return NULL;
    }
    size_t before = t.len;
    text_add(&t, "PTX for ");
    if (!list_archs(fb, FATBIN_KIND_PTX, &t))
        t.len = before, t.buf[before] = 0;
    size_t mid = t.len;
    text_add(&t, "%scubin (ELF) for ", mid != before ? "; " : "");
    if (!list_archs(fb, FATBIN_KIND_ELF, &t))
        t.len = mid, t.buf[mid] = 0;
    if (other)
        text_add(&t, "%s%zu entr%s of unknown kind", t.len != before ? "; " : "", other,
                 other == 1 ? "y" : "ies");
    return NULL;
}

int fatbin_entry_extract(const struct fatbin_entry *e, size_t max_out, uint8_t **out,
                         size_t *out_len, char *msg, size_t msgsz)
{
    *out = NULL;
    *out_len = 0;
    if (!max_out)
        max_out = FATBIN_MAX_UNCOMPRESSED;
    bool zstd = e->flags & FATBIN_FLAG_ZSTD, lz4 = e->flags & FATBIN_FLAG_LZ4;
    if (zstd && lz4)
        return fail(msg, msgsz, -ENOTSUP, "offset 0x%zx: entry flags 0x%llx name both zstd and LZ4",
                    e->offset, (unsigned long long)e->flags);
    size_t n = zstd || lz4 ? (size_t)e->uncompressed_size : e->data_size;
    if ((zstd || lz4) && (e->uncompressed_size > max_out || e->uncompressed_size == 0))
        return fail(msg, msgsz, e->uncompressed_size ? -EFBIG : -EINVAL,
                    "offset 0x%zx: uncompressed size %llu is %s", e->offset,
                    (unsigned long long)e->uncompressed_size,
                    e->uncompressed_size ? "over the cap" : "zero for a compressed entry");
    if (n > max_out)
        return fail(msg, msgsz, -EFBIG,
                    "offset 0x%zx: payload of %zu bytes is over the %zu-byte cap", e->offset, n,
                    max_out);
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        return fail(msg, msgsz, -ENOMEM, "offset 0x%zx: out of memory for %zu bytes", e->offset,
                    n + 1);
    if (zstd) {
        if (e->data_size < 4 || rd32(e->data) != ZSTD_MAGICNUMBER) {
            free(buf);
            return fail(msg, msgsz, -EBADMSG, "offset 0x%zx: zstd flag set but no zstd frame",
                        e->offset);
        }
        unsigned long long fsize = ZSTD_getFrameContentSize(e->data, e->data_size);
        if (fsize != ZSTD_CONTENTSIZE_UNKNOWN && fsize != n) {
            free(buf);
            return fail(msg, msgsz, -EBADMSG,
                        "offset 0x%zx: zstd frame holds %llu bytes, the header claims %zu",
                        e->offset, fsize == ZSTD_CONTENTSIZE_ERROR ? 0ULL : fsize, n);
        }
        size_t got = ZSTD_decompress(buf, n, e->data, e->data_size);
        if (ZSTD_isError(got) || got != n) {
            free(buf);
            return fail(msg, msgsz, -EBADMSG, "offset 0x%zx: zstd payload does not decompress: %s",
                        e->offset,
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "shorter than claimed");
        }
    } else if (lz4) {
        if (n > (size_t)LZ4_MAX_INPUT_SIZE * 255 || e->data_size > LZ4_MAX_INPUT_SIZE ||
            n > INT32_MAX) {
            free(buf);
            return fail(msg, msgsz, -EFBIG, "offset 0x%zx: LZ4 sizes beyond what LZ4 handles",
                        e->offset);
        }
        int got =
            LZ4_decompress_safe((const char *)e->data, (char *)buf, (int)e->data_size, (int)n);
        if (got < 0 || (size_t)got != n) {
            free(buf);
            return fail(msg, msgsz, -EBADMSG,
                        "offset 0x%zx: LZ4 payload does not decompress to the %zu bytes claimed%s",
                        e->offset, n, got < 0 ? " (corrupt stream)" : "");
        }
    } else {
        memcpy(buf, e->data, n);
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return 0;
}

int fatbin_ptx_for_device(const void *image, size_t len, unsigned cc, char **ptx, size_t *ptx_len,
                          unsigned *arch, char *msg, size_t msgsz)
{
    struct fatbin fb;
    uint8_t *text = NULL;
    size_t n = 0;
    *ptx = NULL;
    *ptx_len = 0;
    int rc = fatbin_parse(image, len, &fb, msg, msgsz);
    if (rc)
        return rc;
    const struct fatbin_entry *e = fatbin_select_ptx(&fb, cc, msg, msgsz);
    if (!e) {
        rc = -ENOENT;
        goto out;
    }
    rc = fatbin_entry_extract(e, 0, &text, &n, msg, msgsz);
    if (rc)
        goto out;
    /* The text ends at the first NUL: nvcc pads PTX payloads with zeros. */
    n = strnlen((const char *)text, n);
    if (arch)
        *arch = e->arch;
    *ptx = (char *)text;
    *ptx_len = n;
out:
    fatbin_free(&fb);
    return rc;
}
