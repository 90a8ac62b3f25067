/*
 * ipc.c: legacy CUDA IPC between processes on one simulated device: memory handles
 * (cuIpcGetMemHandle / cuIpcOpenMemHandle_v2 / cuIpcCloseMemHandle) and the shared state of
 * interprocess events (cuIpcGetEventHandle / cuIpcOpenEventHandle; event.c holds the events).
 *
 * A memory handle names (device, offset, size) of a cuMemAlloc block plus a random tag that the
 * exporter stores with the block's charge in the shared state (sim_state_tag). The importer
 * opens it only while a live charge with that offset, size and tag exists, so it cannot name
 * memory nobody exported, and a handle of freed memory fails. Device offsets are unique on a
 * device across processes, so the importer maps the block at the exporter's address.
 *
 * An interprocess event's state is a 4 KiB file `ipcev-<32 hex>` in the instance directory
 * holding two 32-bit counters: records made and the highest record completed. Every process
 * that has the event maps it; waiters sleep on the completed word with a shared futex.
 * See docs/internals/sim.md, "IPC".
 */
#include "driver.h"
#include "state_layout.h"

#include "gpool/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define IPC_MEM_MAGIC 0x4d435049u /* "IPCM" */
#define IPC_EV_MAGIC  0x45435049u /* "IPCE" */
#define IPC_EV_FILE_MAGIC 0x56454350u

struct ipc_mem_handle {
    uint32_t magic;
    int32_t device;
    uint64_t offset;
    uint64_t size;   /* the allocation's size as the application asked */
    uint32_t tag;
    uint32_t pad;
    uint64_t nonce;  /* the exporting process's, to refuse opening one's own handle */
    uint64_t instance; /* hash of the instance name */
};

struct ipc_ev_handle {
    uint32_t magic;
    char id[33];
    uint64_t instance;
};

_Static_assert(sizeof(struct ipc_mem_handle) <= CU_IPC_HANDLE_SIZE, "IPC handle too large");
_Static_assert(sizeof(struct ipc_ev_handle) <= CU_IPC_HANDLE_SIZE, "IPC handle too large");

struct ipc_import {
    uint64_t base, size;
    int device;
    unsigned refs;
    struct ipc_import *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipc_import *g_imports;
static uint64_t g_nonce;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void fork_child(void)
{
    g_imports = NULL;
    g_nonce = 0;
    pthread_mutex_init(&g_lock, NULL);
}
static void register_fork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static CUresult ipc_enter(void)
{
    CUresult res = sim_process_check();
    if (res == CUDA_SUCCESS)
        pthread_once(&g_once, register_fork);
    return res;
}

static void random_bytes(void *p, size_t n)
{
    if (getrandom(p, n, 0) != (ssize_t)n) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < n; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            ((unsigned char *)p)[i] = (unsigned char)(x >> 56);
    }
}

static uint64_t process_nonce(void)
{
    pthread_mutex_lock(&g_lock);
    while (g_nonce == 0)
        random_bytes(&g_nonce, sizeof(g_nonce));
    uint64_t n = g_nonce;
    pthread_mutex_unlock(&g_lock);
    return n;
}

