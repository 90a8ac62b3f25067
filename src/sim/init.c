/*
 * init.c: cuInit, the driver version, and the process's attachment to a simulated instance.
 *
 * cuInit attaches once (under a mutex, so concurrent first calls are safe) and remembers the
 * result: a failed cuInit is not retried, and every later call returns its error, as a real
 * driver does. Nothing happens before the first cuInit: no constructor, no environment read.
 *
 * fork: CUDA state never crosses fork. The pthread_atfork handlers registered by the first
 * cuInit make the child start uninitialised, with no contexts and no allocations; the parent's
 * attachment is forgotten in the child (not detached, since detaching would touch state the
 * parent still owns) and the child attaches afresh when it calls cuInit.
 */
#include "driver.h"

#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

/* 0 while cuInit has not succeeded; set to 1 (release) once g_inst is valid. */
static _Atomic int g_ready;
/* What sim_process_check returns while g_ready is 0. */
static _Atomic int g_error = CUDA_ERROR_NOT_INITIALIZED;
static struct sim_instance *g_inst;
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

/* Attachments inherited from ancestors across fork. Kept reachable (never used) so that a leak
 * checker in a forked child does not report them; their mappings belong to the parent. */
#define STALE_MAX 8
static struct sim_instance *g_stale[STALE_MAX];

static void fork_prepare(void)
{
    pthread_mutex_lock(&g_init_lock);
    sim_ctx_fork_prepare();
    sim_mem_fork_prepare();
}

static void fork_parent(void)
{
    sim_mem_fork_parent();
    sim_ctx_fork_parent();
    pthread_mutex_unlock(&g_init_lock);
}

static void fork_child(void)
{
    sim_mem_fork_child();
    sim_ctx_fork_child();
    if (g_inst) {
        for (int i = 0; i < STALE_MAX; i++) {
            if (!g_stale[i]) {
                g_stale[i] = g_inst;
                break;
            }
        }
    }
    g_inst = NULL;
    atomic_store(&g_ready, 0);
    atomic_store(&g_error, CUDA_ERROR_NOT_INITIALIZED);
    pthread_mutex_unlock(&g_init_lock); /* held by this thread since fork_prepare */
}

static void register_atfork(void)
{
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        LOG_WARN("sim", "cuInit: pthread_atfork failed; a forked child inherits CUDA state");
}

/* Maps an attach failure to the CUresult cuInit reports. A configuration that names no usable
 * device (a bad or conflicting GPOOL_SIM_GPUS, a missing or corrupt instance) is
 * CUDA_ERROR_NO_DEVICE; a failure of the operating system is CUDA_ERROR_OPERATING_SYSTEM. */
static CUresult attach_error(int rc)
{
    switch (-rc) {
    case EINVAL:
    case ENODEV:
    case ENOENT:
    case EUCLEAN:
    case EEXIST:
        return CUDA_ERROR_NO_DEVICE;
    default:
        return CUDA_ERROR_OPERATING_SYSTEM;
    }
}

/* Initialises the driver: attaches to the simulated instance named by the environment.
 * Flags must be 0. Thread-safe; the first result is kept for the life of the process. */
__attribute__((visibility("default"))) CUresult cuInit(unsigned int Flags)
{
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (atomic_load_explicit(&g_ready, memory_order_acquire))
        return CUDA_SUCCESS;

    pthread_once(&g_atfork_once, register_atfork);
    pthread_mutex_lock(&g_init_lock);
    CUresult res;
    if (atomic_load(&g_ready)) {
        res = CUDA_SUCCESS;
    } else if (atomic_load(&g_error) != CUDA_ERROR_NOT_INITIALIZED) {
        res = (CUresult)atomic_load(&g_error); /* an earlier cuInit failed: keep its answer */
    } else {
        char err[256] = "";
        struct sim_instance *inst = NULL;
        int rc = sim_instance_attach(&inst, err, sizeof(err));
        if (rc < 0) {
            res = attach_error(rc);
            LOG_ERROR("sim", "cuInit: cannot attach to the simulated GPUs: %s",
                      err[0] ? err : "unknown reason");
            atomic_store(&g_error, (int)res);
        } else {
            g_inst = inst;
            res = CUDA_SUCCESS;
            LOG_INFO("sim", "cuInit: %d simulated device(s)", sim_instance_device_count(inst));
            atomic_store_explicit(&g_ready, 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&g_init_lock);
    return res;
}

/* Reports the CUDA version this driver implements (13.0). Works before cuInit. */
__attribute__((visibility("default"))) CUresult cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = SIM_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

/* Returns the instance attached by cuInit, borrowed for the life of the process; NULL before
 * cuInit succeeded. */
struct sim_instance *sim_process_instance(void)
{
    if (!atomic_load_explicit(&g_ready, memory_order_acquire))
        return NULL;
    return g_inst;
}

/* CUDA_SUCCESS once cuInit succeeded; CUDA_ERROR_NOT_INITIALIZED before any cuInit, or the error
 * of a failed cuInit. Cheap: one atomic load on the success path. */
CUresult sim_process_check(void)
{
    if (atomic_load_explicit(&g_ready, memory_order_acquire))
        return CUDA_SUCCESS;
    return (CUresult)atomic_load(&g_error);
}
