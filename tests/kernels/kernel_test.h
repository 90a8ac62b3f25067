/*
 * Harness for the kernel tests: plain CUDA driver-API programs that load one committed PTX file
 * (argv[1]) with cuModuleLoadDataEx, launch its kernels on the simulated GPU and compare every
 * element with an independent plain-C reference computed here on the host. Never compare with
 * the simulator's own output from another run.
 *
 * Comparisons print each differing element (the first KT_MAX_REPORT of them, with index, got and
 * expected) and count as one CHECK per array. Approximate GPU math is not correctly rounded, so
 * float checks take a bound in ULPs (the CUDA Programming Guide's "Mathematical Functions" table
 * gives them) or a relative error; exact operations (add, mul, fma, div.rn, sqrt.rn, conversions)
 * are checked with a bound of 0.
 */
#ifndef GPOOL_KERNEL_TEST_H
#define GPOOL_KERNEL_TEST_H

#include "check.h"

#include <cuda.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KT_MAX_REPORT 12

static CUcontext kt_context;
static CUmodule kt_module;

/* Reads a whole file into a NUL-terminated buffer (caller frees); exits the test on failure. */
static inline char *kt_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL, "cannot open '%s'", path);
    REQUIRE(fseek(f, 0, SEEK_END) == 0, "cannot seek '%s'", path);
    long len = ftell(f);
    REQUIRE(len >= 0, "cannot size '%s'", path);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    REQUIRE(buf != NULL, "out of memory for '%s'", path);
    REQUIRE(fread(buf, 1, (size_t)len, f) == (size_t)len, "short read of '%s'", path);
    buf[len] = '\0';
    fclose(f);
    if (len_out)
        *len_out = (size_t)len;
    return buf;
}

/*
 * Initialises the driver, makes a context on device 0 current and loads the PTX file named by
 * argv[1]. Prints the JIT error log when the load fails (an unsupported instruction is reported
 * there with its line).
 */
static inline void kt_init(int argc, char **argv)
{
    REQUIRE(argc >= 2, "usage: %s KERNEL.ptx", argv[0]);
    REQUIRE_OK(cuInit(0));
    CUdevice dev;
    REQUIRE_OK(cuDeviceGet(&dev, 0));
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&kt_context, dev));
    REQUIRE_OK(cuCtxSetCurrent(kt_context));

    char *ptx = kt_read_file(argv[1], NULL);
    static char err_log[8192], info_log[8192];
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                           CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {err_log, (void *)(uintptr_t)sizeof err_log, info_log,
                    (void *)(uintptr_t)sizeof info_log};
    CUresult rc = cuModuleLoadDataEx(&kt_module, ptx, 4, opts, vals);
    if (rc != CUDA_SUCCESS && err_log[0])
        fprintf(stderr, "JIT error log for '%s':\n%s\n", argv[1], err_log);
    REQUIRE(rc == CUDA_SUCCESS, "cuModuleLoadDataEx('%s') returned %d", argv[1], (int)rc);
    free(ptx);
}

/* Looks up a kernel of the loaded module by its (possibly C++-mangled) name. */
static inline CUfunction kt_func(const char *name)
{
    CUfunction f = NULL;
    CUresult rc = cuModuleGetFunction(&f, kt_module, name);
    REQUIRE(rc == CUDA_SUCCESS, "cuModuleGetFunction('%s') returned %d", name, (int)rc);
    return f;
}

/* Device memory of n bytes, zero-filled. Freed when the context goes (the program's end). */
static inline CUdeviceptr kt_alloc(size_t n)
{
    CUdeviceptr p = 0;
    REQUIRE_OK(cuMemAlloc(&p, n ? n : 1));
    REQUIRE_OK(cuMemsetD8(p, 0, n ? n : 1));
    return p;
}

/* Device memory holding a copy of n bytes of host memory. */
static inline CUdeviceptr kt_upload(const void *host, size_t n)
{
    CUdeviceptr p = kt_alloc(n);
    if (n)
        REQUIRE_OK(cuMemcpyHtoD(p, host, n));
    return p;
}

static inline void kt_download(void *host, CUdeviceptr dev, size_t n)
{
    REQUIRE_OK(cuMemcpyDtoH(host, dev, n));
}

/* Launches f on the default stream and waits for it; exits the test if either fails. */
static inline void kt_launch3(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                              unsigned by, unsigned bz, unsigned shmem, void **args)
{
    CUresult rc = cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, NULL, args, NULL);
    REQUIRE(rc == CUDA_SUCCESS, "cuLaunchKernel(grid %ux%ux%u, block %ux%ux%u, shmem %u) returned %d",
            gx, gy, gz, bx, by, bz, shmem, (int)rc);
    rc = cuCtxSynchronize();
    REQUIRE(rc == CUDA_SUCCESS, "cuCtxSynchronize after the launch returned %d", (int)rc);
}

static inline void kt_launch(CUfunction f, unsigned grid, unsigned block, unsigned shmem,
                             void **args)
{
    kt_launch3(f, grid, 1, 1, block, 1, 1, shmem, args);
}

