/*
 * The fatbinary reader: finds the PTX in the fatbins that nvcc embeds in programs and that
 * cuModuleLoadData / cuModuleLoadFatBinary / __cudaRegisterFatBinary are given.
 *
 * A fatbin is one or more concatenated containers, each a 16-byte header followed by entries
 * (PTX text or ELF cubins, one per architecture), each entry stored plain, zstd- or
 * LZ4-compressed. The layout is undocumented by NVIDIA; docs/internals/fatbin.md records it as
 * verified against nvcc 13 output. Every read is bounded by a length the caller gives; for
 * pointer-only APIs fatbin_locate() computes that length from the headers first.
 *
 * Errors are negative errno values (-EINVAL malformed headers, -EBADMSG a payload that does not
 * decompress, -EFBIG a size over the caps, -ENOTSUP an unknown compression or container version,
 * -ENOENT no PTX the device can run, -ENOMEM), with a message naming the byte offset and the
 * reason written to msg (msgsz bytes, NUL-terminated; msg may be NULL).
 */
#ifndef GPOOL_FATBIN_H
#define GPOOL_FATBIN_H

#include <stddef.h>
#include <stdint.h>

#define FATBIN_WRAPPER_MAGIC   0x466243B1u /* The host wrapper in .nvFatBinSegment. */
#define FATBIN_CONTAINER_MAGIC 0xBA55ED50u /* A container header in .nv_fatbin. */

#define FATBIN_WRAPPER_SIZE  24u /* u32 magic, u32 version, u64 data, u64 prelinked list. */
#define FATBIN_CONTAINER_HDR 16u /* u32 magic, u16 version, u16 header_size, u64 entries_size. */
#define FATBIN_ENTRY_HDR_MIN 64u /* Fields read here; nvcc 13 writes 64 (ELF), 80, 96 (PTX). */

#define FATBIN_KIND_PTX 1u
#define FATBIN_KIND_ELF 2u

#define FATBIN_FLAG_LZ4  0x2000u
#define FATBIN_FLAG_ZSTD 0x8000u

/* No fatbin reached through a bare pointer is taken to be larger than this. */
#define FATBIN_MAX_IMAGE ((size_t)1 << 30)
/* Default cap on a decompressed entry: a size claimed above it is refused before allocating. */
#define FATBIN_MAX_UNCOMPRESSED ((size_t)512 << 20)

/* The host wrapper nvcc emits in .nvFatBinSegment and passes to __cudaRegisterFatBinary. */
struct fatbin_wrapper {
    uint32_t version;      /* 1, or 2 for relocatable device code (-rdc) and linked programs. */
    const void *data;      /* The first container (in .nv_fatbin or __nv_relfatbin). */
    const void *prelinked; /* Version 2: the list the device-link registration fills; else NULL. */
};

/* One entry of a parsed fatbin. Pointers borrow from the image given to fatbin_parse(). */
struct fatbin_entry {
    size_t offset;      /* Of the entry header, from the start of the image. */
    unsigned container; /* Index of the container holding it. */
    unsigned kind;      /* FATBIN_KIND_PTX, FATBIN_KIND_ELF, or another value seen. */
    unsigned arch;      /* Compute capability times ten: 80 is sm_80 / compute_80. */
    unsigned major;     /* PTX ISA version for PTX entries (9.0 from nvcc 13). */
    unsigned minor;
    uint64_t flags;      /* FATBIN_FLAG_ZSTD, FATBIN_FLAG_LZ4 and bits not interpreted here. */
    const uint8_t *data; /* The stored bytes: the compressed stream if compressed. */
    size_t data_size;    /* Compressed size if compressed, else the whole (padded) payload. */
    uint64_t uncompressed_size; /* As the header claims; 0 when not compressed. */
    const char
        *options; /* Compile options stored in the header (e.g. "--compile-only"), or NULL. */
    size_t options_len;
};

/* A parsed fatbin: every entry of every container, in image order. */
struct fatbin {
    unsigned ncontainers;
    size_t nentries;
    struct fatbin_entry *entries;
};

/*
 * Reads a host wrapper from p (len bytes readable). Fails with -EINVAL unless the magic is
 * FATBIN_WRAPPER_MAGIC, the version 1 or 2 and the data pointer non-NULL.
 */
int fatbin_wrapper_parse(const void *p, size_t len, struct fatbin_wrapper *w, char *msg,
                         size_t msgsz);

/*
 * Computes the length of the container at p for pointer-only APIs: reads its 16-byte header and
 * the first 16 bytes of each entry header that the previous headers vouch for, checks that the
 * entries tile the container exactly, and refuses a container claimed larger than
 * FATBIN_MAX_IMAGE. Reads nothing past the length the header claims. Only the first container is
 * measured: a bare pointer gives no bound that would make looking for a next one safe.
 */
int fatbin_image_size(const void *p, size_t *len, char *msg, size_t msgsz);

/*
 * For pointer-only APIs: p is a host wrapper or a container (told apart by the first four bytes,
 * which must be readable). Sets *image to the container and *len to its length.
 */
int fatbin_locate(const void *p, const void **image, size_t *len, char *msg, size_t msgsz);

/*
 * Parses the len bytes at image: every concatenated container and every entry, each bounded by
 * its container. Zero bytes after the last container are accepted as padding. On success *fb
 * holds the entries (free with fatbin_free()); they borrow from image. On failure *fb is empty.
 */
int fatbin_parse(const void *image, size_t len, struct fatbin *fb, char *msg, size_t msgsz);

/* Frees what fatbin_parse() allocated; accepts NULL and an empty fatbin. */
void fatbin_free(struct fatbin *fb);

/*
 * The PTX entry with the highest arch <= cc (e.g. 80 for an sm_80 device); the last such entry
 * if several tie. Returns NULL and a message (what the fatbin holds, and that PTX for sm_<cc> or
 * lower is needed because the simulated GPU runs PTX only) when there is none.
 */
const struct fatbin_entry *fatbin_select_ptx(const struct fatbin *fb, unsigned cc, char *msg,
                                             size_t msgsz);

/*
 * Returns the entry's payload decompressed in a new buffer (caller frees) with a NUL byte after
 * its *out_len bytes. A compressed entry must decompress to exactly the size its header claims;
 * a claimed or stored size over max_out (0 means FATBIN_MAX_UNCOMPRESSED) is refused before
 * allocating.
 */
int fatbin_entry_extract(const struct fatbin_entry *e, size_t max_out, uint8_t **out,
                         size_t *out_len, char *msg, size_t msgsz);

/*
 * All of the above for a loader: parses len bytes at image, selects the best PTX for compute
 * capability cc and returns its text NUL-terminated in *ptx (caller frees), *ptx_len bytes
 * without the NUL padding nvcc stores. *arch (may be NULL) receives the chosen entry's arch.
 */
int fatbin_ptx_for_device(const void *image, size_t len, unsigned cc, char **ptx, size_t *ptx_len,
                          unsigned *arch, char *msg, size_t msgsz);

#endif
