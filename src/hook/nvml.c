/*
 * gpool's NVML shim, built as build/lib/hook/libnvidia-ml.so.1 next to the hook's libcuda.so.1.
 *
 * It exports every entry point the simulated NVML exports (the X-macros of src/nvml/entries.h)
 * as a thin forward to the real NVML, loaded by absolute path: $GPOOL_REAL_NVML, else
 * libnvidia-ml.so.1 in the system directories — never this library itself (compared by device
 * and inode, and by the loader's answer). A forward is a few instructions of assembly that jump
 * through a per-entry slot, so no prototype is needed; the first call of an entry resolves its
 * slot (dlsym in the real NVML).
 *
 * With GPOOL_VGPU naming a ledger that has a VRAM cap, nvmlDeviceGetMemoryInfo and _v2 report the
 * vGPU's view, as the hook's cuMemGetInfo does: total = min(cap, device total), used = the vGPU's
 * usage on that device, free = min(total - used, device free), clamped at 0. The NVML index is
 * taken as the CUDA ordinal of the ledger. Per-process queries (GetComputeRunningProcesses) keep
 * the real figures.
 */
#include "gpool/ledger.h"
#include "locate.h"
#include "gpool/log.h"
#include "gpool/nvml_abi.h"

#include "../nvml/entries.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
#error "the NVML shim's forwards are written for x86-64"
#endif

#define COMP   "nvml-shim"
#define HIDDEN __attribute__((visibility("hidden")))

/* ---- the forwards -------------------------------------------------------------------------- */

/* One slot per entry point: the function a forward jumps to (NULL until resolved). */
#define SHIM_SLOT_(name) HIDDEN void *gpool_nvml_slot_##name;
SIM_NVML_SUPPORTED(SHIM_SLOT_)
SIM_NVML_UNSUPPORTED(SHIM_SLOT_)

static const struct {
    void **slot;
    const char *name;
} shim_entries[] = {
#define SHIM_ENTRY_(name) {&gpool_nvml_slot_##name, #name},
    SIM_NVML_SUPPORTED(SHIM_ENTRY_) SIM_NVML_UNSUPPORTED(SHIM_ENTRY_)};

HIDDEN void *gpool_nvml_resolve(void **slot);

/* A forward: jump through the slot; when empty, pass the slot to the resolver (argument
 * registers saved; NVML entry points take no floating-point arguments). */