static uint64_t instance_hash(void)
{
    const char *s = sim_instance_name(sim_process_instance());
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- Memory handles ------------------------------------------------------------------------ */

/* Exports the cuMemAlloc block starting at dptr. */
EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr)
{
    CUresult res = ipc_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    if ((res = sim_ctx_current(&ctx)) != CUDA_SUCCESS)
        return res;
    if (!pHandle)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_mem_ref ref;
    if (sim_mem_lookup((uint64_t)dptr, 1, &ref) != CUDA_SUCCESS || ref.kind != SIM_MEM_DEVICE ||
        ref.base != (uint64_t)dptr)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_instance *inst = sim_process_instance();
    uint64_t offset = (uint64_t)((char *)ref.host - (char *)sim_instance_dev_memory(inst, ref.device));
    uint64_t size = 0;
    uint32_t tag = 0;
    if (sim_state_find(inst, ref.device, offset, &size, &tag) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (tag == 0) {
        while (tag == 0)
            random_bytes(&tag, sizeof(tag));
        if (sim_state_tag(inst, ref.device, offset, tag) != 0)
            return CUDA_ERROR_INVALID_VALUE;
    }
    struct ipc_mem_handle h = {
        .magic = IPC_MEM_MAGIC,
        .device = ref.device,
        .offset = offset,
        .size = ref.size,
        .tag = tag,
        .nonce = process_nonce(),
        .instance = instance_hash(),
    };
    memset(pHandle, 0, sizeof(*pHandle));
    memcpy(pHandle->reserved, &h, sizeof(h));
    return CUDA_SUCCESS;
}

/* Opens another process's memory handle: the block appears at the exporter's address. Opening a
 * handle again adds a reference and returns the same address. */
EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle,
                                      unsigned int Flags)
{
    CUresult res = ipc_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    if ((res = sim_ctx_current(&ctx)) != CUDA_SUCCESS)
        return res;
    if (!pdptr || Flags != CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)
        return CUDA_ERROR_INVALID_VALUE;
    struct ipc_mem_handle h;
    memcpy(&h, handle.reserved, sizeof(h));
    struct sim_instance *inst = sim_process_instance();
    if (h.magic != IPC_MEM_MAGIC || h.instance != instance_hash() || h.device < 0 ||
        h.device >= sim_instance_device_count(inst) || h.size == 0 || h.tag == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (h.nonce == process_nonce())
        return CUDA_ERROR_INVALID_CONTEXT; /* a process cannot open its own handle */
    uint64_t size = 0;
    uint32_t tag = 0;
    if (sim_state_find(inst, h.device, h.offset, &size, &tag) != 0 || tag != h.tag ||
        h.size > size)
        return CUDA_ERROR_INVALID_HANDLE; /* freed, reused or never exported */
    uint64_t base = sim_dev_base(h.device) + h.offset;
    pthread_mutex_lock(&g_lock);
    struct ipc_import *im = g_imports;
    while (im && im->base != base)
        im = im->next;
    if (im) {
        im->refs++;
        res = CUDA_SUCCESS;
    } else if (!(im = calloc(1, sizeof(*im)))) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        res = sim_mem_register(SIM_MEM_IPC, h.device, NULL, base, h.size, h.offset);
        if (res == CUDA_SUCCESS) {
            im->base = base;
            im->size = h.size;
            im->device = h.device;
            im->refs = 1;
            im->next = g_imports;
            g_imports = im;
        } else {
            free(im);
            res = CUDA_ERROR_MAP_FAILED;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (res == CUDA_SUCCESS)
        *pdptr = (CUdeviceptr)base;
    return res;
}

/* The original export: the same, with the flags it always required. */
EXPORT CUresult cuIpcOpenMemHandle(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags)
{
    return cuIpcOpenMemHandle_v2(pdptr, handle, Flags);
}

/* Drops a reference to an opened handle; the mapping goes with the last one. */
EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr)
{
    CUresult res = ipc_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    if ((res = sim_ctx_current(&ctx)) != CUDA_SUCCESS)
        return res;
    (void)sim_stream_ctx_synchronize(ctx); /* no queued work may find the mapping gone */
    pthread_mutex_lock(&g_lock);
    struct ipc_import **pp = &g_imports;
    while (*pp && (*pp)->base != (uint64_t)dptr)
        pp = &(*pp)->next;
    struct ipc_import *im = *pp;
    if (im && --im->refs == 0) {
        *pp = im->next;
        sim_mem_unregister(SIM_MEM_IPC, im->base);
        free(im);
    }
    pthread_mutex_unlock(&g_lock);
    return im ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- Interprocess events -------------------------------------------------------------------- */

struct ipc_ev_file {
    uint32_t magic;
    _Atomic uint32_t recorded;  /* records made */
    _Atomic uint32_t completed; /* highest record number that has run */
};

struct sim_ipc_event {
    struct ipc_ev_file *f;
    char id[33];
    char path[PATH_MAX];
    int creator;
};

static int ev_path(char *buf, size_t len, const char *id)
{
    int n = snprintf(buf, len, "%s/ipcev-%s", sim_instance_dir(sim_process_instance()), id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct sim_ipc_event *ev_map(const char *id, int create)
{
    struct sim_ipc_event *ie = calloc(1, sizeof(*ie));
    if (!ie)
        return NULL;
    snprintf(ie->id, sizeof(ie->id), "%s", id);
    if (ev_path(ie->path, sizeof(ie->path), id) < 0)
        goto fail;
    int fd = open(ie->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_EXCL : 0),
                  0600);
    if (fd < 0)
        goto fail;
    if (create && posix_fallocate(fd, 0, 4096) != 0) {
        close(fd);
        unlink(ie->path);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < 4096) {
        close(fd);
        goto fail;
    }
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        if (create)
            unlink(ie->path);
        goto fail;
    }
    ie->f = p;
    ie->creator = create;
    if (create)
        atomic_store(&ie->f->magic, IPC_EV_FILE_MAGIC);
    else if (ie->f->magic != IPC_EV_FILE_MAGIC) {
        munmap(p, 4096);
        goto fail;
    }
    return ie;
fail:
    free(ie);
    return NULL;
}

struct sim_ipc_event *sim_ipc_event_new(void)
{
    for (int tries = 0; tries < 8; tries++) {
        unsigned char r[16];
        char id[33];
        random_bytes(r, sizeof(r));
        for (int i = 0; i < 16; i++)
            snprintf(id + 2 * i, 3, "%02x", r[i]);
        struct sim_ipc_event *ie = ev_map(id, 1);
        if (ie)
            return ie;
        if (errno != EEXIST)
            break;
    }
    LOG_WARN("sim", "cuEventCreate: cannot create the shared state of an interprocess event "
             "in %s: %s", sim_instance_dir(sim_process_instance()), strerror(errno));
    return NULL;
}

void sim_ipc_event_free(struct sim_ipc_event *ie)
{
    if (!ie)
        return;
    if (ie->creator)
        unlink(ie->path);
    munmap(ie->f, 4096);
    free(ie);
}

uint32_t sim_ipc_event_record(struct sim_ipc_event *ie)
{
    return atomic_fetch_add(&ie->f->recorded, 1) + 1;
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

void sim_ipc_event_complete(struct sim_ipc_event *ie, uint32_t gen)
{
    uint32_t cur = atomic_load(&ie->f->completed);
    while ((int32_t)(gen - cur) > 0 &&
           !atomic_compare_exchange_weak(&ie->f->completed, &cur, gen))
        ;
    futex(&ie->f->completed, FUTEX_WAKE, INT32_MAX, NULL);
}

uint32_t sim_ipc_event_target(struct sim_ipc_event *ie)
{
    return atomic_load(&ie->f->recorded);
}

int sim_ipc_event_reached(struct sim_ipc_event *ie, uint32_t target)
{
    return (int32_t)(atomic_load(&ie->f->completed) - target) >= 0;
}

void sim_ipc_event_wait(struct sim_ipc_event *ie, uint32_t target)
{
    for (;;) {
        uint32_t cur = atomic_load(&ie->f->completed);
        if ((int32_t)(cur - target) >= 0)
            return;
        /* Rechecked at least every 100 ms: a wake between the load and the wait is not lost
         * (the futex compares the word), this only bounds odd cases like a signal storm. */
        struct timespec ts = {0, 100 * 1000 * 1000};
        futex(&ie->f->completed, FUTEX_WAIT, cur, &ts);
    }
}

/* Exports an event created with CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING. */
EXPORT CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event)
{
    CUresult res = ipc_enter();
    if (res != CUDA_SUCCESS)
        return res;
    if (!pHandle)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_ipc_event *ie = NULL;
    if ((res = sim_event_ipc(event, &ie)) != CUDA_SUCCESS)
        return res;
    if (!ie)
        return CUDA_ERROR_INVALID_VALUE; /* not an interprocess event */
    struct ipc_ev_handle h = {.magic = IPC_EV_MAGIC, .instance = instance_hash()};
    memcpy(h.id, ie->id, sizeof(h.id));
    memset(pHandle, 0, sizeof(*pHandle));
    memcpy(pHandle->reserved, &h, sizeof(h));
    return CUDA_SUCCESS;
}

/* Opens an exported event in the current context: an event with CU_EVENT_DISABLE_TIMING whose
 * records, queries and waits act on the exporter's event. */
EXPORT CUresult cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle)
{
    CUresult res = ipc_enter();
    if (res != CUDA_SUCCESS)
        return res;
    struct CUctx_st *ctx;
    if ((res = sim_ctx_current(&ctx)) != CUDA_SUCCESS)
        return res;
    if (!phEvent)
        return CUDA_ERROR_INVALID_VALUE;
    struct ipc_ev_handle h;
    memcpy(&h, handle.reserved, sizeof(h));
    if (h.magic != IPC_EV_MAGIC || h.instance != instance_hash())
        return CUDA_ERROR_INVALID_VALUE;
    h.id[32] = '\0';
    if (strlen(h.id) != 32 || strspn(h.id, "0123456789abcdef") != 32)
        return CUDA_ERROR_INVALID_VALUE; /* never a path of our choosing */
    struct sim_ipc_event *ie = ev_map(h.id, 0);
    if (!ie)
        return CUDA_ERROR_INVALID_HANDLE; /* the exporter's event is gone */
    res = sim_event_create_ipc(ie, phEvent);
    if (res != CUDA_SUCCESS)
        sim_ipc_event_free(ie);
    return res;
}
