/*
 * Sample: loads PTX that nvcc made from ordinary CUDA kernels (the .cu files of tests/kernels), launches the
 * kernels on a device and checks each result against the same computation done on the CPU.
 * Runs unchanged on a real driver or on gpool's simulated GPUs.
 *
 *   sample_kernels DIR      DIR holds the committed PTX (tests/kernels)
 */
#include <cuda.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CU(call)                                                                                   \
    do {                                                                                           \
        CUresult rc_ = (call);                                                                     \
        if (rc_ != CUDA_SUCCESS) {                                                                 \
            const char *name_ = "?";                                                               \
            cuGetErrorName(rc_, &name_);                                                           \
            fprintf(stderr, "kernels: %s failed: %s\n", #call, name_);                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static const char *ptx_dir;
static int failures;

static CUmodule load(const char *name)
{
    char path[1024];
    CUmodule mod;
    snprintf(path, sizeof(path), "%s/%s.sm_80.ptx", ptx_dir, name);
    CU(cuModuleLoad(&mod, path));
    return mod;
}

static CUdeviceptr upload(const void *host, size_t bytes)
{
    CUdeviceptr d;
    CU(cuMemAlloc(&d, bytes));
    CU(cuMemcpyHtoD(d, host, bytes));
    return d;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void report(const char *what, size_t bad, size_t n, double ms)
{
    printf("  %-34s %8.1f ms  %s", what, ms, bad ? "MISMATCH" : "matches the CPU");
    if (bad)
        printf(" (%zu of %zu differ)", bad, n);
    printf("\n");
    failures += bad != 0;
}

static int close_enough(float got, float want, float rel)
{
    return fabsf(got - want) <= rel * fmaxf(1.0f, fabsf(want));
}

static void run_saxpy(void)
{
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 1000) * 0.5f, y[i] = (float)(i % 7);
    CUdeviceptr dx = upload(x, N * sizeof(float)), dy = upload(y, N * sizeof(float));
    CUmodule mod = load("saxpy");
    CUfunction f;
    CU(cuModuleGetFunction(&f, mod, "saxpy"));
    int n = N;
    float a = 2.5f;
    void *args[] = {&n, &a, &dx, &dy};
    double t = now_ms();
    CU(cuLaunchKernel(f, N / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    CU(cuCtxSynchronize());
    t = now_ms() - t;
    float *out = malloc(N * sizeof(float));
    CU(cuMemcpyDtoH(out, dy, N * sizeof(float)));
    size_t bad = 0;
    for (int i = 0; i < N; i++)
        bad += out[i] != fmaf(a, x[i], y[i]) && out[i] != a * x[i] + y[i];
    report("saxpy, 1M elements", bad, N, t);
    CU(cuMemFree(dx));
    CU(cuMemFree(dy));
    CU(cuModuleUnload(mod));
    free(x), free(y), free(out);
}

static void run_sgemm(void)
{
    enum { M = 128, N = 96, K = 64 };
    float *A = malloc(M * K * sizeof(float)), *B = malloc(K * N * sizeof(float));
    float *C = calloc(M * N, sizeof(float)), *ref = malloc(M * N * sizeof(float));
    for (int i = 0; i < M * K; i++)
        A[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < K * N; i++)
        B[i] = (float)((i * 11) % 13) / 6.0f - 1.0f;
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)A[r * K + k] * B[k * N + c];
            ref[r * N + c] = (float)s;
        }
    CUdeviceptr dA = upload(A, M * K * sizeof(float)), dB = upload(B, K * N * sizeof(float));
    CUdeviceptr dC = upload(C, M * N * sizeof(float));
    CUmodule mod = load("sgemm_tiled");
    CUfunction f;
    CU(cuModuleGetFunction(&f, mod, "_Z11sgemm_tiledILi16EEviiifPKfS1_fPf"));
    int m = M, n = N, k = K;
    float alpha = 1.0f, beta = 0.0f;
    void *args[] = {&m, &n, &k, &alpha, &dA, &dB, &beta, &dC};
    double t = now_ms();
    CU(cuLaunchKernel(f, N / 16, M / 16, 1, 16, 16, 1, 0, NULL, args, NULL));
    CU(cuCtxSynchronize());
    t = now_ms() - t;
    CU(cuMemcpyDtoH(C, dC, M * N * sizeof(float)));
    size_t bad = 0;
    for (int i = 0; i < M * N; i++)
        bad += !close_enough(C[i], ref[i], 1e-4f);
    report("tiled SGEMM 128x96x64 (templated)", bad, M * N, t);
    CU(cuMemFree(dA));
    CU(cuMemFree(dB));
    CU(cuMemFree(dC));
    CU(cuModuleUnload(mod));
    free(A), free(B), free(C), free(ref);
}

static void run_histogram(void)
{
    enum { N = 1 << 20 };
    unsigned char *data = malloc(N);
    unsigned bins[256] = {0}, ref[256] = {0};
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        data[i] = (unsigned char)(s >> 24);
        ref[data[i]]++;
    }
    CUdeviceptr dd = upload(data, N), db = upload(bins, sizeof(bins));
    CUmodule mod = load("histogram_atomic");
    CUfunction f;
    CU(cuModuleGetFunction(&f, mod, "histogram_atomic"));
    int n = N;
    void *args[] = {&dd, &n, &db};
    double t = now_ms();
    CU(cuLaunchKernel(f, 64, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    CU(cuCtxSynchronize());
    t = now_ms() - t;
    CU(cuMemcpyDtoH(bins, db, sizeof(bins)));
    size_t bad = 0;
    for (int i = 0; i < 256; i++)
        bad += bins[i] != ref[i];
    report("atomic histogram, 1M bytes", bad, 256, t);
    CU(cuMemFree(dd));
    CU(cuMemFree(db));
    CU(cuModuleUnload(mod));
    free(data);
}

static void run_softmax(void)
{
    enum { ROWS = 64, COLS = 1000 };
    float *in = malloc(ROWS * COLS * sizeof(float)), *out = malloc(ROWS * COLS * sizeof(float));
    for (int i = 0; i < ROWS * COLS; i++)
        in[i] = (float)((i * 7919) % 2000) / 250.0f - 4.0f;
    CUdeviceptr di = upload(in, ROWS * COLS * sizeof(float)), dout;
    CU(cuMemAlloc(&dout, ROWS * COLS * sizeof(float)));
    CUmodule mod = load("softmax");
    CUfunction f;
    CU(cuModuleGetFunction(&f, mod, "softmax"));
    int cols = COLS;
    void *args[] = {&di, &dout, &cols};
    double t = now_ms();
    CU(cuLaunchKernel(f, ROWS, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
    CU(cuCtxSynchronize());
    t = now_ms() - t;
    CU(cuMemcpyDtoH(out, dout, ROWS * COLS * sizeof(float)));
    size_t bad = 0;
    for (int r = 0; r < ROWS; r++) {
        const float *x = in + r * COLS;
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < COLS; c++)
            m = fmax(m, x[c]);
        for (int c = 0; c < COLS; c++)
            sum += exp(x[c] - m);
        for (int c = 0; c < COLS; c++)
            bad += !close_enough(out[r * COLS + c], (float)(exp(x[c] - m) / sum), 1e-5f);
    }
    report("softmax, 64 rows of 1000", bad, ROWS * COLS, t);
    CU(cuMemFree(di));
    CU(cuMemFree(dout));
    CU(cuModuleUnload(mod));
    free(in), free(out);
}

int main(int argc, char **argv)
{
    CUdevice dev;
    CUcontext ctx;
    char name[128];

    if (argc != 2) {
        fprintf(stderr, "usage: %s PTX-DIR (tests/kernels)\n", argv[0]);
        return 2;
    }
    ptx_dir = argv[1];
    CU(cuInit(0));
    CU(cuDeviceGet(&dev, 0));
    CU(cuDeviceGetName(name, sizeof(name), dev));
    CU(cuDevicePrimaryCtxRetain(&ctx, dev));
    CU(cuCtxSetCurrent(ctx));
    printf("kernels from nvcc's PTX on %s:\n", name);
    run_saxpy();
    run_sgemm();
    run_histogram();
    run_softmax();
    CU(cuDevicePrimaryCtxRelease(dev));
    printf("%s\n", failures ? "some kernels did NOT match the CPU" : "all kernels matched the CPU");
    return failures ? 1 : 0;
}
