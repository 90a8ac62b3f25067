/*
 * The layout of the shared state file of a simulated-GPU instance, and the few state.c entry
 * points that only gpool's own tools use (the `gpool sim` command, tests, the fuzz seed tool).
 * Private to src/sim, src/cli and tests.
 *
 * The file is  [header][device × ndev][slot × nslots][record × ndev × nrecs], each part
 * 64-byte aligned. Every field is written only while holding header.lock, except the busy-time
 * counters (atomic adds). Record and slot `state` fields are the commit points of every
 * mutation (see docs/internals/sim.md, "Shared device state"); the byte sums are caches that
 * repair recomputes from the records. The engine fields (engine_* of a device and of a slot) are
 * the fair engine's (docs/internals/sim.md, "Engine"): written under the device's engine mutex or
 * atomically, never under header.lock.
 */
#ifndef GPOOL_SIM_STATE_LAYOUT_H
#define GPOOL_SIM_STATE_LAYOUT_H

#include "sim.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_STATE_MAGIC   0x54415453504f4f47ull /* "GPOOSTAT" read little-endian */
#define SIM_STATE_VERSION 2u                    /* 2: the fair engine's fields */

#define SIM_STATE_SLOTS     256u   /* process slots of a newly created instance */
#define SIM_STATE_RECS      16384u /* allocation records per device of a new instance */
#define SIM_STATE_MAX_SLOTS 65536u /* the most an image may declare */
#define SIM_STATE_MAX_RECS  (1u << 20)

#define SIM_NAME_MAX 64 /* instance names and process names, NUL included */

/* Overhead charges have no device memory: their handle lives above any device offset. */
#define SIM_OVERHEAD_HANDLE_BASE (1ull << 52)

enum sim_rec_state {
    SIM_REC_FREE = 0,
    SIM_REC_RESERVING, /* fields written, backing being reserved: dropped by repair */
    SIM_REC_LIVE,      /* committed charge */
    SIM_REC_FREEING,   /* being released: repair finishes the release */
};

enum sim_slot_state {
    SIM_SLOT_FREE = 0,
    SIM_SLOT_CLAIMING, /* being filled in by a process that holds its liveness lock */
    SIM_SLOT_LIVE,
};

struct sim_state_rec {
    uint64_t offset; /* device offset (memory) or handle (overhead) */
    uint64_t size;   /* bytes charged, a multiple of SIM_ALLOC_GRANULE */
    uint32_t state;  /* enum sim_rec_state: written last, with release ordering */
    uint32_t kind;   /* enum sim_charge_kind */
    int32_t owner;   /* slot index */
    uint32_t reserved; /* tag set by sim_state_tag (IPC and VMM export), 0 when none */
};

struct sim_state_slot {
    uint32_t state;      /* enum sim_slot_state */
    int32_t pid;         /* in the owner's PID namespace: for display only, never for liveness */
    uint64_t start_time; /* CLOCK_REALTIME seconds */
    uint64_t generation; /* bumped at every claim */
    char name[SIM_NAME_MAX];
    uint64_t used[SIM_MAX_DEVICES]; /* cache: sum of the slot's live records per device */
    /* The fair engine, per device: atomic, written by the slot's own process (want, grants) or
     * zeroed when the slot is claimed. */
    uint32_t engine_want[SIM_MAX_DEVICES];    /* 1 while a thread of the process waits for it */
    uint64_t engine_grants[SIM_MAX_DEVICES];  /* times the process took the device's engine */
    uint64_t engine_busy_ns[SIM_MAX_DEVICES]; /* busy time of its work on the device */
};

struct sim_state_dev {
    char alias[32];        /* model alias, NUL-terminated */
    unsigned char uuid[16];
    uint64_t vram_bytes;   /* the model's total memory */
    uint64_t used_bytes;   /* cache: sum of the device's live records */
    uint64_t busy_ns;      /* atomic: cumulative engine busy time */
    uint64_t hint;         /* where the next memory block is tried first */
    uint32_t nrec_used;    /* records at index >= nrec_used are all free */
    int32_t pci_domain, pci_bus, pci_device;
    pthread_mutex_t engine; /* robust, process-shared: held while the device runs someone's work */
    /* Fairness of the engine (state.c, "the engine"): the fields below are written under the
     * engine mutex (engine_seq, engine_waiters and engine_passed atomically too; a waiter clears
     * its own engine_passed without the mutex). */
    uint32_t engine_seq;     /* futex word: bumped at every release of the engine */
    uint32_t engine_waiters; /* threads sleeping on engine_seq (a wake is needed) */
    int32_t engine_turn;     /* slot the last releaser handed the engine to; -1: anyone's */
    int32_t engine_passed;   /* slot that let its turn lapse: passed over until it runs again */
    int32_t engine_holder;   /* slot holding the engine, -1 when none (or a slotless process) */
    uint32_t engine_passes;  /* releases that handed the engine to nobody and slices kept by
                              * their holder, passing over a waiter (atomic; wraps) */
    uint64_t engine_turn_ns; /* CLOCK_MONOTONIC time engine_turn was set */
    uint64_t engine_grants;  /* times the engine was taken, by anyone */
};

