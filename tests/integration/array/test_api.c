/*
 * CUDA arrays: create, describe and destroy arrays of several formats and shapes, mipmapped
 * arrays, bad descriptors and handles, and capacity: every array lowers cuMemGetInfo's free
 * memory and NVML's used memory by its charged size (what cuArrayGetMemoryRequirements reports
 * for the same shape with deferred mapping), and destroying it, or its context, restores both.
 */
#include "check.h"

#include <cuda.h>
#include <nvml.h>
#include <stdint.h>
#include <string.h>

static size_t free_mem(void)
{
    size_t f = 0, t = 0;
    CHECK_OK(cuMemGetInfo(&f, &t));
    return f;
}

static unsigned long long nvml_used(nvmlDevice_t nd)
{
    nvmlMemory_t m;
    CHECK(nvmlDeviceGetMemoryInfo(nd, &m) == NVML_SUCCESS, "nvml memory");
    return m.used;
}

/* What the simulator documents: rows padded to 512 bytes, the total rounded to 4 KiB. */
static size_t expected_charge(size_t elem, unsigned w, unsigned h, unsigned d)
{
    size_t pitch = (w * elem + 511) / 512 * 512;
    size_t bytes = pitch * (h ? h : 1) * (d ? d : 1);
    return (bytes + 4095) / 4096 * 4096;
}

struct shape {
    CUarray_format fmt;
    unsigned nch, w, h, d, flags;
    size_t elem;
};

