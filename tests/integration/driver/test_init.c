/*
 * cuInit and the uninitialised driver: every call before cuInit fails with
 * CUDA_ERROR_NOT_INITIALIZED (cuDriverGetVersion excepted), cuInit(flags != 0) is invalid, a bad
 * GPOOL_SIM_GPUS makes cuInit fail and say why in the log, concurrent first calls are safe, and
 * a forked child starts uninitialised and can initialise on its own.
 */
#include "driver_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Run in a fresh process (exec'd) whose GPOOL_SIM_GPUS names no model. */
static int bad_spec_child(void)
{
    CHECK_RC(cuInit(0), CUDA_ERROR_NO_DEVICE);
    CHECK_RC(cuInit(0), CUDA_ERROR_NO_DEVICE); /* the failure is kept */
    int n = -1;
    CHECK_RC(cuDeviceGetCount(&n), CUDA_ERROR_NO_DEVICE);
    return check_done("test_init (bad spec child)");
}

static void *init_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)cuInit(0);
}

static void check_bad_spec(const char *self)
{
    char log_path[512];
    snprintf(log_path, sizeof(log_path), "/tmp/gpool-test-init-%d.log", (int)getpid());
    unlink(log_path);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        char log_env[600];
        snprintf(log_env, sizeof(log_env), "error:%s", log_path);
        setenv("GPOOL_LOG", log_env, 1);
        setenv("GPOOL_SIM_GPUS", "NoSuchGPU-99GB", 1);
        setenv("GPOOL_SIM_INSTANCE", "test-driver-init-bad", 1);
        execl(self, self, "bad-spec", (char *)NULL);
        _exit(127);
    }
    CHECK(test_wait(pid) == 0, "the bad-spec child failed its checks");
    FILE *f = fopen(log_path, "r");
    CHECK(f != NULL, "cuInit wrote no log at %s", log_path);
    if (f) {
        char line[1024];
        int named = 0;
        while (fgets(line, sizeof(line), f))
            named |= strstr(line, "cuInit") && strstr(line, "NoSuchGPU-99GB");
        fclose(f);
        CHECK(named, "the log does not say that cuInit failed on 'NoSuchGPU-99GB'");
    }
    unlink(log_path);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "bad-spec"))
        return bad_spec_child();

    int version = 0;
    CHECK_OK(cuDriverGetVersion(&version));
    CHECK(version == 13000, "driver version %d", version);
    CHECK_RC(cuDriverGetVersion(NULL), CUDA_ERROR_INVALID_VALUE);

    /* Before cuInit. */
    int n = -1;
    CUdevice dev;
    CUcontext ctx = NULL;
    CUdeviceptr dptr;
    size_t f, t;
    char name[64];
    CHECK_RC(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuDeviceGet(&dev, 0), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuDeviceGetName(name, sizeof(name), 0), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuCtxGetCurrent(&ctx), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuCtxCreate(&ctx, NULL, 0, 0), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuMemAlloc(&dptr, 16), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuMemGetInfo(&f, &t), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cuPointerGetAttribute(&dev, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, 0x1000),
             CUDA_ERROR_NOT_INITIALIZED);

    /* Flags must be 0, and a refused cuInit initialises nothing. */
    CHECK_RC(cuInit(1), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);

    check_bad_spec(argv[0]);

    /* Concurrent first calls all succeed. */
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        REQUIRE(pthread_create(&th[i], NULL, init_thread, NULL) == 0, "pthread_create");
    for (int i = 0; i < 8; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        CHECK((CUresult)(intptr_t)rc == CUDA_SUCCESS, "thread %d: cuInit returned %d", i,
              (int)(intptr_t)rc);
    }
    CHECK_OK(cuInit(0));
    CHECK_RC(cuInit(2), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuDeviceGetCount(&n));
    CHECK(n == 1, "device count %d", n);

    REQUIRE_OK(cuCtxCreate(&ctx, NULL, 0, 0));
    REQUIRE_OK(cuMemAlloc(&dptr, 4096));

    /* A forked child starts without CUDA state and initialises on its own. */
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        CUcontext c = NULL, cur = (CUcontext)1;
        int bad = 0;
        bad |= cuDeviceGetCount(&n) != CUDA_ERROR_NOT_INITIALIZED;
        bad |= cuCtxGetCurrent(&cur) != CUDA_ERROR_NOT_INITIALIZED;
        bad |= cuInit(0) != CUDA_SUCCESS;
        bad |= cuCtxGetCurrent(&cur) != CUDA_SUCCESS || cur != NULL;
        bad |= cuCtxCreate(&c, NULL, 0, 0) != CUDA_SUCCESS;
        CUdeviceptr p2;
        unsigned int type = 0;
        /* The parent's allocation is not the child's. */
        bad |= cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, dptr) !=
               CUDA_ERROR_INVALID_VALUE;
        bad |= cuMemAlloc(&p2, 4096) != CUDA_SUCCESS;
        bad |= cuMemFree(p2) != CUDA_SUCCESS;
        bad |= cuCtxDestroy(c) != CUDA_SUCCESS;
        _exit(bad ? 1 : 0);
    }
    CHECK(test_wait(pid) == 0, "the forked child did not start uninitialised or could not init");

    /* The parent's state is intact. */
    CUcontext cur = NULL;
    CHECK_OK(cuCtxGetCurrent(&cur));
    CHECK(cur == ctx, "the parent's current context changed across fork");
    CHECK_OK(cuMemFree(dptr));
    CHECK_OK(cuCtxDestroy(ctx));
    return check_done("test_init");
}
