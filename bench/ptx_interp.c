/*
 * bench/ptx_interp: speed of the PTX executor on four kernels — saxpy, a warp-shuffle reduction,
 * a tiled SGEMM with barriers and a divergent kernel — run directly through ptx_parse,
 * ptx_program_new and ptx_exec_run with host buffers as regions (no driver). Prints
 * lane-instructions per second (active lanes only) on one host thread and on two, elements or
 * FLOPs per second end to end, and a plain C loop doing the same work in the same run, with
 * ratios. Never run by the tests; see bench/README.md.
 *
 * Usage: ptx_interp [scale [kernel]]   (scale multiplies the problem sizes, default 1; kernel
 * runs only saxpy, reduce, sgemm or diverge, e.g. under a profiler)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "ptx.h"

#ifndef PTX_KERNEL_DIR
#error "PTX_KERNEL_DIR must name tests/kernels"
#endif

#define HDR ".version 8.0\n.target sm_80\n.address_size 64\n"

/* saxpy as nvcc -O3 writes it. */
static const char saxpy_src[] = HDR
    ".visible .entry saxpy(.param .u32 n, .param .f32 a, .param .u64 x, .param .u64 y)\n{\n"
    ".reg .pred %p<2>;\n.reg .b32 %r<6>;\n.reg .f32 %f<5>;\n.reg .b64 %rd<8>;\n"
    "ld.param.u32 %r2, [n];\nld.param.f32 %f1, [a];\nld.param.u64 %rd1, [x];\n"
    "ld.param.u64 %rd2, [y];\nmov.u32 %r3, %ctaid.x;\nmov.u32 %r4, %ntid.x;\n"
    "mov.u32 %r5, %tid.x;\nmad.lo.s32 %r1, %r3, %r4, %r5;\nsetp.ge.s32 %p1, %r1, %r2;\n"
    "@%p1 bra $L_end;\ncvta.to.global.u64 %rd3, %rd1;\nmul.wide.s32 %rd4, %r1, 4;\n"
    "add.s64 %rd5, %rd3, %rd4;\nld.global.f32 %f2, [%rd5];\ncvta.to.global.u64 %rd6, %rd2;\n"
    "add.s64 %rd7, %rd6, %rd4;\nld.global.f32 %f3, [%rd7];\nfma.rn.f32 %f4, %f2, %f1, %f3;\n"
    "st.global.f32 [%rd7], %f4;\n$L_end:\nret;\n}\n";

/* A divergent kernel: each lane runs a data-dependent number of Collatz steps. */
static const char diverge_src[] = HDR
    ".visible .entry collatz(.param .u64 in, .param .u64 out, .param .u32 n)\n{\n"
    ".reg .pred %p<4>;\n.reg .b32 %r<12>;\n.reg .b64 %rd<8>;\n"
    "ld.param.u64 %rd1, [in];\nld.param.u64 %rd2, [out];\nld.param.u32 %r1, [n];\n"
    "mov.u32 %r2, %ctaid.x;\nmov.u32 %r3, %ntid.x;\nmov.u32 %r4, %tid.x;\n"
    "mad.lo.s32 %r5, %r2, %r3, %r4;\nsetp.ge.u32 %p1, %r5, %r1;\n@%p1 bra $L_end;\n"
    "mul.wide.u32 %rd3, %r5, 4;\nadd.s64 %rd4, %rd1, %rd3;\nld.global.u32 %r6, [%rd4];\n"
    "mov.u32 %r7, 0;\n"
    "$L_loop:\nsetp.le.u32 %p2, %r6, 1;\n@%p2 bra $L_done;\nand.b32 %r8, %r6, 1;\n"
    "setp.eq.u32 %p3, %r8, 0;\n@%p3 bra $L_even;\nmad.lo.s32 %r6, %r6, 3, 1;\nbra.uni $L_next;\n"
    "$L_even:\nshr.u32 %r6, %r6, 1;\n$L_next:\nadd.s32 %r7, %r7, 1;\nbra.uni $L_loop;\n"
    "$L_done:\nadd.s64 %rd5, %rd2, %rd3;\nst.global.u32 [%rd5], %r7;\n$L_end:\nret;\n}\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", PTX_KERNEL_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

struct kern {
    struct ptx_module *mod;
    struct ptx_program *prog;
    const struct ptx_function *fn;
};

static int kern_open(struct kern *k, const char *src, const char *name)
{
    struct ptx_error err;
    if (ptx_parse(src, strlen(src), &k->mod, &err) ||
        ptx_program_new(k->mod, &k->prog, &err)) {
        fprintf(stderr, "ptx_interp: %s: %u: %s\n", name, err.line, err.msg);
        return -1;
    }
    k->fn = ptx_module_function(k->mod, name);
    if (!k->fn) {
        fprintf(stderr, "ptx_interp: no kernel %s\n", name);
        return -1;
    }
    return 0;
}

