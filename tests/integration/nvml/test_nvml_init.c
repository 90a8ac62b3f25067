/*
 * NVML initialisation and errors: every call answers NVML_ERROR_UNINITIALIZED before nvmlInit,
 * init/shutdown are reference-counted, nvmlErrorString describes every return code, and every
 * entry point the sim lists (implemented or "not supported") resolves in the library.
 */
#include "nvml_test_util.h"

#include "../../../src/nvml/entries.h"

#include <dlfcn.h>
#include <pthread.h>

#define ALL_RETURN_CODE(name, value, message) value,
static const int all_codes[] = {GPOOL_NVML_RETURN_CODES(ALL_RETURN_CODE)};
#undef ALL_RETURN_CODE

#define NAME_STRING(name) #name,
static const char *const supported[] = {SIM_NVML_SUPPORTED(NAME_STRING)};
static const char *const unsupported[] = {SIM_NVML_UNSUPPORTED(NAME_STRING)};
#undef NAME_STRING

/* The stubs take no arguments (see src/nvml/unsupported.c): call them as they are defined. */
typedef nvmlReturn_t (*stub_fn)(void);

static void check_uninitialized(void)
{
    unsigned int count = 99;
    nvmlDevice_t dev = NULL;
    char buf[128];
    int v = 0;

    CHECK_RC(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(nvmlDeviceGetCount_v2(&count), NVML_ERROR_UNINITIALIZED);
    CHECK(count == 99, "count written before init: %u", count);
    CHECK_RC(nvmlDeviceGetHandleByIndex_v2(0, &dev), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &dev),
             NVML_ERROR_UNINITIALIZED);
    CHECK_RC(nvmlSystemGetDriverVersion(buf, sizeof buf), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(nvmlSystemGetProcessName((unsigned int)getpid(), buf, sizeof buf),
             NVML_ERROR_UNINITIALIZED);
    CHECK_RC(nvmlDeviceGetFanSpeed(dev, &count), NVML_ERROR_UNINITIALIZED);
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        stub_fn f = (stub_fn)dlsym(RTLD_DEFAULT, unsupported[i]);
        CHECK(f != NULL, "%s is not exported", unsupported[i]);
        if (f)
            CHECK(f() == NVML_ERROR_UNINITIALIZED, "%s before init", unsupported[i]);
    }
    /* Documented to work without nvmlInit. */
    CHECK_OK(nvmlSystemGetNVMLVersion(buf, sizeof buf));
    CHECK(strncmp(buf, "13.", 3) == 0, "NVML version \"%s\"", buf);
    CHECK_OK(nvmlSystemGetCudaDriverVersion(&v));
    CHECK(v == 13000, "CUDA driver version %d", v);
    CHECK_OK(nvmlSystemGetCudaDriverVersion_v2(&v));
    CHECK(v == 13000, "CUDA driver version (v2) %d", v);
    int cuda_v = 0;
    CHECK_OK(cuDriverGetVersion(&cuda_v));
    CHECK(cuda_v == v, "cuDriverGetVersion %d != NVML's %d", cuda_v, v);
}

static void check_refcount(void)
{
    unsigned int count = 0;
    nvmlDevice_t first = NULL, again = NULL;

    /* A device list the sim cannot parse: the (simulated) driver is not usable. */
    const char *spec = getenv("GPOOL_SIM_GPUS");
    char saved[128];
    snprintf(saved, sizeof saved, "%s", spec ? spec : "");
    setenv("GPOOL_SIM_GPUS", "no-such-gpu", 1);
    CHECK_RC(nvmlInit_v2(), NVML_ERROR_DRIVER_NOT_LOADED);
    CHECK_RC(nvmlDeviceGetCount(&count), NVML_ERROR_UNINITIALIZED);
    if (spec)
        setenv("GPOOL_SIM_GPUS", saved, 1);
    else
        unsetenv("GPOOL_SIM_GPUS");

    REQUIRE_OK(nvmlInit());
    CHECK_OK(nvmlInit_v2());
    CHECK_OK(nvmlInitWithFlags(0));
    CHECK_OK(nvmlDeviceGetCount(&count));
    CHECK(count == 1, "device count %u with the default spec", count);
    CHECK_OK(nvmlDeviceGetHandleByIndex(0, &first));

    CHECK_OK(nvmlShutdown());
    CHECK_OK(nvmlDeviceGetCount(&count)); /* two references left */
    CHECK_OK(nvmlShutdown());
    CHECK_OK(nvmlDeviceGetCount(&count)); /* one left */
    CHECK_OK(nvmlShutdown());
    CHECK_RC(nvmlDeviceGetCount(&count), NVML_ERROR_UNINITIALIZED);
    unsigned int idx = 7;
    CHECK_RC(nvmlDeviceGetIndex(first, &idx), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);

    /* Init again: a fresh attachment, and handles are stable. */
    CHECK_OK(nvmlInitWithFlags(NVML_INIT_FLAG_NO_GPUS));
    CHECK_OK(nvmlDeviceGetHandleByIndex(0, &again));
    CHECK(first == again, "handle changed across re-init: %p != %p", (void *)first, (void *)again);
    CHECK_OK(nvmlDeviceGetIndex(again, &idx));
    CHECK(idx == 0, "index %u", idx);
}

