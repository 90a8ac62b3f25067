/*
 * Layout of a vGPU ledger file (private to src/limiter; tools use gpool/ledger.h). A file is
 * the header, then nslots slots, then nrecs records; offsets are in the header and checked.
 * Bump LEDGER_VERSION on any change.
 */
#ifndef GPOOL_LEDGER_LAYOUT_H
#define GPOOL_LEDGER_LAYOUT_H

#include "gpool/ledger.h"

#include <pthread.h>
#include <stdint.h>

#define LEDGER_MAGIC   0x5245474455504756ull /* "VGPUDGER" little-endian */
#define LEDGER_VERSION 4u

/* Liveness bytes: slot s is alive while byte LEDGER_LIVE_BASE + s of the file is OFD-locked. */
#define LEDGER_LIVE_BASE (1ull << 40)

enum { LEDGER_SLOT_FREE = 0, LEDGER_SLOT_CLAIMING = 1, LEDGER_SLOT_LIVE = 2 };
enum { LEDGER_REC_FREE = 0, LEDGER_REC_RESERVED = 1, LEDGER_REC_COMMITTED = 2 };

struct ledger_slot {
    uint32_t state;
    int32_t pid;
    uint64_t generation;
    char name[32];
    uint64_t used[LEDGER_MAX_DEVICES];
};

struct ledger_rec {
    uint32_t state;
    uint16_t dev;
    uint16_t slot;
    uint32_t seq;
    uint32_t pad;
    uint64_t key;
    uint64_t bytes;
    uint64_t owner; /* ledger_commit_owned's tag (a CUDA context); 0 = none */
};

struct ledger_hdr {
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;
    uint64_t file_size;
    uint32_t ndev;
    uint32_t nslots;
    uint32_t nrecs;
    uint32_t rec_hint;
    uint64_t slot_off;
    uint64_t rec_off;
    char name[LEDGER_NAME_MAX + 1];
    char boot_id[64];
    union {
        pthread_mutex_t lock;
        char lock_space[64];
    };
    uint64_t vram_bytes;
    uint32_t compute_pct;
    uint32_t pad;
    uint64_t generation;
    uint64_t used[LEDGER_MAX_DEVICES];
    struct limiter_bucket bucket[LEDGER_MAX_DEVICES]; /* compute, one per device (ndev used) */
    struct ledger_stats stats;
};

#endif