/* Deterministic pseudo-random numbers (xorshift64*), so failures reproduce. */
static uint64_t kt_rng_state = 0x9E3779B97F4A7C15ull;

static inline uint32_t kt_rand_u32(void)
{
    kt_rng_state ^= kt_rng_state >> 12;
    kt_rng_state ^= kt_rng_state << 25;
    kt_rng_state ^= kt_rng_state >> 27;
    return (uint32_t)((kt_rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Uniform in [lo, hi). */
static inline float kt_rand_f32(float lo, float hi)
{
    return lo + (hi - lo) * (float)(kt_rand_u32() >> 8) * (1.0f / 16777216.0f);
}

static inline double kt_rand_f64(double lo, double hi)
{
    uint64_t r = ((uint64_t)kt_rand_u32() << 21) ^ kt_rand_u32();
    return lo + (hi - lo) * (double)(r & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

static inline uint32_t kt_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float kt_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint64_t kt_f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* Distance in units in the last place between two floats (0 when bit-identical or both NaN;
 * +0 and -0 are 0 apart). Maps the sign-magnitude encoding onto a monotonic integer line. */
static inline uint64_t kt_ulp_diff_f32(float a, float b)
{
    if (isnan(a) || isnan(b))
        return (isnan(a) && isnan(b)) ? 0 : UINT64_MAX;
    int64_t ia = (int32_t)kt_f32_bits(a), ib = (int32_t)kt_f32_bits(b);
    if (ia < 0)
        ia = (int64_t)INT32_MIN - ia;
    if (ib < 0)
        ib = (int64_t)INT32_MIN - ib;
    return ia > ib ? (uint64_t)(ia - ib) : (uint64_t)(ib - ia);
}

static inline uint64_t kt_ulp_diff_f64(double a, double b)
{
    if (isnan(a) || isnan(b))
        return (isnan(a) && isnan(b)) ? 0 : UINT64_MAX;
    int64_t ia = (int64_t)kt_f64_bits(a), ib = (int64_t)kt_f64_bits(b);
    /* Two's complement of the magnitude for negatives; cannot overflow for finite values. */
    if (ia < 0)
        ia = INT64_MIN - ia;
    if (ib < 0)
        ib = INT64_MIN - ib;
    if ((ia < 0) != (ib < 0))
        return (uint64_t)(ia > ib ? ia : ib) + (uint64_t)-(ia < ib ? ia : ib);
    return ia > ib ? (uint64_t)(ia - ib) : (uint64_t)(ib - ia);
}

/* Counts one CHECK for an array comparison and prints the summary of its differences. */
static inline void kt_check_summary(const char *what, size_t bad, size_t n)
{
    CHECK(bad == 0, "%s: %zu of %zu elements differ", what, bad, n);
}

/* Every element of got within max_ulp of want. */
static inline void kt_check_f32_ulp(const char *what, const float *got, const float *want,
                                    size_t n, uint64_t max_ulp)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = kt_ulp_diff_f32(got[i], want[i]);
        if (d > max_ulp && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = %.9g (0x%08x), expected %.9g (0x%08x), %llu ulp > %llu\n",
                    what, i, got[i], kt_f32_bits(got[i]), want[i], kt_f32_bits(want[i]),
                    (unsigned long long)d, (unsigned long long)max_ulp);
    }
    kt_check_summary(what, bad, n);
}

static inline void kt_check_f64_ulp(const char *what, const double *got, const double *want,
                                    size_t n, uint64_t max_ulp)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = kt_ulp_diff_f64(got[i], want[i]);
        if (d > max_ulp && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = %.17g, expected %.17g, %llu ulp > %llu\n", what, i,
                    got[i], want[i], (unsigned long long)d, (unsigned long long)max_ulp);
    }
    kt_check_summary(what, bad, n);
}

/* |got - want| <= rel * |want| + abs_tol, element by element (want computed in double). */
static inline void kt_check_f32_rel(const char *what, const float *got, const double *want,
                                    size_t n, double rel, double abs_tol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= rel * fabs(want[i]) + abs_tol) && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = %.9g, expected %.9g (error %.3g > %.3g)\n", what, i,
                    got[i], want[i], err, rel * fabs(want[i]) + abs_tol);
    }
    kt_check_summary(what, bad, n);
}

static inline void kt_check_f64_rel(const char *what, const double *got, const double *want,
                                    size_t n, double rel, double abs_tol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]);
        if (!(err <= rel * fabs(want[i]) + abs_tol) && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = %.17g, expected %.17g (error %.3g)\n", what, i, got[i],
                    want[i], err);
    }
    kt_check_summary(what, bad, n);
}

/* Exact comparisons of integer arrays (and of any data viewed as 32-bit words). */
static inline void kt_check_u32(const char *what, const uint32_t *got, const uint32_t *want,
                                size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = 0x%08x (%d), expected 0x%08x (%d)\n", what, i, got[i],
                    (int32_t)got[i], want[i], (int32_t)want[i]);
    kt_check_summary(what, bad, n);
}

static inline void kt_check_i32(const char *what, const int32_t *got, const int32_t *want,
                                size_t n)
{
    kt_check_u32(what, (const uint32_t *)got, (const uint32_t *)want, n);
}