static void check_entries(void)
{
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++)
        CHECK(dlsym(RTLD_DEFAULT, supported[i]) != NULL, "%s is not exported", supported[i]);
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        stub_fn f = (stub_fn)dlsym(RTLD_DEFAULT, unsupported[i]);
        if (f)
            CHECK(f() == NVML_ERROR_NOT_SUPPORTED, "%s after init", unsupported[i]);
    }
    nvmlDevice_t dev;
    unsigned int speed = 12345;
    nvmlEnableState_t cur, pend;
    REQUIRE_OK(nvmlDeviceGetHandleByIndex(0, &dev));
    CHECK_RC(nvmlDeviceGetFanSpeed(dev, &speed), NVML_ERROR_NOT_SUPPORTED);
    CHECK(speed == 12345, "a stub wrote its output");
    CHECK_RC(nvmlDeviceGetEccMode(dev, &cur, &pend), NVML_ERROR_NOT_SUPPORTED);
}

static void check_error_strings(void)
{
    size_t n = sizeof all_codes / sizeof all_codes[0];
    CHECK(n == 32, "%zu return codes", n);
    for (size_t i = 0; i < n; i++) {
        const char *s = nvmlErrorString((nvmlReturn_t)all_codes[i]);
        CHECK(s && *s, "no string for %d", all_codes[i]);
        for (size_t j = 0; s && j < i; j++) {
            const char *t = nvmlErrorString((nvmlReturn_t)all_codes[j]);
            CHECK(strcmp(s, t) != 0, "codes %d and %d share \"%s\"", all_codes[i], all_codes[j], s);
        }
    }
    CHECK(strcmp(nvmlErrorString(NVML_SUCCESS), "Success") == 0, "success string");
    CHECK(strcmp(nvmlErrorString(NVML_ERROR_NOT_SUPPORTED), "Not Supported") == 0,
          "not supported string");
    const char *unknown = nvmlErrorString((nvmlReturn_t)12345);
    CHECK(unknown && strstr(unknown, "Unknown"), "unrecognised code gives \"%s\"",
          unknown ? unknown : "(null)");
    /* ABI values programs compile in. */
    CHECK(NVML_ERROR_INSUFFICIENT_SIZE == 7 && NVML_ERROR_ARGUMENT_VERSION_MISMATCH == 25 &&
              NVML_ERROR_UNKNOWN == 999,
          "return code values");
}

/* Threads that init, query and shut down concurrently: every call succeeds (NVML is
 * documented thread-safe) and the count balances. */
static void *thread_main(void *arg)
{
    long failures = 0;
    for (int i = 0; i < 200; i++) {
        nvmlDevice_t dev;
        unsigned int count = 0;
        nvmlMemory_t m;
        nvmlUtilization_t u;
        failures += nvmlInit_v2() != NVML_SUCCESS;
        failures += nvmlDeviceGetCount_v2(&count) != NVML_SUCCESS || count != 1;
        failures += nvmlDeviceGetHandleByIndex_v2(0, &dev) != NVML_SUCCESS;
        failures += nvmlDeviceGetMemoryInfo(dev, &m) != NVML_SUCCESS;
        failures += nvmlDeviceGetUtilizationRates(dev, &u) != NVML_SUCCESS;
        failures += nvmlShutdown() != NVML_SUCCESS;
    }
    *(long *)arg = failures;
    return NULL;
}

static void check_threads(void)
{
    pthread_t t[4];
    long failures[4] = {0};
    for (int i = 0; i < 4; i++) {
        int rc = pthread_create(&t[i], NULL, thread_main, &failures[i]);
        REQUIRE(rc == 0, "pthread_create: %d", rc);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(failures[i] == 0, "thread %d: %ld failed calls", i, failures[i]);
    }
    unsigned int count = 0;
    CHECK_OK(nvmlDeviceGetCount_v2(&count)); /* main's own reference is still held */
}

int main(void)
{
    check_uninitialized();
    check_error_strings();
    check_refcount();
    check_entries();
    check_threads();
    CHECK_OK(nvmlShutdown());
    CHECK_RC(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    return check_done("nvml-init");
}