static void create_describe(void)
{
    static const struct shape shapes[] = {
        { CU_AD_FORMAT_UNSIGNED_INT8, 1, 1000, 0, 0, 0, 1 },             /* 1D */
        { CU_AD_FORMAT_FLOAT, 4, 64, 48, 0, 0, 16 },                      /* 2D */
        { CU_AD_FORMAT_HALF, 2, 33, 17, 9, 0, 4 },                        /* 3D */
        { CU_AD_FORMAT_SIGNED_INT16, 1, 100, 0, 7, CUDA_ARRAY3D_LAYERED, 2 }, /* 1D layered */
        { CU_AD_FORMAT_UNSIGNED_INT32, 2, 20, 30, 4, CUDA_ARRAY3D_LAYERED, 8 },
        { CU_AD_FORMAT_SIGNED_INT8, 4, 16, 16, 6, CUDA_ARRAY3D_CUBEMAP, 4 },
        { CU_AD_FORMAT_SIGNED_INT32, 1, 8, 8, 12,
          CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED, 4 },
        { CU_AD_FORMAT_UNSIGNED_INT16, 4, 40, 40, 0,
          CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_TEXTURE_GATHER, 8 },
        { CU_AD_FORMAT_UNORM_INT16X4, 4, 10, 10, 0, 0, 8 },
        { CU_AD_FORMAT_SNORM_INT8X2, 2, 10, 0, 0, 0, 2 },
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const struct shape *s = &shapes[i];
        CUDA_ARRAY3D_DESCRIPTOR d = { .Width = s->w, .Height = s->h, .Depth = s->d,
                                      .Format = s->fmt, .NumChannels = s->nch,
                                      .Flags = s->flags };
        size_t before = free_mem();
        CUarray a = NULL;
        CHECK_OK(cuArray3DCreate(&a, &d));
        if (!a)
            continue;
        size_t want = expected_charge(s->elem, s->w, s->h, s->d);
        CHECK(before - free_mem() == want, "shape %zu: charged %zu, expected %zu", i,
              before - free_mem(), want);
        CUDA_ARRAY3D_DESCRIPTOR g;
        memset(&g, 0xab, sizeof(g));
        CHECK_OK(cuArray3DGetDescriptor(&g, a));
        CHECK(g.Width == s->w && g.Height == s->h && g.Depth == s->d && g.Format == s->fmt &&
                  g.NumChannels == s->nch && g.Flags == s->flags,
              "shape %zu: descriptor differs", i);
        CUDA_ARRAY_DESCRIPTOR g2;
        if (s->d == 0) {
            CHECK_OK(cuArrayGetDescriptor(&g2, a));
            CHECK(g2.Width == s->w && g2.Height == s->h && g2.Format == s->fmt &&
                      g2.NumChannels == s->nch, "shape %zu: 2D descriptor differs", i);
        } else {
            CHECK_RC(cuArrayGetDescriptor(&g2, a), CUDA_ERROR_INVALID_VALUE);
        }
        CUarray plane;
        CHECK_RC(cuArrayGetPlane(&plane, a, 0), CUDA_ERROR_INVALID_VALUE);
        CUDA_ARRAY_MEMORY_REQUIREMENTS req;
        CHECK_RC(cuArrayGetMemoryRequirements(&req, a, 0), CUDA_ERROR_INVALID_VALUE);
        CHECK_OK(cuArrayDestroy(a));
        CHECK(free_mem() == before, "shape %zu: destroy did not restore free memory", i);
        CHECK_RC(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
        CHECK_RC(cuArray3DGetDescriptor(&g, a), CUDA_ERROR_INVALID_HANDLE);
    }

    /* The 2D creation call. */
    CUDA_ARRAY_DESCRIPTOR d2 = { .Width = 2048, .Height = 1, .Format = CU_AD_FORMAT_FLOAT,
                                 .NumChannels = 1 };
    CUarray a;
    REQUIRE_OK(cuArrayCreate(&a, &d2));
    CUDA_ARRAY3D_DESCRIPTOR g;
    CHECK_OK(cuArray3DGetDescriptor(&g, a));
    CHECK(g.Width == 2048 && g.Height == 1 && g.Depth == 0 && g.Flags == 0, "cuArrayCreate");
    CHECK_OK(cuArrayDestroy(a));
}

static void bad_descriptors(void)
{
    static const CUDA_ARRAY3D_DESCRIPTOR bad[] = {
        { .Width = 0, .Height = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1 },
        { .Width = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 3 },
        { .Width = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 0 },
        { .Width = 4, .Format = (CUarray_format)0x77, .NumChannels = 1 },
        { .Width = 4, .Height = 0, .Depth = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1 },
        { .Width = 4, .Height = 4, .Depth = 6, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
          .Flags = 0x10000 },
        { .Width = 4, .Height = 8, .Depth = 6, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
          .Flags = CUDA_ARRAY3D_CUBEMAP },
        { .Width = 4, .Height = 4, .Depth = 5, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
          .Flags = CUDA_ARRAY3D_CUBEMAP },
        { .Width = 4, .Height = 4, .Depth = 8, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
          .Flags = CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED },
        { .Width = 4, .Height = 4, .Depth = 0, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
          .Flags = CUDA_ARRAY3D_LAYERED },
        { .Width = 4, .Height = 4, .Depth = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
          .Flags = CUDA_ARRAY3D_TEXTURE_GATHER },
        { .Width = 1u << 30, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1 },
        { .Width = 4, .Format = CU_AD_FORMAT_UNORM_INT8X4, .NumChannels = 1 },
    };
    size_t before = free_mem();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CUarray a = NULL;
        CUresult rc = cuArray3DCreate(&a, &bad[i]);
        CHECK(rc == CUDA_ERROR_INVALID_VALUE, "bad descriptor %zu: %d", i, (int)rc);
    }
    CUarray a;
    CHECK_RC(cuArray3DCreate(&a, NULL), CUDA_ERROR_INVALID_VALUE);
    CUDA_ARRAY3D_DESCRIPTOR ok = { .Width = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1 };
    CHECK_RC(cuArray3DCreate(NULL, &ok), CUDA_ERROR_INVALID_VALUE);
    CUDA_ARRAY_DESCRIPTOR d2 = { .Width = 4, .Height = 4, .Format = CU_AD_FORMAT_FLOAT,
                                 .NumChannels = 3 };
    CHECK_RC(cuArrayCreate(&a, &d2), CUDA_ERROR_INVALID_VALUE);
    /* Valid, but not simulated. */
    CUDA_ARRAY3D_DESCRIPTOR nv12 = { .Width = 64, .Height = 64, .Format = CU_AD_FORMAT_NV12,
                                     .NumChannels = 1 };
    CHECK_RC(cuArray3DCreate(&a, &nv12), CUDA_ERROR_NOT_SUPPORTED);
    CHECK(free_mem() == before, "failed creations charged memory");

    /* Garbage handles. */
    int local = 0;
    CUDA_ARRAY3D_DESCRIPTOR g;
    CHECK_RC(cuArrayDestroy((CUarray)&local), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuArrayDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuArray3DGetDescriptor(&g, (CUarray)(uintptr_t)0x1234), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuMipmappedArrayDestroy((CUmipmappedArray)&local), CUDA_ERROR_INVALID_HANDLE);
}

