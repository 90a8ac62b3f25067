/*
 * VMM memory still mapped after cuMemRelease (src/hook/vram.c), through the hook over the
 * simulated GPU, under a 64 MiB cap on an 80 GB device. The driver keeps a released handle's
 * physical memory until its last cuMemUnmap, so the vGPU must keep the charge until then: a
 * create that would pass the cap meanwhile is refused, and the unmap that removes the last
 * mapping credits exactly what the device gets back. GPOOL_VGPU, GPOOL_VRAM_LIMIT and
 * GPOOL_VGPU_DIR come from the environment; the simulator is also opened directly
 * (GPOOL_REAL_DRIVER) to read what the device really has free. A reference taken with
 * cuMemRetainAllocationHandle keeps the memory too, until it is released.
 */
#include "hook_test.h"

#include <stdint.h>

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

int main(void)
{
    remove_ledger();
    init_cuda();
    struct ledger *l = open_ledger();
    uint64_t dev0 = device_free();
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    const size_t size = 48 * MIB;
    CUdeviceptr va = 0;
    REQUIRE_OK(cuMemAddressReserve(&va, 2 * size, 0, 0, 0));

    /* create -> map (twice) -> release: the charge stays while mapped. */
    CUmemGenericAllocationHandle h, h2;
    REQUIRE_OK(cuMemCreate(&h, size, &prop, 0));
    REQUIRE_OK(cuMemMap(va, size, 0, h, 0));
    REQUIRE_OK(cuMemMap(va + size, size, 0, h, 0));
    CHECK_OK(cuMemRelease(h));
    CHECK_USED(l, size);
    CHECK(dev0 - device_free() == size, "the driver still holds %llu",
          (unsigned long long)(dev0 - device_free()));

    /* Meanwhile a create that would pass the cap is refused, without reaching the driver. */
    uint64_t dev_held = device_free();
    CHECK_RC(cuMemCreate(&h2, 32 * MIB, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(device_free() == dev_held, "a refused cuMemCreate reached the driver");

    /* The first unmap leaves one mapping: still charged. The last one credits. */
    CHECK_OK(cuMemUnmap(va, size));
    CHECK_USED(l, size);
    CHECK(device_free() == dev_held, "the driver freed with a mapping left");
    CHECK_OK(cuMemUnmap(va + size, size));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu, was %llu", (unsigned long long)device_free(),
          (unsigned long long)dev0);

    /* Now the same create fits. Unmapped before release: credited at release, as before. */
    REQUIRE_OK(cuMemCreate(&h2, 32 * MIB, &prop, 0));
    CHECK_USED(l, 32 * MIB);
    REQUIRE_OK(cuMemMap(va, 32 * MIB, 0, h2, 0));
    CHECK_OK(cuMemUnmap(va, 32 * MIB));
    CHECK_USED(l, 32 * MIB);
    CHECK_OK(cuMemRelease(h2));
    CHECK_USED(l, 0);

    /* One unmap over two handles' mappings credits both released handles. */
    CUmemGenericAllocationHandle a, b;
    REQUIRE_OK(cuMemCreate(&a, 16 * MIB, &prop, 0));
    REQUIRE_OK(cuMemCreate(&b, 16 * MIB, &prop, 0));
    REQUIRE_OK(cuMemMap(va, 16 * MIB, 0, a, 0));
    REQUIRE_OK(cuMemMap(va + 16 * MIB, 16 * MIB, 0, b, 0));
    CHECK_OK(cuMemRelease(a));
    CHECK_OK(cuMemRelease(b));
    CHECK_USED(l, 32 * MIB);
    CHECK_OK(cuMemUnmap(va, 32 * MIB));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu, was %llu", (unsigned long long)device_free(),
          (unsigned long long)dev0);

    /* cuMemRetainAllocationHandle takes one more reference: the memory stays charged, and held
     * by the device, until every reference is released and every mapping unmapped. */
    const size_t rsize = 16 * MIB;
    void *at = (void *)(uintptr_t)va;
    CUmemGenericAllocationHandle r, hr;

    /* create, map, retain, release both references while mapped: still charged; unmap credits. */
    REQUIRE_OK(cuMemCreate(&r, rsize, &prop, 0));
    REQUIRE_OK(cuMemMap(va, rsize, 0, r, 0));
    CHECK_OK(cuMemRetainAllocationHandle(&hr, at));
    CHECK(hr == r, "the retained handle 0x%llx is not the created one 0x%llx",
          (unsigned long long)hr, (unsigned long long)r);
    CHECK_OK(cuMemRelease(r));
    CHECK_USED(l, rsize);
    CHECK(dev0 - device_free() == rsize, "the device holds %llu after one release",
          (unsigned long long)(dev0 - device_free()));
    CHECK_OK(cuMemRelease(hr));
    CHECK_USED(l, rsize);
    CHECK(dev0 - device_free() == rsize, "the device holds %llu, released but mapped",
          (unsigned long long)(dev0 - device_free()));
    CHECK_OK(cuMemUnmap(va, rsize));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu after the unmap, was %llu",
          (unsigned long long)device_free(), (unsigned long long)dev0);

    /* create, map, retain, unmap, release: one reference left, still charged; the last release
     * credits. */
    REQUIRE_OK(cuMemCreate(&r, rsize, &prop, 0));
    REQUIRE_OK(cuMemMap(va, rsize, 0, r, 0));
    CHECK_OK(cuMemRetainAllocationHandle(&hr, at));
    CHECK_OK(cuMemUnmap(va, rsize));
    CHECK_USED(l, rsize);
    CHECK(dev0 - device_free() == rsize, "the device holds %llu, unmapped with two references",
          (unsigned long long)(dev0 - device_free()));
    CHECK_OK(cuMemRelease(r));
    CHECK_USED(l, rsize);
    CHECK(dev0 - device_free() == rsize, "the device holds %llu with one reference left",
          (unsigned long long)(dev0 - device_free()));
    CHECK_OK(cuMemRelease(hr));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu after the last release, was %llu",
          (unsigned long long)device_free(), (unsigned long long)dev0);

    /* create, map, release, retain the still-mapped handle, unmap: the retained reference keeps
     * it; its release credits. */
    REQUIRE_OK(cuMemCreate(&r, rsize, &prop, 0));
    REQUIRE_OK(cuMemMap(va, rsize, 0, r, 0));
    CHECK_OK(cuMemRelease(r));
    CHECK_OK(cuMemRetainAllocationHandle(&hr, at));
    CHECK_OK(cuMemUnmap(va, rsize));
    CHECK_USED(l, rsize);
    CHECK(dev0 - device_free() == rsize, "the device holds %llu, retained after release",
          (unsigned long long)(dev0 - device_free()));
    CHECK_OK(cuMemRelease(hr));
    CHECK_USED(l, 0);
    CHECK(device_free() == dev0, "device free %llu after the release, was %llu",
          (unsigned long long)device_free(), (unsigned long long)dev0);

    CHECK_OK(cuMemAddressFree(va, 2 * size));
    check_ledger(l);
    ledger_close(l);
    return check_done("vmm-map");
}
