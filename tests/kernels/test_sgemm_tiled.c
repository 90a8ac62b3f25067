/*
 * sgemm_tiled<16> and <8>: C = alpha*A*B + beta*C with M, N, K not multiples of the tile. The
 * reference accumulates in double; the check allows 1e-5 of the magnitude sum
 * (|alpha| * sum |a*b| + |beta*c|), which bounds float fma accumulation error for K <= 300.
 */
#include "kernel_test.h"

static void run(const char *name, int tile, int M, int N, int K)
{
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *got = malloc(sizeof(float) * M * N);
    double *want = malloc(sizeof(double) * M * N), *scale = malloc(sizeof(double) * M * N);
    REQUIRE(A && B && C && got && want && scale, "out of memory");
    float alpha = 1.25f, beta = -0.5f;
    for (int i = 0; i < M * K; i++)
        A[i] = kt_rand_f32(-1, 1);
    for (int i = 0; i < K * N; i++)
        B[i] = kt_rand_f32(-1, 1);
    for (int i = 0; i < M * N; i++)
        C[i] = kt_rand_f32(-1, 1);
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) {
            double acc = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                acc += (double)A[r * K + k] * B[k * N + c];
                mag += fabs((double)A[r * K + k] * B[k * N + c]);
            }
            want[r * N + c] = alpha * acc + (double)beta * C[r * N + c];
            scale[r * N + c] = fabs(alpha) * mag + fabs((double)beta * C[r * N + c]);
        }
    CUdeviceptr dA = kt_upload(A, sizeof(float) * M * K), dB = kt_upload(B, sizeof(float) * K * N),
                dC = kt_upload(C, sizeof(float) * M * N);
    void *args[] = {&M, &N, &K, &alpha, &dA, &dB, &beta, &dC};
    kt_launch3(kt_func(name), (N + tile - 1) / tile, (M + tile - 1) / tile, 1, tile, tile, 1, 0,
               args);
    kt_download(got, dC, sizeof(float) * M * N);
    size_t bad = 0;
    for (int i = 0; i < M * N; i++) {
        double err = fabs(got[i] - want[i]);
        if (!(err <= 1e-5 * scale[i] + 1e-30) && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s C[%d][%d] = %.9g, expected %.9g\n", name, i / N, i % N, got[i],
                    want[i]);
    }
    kt_check_summary(name, bad, (size_t)M * N);
    free(A), free(B), free(C), free(got), free(want), free(scale);
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    run("_Z11sgemm_tiledILi16EEviiifPKfS1_fPf", 16, 67, 45, 129);
    run("_Z11sgemm_tiledILi8EEviiifPKfS1_fPf", 8, 33, 70, 21);
    return kt_done("kernel-sgemm_tiled");
}