struct sim_state_hdr {
    uint64_t magic;        /* SIM_STATE_MAGIC: written last at creation */
    uint32_t version;      /* SIM_STATE_VERSION */
    uint32_t hdr_size, dev_size, slot_size, rec_size; /* sizeof of each part: ABI check */
    uint32_t ndev, nslots, nrecs;
    uint64_t file_size;
    uint64_t created;      /* CLOCK_REALTIME seconds */
    uint64_t repairs;      /* times a holder's death was repaired */
    char instance[SIM_NAME_MAX];
    pthread_mutex_t lock;  /* robust, process-shared: guards everything but busy_ns */
};

/* Byte offsets of each part for the given counts; returns the file size (0 on overflow). */
uint64_t sim_state_layout(uint32_t ndev, uint32_t nslots, uint32_t nrecs, uint64_t *dev_off,
                          uint64_t *slot_off, uint64_t *rec_off);

/* Formats a fresh, valid image of an instance named name with the given devices into buf
 * (len must be sim_state_layout()'s size; buf zeroed by the caller, 64-byte aligned). The
 * mutexes are initialised process-shared and robust. Returns 0 or -EINVAL. */
int sim_state_format(void *buf, size_t len, const char *name, const struct sim_model *const *models,
                     int ndev, uint32_t nslots, uint32_t nrecs);

/* Opens an existing instance for inspection: no process slot is taken and nothing is created.
 * dir is the sim directory holding gpool-sim-<name>/. Returns 0 or -errno with the reason in
 * err; the caller detaches *out with sim_instance_detach(). */
int sim_instance_open(const char *dir, const char *name, struct sim_instance **out, char *err,
                      size_t errlen);

/* The instance's name (borrowed until detach). */
const char *sim_instance_name(const struct sim_instance *inst);

/* Counts the live processes attached to the instance (any device, with or without charges),
 * reaping dead ones first; fills pids (up to max) when non-NULL. */
int sim_instance_live_count(struct sim_instance *inst, int32_t *pids, int max);

/* Removes instance name from dir. Refuses with -EBUSY (naming the live pids in err) while
 * live processes are attached unless force is set. -ENOENT when there is no such instance. */
int sim_instance_remove(const char *dir, const char *name, int force, char *err, size_t errlen);

/* Checks that name is a usable instance name (letters, digits, '.', '_', '-'; not starting
 * with '.'; shorter than SIM_NAME_MAX). */
int sim_instance_name_ok(const char *name);

/* The data directory used when /dev/shm cannot hold an instance: /var/tmp/gpool-sim-<uid>.
 * Writes it into buf. */
void sim_instance_data_dir(char *buf, size_t len);

/* A device's engine counters (the fair engine's, state.c), for tests and bench/hook. */
struct sim_engine_stats {
    uint64_t grants;       /* times anyone took the engine */
    uint64_t mine;         /* ... this process (its slot) */
    uint64_t others;       /* ... the processes of every other slot (counts reset on reuse) */
    uint64_t mine_busy_ns; /* busy time of this process's work on the device */
    int waiting;           /* other live processes waiting for it now */
    int32_t holder;        /* the slot holding it, -1 when none */
    int32_t slot;          /* this process's slot, -1 when none yet */
    int32_t passed;        /* the slot passed over since it let its turn lapse, -1 when none */
    uint32_t passes;       /* releases to nobody (slices kept) passing over a waiter */
};
int sim_engine_stats(struct sim_instance *inst, int dev, struct sim_engine_stats *out);

/* The engine busy time of the live process pid (as in its slot) on device dev: 0, or -ENOENT
 * when no live slot has that pid. */
int sim_engine_busy_of(struct sim_instance *inst, int dev, int32_t pid, uint64_t *busy_ns);

#endif