static void kern_close(struct kern *k)
{
    ptx_program_free(k->prog);
    ptx_module_free(k->mod);
}

#define DEV 0x0000700000000000ull

/* Runs k with buffers bufs[i] at DEV + i * 2^32 and parameters args; returns seconds, fills
 * lane-instructions. */
static double launch(struct kern *k, uint32_t grid[3], uint32_t block[3], void **bufs,
                     size_t *sizes, unsigned nbufs, const uint64_t *args, unsigned threads,
                     uint64_t *lane_insns)
{
    struct ptx_region regs[8];
    uint8_t params[256] = {0};
    for (unsigned i = 0; i < nbufs; i++)
        regs[i] = (struct ptx_region){DEV + ((uint64_t)i << 32), sizes[i], bufs[i]};
    for (uint32_t i = 0; i < k->fn->nparams; i++)
        memcpy(params + k->fn->params[i].offset, &args[i], k->fn->params[i].size);
    struct ptx_launch L = {
        .prog = k->prog, .fn = k->fn, .grid = {grid[0], grid[1], grid[2]},
        .block = {block[0], block[1], block[2]}, .params = params, .regions = regs,
        .nregions = nbufs, .var_addr = NULL, .sm_count = 8, .host_threads = threads,
        .printf_fd = 1,
    };
    struct ptx_result res;
    double t0 = now();
    if (ptx_exec_run(&L, &res) || res.fault) {
        fprintf(stderr, "ptx_interp: %s: fault %d: %s\n", k->fn->name, res.fault, res.msg);
        exit(1);
    }
    double t = now() - t0;
    *lane_insns = res.lane_insns;
    return t;
}

static void report(const char *name, const char *unit, double work, uint64_t li, double t1,
                   double t2, double tc)
{
    printf("%-10s lane-insns %.3g | 1 thread: %7.1f M lane-insn/s, %8.2f M %s/s | "
           "2 threads: %7.1f M lane-insn/s (x%.2f) | C loop: %8.2f M %s/s | interp/C = 1/%.0f\n",
           name, (double)li, (double)li / t1 * 1e-6, work / t1 * 1e-6, unit,
           (double)li / t2 * 1e-6, t1 / t2, work / tc * 1e-6, unit, t1 / tc);
}