#define SHIM_FORWARD_(name)                                                                        \
    __asm__(".text\n.globl " #name "\n.type " #name ",@function\n" #name ":\n"                     \
            "  movq gpool_nvml_slot_" #name "(%rip), %r11\n"                                       \
            "  testq %r11, %r11\n"                                                                 \
            "  jz 1f\n"                                                                            \
            "  jmp *%r11\n"                                                                        \
            "1:\n  leaq gpool_nvml_slot_" #name "(%rip), %r11\n"                                   \
            "  jmp gpool_nvml_trampoline\n"                                                        \
            ".size " #name ", .-" #name "\n");
SIM_NVML_SUPPORTED(SHIM_FORWARD_)
SIM_NVML_UNSUPPORTED(SHIM_FORWARD_)

__asm__(".text\n.type gpool_nvml_trampoline,@function\ngpool_nvml_trampoline:\n"
        "  pushq %rdi\n  pushq %rsi\n  pushq %rdx\n  pushq %rcx\n  pushq %r8\n  pushq %r9\n"
        "  subq $8, %rsp\n" /* 16-byte alignment for the call */
        "  movq %r11, %rdi\n"
        "  call gpool_nvml_resolve\n"
        "  addq $8, %rsp\n"
        "  popq %r9\n  popq %r8\n  popq %rcx\n  popq %rdx\n  popq %rsi\n  popq %rdi\n"
        "  jmp *%rax\n"
        ".size gpool_nvml_trampoline, .-gpool_nvml_trampoline\n");

/* ---- loading the real NVML ----------------------------------------------------------------- */

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static void *real_handle;

static void real_load_once(void)
{
    char why[PATH_MAX + 128] = "";
    int from_env = 0;
    real_handle = hook_nvml_open("gpool's NVML shim", (const void *)&gpool_nvml_resolve, &from_env,
                                 why, sizeof(why));
    if (real_handle)
        LOG_INFO(COMP, "real NVML '%s'", why);
    else if (from_env)
        LOG_ERROR(COMP, "GPOOL_REAL_NVML: %s; every NVML call will fail", why);
    else
        LOG_ERROR(COMP,
                  "no real NVML found (%s; set GPOOL_REAL_NVML to its absolute path); every "
                  "NVML call will fail",
                  why);
}

static void *real_sym(const char *name)
{
    pthread_once(&real_once, real_load_once);
    return real_handle ? dlsym(real_handle, name) : NULL;
}

static nvmlReturn_t shim_no_library(void)
{
    return NVML_ERROR_LIBRARY_NOT_FOUND;
}

static nvmlReturn_t shim_no_function(void)
{
    return NVML_ERROR_FUNCTION_NOT_FOUND;
}

/* ---- the vGPU's view of memory ------------------------------------------------------------- */

static pthread_once_t vgpu_once = PTHREAD_ONCE_INIT;
static struct ledger *vgpu_ledger;

static void vgpu_open_once(void)
{
    const char *name = getenv("GPOOL_VGPU");
    if (!name || !*name)
        return;
    char err[512] = "";
    int rc = ledger_open(NULL, name, NULL, &vgpu_ledger, err, sizeof(err));
    if (rc < 0) {
        /* The hook creates the ledger at cuInit; before that there is no cap to show. */
        LOG_WARN(COMP, "GPOOL_VGPU '%s': %s; NVML reports the whole device", name, err);
        vgpu_ledger = NULL;
    }
}

/* The vGPU's cap and usage on the device of `device`: 1 when a cap applies, else 0. */
static int vgpu_view(nvmlDevice_t device, uint64_t *cap, uint64_t *used)
{
    pthread_once(&vgpu_once, vgpu_open_once);
    if (!vgpu_ledger)
        return 0;
    nvmlReturn_t (*get_index)(nvmlDevice_t, unsigned int *) =
        (nvmlReturn_t(*)(nvmlDevice_t, unsigned int *))real_sym("nvmlDeviceGetIndex");
    unsigned int idx = 0;
    if (!get_index || get_index(device, &idx) != NVML_SUCCESS ||
        (int)idx >= ledger_device_count(vgpu_ledger))
        return 0;
    if (ledger_usage(vgpu_ledger, (int)idx, used, cap) != 0 || *cap == 0)
        return 0;
    return 1;
}

/* total = min(cap, device total); free = min(total - used, device free), clamped; used is
 * clamped to total (a cap lowered below the usage shows a full vGPU, as cuMemGetInfo does). */
static void apply_view(uint64_t cap, uint64_t vused, unsigned long long *total,
                       unsigned long long *free_b, unsigned long long *used)
{
    uint64_t t = cap < *total ? cap : *total;
    uint64_t f = vused < t ? t - vused : 0;
    if (f > *free_b)
        f = *free_b;
    *total = t;
    *free_b = f;
    *used = vused < t ? vused : t;
}

static nvmlReturn_t shim_memory_info(nvmlDevice_t device, nvmlMemory_t *memory)
{
    nvmlReturn_t (*real)(nvmlDevice_t, nvmlMemory_t *) =
        (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_t *))real_sym("nvmlDeviceGetMemoryInfo");
    if (!real)
        return real_handle ? NVML_ERROR_FUNCTION_NOT_FOUND : NVML_ERROR_LIBRARY_NOT_FOUND;
    nvmlReturn_t r = real(device, memory);
    uint64_t cap, vused;
    if (r == NVML_SUCCESS && vgpu_view(device, &cap, &vused))
        apply_view(cap, vused, &memory->total, &memory->free, &memory->used);
    return r;
}

static nvmlReturn_t shim_memory_info_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    nvmlReturn_t (*real)(nvmlDevice_t, nvmlMemory_v2_t *) =
        (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_v2_t *))real_sym("nvmlDeviceGetMemoryInfo_v2");
    if (!real)
        return real_handle ? NVML_ERROR_FUNCTION_NOT_FOUND : NVML_ERROR_LIBRARY_NOT_FOUND;
    nvmlReturn_t r = real(device, memory);
    uint64_t cap, vused;
    if (r == NVML_SUCCESS && vgpu_view(device, &cap, &vused)) {
        apply_view(cap, vused, &memory->total, &memory->free, &memory->used);
        memory->reserved = 0; /* the vGPU's used is what it allocated */
    }
    return r;
}

/* ---- resolving a slot ---------------------------------------------------------------------- */

/* Called by a forward whose slot is empty: fills it and returns what to jump to. */
void *gpool_nvml_resolve(void **slot)
{
    void *fn = NULL;
    if (slot == &gpool_nvml_slot_nvmlDeviceGetMemoryInfo) {
        fn = (void *)shim_memory_info;
    } else if (slot == &gpool_nvml_slot_nvmlDeviceGetMemoryInfo_v2) {
        fn = (void *)shim_memory_info_v2;
    } else {
        for (size_t i = 0; i < sizeof(shim_entries) / sizeof(shim_entries[0]); i++) {
            if (shim_entries[i].slot != slot)
                continue;
            fn = real_sym(shim_entries[i].name);
            if (!fn) {
                if (real_handle)
                    LOG_DEBUG(COMP, "real NVML lacks %s", shim_entries[i].name);
                /* Not cached: the real library may still be loaded by a later call. */
                return real_handle ? (void *)shim_no_function : (void *)shim_no_library;
            }
            break;
        }
    }
    if (!fn)
        return (void *)shim_no_function;
    __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    return fn;
}
