/*
 * Copies and memsets of the simulated GPU: every direction, sync and async, 1D, 2D with
 * pitches and 3D, memsets of every width, content checked byte for byte; bad operands.
 */
#include "stream_test.h"

#include <stdint.h>
#include <stdlib.h>

#define N 4096

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131u + seed * 7u + (i >> 8));
}

static void test_1d(void)
{
    unsigned char *src = malloc(N), *dst = malloc(N);
    CUdeviceptr d1, d2;
    REQUIRE_OK(cuMemAlloc(&d1, N));
    REQUIRE_OK(cuMemAlloc(&d2, N));

    /* Host -> device -> device -> host. */
    fill(src, N, 1);
    CHECK_OK(cuMemcpyHtoD(d1, src, N));
    CHECK_OK(cuMemcpyDtoD(d2, d1, N));
    memset(dst, 0, N);
    CHECK_OK(cuMemcpyDtoH(dst, d2, N));
    CHECK(memcmp(src, dst, N) == 0, "HtoD/DtoD/DtoH round trip differs");

    /* An offset inside an allocation. */
    CHECK_OK(cuMemcpyHtoD(d1 + 100, src + 7, 50));
    CHECK_OK(cuMemcpyDtoH(dst, d1 + 100, 50));
    CHECK(memcmp(src + 7, dst, 50) == 0, "offset copy differs");

    /* Unified cuMemcpy: host->device, device->device, device->host, host->host. */
    fill(src, N, 2);
    CHECK_OK(cuMemcpy(d1, (CUdeviceptr)(uintptr_t)src, N));
    CHECK_OK(cuMemcpy(d2, d1, N));
    memset(dst, 0, N);
    CHECK_OK(cuMemcpy((CUdeviceptr)(uintptr_t)dst, d2, N));
    CHECK(memcmp(src, dst, N) == 0, "cuMemcpy round trip differs");
    unsigned char h2h[32];
    CHECK_OK(cuMemcpy((CUdeviceptr)(uintptr_t)h2h, (CUdeviceptr)(uintptr_t)src, sizeof(h2h)));
    CHECK(memcmp(src, h2h, sizeof(h2h)) == 0, "host to host cuMemcpy differs");

    /* Pinned host memory and managed memory as operands. */
    unsigned char *pinned;
    CUdeviceptr managed;
    REQUIRE_OK(cuMemAllocHost((void **)&pinned, N));
    REQUIRE_OK(cuMemAllocManaged(&managed, N, CU_MEM_ATTACH_GLOBAL));
    fill(pinned, N, 3);
    CHECK_OK(cuMemcpyHtoD(d1, pinned, N));
    CHECK_OK(cuMemcpy(managed, d1, N));
    CHECK(memcmp((void *)(uintptr_t)managed, pinned, N) == 0, "device -> managed differs");
    memset(pinned, 0, N);
    CHECK_OK(cuMemcpy((CUdeviceptr)(uintptr_t)pinned, managed, N));
    CHECK(memcmp((void *)(uintptr_t)managed, pinned, N) == 0, "managed -> pinned differs");

    /* Async variants on a stream. */
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    fill(pinned, N, 4);
    CHECK_OK(cuMemcpyHtoDAsync(d1, pinned, N, s));
    CHECK_OK(cuMemcpyDtoDAsync(d2, d1, N, s));
    memset(dst, 0, N);
    CHECK_OK(cuMemcpyDtoHAsync(dst, d2, N, s));
    CHECK_OK(cuMemcpyAsync(managed, d2, N, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK(memcmp(pinned, dst, N) == 0, "async round trip differs");
    CHECK(memcmp(pinned, (void *)(uintptr_t)managed, N) == 0, "async cuMemcpyAsync differs");

    /* Peer copies within one context. */
    CUcontext ctx;
    REQUIRE_OK(cuCtxGetCurrent(&ctx));
    fill(src, N, 5);
    CHECK_OK(cuMemcpyHtoD(d1, src, N));
    CHECK_OK(cuMemcpyPeer(d2, ctx, d1, ctx, N));
    memset(dst, 0, N);
    CHECK_OK(cuMemcpyDtoH(dst, d2, N));
    CHECK(memcmp(src, dst, N) == 0, "cuMemcpyPeer differs");
    CHECK_OK(cuMemcpyPeerAsync(d2 + 1, ctx, d1, ctx, N - 1, s));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuMemcpyDtoH(dst, d2, N));
    CHECK(memcmp(src, dst + 1, N - 1) == 0, "cuMemcpyPeerAsync differs");
    CHECK_RC(cuMemcpyPeer(d2, (CUcontext)(uintptr_t)0x1234, d1, ctx, N),
             CUDA_ERROR_INVALID_CONTEXT);

    /* Zero bytes is a no-op. */
    CHECK_OK(cuMemcpyHtoD(d1, src, 0));

    CHECK_OK(cuStreamDestroy(s));
    CHECK_OK(cuMemFreeHost(pinned));
    CHECK_OK(cuMemFree(managed));
    CHECK_OK(cuMemFree(d1));
    CHECK_OK(cuMemFree(d2));
    free(src);
    free(dst);
}

static void test_2d_3d(void)
{
    const size_t W = 37, H = 11, HP = 64; /* width in bytes, rows, host pitch */
    unsigned char host[HP * H], back[HP * H];
    CUdeviceptr dp, dp2;
    size_t pitch;
    REQUIRE_OK(cuMemAllocPitch(&dp, &pitch, W, H, 4));
    REQUIRE(pitch >= W, "pitch %zu < width", pitch);
    REQUIRE_OK(cuMemAlloc(&dp2, 128 * H));
    fill(host, sizeof(host), 6);

    /* Host (pitch 64) -> pitched device memory. */
    CUDA_MEMCPY2D c = { 0 };
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = host;
    c.srcPitch = HP;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = dp;
    c.dstPitch = pitch;
    c.WidthInBytes = W;
    c.Height = H;
    CHECK_OK(cuMemcpy2D(&c));

    /* Pitched device -> device with pitch 128 at (x=5, y=1), then back to the host. */
    CUDA_MEMCPY2D d = { 0 };
    d.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    d.srcDevice = dp;
    d.srcPitch = pitch;
    d.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
    d.dstDevice = dp2;
    d.dstXInBytes = 5;
    d.dstY = 1;
    d.dstPitch = 128;
    d.WidthInBytes = W;
    d.Height = H - 1;
    CHECK_OK(cuMemcpy2DUnaligned(&d));

    unsigned char dev2[128 * H];
    CHECK_OK(cuMemcpyDtoH(dev2, dp2, sizeof(dev2)));
    int ok = 1;
    for (size_t y = 0; y < H - 1; y++)
        ok &= memcmp(dev2 + (y + 1) * 128 + 5, host + y * HP, W) == 0;
    CHECK(ok, "2D device to device copy differs");

    /* Device -> host through cuMemcpy2DAsync, into a host pitch of 64. */
    memset(back, 0xEE, sizeof(back));
    CUDA_MEMCPY2D e = { 0 };
    e.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    e.srcDevice = dp;
    e.srcPitch = pitch;
    e.dstMemoryType = CU_MEMORYTYPE_HOST;
    e.dstHost = back;
    e.dstPitch = HP;
    e.WidthInBytes = W;
    e.Height = H;
    CHECK_OK(cuMemcpy2DAsync(&e, NULL));
    CHECK_OK(cuStreamSynchronize(NULL));
    ok = 1;
    for (size_t y = 0; y < H; y++) {
        ok &= memcmp(back + y * HP, host + y * HP, W) == 0;
        ok &= back[y * HP + W] == 0xEE; /* the gap between rows is untouched */
    }
    CHECK(ok, "2D device to host copy differs or wrote past its width");

    /* Errors: pitch below width, a device range running past the allocation, a NULL array. */
    CUDA_MEMCPY2D bad = c;
    bad.srcPitch = W - 1;
    CHECK_RC(cuMemcpy2D(&bad), CUDA_ERROR_INVALID_VALUE);
    bad = c;
    bad.dstY = 100000; /* the rows lie past the allocation */
    bad.dstPitch = pitch;
    CHECK_RC(cuMemcpy2D(&bad), CUDA_ERROR_INVALID_VALUE);
    bad = c;
    bad.dstMemoryType = CU_MEMORYTYPE_ARRAY; /* with a NULL dstArray */
    CHECK_RC(cuMemcpy2D(&bad), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuMemcpy2D(NULL), CUDA_ERROR_INVALID_VALUE);

    /* 3D: a 2x3x4 box (depth 2, rows of 4 bytes) from host into device memory and back. */
    unsigned char box[2 * 3 * 8], box_back[2 * 3 * 8];
    fill(box, sizeof(box), 7);
    CUDA_MEMCPY3D m = { 0 };
    m.srcMemoryType = CU_MEMORYTYPE_HOST;
    m.srcHost = box;
    m.srcPitch = 8;
    m.srcHeight = 3;
    m.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    m.dstDevice = dp2;
    m.dstPitch = 16;
    m.dstHeight = 4;
    m.WidthInBytes = 4;
    m.Height = 3;
    m.Depth = 2;
    CHECK_OK(cuMemcpy3D(&m));
    unsigned char dev3[16 * 4 * 2];
    CHECK_OK(cuMemcpyDtoH(dev3, dp2, sizeof(dev3)));
    ok = 1;
    for (size_t z = 0; z < 2; z++)
        for (size_t y = 0; y < 3; y++)
            ok &= memcmp(dev3 + z * 64 + y * 16, box + z * 24 + y * 8, 4) == 0;
    CHECK(ok, "3D host to device copy differs");
    CUDA_MEMCPY3D r = { 0 };
    r.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    r.srcDevice = dp2;
    r.srcPitch = 16;
    r.srcHeight = 4;
    r.dstMemoryType = CU_MEMORYTYPE_HOST;
    r.dstHost = box_back;
    r.dstPitch = 8;
    r.dstHeight = 3;
    r.WidthInBytes = 4;
    r.Height = 3;
    r.Depth = 2;
    memset(box_back, 0, sizeof(box_back));
    CHECK_OK(cuMemcpy3DAsync(&r, NULL));
    CHECK_OK(cuCtxSynchronize());
    ok = 1;
    for (size_t z = 0; z < 2; z++)
        for (size_t y = 0; y < 3; y++)
            ok &= memcmp(box_back + z * 24 + y * 8, box + z * 24 + y * 8, 4) == 0;
    CHECK(ok, "3D device to host copy differs");

    CHECK_OK(cuMemFree(dp));
    CHECK_OK(cuMemFree(dp2));
}

static void test_memset(void)
{
    CUdeviceptr d;
    const size_t bytes = 1024;
    unsigned char h[1024];
    REQUIRE_OK(cuMemAlloc(&d, bytes));

    CHECK_OK(cuMemsetD8(d, 0x5A, bytes));
    CHECK_OK(cuMemsetD8(d + 10, 0xC3, 5));
    CHECK_OK(cuMemcpyDtoH(h, d, bytes));
    int ok = 1;
    for (size_t i = 0; i < bytes; i++)
        ok &= h[i] == ((i >= 10 && i < 15) ? 0xC3 : 0x5A);
    CHECK(ok, "cuMemsetD8 values wrong");

    CHECK_OK(cuMemsetD16(d, 0xBEEF, bytes / 2));
    CHECK_OK(cuMemcpyDtoH(h, d, bytes));
    ok = 1;
    for (size_t i = 0; i < bytes / 2; i++) {
        uint16_t v;
        memcpy(&v, h + 2 * i, 2);
        ok &= v == 0xBEEF;
    }
    CHECK(ok, "cuMemsetD16 values wrong");

    CHECK_OK(cuMemsetD32(d, 0xDEADBEEFu, bytes / 4));
    CHECK_OK(cuMemcpyDtoH(h, d, bytes));
    ok = 1;
    for (size_t i = 0; i < bytes / 4; i++) {
        uint32_t v;
        memcpy(&v, h + 4 * i, 4);
        ok &= v == 0xDEADBEEFu;
    }
    CHECK(ok, "cuMemsetD32 values wrong");

    /* 2D memsets: 4 rows of 3 elements, pitch 64, on a zeroed buffer. */
    const unsigned widths[3] = { 1, 2, 4 };
    for (int k = 0; k < 3; k++) {
        unsigned es = widths[k];
        CHECK_OK(cuMemsetD8(d, 0, bytes));
        if (es == 1)
            CHECK_OK(cuMemsetD2D8(d + 64, 64, 0x11, 3, 4));
        else if (es == 2)
            CHECK_OK(cuMemsetD2D16(d + 64, 64, 0x2222, 3, 4));
        else
            CHECK_OK(cuMemsetD2D32(d + 64, 64, 0x44444444u, 3, 4));
        CHECK_OK(cuMemcpyDtoH(h, d, bytes));
        ok = 1;
        for (size_t i = 0; i < bytes; i++) {
            size_t row = i / 64, col = i % 64;
            int in = row >= 1 && row <= 4 && col < 3 * es;
            unsigned char want = in ? (es == 1 ? 0x11 : es == 2 ? 0x22 : 0x44) : 0;
            ok &= h[i] == want;
        }
        CHECK(ok, "cuMemsetD2D%u values wrong", es * 8);
    }

    /* Async memsets on a stream. */
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, 0));
    CHECK_OK(cuMemsetD32Async(d, 0x01020304u, bytes / 4, s));
    CHECK_OK(cuMemsetD16Async(d, 0x0A0B, 2, s));
    CHECK_OK(cuMemsetD8Async(d, 0xFF, 1, s));
    CHECK_OK(cuMemsetD2D8Async(d + 512, 16, 0x77, 2, 2, s));
    CHECK_OK(cuMemsetD2D16Async(d + 600, 16, 0x7788, 2, 2, s));
    CHECK_OK(cuMemsetD2D32Async(d + 700, 16, 0x99AABBCCu, 2, 2, s));
    CHECK_OK(cuMemcpyDtoHAsync(h, d, bytes, s));
    CHECK_OK(cuStreamSynchronize(s));
    uint32_t w;
    uint16_t hw;
    memcpy(&w, h + 8, 4);
    CHECK(w == 0x01020304u, "cuMemsetD32Async wrong: %08x", w);
    memcpy(&hw, h + 2, 2);
    CHECK(hw == 0x0A0B, "cuMemsetD16Async wrong: %04x", hw);
    CHECK(h[0] == 0xFF && h[1] == 0x0A, "cuMemsetD8Async wrong");
    CHECK(h[512] == 0x77 && h[513] == 0x77 && h[528] == 0x77 && h[514] == 0x02,
          "cuMemsetD2D8Async wrong");
    memcpy(&hw, h + 616 + 2, 2);
    CHECK(hw == 0x7788, "cuMemsetD2D16Async wrong");
    memcpy(&w, h + 716 + 4, 4);
    CHECK(w == 0x99AABBCCu, "cuMemsetD2D32Async wrong");
    CHECK_OK(cuStreamDestroy(s));

    /* Alignment: 16-bit needs 2-byte, 32-bit 4-byte pointers and pitches. */
    CHECK_RC(cuMemsetD16(d + 1, 0, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemsetD32(d + 2, 0, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemsetD2D32(d, 62, 0, 2, 2), CUDA_ERROR_INVALID_VALUE);
    /* Past the end of the allocation. */
    CHECK_RC(cuMemsetD8(d, 0, bytes + 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemsetD32(d + bytes - 4, 0, 2), CUDA_ERROR_INVALID_VALUE);

    CHECK_OK(cuMemFree(d));
}

static void test_bad_pointers(void)
{
    unsigned char h[64];
    CUdeviceptr d, freed;
    REQUIRE_OK(cuMemAlloc(&d, 64));
    REQUIRE_OK(cuMemAlloc(&freed, 64));
    CHECK_OK(cuMemFree(freed));

    CHECK_RC(cuMemcpyHtoD(d, h, 65), CUDA_ERROR_INVALID_VALUE);      /* out of range */
    CHECK_RC(cuMemcpyHtoD(d + 60, h, 8), CUDA_ERROR_INVALID_VALUE);  /* runs past the end */
    CHECK_RC(cuMemcpyHtoD(freed, h, 8), CUDA_ERROR_INVALID_VALUE);   /* freed */
    CHECK_RC(cuMemcpyDtoH(h, freed, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyDtoD(d, freed, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyHtoD((CUdeviceptr)(uintptr_t)h, h, 8), CUDA_ERROR_INVALID_VALUE); /* host */
    CHECK_RC(cuMemcpyHtoD(d, NULL, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyDtoH(NULL, d, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpy(d, freed, 8), CUDA_ERROR_INVALID_VALUE);      /* freed device address */
    CHECK_RC(cuMemcpy(d, d + 32, 64), CUDA_ERROR_INVALID_VALUE);    /* source runs past */
    CHECK_RC(cuMemsetD8(freed, 0, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemsetD8((CUdeviceptr)(uintptr_t)h, 0, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyHtoDAsync(freed, h, 8, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyHtoDAsync(d, h, 8, (CUstream)(uintptr_t)0xdead0), CUDA_ERROR_INVALID_HANDLE);

    /* Nothing above may have become a sticky error. */
    CHECK_OK(cuCtxSynchronize());
    CHECK_OK(cuMemFree(d));
}

int main(void)
{
    stream_test_setup();
    test_1d();
    test_2d_3d();
    test_memset();
    test_bad_pointers();
    stream_test_teardown();
    return check_done("stream-copy");
}
