/*
 * Processes across the machine: children allocate simulated device memory with the CUDA sim
 * and wait; this process's NVML lists each child's pid with its memory (also through the
 * legacy v1/v2 entry points), follows the NVML_ERROR_INSUFFICIENT_SIZE protocol, names the
 * processes, and after a child is killed with SIGKILL its entry and its memory are gone.
 */
#include "nvml_test_util.h"

#include <dlfcn.h>

#define MIB (1ull << 20)

/* The entry of pid in a listing, or NULL. */
static const nvmlProcessInfo_t *find_pid(const nvmlProcessInfo_t *p, unsigned int n, pid_t pid)
{
    for (unsigned int i = 0; i < n; i++)
        if (p[i].pid == (unsigned int)pid)
            return &p[i];
    return NULL;
}

static unsigned long long used_memory(nvmlDevice_t dev)
{
    nvmlMemory_t m;
    CHECK_OK(nvmlDeviceGetMemoryInfo(dev, &m));
    return m.used;
}

int main(int argc, char **argv)
{
    (void)argc;
    REQUIRE_OK(nvmlInit_v2());
    nvmlDevice_t dev;
    REQUIRE_OK(nvmlDeviceGetHandleByIndex_v2(0, &dev));

    /* Nothing runs yet: the count query succeeds with 0 and NULL infos. */
    unsigned int n = 0;
    CHECK_OK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, NULL));
    CHECK(n == 0, "%u processes on a fresh instance", n);
    CHECK_RC(nvmlDeviceGetComputeRunningProcesses_v3(dev, NULL, NULL), NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long base = used_memory(dev);

    struct util_child a = util_spawn_holder(0, 64 * MIB);
    struct util_child b = util_spawn_holder(0, 128 * MIB);

    /* The protocol: too small a count gives the needed count and INSUFFICIENT_SIZE. */
    n = 0;
    CHECK_RC(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n == 2, "needed count %u, expected 2", n);
    nvmlProcessInfo_t infos[4];
    memset(infos, 0x5a, sizeof infos);
    n = 1;
    CHECK_RC(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, infos), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n == 2, "needed count %u after a short buffer", n);
    n = 4;
    CHECK_OK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, infos));
    CHECK(n == 2, "%u processes listed, expected 2", n);
    const nvmlProcessInfo_t *pa = find_pid(infos, n, a.pid), *pb = find_pid(infos, n, b.pid);
    CHECK(pa && pa->usedGpuMemory >= 64 * MIB, "child a (%d): %llu bytes", (int)a.pid,
          pa ? pa->usedGpuMemory : 0ull);
    CHECK(pb && pb->usedGpuMemory >= 128 * MIB, "child b (%d): %llu bytes", (int)b.pid,
          pb ? pb->usedGpuMemory : 0ull);
    CHECK(pa && pb && pb->usedGpuMemory - pa->usedGpuMemory == 64 * MIB,
          "b holds 64 MiB more than a");
    CHECK(pa && pa->gpuInstanceId == 0xFFFFFFFFu && pa->computeInstanceId == 0xFFFFFFFFu,
          "MIG ids without MIG");
    CHECK(find_pid(infos, n, getpid()) == NULL, "this process (NVML only) is listed");
    unsigned long long both = used_memory(dev);
    CHECK(both >= base + 192 * MIB, "used %llu with both children (base %llu)", both, base);
    CHECK(pa && pb && both - base == pa->usedGpuMemory + pb->usedGpuMemory,
          "used grew by %llu, the processes hold %llu", both - base,
          pa && pb ? pa->usedGpuMemory + pb->usedGpuMemory : 0ull);

    /* Graphics and MPS lists are empty. */
    n = 0;
    CHECK_OK(nvmlDeviceGetGraphicsRunningProcesses_v3(dev, &n, NULL));
    CHECK(n == 0, "%u graphics processes", n);

    /* The legacy layouts, as programs built against older headers call them. */
    typedef nvmlReturn_t (*v1_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_v1_t *);
    typedef nvmlReturn_t (*v2_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_v2_t *);
    v1_fn v1 = (v1_fn)dlsym(RTLD_DEFAULT, "nvmlDeviceGetComputeRunningProcesses");
    v2_fn v2 = (v2_fn)dlsym(RTLD_DEFAULT, "nvmlDeviceGetComputeRunningProcesses_v2");
    REQUIRE(v1 && v2, "legacy process queries are exported");
    nvmlProcessInfo_v1_t l1[3];
    nvmlProcessInfo_v2_t l2[3];
    memset(l1, 0, sizeof l1);
    n = 3;
    CHECK_OK(v1(dev, &n, l1));
    CHECK(n == 2 && l1[2].pid == 0, "v1: %u entries, no write past them", n);
    int seen = 0;
    for (unsigned int i = 0; i < n && i < 2; i++)
        if ((l1[i].pid == (unsigned int)a.pid && l1[i].usedGpuMemory >= 64 * MIB) ||
            (l1[i].pid == (unsigned int)b.pid && l1[i].usedGpuMemory >= 128 * MIB))
            seen++;
    CHECK(seen == 2, "v1 entries match the children");
    n = 3;
    CHECK_OK(v2(dev, &n, l2));
    CHECK(n == 2 && (l2[0].pid == (unsigned int)a.pid || l2[0].pid == (unsigned int)b.pid) &&
              l2[0].gpuInstanceId == 0xFFFFFFFFu,
          "v2 entries");

    /* Process names: the child's argv[0] (a fork of this program). */
    char name[256];
    CHECK_OK(nvmlSystemGetProcessName((unsigned int)a.pid, name, sizeof name));
    CHECK(strcmp(name, argv[0]) == 0, "name \"%s\", expected \"%s\"", name, argv[0]);
    char small[4];
    CHECK_OK(nvmlSystemGetProcessName((unsigned int)a.pid, small, sizeof small));
    CHECK(strlen(small) == 3 && strncmp(small, argv[0], 3) == 0, "truncated name \"%s\"", small);
    CHECK_RC(nvmlSystemGetProcessName((unsigned int)a.pid, NULL, 16), NVML_ERROR_INVALID_ARGUMENT);

    /* Kill a: its entry and its memory go; b stays. */
    unsigned long long a_bytes = pa ? pa->usedGpuMemory : 0;
    util_kill_holder(&a);
    n = 4;
    CHECK_OK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, infos));
    CHECK(n == 1 && find_pid(infos, n, b.pid) && !find_pid(infos, n, a.pid),
          "after killing a: %u entries", n);
    unsigned long long after_a = used_memory(dev);
    CHECK(after_a == both - a_bytes, "used %llu after killing a, expected %llu", after_a,
          both - a_bytes);

    util_kill_holder(&b);
    n = 4;
    CHECK_OK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, infos));
    CHECK(n == 0, "%u entries after killing both", n);
    CHECK(used_memory(dev) == base, "used %llu after killing both, base %llu", used_memory(dev),
          base);
    CHECK_RC(nvmlSystemGetProcessName((unsigned int)a.pid, name, sizeof name),
             NVML_ERROR_NOT_FOUND);

    CHECK_OK(nvmlShutdown());
    return check_done("nvml-processes");
}
