/*
 * Utilisation is measured from the engine's busy time: 0 on an idle fresh instance, above 0
 * right after work (memsets of a large buffer). Temperature, power and clocks stay within the
 * model's limits and rise with it; the performance state leaves idle.
 */
#include "nvml_test_util.h"

#define BUF_BYTES (64u << 20)

struct readings {
    nvmlUtilization_t util;
    unsigned int temp, power, sm_clock, mem_clock;
};

static struct readings read_all(nvmlDevice_t dev)
{
    struct readings r;
    memset(&r, 0, sizeof r);
    CHECK_OK(nvmlDeviceGetUtilizationRates(dev, &r.util));
    CHECK_OK(nvmlDeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, &r.temp));
    CHECK_OK(nvmlDeviceGetPowerUsage(dev, &r.power));
    CHECK_OK(nvmlDeviceGetClockInfo(dev, NVML_CLOCK_SM, &r.sm_clock));
    CHECK_OK(nvmlDeviceGetClockInfo(dev, NVML_CLOCK_MEM, &r.mem_clock));
    return r;
}

/* Keeps the device's engine busy for a while, and waits for the work to finish. */
static void do_work(CUdeviceptr buf)
{
    for (int i = 0; i < 8; i++)
        CHECK_OK(cuMemsetD8(buf, (unsigned char)i, BUF_BYTES));
    CHECK_OK(cuCtxSynchronize());
}

int main(void)
{
    REQUIRE_OK(nvmlInit_v2());
    nvmlDevice_t dev;
    REQUIRE_OK(nvmlDeviceGetHandleByIndex_v2(0, &dev));

    unsigned int limit = 0, max_sm = 0, max_mem = 0, min_limit = 0, max_limit = 0;
    CHECK_OK(nvmlDeviceGetEnforcedPowerLimit(dev, &limit));
    CHECK(limit == 700000, "H100 power limit %u mW", limit);
    CHECK_OK(nvmlDeviceGetPowerManagementLimit(dev, &max_limit));
    CHECK(max_limit == limit, "management limit %u", max_limit);
    CHECK_OK(nvmlDeviceGetPowerManagementLimitConstraints(dev, &min_limit, &max_limit));
    CHECK(min_limit <= max_limit && max_limit == limit, "constraints %u..%u", min_limit, max_limit);
    CHECK_OK(nvmlDeviceGetMaxClockInfo(dev, NVML_CLOCK_SM, &max_sm));
    CHECK_OK(nvmlDeviceGetMaxClockInfo(dev, NVML_CLOCK_MEM, &max_mem));
    CUdevice cu;
    int cu_clock_khz = 0;
    REQUIRE_OK(cuInit(0));
    REQUIRE_OK(cuDeviceGet(&cu, 0));
    CHECK_OK(cuDeviceGetAttribute(&cu_clock_khz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, cu));
    CHECK(max_sm == (unsigned int)cu_clock_khz / 1000, "max SM clock %u MHz, CUDA %d kHz", max_sm,
          cu_clock_khz);
    unsigned int clk;
    CHECK_RC(nvmlDeviceGetClockInfo(dev, (nvmlClockType_t)17, &clk), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(nvmlDeviceGetTemperature(dev, (nvmlTemperatureSensors_t)5, &clk),
             NVML_ERROR_INVALID_ARGUMENT);

    /* Idle fresh instance: no busy time at all. */
    struct readings idle = read_all(dev);
    CHECK(idle.util.gpu == 0 && idle.util.memory == 0, "idle utilisation %u/%u", idle.util.gpu,
          idle.util.memory);
    CHECK(idle.power > 0 && idle.power < limit, "idle power %u mW", idle.power);
    CHECK(idle.temp > 0 && idle.temp < 100, "idle temperature %u C", idle.temp);
    CHECK(idle.sm_clock > 0 && idle.sm_clock < max_sm, "idle SM clock %u of %u", idle.sm_clock,
          max_sm);
    nvmlPstates_t ps;
    CHECK_OK(nvmlDeviceGetPerformanceState(dev, &ps));
    CHECK(ps != NVML_PSTATE_0 && ps != NVML_PSTATE_UNKNOWN, "idle p-state %d", (int)ps);

    (void)util_primary_ctx(0);
    CUdeviceptr buf;
    REQUIRE_OK(cuMemAlloc(&buf, BUF_BYTES));

    /* Work done since the previous reading is always inside the next reading's window. */
    do_work(buf);
    nvmlUtilization_t u;
    CHECK_OK(nvmlDeviceGetUtilizationRates(dev, &u));
    CHECK(u.gpu > 0 && u.gpu <= 100, "utilisation %u%% right after work", u.gpu);
    CHECK(u.memory > 0 && u.memory <= 100, "memory utilisation %u%% right after work", u.memory);

    do_work(buf);
    struct readings busy = read_all(dev);
    CHECK(busy.util.gpu > 0, "utilisation %u%% after more work", busy.util.gpu);
    CHECK(busy.power > idle.power && busy.power <= limit, "power %u mW busy, %u idle", busy.power,
          idle.power);
    CHECK(busy.temp >= idle.temp, "temperature %u busy, %u idle", busy.temp, idle.temp);
    CHECK(busy.sm_clock > idle.sm_clock && busy.sm_clock <= max_sm, "SM clock %u busy, %u idle",
          busy.sm_clock, idle.sm_clock);
    CHECK(busy.mem_clock <= max_mem, "memory clock %u of %u", busy.mem_clock, max_mem);
    CHECK_OK(nvmlDeviceGetPerformanceState(dev, &ps));
    CHECK(ps == NVML_PSTATE_0, "p-state %d while a context is open", (int)ps);

    CHECK_OK(cuMemFree(buf));
    CHECK_OK(nvmlShutdown());
    return check_done("nvml-utilization");
}
