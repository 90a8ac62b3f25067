/*
 * Virtual memory management: a device address keeps its contents while the physical memory behind
 * it is replaced (copy to a new handle, unmap the old, map the new at the same address), ranges are
 * inaccessible before cuMemSetAccess and after cuMemUnmap, granularity is enforced, and misuse
 * gives the documented errors.
 */
#include "check.h"

#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MiB (1024ull * 1024ull)

static CUmemAllocationProp dev_prop(int dev)
{
    CUmemAllocationProp p;
    memset(&p, 0, sizeof(p));
    p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.location.id = dev;
    return p;
}

static CUmemAccessDesc rw(int dev)
{
    CUmemAccessDesc d;
    memset(&d, 0, sizeof(d));
    d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    d.location.id = dev;
    d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    return d;
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    CUmemAllocationProp prop = dev_prop(0);

    size_t gmin = 0, grec = 0;
    CHECK_OK(cuMemGetAllocationGranularity(&gmin, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    CHECK_OK(cuMemGetAllocationGranularity(&grec, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
    CHECK(gmin == 2 * MiB && grec == 2 * MiB, "granularity %zu %zu", gmin, grec);
    CHECK_RC(cuMemGetAllocationGranularity(&gmin, NULL, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
             CUDA_ERROR_INVALID_VALUE);

    const size_t size = 4 * MiB;
    size_t free0, total;
    CHECK_OK(cuMemGetInfo(&free0, &total));

    /* Reservation: not charged; granularity enforced. */
    CUdeviceptr va = 0;
    CHECK_RC(cuMemAddressReserve(&va, size + 4096, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemAddressReserve(&va, size, 3, 0, 0), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemAddressReserve(&va, size, 0, 0, 0));
    CHECK(va % (2 * MiB) == 0, "reservation 0x%llx unaligned", (unsigned long long)va);
    size_t f;
    CHECK_OK(cuMemGetInfo(&f, &total));
    CHECK(f == free0, "a reservation charged %zu bytes", free0 - f);

    /* Physical memory is charged at creation. */
    CUmemGenericAllocationHandle h1, h2;
    CHECK_RC(cuMemCreate(&h1, 3 * MiB, &prop, 0), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemCreate(&h1, size, &prop, 0));
    CHECK_OK(cuMemGetInfo(&f, &total));
    CHECK(free0 - f == size, "cuMemCreate charged %zu, expected %zu", free0 - f, (size_t)size);

    /* Mapped but without access: invisible to copies. */
    CHECK_RC(cuMemMap(va + 4096, 2 * MiB, 0, h1, 0), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemMap(va, size, 0, h1, 0));
    CHECK_RC(cuMemMap(va, size, 0, h1, 0), CUDA_ERROR_INVALID_VALUE); /* overlapping map */
    static unsigned char data[4 * 1024 * 1024], back[4 * 1024 * 1024];
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    CHECK_RC(cuMemcpyHtoD(va, data, size), CUDA_ERROR_INVALID_VALUE);
    unsigned long long fl = 99;
    CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
    CHECK_OK(cuMemGetAccess(&fl, &loc, va));
    CHECK(fl == CU_MEM_ACCESS_FLAGS_PROT_NONE, "access before SetAccess %llu", fl);

    CUmemAccessDesc acc = rw(0);
    CHECK_RC(cuMemSetAccess(va, size + 2 * MiB, &acc, 1), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemSetAccess(va, size, &acc, 1));
    CHECK_OK(cuMemGetAccess(&fl, &loc, va + 100));
    CHECK(fl == CU_MEM_ACCESS_FLAGS_PROT_READWRITE, "access %llu", fl);
    REQUIRE_OK(cuMemcpyHtoD(va, data, size));

    /* Properties and retained handles. */
    CUmemAllocationProp got;
    CHECK_OK(cuMemGetAllocationPropertiesFromHandle(&got, h1));
    CHECK(got.location.id == 0 && got.type == CU_MEM_ALLOCATION_TYPE_PINNED, "props");
    CUmemGenericAllocationHandle hr = 0;
    CHECK_OK(cuMemRetainAllocationHandle(&hr, (void *)(uintptr_t)(va + 12345)));
    CHECK(hr == h1, "retained handle differs");
    CHECK_OK(cuMemRelease(hr));

    /* Move the contents to new physical memory, keeping the address. */
    REQUIRE_OK(cuMemCreate(&h2, size, &prop, 0));
    CUdeviceptr tmp;
    REQUIRE_OK(cuMemAddressReserve(&tmp, size, 0, 0, 0));
    REQUIRE_OK(cuMemMap(tmp, size, 0, h2, 0));
    REQUIRE_OK(cuMemSetAccess(tmp, size, &acc, 1));
    REQUIRE_OK(cuMemcpyDtoD(tmp, va, size));
    REQUIRE_OK(cuCtxSynchronize());
    REQUIRE_OK(cuMemUnmap(va, size));
    CHECK_RC(cuMemUnmap(va, size), CUDA_ERROR_INVALID_VALUE); /* double unmap */
    CHECK_RC(cuMemcpyDtoH(back, va, size), CUDA_ERROR_INVALID_VALUE); /* unmapped */
    CHECK_OK(cuMemRelease(h1)); /* unmapped and released: its charge goes */
    CHECK_OK(cuMemGetInfo(&f, &total));
    CHECK(free0 - f == size, "after releasing h1: charged %zu", free0 - f);
    REQUIRE_OK(cuMemUnmap(tmp, size));
    CHECK_OK(cuMemAddressFree(tmp, size));
    REQUIRE_OK(cuMemMap(va, size, 0, h2, 0));
    CHECK_RC(cuMemcpyDtoH(back, va, size), CUDA_ERROR_INVALID_VALUE); /* new map: no access */
    REQUIRE_OK(cuMemSetAccess(va, size, &acc, 1));
    memset(back, 0, size);
    REQUIRE_OK(cuMemcpyDtoH(back, va, size));
    CHECK(memcmp(back, data, size) == 0, "contents changed across the remap");

    /* One handle behind two mappings: both show the same bytes. */
    CUdeviceptr va2;
    REQUIRE_OK(cuMemAddressReserve(&va2, 2 * MiB, 0, 0, 0));
    REQUIRE_OK(cuMemMap(va2, 2 * MiB, 2 * MiB, h2, 0));
    REQUIRE_OK(cuMemSetAccess(va2, 2 * MiB, &acc, 1));
    CHECK_OK(cuMemsetD8(va2, 0x5a, 16));
    CHECK_OK(cuCtxSynchronize());
    unsigned char b16[16];
    CHECK_OK(cuMemcpyDtoH(b16, va + 2 * MiB, 16));
    CHECK(b16[0] == 0x5a && b16[15] == 0x5a, "second mapping does not alias the first");
    CHECK_RC(cuMemAddressFree(va2, 2 * MiB), CUDA_ERROR_INVALID_VALUE); /* still mapped */
    CHECK_OK(cuMemUnmap(va2, 2 * MiB));
    CHECK_OK(cuMemAddressFree(va2, 2 * MiB));

    /* Fixed address honoured when free. */
    CUdeviceptr fixed = va + 64 * MiB, at = 0;
    CHECK_OK(cuMemAddressReserve(&at, 2 * MiB, 0, fixed, 0));
    CHECK(at == fixed, "fixed address 0x%llx not honoured (0x%llx)", (unsigned long long)fixed,
          (unsigned long long)at);
    CHECK_OK(cuMemAddressFree(at, 2 * MiB));

    /* Misuse. */
    CHECK_RC(cuMemRelease(0x1234), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemMap(va, size, 0, 0x1234, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemAddressFree(va + 2 * MiB, 2 * MiB), CUDA_ERROR_INVALID_VALUE);
    CUmemAllocationProp bad = dev_prop(77);
    CUmemGenericAllocationHandle hb;
    CHECK_RC(cuMemCreate(&hb, size, &bad, 0), CUDA_ERROR_INVALID_DEVICE);

    CHECK_OK(cuMemUnmap(va, size));
    CHECK_OK(cuMemRelease(h2));
    CHECK_OK(cuMemAddressFree(va, size));
    CHECK_OK(cuMemGetInfo(&f, &total));
    CHECK(f == free0, "leaked %zu bytes", free0 - f);
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    return check_done("vmm-remap");
}
