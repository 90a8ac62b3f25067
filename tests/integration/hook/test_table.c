/*
 * Every API table entry of class ALLOCATES, FREES or LAUNCHES is wrapped by the hook: reached by
 * direct linking and through cuGetProcAddress_v2 with each flag (DEFAULT, LEGACY_STREAM,
 * PER_THREAD_DEFAULT_STREAM), and the wrapper reached runs its class's hook point.
 *
 * Run with GPOOL_HOOK_TRACE=<file> and GPOOL_HOOK_TRACE_REFUSE=1: the hook's test interceptor
 * then records each intercepted call and refuses it with CUDA_ERROR_NOT_PERMITTED before the
 * driver sees it, so every entry can be called with zero arguments. The calls go through one
 * generic 16-argument pointer type (the System V calling convention tolerates the extra zero
 * arguments; the driver is never reached).
 */
#define GPOOL_CUDA_INTERNAL 1
#include "gpool/api_table.h"

#include "check.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef CUresult (*any_fn)(void *, void *, void *, void *, void *, void *, void *, void *, void *,
                           void *, void *, void *, void *, void *, void *, void *);

/* What this program's references resolve to: the hook, since it is linked against it. */
static void *const linked[GPOOL_API_COUNT] = {
#define CU_API(name, base, version, mode, class, params, args)                                     \
    [GPOOL_API_ID_##name] = (void *)&name,
#include "gpool/cuda_api.def"
};

static int intercepted(int i)
{
    enum gpool_api_class c = gpool_api_table[i].cls;
    return c == GPOOL_API_ALLOCATES || c == GPOOL_API_FREES || c == GPOOL_API_LAUNCHES;
}

static CUresult call_zero(void *fn)
{
    return ((any_fn)fn)(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

int main(void)
{
    const char *trace = getenv("GPOOL_HOOK_TRACE");
    REQUIRE(trace && *trace, "GPOOL_HOOK_TRACE must name a file");
    unlink(trace);

    /* The hook, as loaded by the dynamic linker for this program. */
    void *hook = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(hook != NULL, "libcuda.so.1 is not loaded");
    Dl_info info;
    REQUIRE(dladdr(linked[GPOOL_API_ID_cuInit], &info) && info.dli_fname, "dladdr(cuInit)");
    CHECK(strstr(info.dli_fname, "lib/hook/libcuda.so.1") != NULL, "cuInit comes from %s",
          info.dli_fname);

    void *exports[GPOOL_API_COUNT];
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        exports[i] = dlsym(hook, gpool_api_table[i].name);
        CHECK(exports[i] == linked[i], "%s: linked %p, hook exports %p", gpool_api_table[i].name,
              linked[i], exports[i]);
    }

    int driver_version = 0;
    REQUIRE_OK(cuDriverGetVersion(&driver_version));

    /* Direct linking: each intercepted wrapper runs its hook point. */
    int n_intercepted = 0;
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        if (!intercepted(i))
            continue;
        n_intercepted++;
        CHECK_RC(call_zero(linked[i]), CUDA_ERROR_NOT_PERMITTED);
    }
    CHECK(n_intercepted > 40, "only %d intercepted entries", n_intercepted);

    /* cuGetProcAddress_v2 with each flag: the hook hands back its own wrapper of the variant the
     * table's rules pick (the sim follows the same rules), and that wrapper runs the hook point. */
    static const cuuint64_t flags[] = {CU_GET_PROC_ADDRESS_DEFAULT,
                                       CU_GET_PROC_ADDRESS_LEGACY_STREAM,
                                       CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM};
    static int reached[GPOOL_API_COUNT][3];
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        if (!intercepted(i))
            continue;
        const struct gpool_api_entry *e = &gpool_api_table[i];
        for (int f = 0; f < 3; f++) {
            void *want = NULL, *got = (void *)1;
            CUdriverProcAddressQueryResult want_st = 99, got_st = 99;
            gpool_api_get_proc_address(e->base, &want, e->version, flags[f], &want_st, exports,
                                       driver_version);
            CHECK_OK(cuGetProcAddress_v2(e->base, &got, e->version, flags[f], &got_st));
            CHECK(got == want && got_st == want_st, "%s v%d flags %llu: got %p/%d, want %p/%d",
                  e->base, e->version, (unsigned long long)flags[f], got, (int)got_st, want,
                  (int)want_st);
            if (!got)
                continue;
            for (int j = 0; j < GPOOL_API_COUNT; j++)
                if (exports[j] == got)
                    reached[j][f] = 1;
            CHECK_RC(call_zero(got), CUDA_ERROR_NOT_PERMITTED);
        }
    }
    for (int i = 0; i < GPOOL_API_COUNT; i++) {
        if (!intercepted(i))
            continue;
        if (gpool_api_table[i].mode == GPOOL_API_PER_THREAD) {
            CHECK(reached[i][2], "%s not reached with PER_THREAD_DEFAULT_STREAM",
                  gpool_api_table[i].name);
        } else {
            CHECK(reached[i][0], "%s not reached with DEFAULT", gpool_api_table[i].name);
            CHECK(reached[i][1], "%s not reached with LEGACY_STREAM", gpool_api_table[i].name);
        }
    }

    /* The legacy cuGetProcAddress substitutes too. */
    void *p = NULL;
    CHECK_OK(cuGetProcAddress("cuLaunchKernel", &p, 12000,
                              CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
    CHECK(p == exports[GPOOL_API_ID_cuLaunchKernel_ptsz],
          "cuGetProcAddress(cuLaunchKernel, ptds) = %p", p);
    CHECK_OK(cuGetProcAddress("cuGraphLaunch", &p, 12000,
                              CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
    CHECK(p == exports[GPOOL_API_ID_cuGraphLaunch_ptsz],
          "cuGetProcAddress(cuGraphLaunch, ptds) = %p", p);
    /* ... and so does asking for cuGetProcAddress itself. */
    CHECK_OK(cuGetProcAddress_v2("cuGetProcAddress", &p, 12000, 0, NULL));
    CHECK(p == exports[GPOOL_API_ID_cuGetProcAddress_v2], "cuGetProcAddress(cuGetProcAddress) = %p",
          p);

    /* A name nobody knows: mirrored from the driver. */
    CUdriverProcAddressQueryResult st = 99;
    p = (void *)1;
    CHECK_OK(cuGetProcAddress_v2("cuNoSuchEntryPoint", &p, 12000, 0, &st));
    CHECK(p == NULL && st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, "unknown name: %p %d", p,
          (int)st);

    /* The trace names every intercepted entry. */
    FILE *f = fopen(trace, "r");
    REQUIRE(f != NULL, "no trace file %s", trace);
    static int seen[GPOOL_API_COUNT];
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        int i = gpool_api_find(line);
        CHECK(i >= 0 && intercepted(i), "unexpected trace line '%s'", line);
        if (i >= 0)
            seen[i]++;
    }
    fclose(f);
    for (int i = 0; i < GPOOL_API_COUNT; i++)
        if (intercepted(i))
            CHECK(seen[i] >= 1, "%s never traced", gpool_api_table[i].name);
    /* A neutral call is not intercepted and reaches the driver. */
    CHECK_OK(cuInit(0));
    return check_done("hook-table");
}
