/*
 * Memory of every kind: device, pitched, managed (a plain host pointer), page-locked host and
 * registered host memory; their pointer attributes; invalid, interior and freed pointers; the
 * accounting visible in cuMemGetInfo.
 */
#include "driver_test.h"

#include <stdlib.h>
#include <sys/mman.h>

static CUcontext g_ctx;

static unsigned int mem_type(CUdeviceptr p)
{
    unsigned int t = 0;
    CHECK_OK(cuPointerGetAttribute(&t, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p));
    return t;
}

/* Checks the attributes every kind shares: context, ordinal, range, mapped, ids. */
static unsigned long long check_common_attrs(CUdeviceptr base, size_t size, CUdeviceptr inner)
{
    CUcontext c = NULL;
    CHECK_OK(cuPointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, inner));
    CHECK(c == g_ctx, "context attribute %p", (void *)c);
    int ord = -1;
    CHECK_OK(cuPointerGetAttribute(&ord, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, inner));
    CHECK(ord == 0, "device ordinal %d", ord);
    CUdeviceptr start = 0;
    size_t rsize = 0;
    CHECK_OK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, inner));
    CHECK_OK(cuPointerGetAttribute(&rsize, CU_POINTER_ATTRIBUTE_RANGE_SIZE, inner));
    CHECK(start == base && rsize == size, "range %llx+%zu, expected %llx+%zu",
          (unsigned long long)start, rsize, (unsigned long long)base, size);
    int mapped = 0;
    CHECK_OK(cuPointerGetAttribute(&mapped, CU_POINTER_ATTRIBUTE_MAPPED, inner));
    CHECK(mapped == 1, "mapped %d", mapped);
    CUdeviceptr dp = 0;
    CHECK_OK(cuPointerGetAttribute(&dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, inner));
    CHECK(dp == inner, "device pointer %llx of %llx", (unsigned long long)dp,
          (unsigned long long)inner);
    unsigned long long id = 0;
    CHECK_OK(cuPointerGetAttribute(&id, CU_POINTER_ATTRIBUTE_BUFFER_ID, inner));
    CHECK(id != 0, "buffer id 0");
    return id;
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuCtxCreate(&g_ctx, NULL, 0, 0));
    size_t total = 0, free0 = 0;
    CHECK_OK(cuMemGetInfo(&free0, &total));
    CHECK(total == MIB(81559), "total %zu", total);
    CHECK_RC(cuMemGetInfo(NULL, &total), CUDA_ERROR_INVALID_VALUE);

    /* Device memory. */
    CUdeviceptr d = 0;
    CHECK_RC(cuMemAlloc(&d, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemAlloc(NULL, 16), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemAlloc(&d, 1000000));
    CHECK(d != 0 && d % 256 == 0, "device pointer %llx is not aligned", (unsigned long long)d);
    CHECK(d >= (1ull << 57), "device pointer %llx looks like a host address",
          (unsigned long long)d);
    CHECK(test_free_mem() == free0 - 1003520, "free after a 1000000-byte allocation: %zu",
          free0 - test_free_mem()); /* charged in 4 KiB granules */
    CUdeviceptr base = 0;
    size_t size = 0;
    CHECK_OK(cuMemGetAddressRange(&base, &size, d + 12345));
    CHECK(base == d && size == 1000000, "address range %llx+%zu", (unsigned long long)base, size);
    CHECK_OK(cuMemGetAddressRange(NULL, &size, d));
    CHECK_RC(cuMemGetAddressRange(&base, &size, d + 1000000), CUDA_ERROR_NOT_FOUND);
    CHECK(mem_type(d) == CU_MEMORYTYPE_DEVICE, "device memory type");
    unsigned long long id_d = check_common_attrs(d, 1000000, d + 7);
    void *hp = (void *)1;
    CHECK_RC(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, d),
             CUDA_ERROR_INVALID_VALUE);
    int managed = -1;
    CHECK_OK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
    CHECK(managed == 0, "device memory is managed");
    CHECK_RC(cuPointerGetAttribute(&managed, (CUpointer_attribute)999, d),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemFree(d + 16), CUDA_ERROR_INVALID_VALUE); /* not the start */
    CHECK_RC(cuMemFree(0x1234), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuMemFree(d));
    CHECK_RC(cuMemFree(d), CUDA_ERROR_INVALID_VALUE); /* freed */
    CHECK_RC(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d),
             CUDA_ERROR_INVALID_VALUE);
    CHECK(test_free_mem() == free0, "free memory not restored");

    /* Pitched. */
    size_t pitch = 0;
    CHECK_RC(cuMemAllocPitch(&d, &pitch, 100, 10, 3), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemAllocPitch(&d, &pitch, 0, 10, 4), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemAllocPitch(&d, &pitch, 100, 10, 4));
    CHECK(pitch == 512, "pitch %zu for 100 bytes", pitch);
    CHECK_OK(cuMemGetAddressRange(&base, &size, d));
    CHECK(size == 5120, "pitched size %zu", size);
    CHECK(test_free_mem() == free0 - 8192, "pitched charge %zu", free0 - test_free_mem());
    CUdeviceptr d2;
    REQUIRE_OK(cuMemAllocPitch(&d2, &pitch, 513, 3, 16));
    CHECK(pitch == 1024, "pitch %zu for 513 bytes", pitch);
    CHECK_OK(cuMemFree(d2));
    CHECK_OK(cuMemFree(d));

    /* Managed: a host pointer that plain host code uses. */
    CUdeviceptr m = 0;
    CHECK_RC(cuMemAllocManaged(&m, 4096, 0), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemAllocManaged(&m, MIB(1), CU_MEM_ATTACH_GLOBAL));
    CHECK(test_free_mem() == free0 - MIB(1), "managed memory is not charged to the device");
    unsigned int *host = (unsigned int *)(uintptr_t)m;
    for (unsigned int i = 0; i < MIB(1) / 4; i++)
        host[i] = i * 2654435761u;
    unsigned int bad = 0;
    for (unsigned int i = 0; i < MIB(1) / 4; i++)
        bad += host[i] != i * 2654435761u;
    CHECK(bad == 0, "managed memory lost %u words", bad);
    CHECK(mem_type(m) == CU_MEMORYTYPE_DEVICE, "managed memory type");
    CHECK_OK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, m + 100));
    CHECK(managed == 1, "managed memory is not managed");
    CHECK_OK(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, m + 100));
    CHECK(hp == (void *)(host) + 100, "managed host pointer %p", hp);
    unsigned long long id_m = check_common_attrs(m, MIB(1), m + 100);
    CHECK(id_m != id_d, "buffer ids reused");

    /* Page-locked host memory. */
    void *ph = NULL;
    CHECK_RC(cuMemHostAlloc(&ph, 4096, 0x80), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemHostAlloc(&ph, 10000, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
    memset(ph, 0x5a, 10000);
    CHECK(((unsigned char *)ph)[9999] == 0x5a, "host memory not writable");
    CHECK(test_free_mem() == free0 - MIB(1), "host memory was charged to the device");
    CUdeviceptr dph = 0;
    CHECK_OK(cuMemHostGetDevicePointer(&dph, (char *)ph + 10, 0));
    CHECK(dph == (CUdeviceptr)(uintptr_t)ph + 10, "device pointer of host memory");
    CHECK_RC(cuMemHostGetDevicePointer(&dph, ph, 1), CUDA_ERROR_INVALID_VALUE);
    unsigned int hflags = 0;
    CHECK_OK(cuMemHostGetFlags(&hflags, ph));
    CHECK(hflags == (CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE), "flags %u", hflags);
    CHECK_RC(cuMemHostGetFlags(&hflags, host), CUDA_ERROR_INVALID_VALUE);
    CHECK(mem_type((CUdeviceptr)(uintptr_t)ph) == CU_MEMORYTYPE_HOST, "host memory type");
    check_common_attrs((CUdeviceptr)(uintptr_t)ph, 10000, (CUdeviceptr)(uintptr_t)ph + 9999);
    void *ph2 = NULL;
    REQUIRE_OK(cuMemAllocHost(&ph2, 64));
    CHECK_OK(cuMemHostGetFlags(&hflags, ph2));
    CHECK(hflags == 0, "cuMemAllocHost flags %u", hflags);
    CHECK_RC(cuMemFreeHost((char *)ph2 + 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuMemFreeHost(ph2));
    CHECK_RC(cuMemFreeHost(ph2), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemFree((CUdeviceptr)(uintptr_t)ph), CUDA_ERROR_INVALID_VALUE); /* wrong kind */

    /* Registered host memory. */
    size_t rlen = 3 * 4096 + 100;
    char *buf = malloc(rlen);
    REQUIRE(buf != NULL, "malloc");
    CHECK_RC(cuMemHostRegister(buf, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemHostRegister(buf, rlen, 0x100), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemHostRegister(buf, rlen, CU_MEMHOSTREGISTER_DEVICEMAP));
    CHECK_RC(cuMemHostRegister(buf + 100, 10, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    CHECK_RC(cuMemHostRegister(ph, 100, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    CHECK_OK(cuMemHostGetDevicePointer(&dph, buf + 5, 0));
    CHECK(dph == (CUdeviceptr)(uintptr_t)buf + 5, "device pointer of registered memory");
    CHECK(mem_type((CUdeviceptr)(uintptr_t)buf) == CU_MEMORYTYPE_HOST, "registered type");
    check_common_attrs((CUdeviceptr)(uintptr_t)buf, rlen, (CUdeviceptr)(uintptr_t)buf + 1);
    CHECK_RC(cuMemHostGetFlags(&hflags, buf), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemHostUnregister(buf + 1), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    CHECK_OK(cuMemHostUnregister(buf));
    CHECK_RC(cuMemHostUnregister(buf), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    CHECK_RC(cuMemHostGetDevicePointer(&dph, buf, 0), CUDA_ERROR_INVALID_VALUE);
    free(buf);
    /* Memory that is not mapped cannot be registered. */
    void *hole = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(hole != MAP_FAILED, "mmap");
    munmap(hole, 8192);
    CHECK_RC(cuMemHostRegister(hole, 8192, 0), CUDA_ERROR_INVALID_VALUE);

    /* cuPointerGetAttributes: several at once; unknown pointers get NULL values, no error. */
    CUpointer_attribute attrs[4] = {CU_POINTER_ATTRIBUTE_CONTEXT, CU_POINTER_ATTRIBUTE_IS_MANAGED,
                                    CU_POINTER_ATTRIBUTE_RANGE_SIZE,
                                    CU_POINTER_ATTRIBUTE_HOST_POINTER};
    CUcontext a_ctx = NULL;
    int a_managed = 7;
    size_t a_size = 7;
    void *a_host = (void *)7;
    void *data[4] = {&a_ctx, &a_managed, &a_size, &a_host};
    CHECK_OK(cuPointerGetAttributes(4, attrs, data, m + 1));
    CHECK(a_ctx == g_ctx && a_managed == 1 && a_size == MIB(1) && a_host == (void *)(host) + 1,
          "cuPointerGetAttributes on managed memory");
    int stack_var = 0;
    CHECK_OK(cuPointerGetAttributes(4, attrs, data, (CUdeviceptr)(uintptr_t)&stack_var));
    CHECK(a_ctx == NULL && a_managed == 0 && a_size == 0 && a_host == NULL,
          "cuPointerGetAttributes on an unknown pointer did not write NULL values");
    CHECK_RC(cuPointerGetAttribute(&a_ctx, CU_POINTER_ATTRIBUTE_CONTEXT,
                                   (CUdeviceptr)(uintptr_t)&stack_var),
             CUDA_ERROR_INVALID_VALUE);

    /* Sync memops can be set. */
    int one = 1, got = 0;
    CHECK_OK(cuPointerSetAttribute(&one, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, m));
    CHECK_OK(cuPointerGetAttribute(&got, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, m));
    CHECK(got == 1, "sync memops %d", got);

    /* Destroying the context frees what it allocated. */
    CUdeviceptr leak;
    REQUIRE_OK(cuMemAlloc(&leak, MIB(2)));
    CHECK_OK(cuCtxDestroy(g_ctx));
    CUcontext probe;
    REQUIRE_OK(cuCtxCreate(&probe, NULL, 0, 0));
    CHECK(test_free_mem() == free0, "cuCtxDestroy left memory charged");
    CHECK_RC(cuMemFree(leak), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemFreeHost(ph), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuCtxDestroy(probe));
    return check_done("test_memory");
}
