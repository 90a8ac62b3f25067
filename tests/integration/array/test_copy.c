/*
 * Copies with CUDA arrays: host -> array -> device -> host round trips of whole arrays and of
 * 2D and 3D sub-regions, checked byte for byte against a host model of the array; the 1D forms
 * (HtoA, AtoH, DtoA, AtoD, AtoA, and the async ones) on a 1D array; array-to-array 3D copies;
 * out-of-extent and misaligned regions, destroyed handles, and a queued copy that outlives its
 * array.
 */
#include "check.h"

#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + seed * 17 + (i >> 8));
}

/* A 2D float2 array (8-byte elements). */
#define W2 37
#define H2 23
#define E2 8

static void copies_2d(CUstream st)
{
    CUDA_ARRAY_DESCRIPTOR ad = { .Width = W2, .Height = H2, .Format = CU_AD_FORMAT_FLOAT,
                                 .NumChannels = 2 };
    CUarray a;
    REQUIRE_OK(cuArrayCreate(&a, &ad));
    static unsigned char model[H2][W2 * E2];
    fill(&model[0][0], sizeof(model), 1);

    /* Whole array from host memory with a padded host pitch. */
    size_t hp = W2 * E2 + 24;
    unsigned char *host = calloc(H2, hp);
    for (int y = 0; y < H2; y++)
        memcpy(host + y * hp, model[y], W2 * E2);
    CUDA_MEMCPY2D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = host, .srcPitch = hp,
                        .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a,
                        .WidthInBytes = W2 * E2, .Height = H2 };
    CHECK_OK(cuMemcpy2D(&c));

    /* A sub-region from host: 10 x 7 elements at element (5, 3). */
    unsigned char sub[7][10 * E2];
    fill(&sub[0][0], sizeof(sub), 2);
    c = (CUDA_MEMCPY2D){ .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = sub,
                         .srcPitch = sizeof(sub[0]), .dstMemoryType = CU_MEMORYTYPE_ARRAY,
                         .dstArray = a, .dstXInBytes = 5 * E2, .dstY = 3,
                         .WidthInBytes = 10 * E2, .Height = 7 };
    CHECK_OK(cuMemcpy2DAsync(&c, st));
    for (int y = 0; y < 7; y++)
        memcpy(&model[3 + y][5 * E2], sub[y], sizeof(sub[0]));

    /* The whole array to pitched device memory, then to the host. */
    CUdeviceptr dev;
    size_t dp;
    REQUIRE_OK(cuMemAllocPitch(&dev, &dp, W2 * E2, H2, 16));
    c = (CUDA_MEMCPY2D){ .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a,
                         .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = dev, .dstPitch = dp,
                         .WidthInBytes = W2 * E2, .Height = H2 };
    CHECK_OK(cuMemcpy2DAsync(&c, st));
    unsigned char *back = calloc(H2, W2 * E2);
    c = (CUDA_MEMCPY2D){ .srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = dev, .srcPitch = dp,
                         .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back,
                         .dstPitch = W2 * E2, .WidthInBytes = W2 * E2, .Height = H2 };
    CHECK_OK(cuMemcpy2DAsync(&c, st));
    CHECK_OK(cuStreamSynchronize(st));
    CHECK(memcmp(back, model, sizeof(model)) == 0, "2D round trip differs from the model");

    /* A sub-region of the array straight to the host: 4 x 9 elements at (30, 12). */
    unsigned char out[9][4 * E2];
    c = (CUDA_MEMCPY2D){ .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a,
                         .srcXInBytes = 30 * E2, .srcY = 12, .dstMemoryType = CU_MEMORYTYPE_HOST,
                         .dstHost = out, .dstPitch = sizeof(out[0]), .WidthInBytes = 4 * E2,
                         .Height = 9 };
    CHECK_OK(cuMemcpy2DUnaligned(&c));
    int same = 1;
    for (int y = 0; y < 9; y++)
        same &= memcmp(out[y], &model[12 + y][30 * E2], sizeof(out[0])) == 0;
    CHECK(same, "2D sub-region read differs from the model");

    /* Out of extent, misaligned, bad handles: nothing is copied. */
    c.srcXInBytes = 34 * E2; /* 34 + 4 > 37 */
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
    c.srcXInBytes = 30 * E2;
    c.srcY = 15; /* 15 + 9 > 23 */
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
    c.srcY = 12;
    c.srcXInBytes = 30 * E2 + 3;
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
    c.srcXInBytes = 30 * E2;
    c.WidthInBytes = 4 * E2 - 1;
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
    c.WidthInBytes = 4 * E2;
    int junk;
    c.srcArray = (CUarray)&junk;
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_HANDLE);

    CHECK_OK(cuMemFree(dev));
    CHECK_OK(cuArrayDestroy(a));
    c.srcArray = a;
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_HANDLE);
    free(host);
    free(back);
}

