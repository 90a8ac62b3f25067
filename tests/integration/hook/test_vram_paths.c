/*
 * The VRAM cap on the allocation paths beyond cuMemAlloc (src/hook/vram.c), through the hook
 * over the simulated GPU, under a 64 MiB cap on an 80 GB device. Run as
 * `test_hook_vram_paths <mode>`; GPOOL_VGPU, GPOOL_VRAM_LIMIT and GPOOL_VGPU_DIR come from the
 * environment. The simulator is also opened directly (GPOOL_REAL_DRIVER) to read what the device
 * really has free: each charge must equal what the driver charged, and a refused call must not
 * have reached the driver.
 *
 *   arrays  cuArrayCreate_v2, cuArray3DCreate_v2, cuMipmappedArrayCreate and their destroys
 *   async   cuMemAllocAsync, cuMemAllocFromPoolAsync; cuMemFreeAsync and cuMemFree of a block
 *   pool    a caching pool (release threshold raised): freed memory it keeps stays charged
 *   pool-chunk  a pool backed in 2 MiB chunks (GPOOL_SIM_POOL_CHUNK): charged what it holds
 *   vmm     cuMemCreate / cuMemRelease
 *   ipc     a second process opens an IPC handle of a full vGPU: it charges nothing
 */
#include "hook_test.h"

#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define CAP (64 * MIB)

/* What the vGPU charges on device 0, under the test's 64 MiB cap. */
static uint64_t vgpu_used(struct ledger *l)
{
    return vgpu_used_on(l, 0, CAP);
}

#define CHECK_USED(l, want)                                                                        \
    CHECK(vgpu_used(l) == (want), "vGPU uses %llu, expected %llu",                                 \
          (unsigned long long)vgpu_used(l), (unsigned long long)(want))