static inline void kt_check_u64(const char *what, const uint64_t *got, const uint64_t *want,
                                size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = 0x%016llx, expected 0x%016llx\n", what, i,
                    (unsigned long long)got[i], (unsigned long long)want[i]);
    kt_check_summary(what, bad, n);
}

static inline void kt_check_u16(const char *what, const uint16_t *got, const uint16_t *want,
                                size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && bad++ < KT_MAX_REPORT)
            fprintf(stderr, "  %s[%zu] = 0x%04x, expected 0x%04x\n", what, i, got[i], want[i]);
    kt_check_summary(what, bad, n);
}

/*
 * Binary16 and bfloat16 conversions done exactly on the host (independent of the GPU's): the
 * value is rounded once from double, to nearest-even (or toward zero / down / up), with
 * subnormals, overflow to infinity (or to the largest finite value when rounding toward zero or
 * away from the overflow direction) and NaN kept quiet.
 */
enum kt_round { KT_RN, KT_RZ, KT_RD, KT_RU };

/* Rounds |x| (finite, >= 0) to a multiple of 2^q with the given mode; sign s (1 = negative). */
static inline double kt_round_to_quantum(double ax, int q, int s, enum kt_round mode)
{
    double scaled = ldexp(ax, -q);
    double fl = floor(scaled), frac = scaled - fl;
    double r;
    switch (mode) {
    case KT_RZ:
        r = fl;
        break;
    case KT_RD:
        r = (s && frac > 0) ? fl + 1 : fl;
        break;
    case KT_RU:
        r = (!s && frac > 0) ? fl + 1 : fl;
        break;
    default:
        if (frac > 0.5 || (frac == 0.5 && fmod(fl, 2.0) != 0))
            r = fl + 1;
        else
            r = fl;
        break;
    }
    return ldexp(r, q);
}

/* Generic small-float encoder: mant_bits explicit mantissa bits, exponent bias, max exponent. */
static inline uint16_t kt_encode_small(double x, int mant_bits, int exp_bits, enum kt_round mode)
{
    int bias = (1 << (exp_bits - 1)) - 1;
    int emax = bias, emin = 1 - bias;
    uint16_t sign = signbit(x) ? (uint16_t)(1u << (mant_bits + exp_bits)) : 0;
    uint16_t inf = (uint16_t)(((1u << exp_bits) - 1) << mant_bits);
    if (isnan(x))
        return (uint16_t)(inf | (1u << (mant_bits - 1))); /* canonical quiet NaN */
    int s = signbit(x) ? 1 : 0;
    double ax = fabs(x);
    if (isinf(x))
        return sign | inf;
    if (ax == 0)
        return sign;
    int e;
    frexp(ax, &e); /* ax = m * 2^e, m in [0.5, 1) */
    int exp = e - 1;
    if (exp < emin)
        exp = emin;
    double r = kt_round_to_quantum(ax, exp - mant_bits, s, mode);
    double maxf = ldexp(2.0 - ldexp(1.0, -mant_bits), emax);
    if (r > maxf) {
        bool to_inf = mode == KT_RN || (mode == KT_RU && !s) || (mode == KT_RD && s);
        return to_inf ? (sign | inf) : (uint16_t)(sign | (inf - 1));
    }
    if (r == 0)
        return sign;
    frexp(r, &e);
    exp = e - 1;
    if (exp < emin) /* subnormal */
        return (uint16_t)(sign | (uint16_t)ldexp(r, -(emin - mant_bits)));
    uint32_t mant = (uint32_t)(ldexp(r, mant_bits - exp) - ldexp(1.0, mant_bits));
    return (uint16_t)(sign | ((uint32_t)(exp + bias) << mant_bits) | mant);
}

static inline double kt_decode_small(uint16_t h, int mant_bits, int exp_bits)
{
    int bias = (1 << (exp_bits - 1)) - 1;
    uint32_t e = (h >> mant_bits) & ((1u << exp_bits) - 1);
    uint32_t m = h & ((1u << mant_bits) - 1);
    double s = (h >> (mant_bits + exp_bits)) & 1 ? -1.0 : 1.0;
    if (e == (1u << exp_bits) - 1)
        return m ? NAN : s * INFINITY;
    if (e == 0)
        return s * ldexp((double)m, 1 - bias - mant_bits);
    return s * ldexp((double)(m | (1u << mant_bits)), (int)e - bias - mant_bits);
}

static inline uint16_t kt_to_f16(double x, enum kt_round mode)
{
    return kt_encode_small(x, 10, 5, mode);
}
static inline double kt_from_f16(uint16_t h)
{
    return kt_decode_small(h, 10, 5);
}
static inline uint16_t kt_to_bf16(double x, enum kt_round mode)
{
    return kt_encode_small(x, 7, 8, mode);
}
static inline double kt_from_bf16(uint16_t h)
{
    return kt_decode_small(h, 7, 8);
}

/* Runs a whole program's checks: prints the summary and returns main()'s status. */
static inline int kt_done(const char *name)
{
    if (kt_module)
        CHECK_OK(cuModuleUnload(kt_module));
    return check_done(name);
}

#endif