/* 3D arrays of uchar4 (4-byte elements). */
#define W3 13
#define H3 11
#define D3 7
#define E3 4

static void copies_3d(CUstream st)
{
    CUDA_ARRAY3D_DESCRIPTOR ad = { .Width = W3, .Height = H3, .Depth = D3,
                                   .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 4 };
    CUarray a, b;
    REQUIRE_OK(cuArray3DCreate(&a, &ad));
    REQUIRE_OK(cuArray3DCreate(&b, &ad));
    static unsigned char model[D3][H3][W3 * E3], model_b[D3][H3][W3 * E3];
    fill(&model[0][0][0], sizeof(model), 3);
    fill(&model_b[0][0][0], sizeof(model_b), 4);

    CUDA_MEMCPY3D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = model,
                        .srcPitch = W3 * E3, .srcHeight = H3,
                        .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a,
                        .WidthInBytes = W3 * E3, .Height = H3, .Depth = D3 };
    CHECK_OK(cuMemcpy3D(&c));
    c.srcHost = model_b;
    c.dstArray = b;
    CHECK_OK(cuMemcpy3DAsync(&c, st));

    /* Array to array: a 5 x 4 x 3 box at (2, 6, 1) of a to (7, 0, 4) of b. */
    c = (CUDA_MEMCPY3D){ .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a,
                         .srcXInBytes = 2 * E3, .srcY = 6, .srcZ = 1,
                         .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = b,
                         .dstXInBytes = 7 * E3, .dstY = 0, .dstZ = 4,
                         .WidthInBytes = 5 * E3, .Height = 4, .Depth = 3 };
    CHECK_OK(cuMemcpy3DAsync(&c, st));
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            memcpy(&model_b[4 + z][y][7 * E3], &model[1 + z][6 + y][2 * E3], 5 * E3);

    /* A 6 x 5 x 4 box at (3, 2, 2) of b to linear device memory, then to the host. */
    const size_t bw = 6 * E3, bh = 5, bd = 4, dpitch = 64, dheight = 8;
    CUdeviceptr dev;
    REQUIRE_OK(cuMemAlloc(&dev, dpitch * dheight * bd));
    c = (CUDA_MEMCPY3D){ .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = b,
                         .srcXInBytes = 3 * E3, .srcY = 2, .srcZ = 2,
                         .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = dev,
                         .dstPitch = dpitch, .dstHeight = dheight,
                         .WidthInBytes = bw, .Height = bh, .Depth = bd };
    CHECK_OK(cuMemcpy3DAsync(&c, st));
    unsigned char *lin = calloc(bd, dpitch * dheight);
    CHECK_OK(cuMemcpyDtoHAsync(lin, dev, dpitch * dheight * bd, st));
    CHECK_OK(cuStreamSynchronize(st));
    int same = 1;
    for (size_t z = 0; z < bd; z++)
        for (size_t y = 0; y < bh; y++)
            same &= memcmp(lin + z * dpitch * dheight + y * dpitch, &model_b[2 + z][2 + y][3 * E3],
                           bw) == 0;
    CHECK(same, "3D box through device memory differs from the model");

    /* The whole of b back to the host. */
    static unsigned char back[D3][H3][W3 * E3];
    c = (CUDA_MEMCPY3D){ .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = b,
                         .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back,
                         .dstPitch = W3 * E3, .dstHeight = H3,
                         .WidthInBytes = W3 * E3, .Height = H3, .Depth = D3 };
    CHECK_OK(cuMemcpy3D(&c));
    CHECK(memcmp(back, model_b, sizeof(back)) == 0, "3D round trip differs from the model");

    /* Out of extent in depth; a mipmap level must be 0 for arrays. */
    c.Depth = D3 + 1;
    CHECK_RC(cuMemcpy3D(&c), CUDA_ERROR_INVALID_VALUE);
    c.Depth = 2;
    c.srcZ = D3 - 1;
    CHECK_RC(cuMemcpy3D(&c), CUDA_ERROR_INVALID_VALUE);
    c.srcZ = 0;
    c.srcLOD = 1;
    CHECK_RC(cuMemcpy3D(&c), CUDA_ERROR_INVALID_VALUE);

    /* Peer form within one context. */
    CUcontext ctx;
    CHECK_OK(cuCtxGetCurrent(&ctx));
    CUDA_MEMCPY3D_PEER p = { .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a,
                             .srcContext = ctx, .dstMemoryType = CU_MEMORYTYPE_HOST,
                             .dstHost = back, .dstPitch = W3 * E3, .dstHeight = H3,
                             .dstContext = ctx, .WidthInBytes = W3 * E3, .Height = H3,
                             .Depth = D3 };
    CHECK_OK(cuMemcpy3DPeer(&p));
    CHECK(memcmp(back, model, sizeof(back)) == 0, "3D peer copy differs from the model");

    CHECK_OK(cuMemFree(dev));
    CHECK_OK(cuArrayDestroy(a));
    CHECK_OK(cuArrayDestroy(b));
    free(lin);
}