static void test_arrays(void)
{
    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev0 = device_free();

    /* 1000 floats a row = 4000 bytes, padded to 4096, x 1024 rows = 4 MiB. */
    CUDA_ARRAY_DESCRIPTOR d2 = {
        .Width = 1000, .Height = 1024, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
    /* 100 bytes a row, padded to 512, x 64 rows x 16 slices = 512 KiB. */
    CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = 100,
                                  .Height = 64,
                                  .Depth = 16,
                                  .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                  .NumChannels = 1};
    /* 256x256 float4, 3 levels: 4096 x 256 + 2048 x 128 + 1024 x 64 = 1344 KiB. */
    CUDA_ARRAY3D_DESCRIPTOR dm = {
        .Width = 256, .Height = 256, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray a2, a3, extra;
    CUmipmappedArray m, mextra;
    CHECK_OK(cuArrayCreate(&a2, &d2));
    CHECK_USED(l, 4 * MIB);
    CHECK_OK(cuArray3DCreate(&a3, &d3));
    CHECK_USED(l, 4 * MIB + 512 * KIB);
    CHECK_OK(cuMipmappedArrayCreate(&m, &dm, 3));
    uint64_t used = 4 * MIB + 512 * KIB + 1344 * KIB;
    CHECK_USED(l, used);
    CHECK(dev0 - device_free() == used, "the driver charged %llu, the vGPU %llu",
          (unsigned long long)(dev0 - device_free()), (unsigned long long)used);
    /* A deferred-mapping array has no backing: nothing is charged. */
    CUDA_ARRAY3D_DESCRIPTOR dd = d3;
    dd.Flags = CUDA_ARRAY3D_DEFERRED_MAPPING;
    CUarray deferred;
    CHECK_OK(cuArray3DCreate(&deferred, &dd));
    CHECK_USED(l, used);

    /* Fill the vGPU, then every array path is refused without reaching the driver. */
    CUdeviceptr rest;
    CHECK_OK(cuMemAlloc(&rest, CAP - used));
    CHECK_USED(l, CAP);
    uint64_t dev_full = device_free();
    CUDA_ARRAY_DESCRIPTOR small = {
        .Width = 1, .Height = 1, .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1};
    CUDA_ARRAY3D_DESCRIPTOR small3 = {.Width = 1,
                                      .Height = 1,
                                      .Depth = 1,
                                      .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                      .NumChannels = 1};
    CHECK_RC(cuArrayCreate(&extra, &small), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuArray3DCreate(&extra, &small3), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuMipmappedArrayCreate(&mextra, &small3, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == dev_full, "a refused array reached the driver");
    CHECK_USED(l, CAP);

    /* Destroys credit exactly. */
    CHECK_OK(cuArrayDestroy(a2));
    CHECK_USED(l, CAP - 4 * MIB);
    CHECK_OK(cuMipmappedArrayDestroy(m));
    CHECK_USED(l, CAP - 4 * MIB - 1344 * KIB);
    CHECK_OK(cuArrayDestroy(a3));
    CHECK_OK(cuArrayDestroy(deferred));
    CHECK_OK(cuMemFree(rest));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu, was %llu", (unsigned long long)device_free(),
          (unsigned long long)dev0);
    /* An unknown handle is still passed to the driver (which refuses it). */
    CHECK(cuArrayDestroy(a2) != CUDA_SUCCESS, "destroyed array refused by the driver");
    check_ledger(l);
    ledger_close(l);
}

static void test_async(void)
{
    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev0 = device_free();
    CUstream s;
    CUmemoryPool pool;
    CHECK_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuDeviceGetDefaultMemPool(&pool, 0));

    CUdeviceptr a, b, rest, extra;
    CHECK_OK(cuMemAllocAsync(&a, 8 * MIB, s));
    CHECK_USED(l, 8 * MIB);
    CHECK_OK(cuMemAllocFromPoolAsync(&b, 8 * MIB - 100, pool, s));
    CHECK_USED(l, 16 * MIB);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(dev0 - device_free() == 16 * MIB, "the driver charged %llu",
          (unsigned long long)(dev0 - device_free()));

    CHECK_OK(cuMemAlloc(&rest, CAP - 16 * MIB));
    uint64_t dev_full = device_free();
    CHECK_RC(cuMemAllocAsync(&extra, 1, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuMemAllocFromPoolAsync(&extra, 1, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(device_free() == dev_full, "a refused pool allocation reached the driver");
    CHECK_USED(l, CAP);

    /* Charged while the pool holds it: a free may not have run when it is enqueued; the
     * synchronisation after it shows the pool gave it back (release threshold 0). cuMemFree of
     * a pool block credits it too. */
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_USED(l, CAP);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_USED(l, CAP - 8 * MIB);
    CHECK(device_free() == dev_full + 8 * MIB, "the device got back %llu",
          (unsigned long long)(device_free() - dev_full));
    CHECK_OK(cuMemFree(b));
    CHECK_USED(l, CAP - 16 * MIB);
    /* The room is usable again, through the pool. */
    CHECK_OK(cuMemAllocAsync(&a, 16 * MIB, s));
    CHECK_USED(l, CAP);
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemFree(rest));
    CHECK_USED(l, 0);
    /* Release threshold 0: after the synchronisation the pool holds nothing. */
    CHECK(device_free() == dev0, "device free %llu, was %llu", (unsigned long long)device_free(),
          (unsigned long long)dev0);
    CHECK(cuMemFreeAsync(0x1000, s) != CUDA_SUCCESS, "unknown pointer refused by the driver");
    CHECK_OK(cuStreamDestroy(s));
    check_ledger(l);
    ledger_close(l);
}

/* The vGPU charges `want` on device 0 and the device lost exactly that since dev0. */
#define CHECK_HELD(l, dev0, want)                                                                  \
    do {                                                                                           \
        CHECK_USED(l, want);                                                                       \
        CHECK((dev0)-device_free() == (want), "the device lost %llu, expected %llu",               \
              (unsigned long long)((dev0)-device_free()), (unsigned long long)(want));             \
        check_ledger(l);                                                                           \
    } while (0)

/* A pool on device 0 that keeps all freed memory (release threshold raised, as RAPIDS sets it),
 * and a stream to use it on. */
static CUmemoryPool caching_pool(CUstream *s)
{
    CHECK_OK(cuStreamCreate(s, CU_STREAM_NON_BLOCKING));
    CUmemPoolProps props = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
                            .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUmemoryPool pool = NULL;
    CHECK_OK(cuMemPoolCreate(&pool, &props));
    cuuint64_t keep_all = UINT64_MAX;
    CHECK_OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_all));
    return pool;
}