static void mipmaps(void)
{
    CUDA_ARRAY3D_DESCRIPTOR d = { .Width = 64, .Height = 32, .Format = CU_AD_FORMAT_FLOAT,
                                  .NumChannels = 1 };
    CUmipmappedArray m;
    CHECK_RC(cuMipmappedArrayCreate(&m, &d, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMipmappedArrayCreate(&m, &d, 8), CUDA_ERROR_INVALID_VALUE); /* max 7 */
    size_t before = free_mem();
    REQUIRE_OK(cuMipmappedArrayCreate(&m, &d, 7));
    size_t bytes = 0;
    for (unsigned i = 0; i < 7; i++) {
        unsigned w = 64 >> i ? 64 >> i : 1, h = 32 >> i ? 32 >> i : 1;
        bytes += (w * 4 + 511) / 512 * 512 * h;
        CUarray lv;
        CHECK_OK(cuMipmappedArrayGetLevel(&lv, m, i));
        CUDA_ARRAY3D_DESCRIPTOR g;
        CHECK_OK(cuArray3DGetDescriptor(&g, lv));
        CHECK(g.Width == w && g.Height == h && g.Depth == 0, "level %u: %zux%zu", i, g.Width,
              g.Height);
        CHECK_RC(cuArrayDestroy(lv), CUDA_ERROR_INVALID_HANDLE);
    }
    CHECK(before - free_mem() == (bytes + 4095) / 4096 * 4096, "mipmap charged %zu",
          before - free_mem());
    CUarray lv;
    CHECK_RC(cuMipmappedArrayGetLevel(&lv, m, 7), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuMipmappedArrayGetLevel(&lv, m, 2));
    CHECK_OK(cuMipmappedArrayDestroy(m));
    CHECK(free_mem() == before, "mipmap destroy restores free memory");
    CUDA_ARRAY3D_DESCRIPTOR g;
    CHECK_RC(cuArray3DGetDescriptor(&g, lv), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuMipmappedArrayDestroy(m), CUDA_ERROR_INVALID_HANDLE);
}

static void capacity(CUcontext ctx)
{
    REQUIRE(nvmlInit_v2() == NVML_SUCCESS, "nvmlInit");
    nvmlDevice_t nd;
    REQUIRE(nvmlDeviceGetHandleByIndex_v2(0, &nd) == NVML_SUCCESS, "nvml handle");

    /* The requirements of a deferred-mapping array are what the same shape is charged. */
    CUDA_ARRAY3D_DESCRIPTOR d = { .Width = 1000, .Height = 300, .Depth = 5,
                                  .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 4 };
    CUDA_ARRAY3D_DESCRIPTOR dd = d;
    dd.Flags = CUDA_ARRAY3D_DEFERRED_MAPPING;
    size_t f0 = free_mem();
    unsigned long long u0 = nvml_used(nd);
    CUarray deferred;
    REQUIRE_OK(cuArray3DCreate(&deferred, &dd));
    CHECK(free_mem() == f0, "a deferred-mapping array charges nothing");
    CUDA_ARRAY_MEMORY_REQUIREMENTS req;
    CHECK_OK(cuArrayGetMemoryRequirements(&req, deferred, 0));
    CHECK(req.size == expected_charge(4, 1000, 300, 5) && req.alignment == 4096,
          "requirements %zu / %zu", req.size, req.alignment);
    CHECK_RC(cuArrayGetMemoryRequirements(&req, deferred, 7), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuArrayGetMemoryRequirements(NULL, deferred, 0), CUDA_ERROR_INVALID_VALUE);
    unsigned char byte = 0;
    CHECK_RC(cuMemcpyAtoH(&byte, deferred, 0, 1), CUDA_ERROR_INVALID_VALUE);

    CUarray a[4];
    for (int i = 0; i < 4; i++)
        REQUIRE_OK(cuArray3DCreate(&a[i], &d));
    CHECK(f0 - free_mem() == 4 * req.size, "four arrays lower free memory by %zu (want %zu)",
          f0 - free_mem(), 4 * req.size);
    CHECK(nvml_used(nd) - u0 == 4 * req.size, "NVML used rose by %llu",
          nvml_used(nd) - u0);
    for (int i = 0; i < 4; i++)
        CHECK_OK(cuArrayDestroy(a[i]));
    CHECK_OK(cuArrayDestroy(deferred));
    CHECK(free_mem() == f0, "destroying restores free memory exactly");
    CHECK(nvml_used(nd) == u0, "destroying restores NVML used exactly");

    /* Arrays go with their context. */
    unsigned long long u_before_ctx = nvml_used(nd);
    size_t f_before_ctx = free_mem();
    CUcontext own;
    REQUIRE_OK(cuCtxCreate(&own, NULL, 0, 0));
    size_t f1 = free_mem();
    unsigned long long u1 = nvml_used(nd);
    CUarray b;
    REQUIRE_OK(cuArray3DCreate(&b, &d));
    CUmipmappedArray m;
    REQUIRE_OK(cuMipmappedArrayCreate(&m, &d, 3));
    CHECK(free_mem() < f1, "arrays of a new context are charged");
    CHECK_OK(cuCtxDestroy(own));
    CHECK_OK(cuCtxSetCurrent(ctx));
    CHECK(nvml_used(nd) == u_before_ctx && u1 > u_before_ctx,
          "destroying the context releases its arrays (NVML used %llu, was %llu)",
          nvml_used(nd), u_before_ctx);
    CHECK(free_mem() == f_before_ctx, "free memory restored after the context");
    CHECK_RC(cuArrayDestroy(b), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuMipmappedArrayDestroy(m), CUDA_ERROR_INVALID_HANDLE);
    nvmlShutdown();
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    create_describe();
    bad_descriptors();
    mipmaps();
    capacity(ctx);
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    return check_done("array-api");
}