/* The 1D forms on a 1D array of 1000 ushort2 (4000 bytes). */
static void copies_1d(CUstream st)
{
    CUDA_ARRAY_DESCRIPTOR ad = { .Width = 1000, .Height = 0,
                                 .Format = CU_AD_FORMAT_UNSIGNED_INT16, .NumChannels = 2 };
    CUarray a, b;
    REQUIRE_OK(cuArrayCreate(&a, &ad));
    REQUIRE_OK(cuArrayCreate(&b, &ad));
    static unsigned char model[4000], src[4000], back[4000];
    fill(model, sizeof(model), 5);
    CHECK_OK(cuMemcpyHtoA(a, 0, model, sizeof(model)));
    fill(src, 100, 6);
    CHECK_OK(cuMemcpyHtoAAsync(a, 1234, src, 100, st));
    memcpy(model + 1234, src, 100);
    CHECK_OK(cuMemcpyAtoHAsync(back, a, 0, sizeof(back), st));
    CHECK_OK(cuStreamSynchronize(st));
    CHECK(memcmp(back, model, sizeof(model)) == 0, "HtoA/AtoH differ from the model");

    /* Array -> device -> array -> array -> host. */
    CUdeviceptr dev;
    REQUIRE_OK(cuMemAlloc(&dev, 4000));
    CHECK_OK(cuMemcpyAtoD(dev, a, 0, 4000));
    CHECK_OK(cuMemcpyDtoA(b, 0, dev + 500, 3500));
    CHECK_OK(cuMemcpyAtoA(b, 3500, a, 0, 500));
    CHECK_OK(cuMemcpyAtoH(back, b, 0, 4000));
    CHECK(memcmp(back, model + 500, 3500) == 0 && memcmp(back + 3500, model, 500) == 0,
          "AtoD/DtoA/AtoA differ from the model");

    /* Past the end, garbage and destroyed handles. */
    CHECK_RC(cuMemcpyAtoH(back, a, 3999, 2), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyHtoA(a, 4000, src, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyAtoA(b, 0, a, 1, 4000), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuMemcpyAtoD(dev, a, 0, 4001), CUDA_ERROR_INVALID_VALUE);
    int junk;
    CHECK_RC(cuMemcpyAtoH(back, (CUarray)&junk, 0, 1), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cuMemcpyHtoA(NULL, 0, src, 1), CUDA_ERROR_INVALID_HANDLE);

    /* A queued copy keeps its array's bytes alive: destroy while the stream still holds it. */
    static unsigned char big[4000];
    CUevent gate;
    CHECK_OK(cuEventCreate(&gate, 0));
    CHECK_OK(cuMemcpyHtoAAsync(b, 0, model, 4000, st));
    CHECK_OK(cuMemcpyAtoHAsync(big, b, 0, 4000, st));
    CHECK_OK(cuArrayDestroy(b));
    CHECK_OK(cuStreamSynchronize(st));
    CHECK(memcmp(big, model, 4000) == 0, "a copy queued before destroy still ran");
    CHECK_RC(cuMemcpyAtoH(back, b, 0, 1), CUDA_ERROR_INVALID_HANDLE);
    CHECK_OK(cuEventDestroy(gate));

    CHECK_OK(cuMemFree(dev));
    CHECK_OK(cuArrayDestroy(a));
}

/* Copies to a mipmap level address that level only. */
static void copies_mipmap(void)
{
    CUDA_ARRAY3D_DESCRIPTOR d = { .Width = 16, .Height = 8, .Format = CU_AD_FORMAT_FLOAT,
                                  .NumChannels = 1 };
    CUmipmappedArray m;
    REQUIRE_OK(cuMipmappedArrayCreate(&m, &d, 3));
    CUarray l0, l1;
    CHECK_OK(cuMipmappedArrayGetLevel(&l0, m, 0));
    CHECK_OK(cuMipmappedArrayGetLevel(&l1, m, 1));
    float a0[8][16], a1[4][8], r0[8][16], r1[4][8];
    for (int i = 0; i < 128; i++)
        (&a0[0][0])[i] = (float)i;
    for (int i = 0; i < 32; i++)
        (&a1[0][0])[i] = -(float)i;
    CUDA_MEMCPY2D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = a0, .srcPitch = 64,
                        .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = l0,
                        .WidthInBytes = 64, .Height = 8 };
    CHECK_OK(cuMemcpy2D(&c));
    c = (CUDA_MEMCPY2D){ .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = a1, .srcPitch = 32,
                         .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = l1,
                         .WidthInBytes = 32, .Height = 4 };
    CHECK_OK(cuMemcpy2D(&c));
    c.Height = 5;
    CHECK_RC(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
    c = (CUDA_MEMCPY2D){ .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = l0,
                         .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = r0, .dstPitch = 64,
                         .WidthInBytes = 64, .Height = 8 };
    CHECK_OK(cuMemcpy2D(&c));
    c.srcArray = l1;
    c.dstHost = r1;
    c.dstPitch = 32;
    c.WidthInBytes = 32;
    c.Height = 4;
    CHECK_OK(cuMemcpy2D(&c));
    CHECK(memcmp(r0, a0, sizeof(a0)) == 0 && memcmp(r1, a1, sizeof(a1)) == 0,
          "mipmap levels hold their own bytes");
    CHECK_OK(cuMipmappedArrayDestroy(m));
}

/* Array copies cannot be captured (yet): CUDA_ERROR_NOT_SUPPORTED, the capture goes on. */
static void capture(CUstream st)
{
    CUDA_ARRAY_DESCRIPTOR ad = { .Width = 64, .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                 .NumChannels = 1 };
    CUarray a;
    REQUIRE_OK(cuArrayCreate(&a, &ad));
    unsigned char buf[64] = { 0 };
    CHECK_OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    CHECK_RC(cuMemcpyHtoAAsync(a, 0, buf, 64, st), CUDA_ERROR_NOT_SUPPORTED);
    CUgraph g = NULL;
    CHECK_OK(cuStreamEndCapture(st, &g));
    if (g)
        CHECK_OK(cuGraphDestroy(g));
    CHECK_OK(cuArrayDestroy(a));
}

int main(void)
{
    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    CUstream st;
    REQUIRE_OK(cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
    copies_2d(st);
    copies_3d(st);
    copies_1d(st);
    copies_mipmap();
    capture(st);
    CHECK_OK(cuStreamDestroy(st));
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    return check_done("array-copy");
}