static void test_pool(void)
{
    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev0 = device_free();
    CUstream s;
    CUmemoryPool pool = caching_pool(&s);

    /* A caching pool keeps freed memory on the device: it stays charged. */
    CUdeviceptr a, b, c, extra;
    CHECK_OK(cuMemAllocFromPoolAsync(&a, 48 * MIB, pool, s));
    CHECK_HELD(l, dev0, 48 * MIB);
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, 48 * MIB);
    size_t vfree = 0, vtotal = 0;
    CHECK_OK(cuMemGetInfo(&vfree, &vtotal));
    CHECK(vtotal == CAP && vfree == CAP - 48 * MIB, "view %zu of %zu", vfree, vtotal);
    /* So the vGPU has no room for 32 MiB: refused without reaching the driver. */
    uint64_t dev_held = device_free();
    CHECK_RC(cuMemAlloc(&extra, 32 * MIB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_RC(cuMemAllocAsync(&extra, 32 * MIB, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == dev_held, "a refused allocation reached the driver");
    CHECK_HELD(l, dev0, 48 * MIB);
    /* Trimmed: credited exactly what the device got back. */
    CHECK_OK(cuMemPoolTrimTo(pool, 0));
    CHECK_HELD(l, dev0, 0);
    CHECK_OK(cuMemAlloc(&extra, 32 * MIB));
    CHECK_HELD(l, dev0, 32 * MIB);
    CHECK_OK(cuMemFree(extra));
    CHECK_HELD(l, dev0, 0);

    /* Reuse: alloc, free, alloc of the same size charges once, also when the vGPU is full. */
    CHECK_OK(cuMemAllocFromPoolAsync(&a, 16 * MIB, pool, s));
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuMemAllocFromPoolAsync(&b, 16 * MIB, pool, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, 16 * MIB);
    CUdeviceptr rest;
    CHECK_OK(cuMemAlloc(&rest, CAP - 16 * MIB));
    CHECK_HELD(l, dev0, CAP);
    CHECK_OK(cuMemFreeAsync(b, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, CAP);
    CHECK_OK(cuMemAllocFromPoolAsync(&b, 16 * MIB, pool, s)); /* served from the cache */
    CHECK_HELD(l, dev0, CAP);
    CHECK_RC(cuMemAllocFromPoolAsync(&extra, 4 * KIB, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_HELD(l, dev0, CAP);
    /* cuMemFree of a block of a caching pool: cached, still charged. */
    CHECK_OK(cuMemFree(b));
    CHECK_HELD(l, dev0, CAP);
    CHECK_OK(cuMemFree(rest));
    CHECK_HELD(l, dev0, 16 * MIB);

    /* The device's current pool serves cuMemAllocAsync: charged the same way. */
    CHECK_OK(cuDeviceSetMemPool(0, pool));
    CHECK_OK(cuMemAllocAsync(&a, 16 * MIB, s)); /* the cached block again */
    CHECK_OK(cuMemAllocAsync(&c, 8 * MIB, s));
    CHECK_HELD(l, dev0, 24 * MIB);
    CHECK_OK(cuMemFreeAsync(c, s));
    CHECK_OK(cuCtxSynchronize());
    CHECK_HELD(l, dev0, 24 * MIB);

    /* Destroyed with a block still handed out: the cached memory is credited, the block stays
     * charged until it is freed. */
    CHECK_OK(cuMemPoolDestroy(pool));
    CHECK_HELD(l, dev0, 16 * MIB);
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, 0);

    /* The default pool (release threshold 0): back after free and synchronisation. */
    CHECK_OK(cuMemAllocAsync(&a, 8 * MIB, s));
    CHECK_HELD(l, dev0, 8 * MIB);
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, 0);
    CHECK_OK(cuStreamDestroy(s));
    ledger_close(l);
}

/* A pool the driver backs in 2 MiB chunks (GPOOL_SIM_POOL_CHUNK): each 64 KiB block costs the
 * device 2 MiB, and the vGPU is charged what the device lost, not what was asked for. */
static void test_pool_chunk(void)
{
    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev0 = device_free();
    CUstream s;
    CUmemoryPool pool = caching_pool(&s);

    CUdeviceptr a, b, c, rest;
    CHECK_OK(cuMemAllocFromPoolAsync(&a, 64 * KIB, pool, s));
    CHECK_HELD(l, dev0, 2 * MIB);
    size_t vfree = 0, vtotal = 0;
    CHECK_OK(cuMemGetInfo(&vfree, &vtotal));
    CHECK(vtotal == CAP && vfree == CAP - 2 * MIB, "view %zu of %zu", vfree, vtotal);

    /* 63 MiB held: 64 KiB more passes the check before the driver, but the pool grows by a
     * 2 MiB chunk, past the cap: refused, given back, nothing left on the device. */
    CHECK_OK(cuMemAlloc(&rest, CAP - 3 * MIB));
    CHECK_HELD(l, dev0, CAP - MIB);
    CHECK_RC(cuMemAllocFromPoolAsync(&b, 64 * KIB, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, CAP - MIB);
    CHECK_OK(cuMemFree(rest));
    CHECK_HELD(l, dev0, 2 * MIB);

    /* Room again: a second chunk; freed blocks stay in the caching pool and stay charged. */
    CHECK_OK(cuMemAllocFromPoolAsync(&b, 64 * KIB, pool, s));
    CHECK_HELD(l, dev0, 4 * MIB);
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuMemFreeAsync(b, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, 4 * MIB);
    CHECK_OK(cuMemAllocFromPoolAsync(&a, 64 * KIB, pool, s)); /* reused: no new chunk */
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_HELD(l, dev0, 4 * MIB);
    /* Trimmed to the block in use: one chunk goes back, and its slack with it. */
    CHECK_OK(cuMemPoolTrimTo(pool, 0));
    CHECK_HELD(l, dev0, 2 * MIB);
    CHECK_OK(cuMemFreeAsync(a, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemPoolTrimTo(pool, 0));
    CHECK_HELD(l, dev0, 0);

    /* Destroyed with its memory cached: all of it credited. */
    CHECK_OK(cuMemAllocFromPoolAsync(&c, 64 * KIB, pool, s));
    CHECK_HELD(l, dev0, 2 * MIB);
    CHECK_OK(cuMemFreeAsync(c, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemPoolDestroy(pool));
    CHECK_HELD(l, dev0, 0);
    CHECK_OK(cuStreamDestroy(s));
    ledger_close(l);
}

static void test_vmm(void)
{
    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev0 = device_free();
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    size_t gran = 0;
    CHECK_OK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    CHECK(gran == 2 * MIB, "granularity %zu", gran);

    CUmemGenericAllocationHandle h, h2, extra;
    CHECK_OK(cuMemCreate(&h, 8 * MIB, &prop, 0));
    CHECK_USED(l, 8 * MIB);
    CHECK(dev0 - device_free() == 8 * MIB, "the driver charged %llu",
          (unsigned long long)(dev0 - device_free()));
    CHECK_OK(cuMemCreate(&h2, CAP - 8 * MIB, &prop, 0));
    CHECK_USED(l, CAP);
    uint64_t dev_full = device_free();
    CHECK_RC(cuMemCreate(&extra, 2 * MIB, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == dev_full, "a refused cuMemCreate reached the driver");

    CHECK_OK(cuMemRelease(h));
    CHECK_USED(l, CAP - 8 * MIB);
    CHECK_OK(cuMemRelease(h2));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu, was %llu", (unsigned long long)device_free(),
          (unsigned long long)dev0);
    CHECK(cuMemRelease(h) != CUDA_SUCCESS, "released handle refused by the driver");
    check_ledger(l);
    ledger_close(l);
}

/* The importer: opens the exporter's IPC handle while the vGPU is full; it charges nothing. */
static int ipc_child(int in, int out)
{
    CUipcMemHandle ih;
    if (read(in, &ih, sizeof(ih)) != sizeof(ih))
        return 2;
    init_cuda();
    struct ledger *l = open_ledger();
    CUdeviceptr p;
    char ok = cuIpcOpenMemHandle(&p, ih, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS) == CUDA_SUCCESS &&
                      vgpu_used(l) == CAP
                  ? 'y'
                  : 'n';
    if (ok == 'y' && cuIpcCloseMemHandle(p) != CUDA_SUCCESS)
        ok = 'c';
    if (ok == 'y' && vgpu_used(l) != CAP)
        ok = 'u';
    ledger_close(l);
    return write(out, &ok, 1) == 1 ? 0 : 3;
}

static void test_ipc(void)
{
    int down[2], up[2];
    REQUIRE(pipe(down) == 0 && pipe(up) == 0, "pipe");
    pid_t pid = fork(); /* before cuInit, as the simulator asks */
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        _exit(ipc_child(down[0], up[1]));
    }
    close(down[0]);
    close(up[1]);
    init_cuda();
    struct ledger *l = open_ledger();
    CUdeviceptr d;
    CHECK_OK(cuMemAlloc(&d, CAP));
    CHECK_USED(l, CAP);
    CUipcMemHandle ih;
    CHECK_OK(cuIpcGetMemHandle(&ih, d));
    CHECK(write(down[1], &ih, sizeof(ih)) == sizeof(ih), "send the handle");
    char ok = 0;
    CHECK(read(up[0], &ok, 1) == 1 && ok == 'y', "the importer charged nothing (%c)", ok);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x",
          st);
    CHECK_USED(l, CAP);
    CHECK_OK(cuMemFree(d));
    CHECK_USED(l, 0);
    check_ledger(l);
    ledger_close(l);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2, "usage: test_hook_vram_paths arrays|async|pool|pool-chunk|vmm|ipc");
    remove_ledger();
    if (strcmp(argv[1], "arrays") == 0)
        test_arrays();
    else if (strcmp(argv[1], "async") == 0)
        test_async();
    else if (strcmp(argv[1], "pool") == 0)
        test_pool();
    else if (strcmp(argv[1], "pool-chunk") == 0)
        test_pool_chunk();
    else if (strcmp(argv[1], "vmm") == 0)
        test_vmm();
    else if (strcmp(argv[1], "ipc") == 0)
        test_ipc();
    else
        REQUIRE(0, "unknown mode '%s'", argv[1]);
    return check_done(argv[1]);
}