static volatile float sink_f;
static volatile int sink_i;

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    const char *only = argc > 2 ? argv[2] : NULL;
#define WANT(name) (!only || !strcmp(only, name))
    uint64_t li;

    /* saxpy */
    if (WANT("saxpy")) {
        uint32_t n = 1u << 22;
        n *= (uint32_t)scale;
        float *x = malloc(n * 4), *y = malloc(n * 4);
        for (uint32_t i = 0; i < n; i++) {
            x[i] = (float)(i % 100);
            y[i] = 1.0f;
        }
        struct kern k;
        if (kern_open(&k, saxpy_src, "saxpy"))
            return 1;
        float a = 2.0f;
        uint32_t ab;
        memcpy(&ab, &a, 4);
        void *bufs[] = {x, y};
        size_t sizes[] = {n * 4u, n * 4u};
        uint64_t args[] = {n, ab, DEV, DEV + (1ull << 32)};
        uint32_t grid[3] = {n / 256, 1, 1}, block[3] = {256, 1, 1};
        double t1 = launch(&k, grid, block, bufs, sizes, 2, args, 1, &li);
        double t2 = launch(&k, grid, block, bufs, sizes, 2, args, 2, &li);
        double t0 = now();
        for (uint32_t i = 0; i < n; i++)
            y[i] = fmaf(a, x[i], y[i]);
        double tc = now() - t0;
        sink_f = y[n / 2];
        report("saxpy", "elem", n, li, t1, t2, tc);
        kern_close(&k);
        free(x);
        free(y);
    }

    /* Warp-shuffle reduction (tests/kernels/ptx/reduce.cu: reduce_shfl). */
    if (WANT("reduce")) {
        char *src = read_file("ptx/reduce.sm_80.ptx");
        if (!src) {
            fprintf(stderr, "ptx_interp: cannot read reduce.sm_80.ptx\n");
            return 1;
        }
        uint32_t n = (1u << 22) * (uint32_t)scale;
        int *in = malloc(n * 4), out = 0;
        for (uint32_t i = 0; i < n; i++)
            in[i] = (int)(i % 7);
        struct kern k;
        if (kern_open(&k, src, "_Z11reduce_shflPKiPii"))
            return 1;
        void *bufs[] = {in, &out};
        size_t sizes[] = {n * 4u, 4};
        uint64_t args[] = {DEV, DEV + (1ull << 32), n};
        uint32_t grid[3] = {256, 1, 1}, block[3] = {256, 1, 1};
        double t1 = launch(&k, grid, block, bufs, sizes, 2, args, 1, &li);
        double t2 = launch(&k, grid, block, bufs, sizes, 2, args, 2, &li);
        double t0 = now();
        int s = 0;
        for (uint32_t i = 0; i < n; i++)
            s += in[i];
        double tc = now() - t0;
        sink_i = s;
        if (out != 2 * s)
            fprintf(stderr, "ptx_interp: reduction mismatch %d vs %d\n", out, 2 * s);
        report("reduce", "elem", n, li, t1, t2, tc);
        kern_close(&k);
        free(in);
        free(src);
    }

    /* Tiled SGEMM with barriers (tests/kernels/ptx/sgemm.cu). */
    if (WANT("sgemm")) {
        char *src = read_file("ptx/sgemm.sm_80.ptx");
        if (!src)
            return 1;
        uint32_t M = 256 * (uint32_t)scale, N = 256, K = 256;
        float *A = malloc(M * K * 4), *B = malloc(K * N * 4), *C = calloc(M * N, 4),
              *R = calloc(M * N, 4);
        for (uint32_t i = 0; i < M * K; i++)
            A[i] = (float)(i % 5) * 0.5f;
        for (uint32_t i = 0; i < K * N; i++)
            B[i] = (float)(i % 3);
        struct kern k;
        if (kern_open(&k, src, "_Z5sgemmPKfS0_Pfiiiff"))
            return 1;
        float alpha = 1.0f, beta = 0.0f;
        uint32_t ab, bb;
        memcpy(&ab, &alpha, 4);
        memcpy(&bb, &beta, 4);
        void *bufs[] = {A, B, C};
        size_t sizes[] = {M * K * 4u, K * N * 4u, M * N * 4u};
        uint64_t args[] = {DEV, DEV + (1ull << 32), DEV + (2ull << 32), M, N, K, ab, bb};
        uint32_t grid[3] = {N / 16, M / 16, 1}, block[3] = {16, 16, 1};
        double t1 = launch(&k, grid, block, bufs, sizes, 3, args, 1, &li);
        double t2 = launch(&k, grid, block, bufs, sizes, 3, args, 2, &li);
        double t0 = now();
        for (uint32_t i = 0; i < M; i++)
            for (uint32_t j = 0; j < N; j++) {
                float acc = 0;
                for (uint32_t q = 0; q < K; q++)
                    acc += A[i * K + q] * B[q * N + j];
                R[i * N + j] = acc;
            }
        double tc = now() - t0;
        for (uint32_t i = 0; i < M * N; i++)
            if (fabsf(R[i] - C[i]) > 1e-3f * (1 + fabsf(R[i]))) {
                fprintf(stderr, "ptx_interp: sgemm mismatch at %u\n", i);
                break;
            }
        report("sgemm", "FLOP", 2.0 * M * N * K, li, t1, t2, tc);
        kern_close(&k);
        free(A);
        free(B);
        free(C);
        free(R);
        free(src);
    }

    /* Divergent kernel. */
    if (WANT("diverge")) {
        uint32_t n = 1u << 16; /* larger starts overflow u32 on the way */
        uint32_t *in = malloc(n * 4), *out = malloc(n * 4);
        for (uint32_t i = 0; i < n; i++)
            in[i] = i + 1;
        struct kern k;
        if (kern_open(&k, diverge_src, "collatz"))
            return 1;
        void *bufs[] = {in, out};
        size_t sizes[] = {n * 4u, n * 4u};
        uint64_t args[] = {DEV, DEV + (1ull << 32), n};
        uint32_t grid[3] = {n / 256, 1, 1}, block[3] = {256, 1, 1};
        double t1 = launch(&k, grid, block, bufs, sizes, 2, args, 1, &li);
        double t2 = launch(&k, grid, block, bufs, sizes, 2, args, 2, &li);
        double t0 = now();
        uint64_t steps = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v = in[i], c = 0;
            while (v > 1) {
                v = (v & 1) ? v * 3 + 1 : v >> 1;
                c++;
            }
            if (c != out[i]) {
                fprintf(stderr, "ptx_interp: collatz mismatch at %u\n", i);
                break;
            }
            steps += c;
        }
        double tc = now() - t0;
        report("diverge", "step", (double)steps, li, t1, t2, tc);
        kern_close(&k);
        free(in);
        free(out);
    }
    return 0;
}
