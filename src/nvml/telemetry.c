/*
 * telemetry.c: the simulated NVML's dynamic readings — utilisation measured from the engine's
 * busy time, and temperature, power, clocks and performance state derived from it and from the
 * device's model.
 *
 * Utilisation. The shared state keeps, per device, the cumulative time its engine was busy
 * (sim_instance_busy). Each process keeps two samples per device, "older" and "recent";
 * a reading at time now covers [recent, now] when recent is at least SAMPLE_PERIOD_NS old (and
 * then rotates the samples), else [older, now]. So a window always holds everything since the
 * last rotation, lasts at least SAMPLE_PERIOD_NS once the process has been initialised that
 * long, and a program polling once a second sees the second since its previous poll. Percent is
 * rounded up, so any busy time in the window reads as at least 1%. Memory utilisation reports
 * the same figure: every piece of engine work (copies, memsets, kernels) reads or writes device
 * memory, and the sim has no separate memory-controller counter.
 */
#include "nvml_sim.h"

#include <pthread.h>

#define SAMPLE_PERIOD_NS 200000000ull /* 200 ms */

struct util_window {
    uint64_t older_busy, older_ns;
    uint64_t recent_busy, recent_ns;
};

static pthread_mutex_t util_lock = PTHREAD_MUTEX_INITIALIZER;
static struct util_window util_windows[SIM_MAX_DEVICES];

void sim_nvml_util_reset(struct sim_instance *inst, int count)
{
    pthread_mutex_lock(&util_lock);
    for (int dev = 0; dev < count && dev < SIM_MAX_DEVICES; dev++) {
        struct util_window *w = &util_windows[dev];
        uint64_t busy = 0, now = 0;
        sim_instance_busy(inst, dev, &busy, &now);
        w->older_busy = w->recent_busy = busy;
        w->older_ns = w->recent_ns = now;
    }
    pthread_mutex_unlock(&util_lock);
}

unsigned int sim_nvml_util(struct sim_instance *inst, int dev)
{
    uint64_t busy = 0, now = 0;
    sim_instance_busy(inst, dev, &busy, &now);

    pthread_mutex_lock(&util_lock);
    struct util_window *w = &util_windows[dev];
    uint64_t from_busy, from_ns;
    if (now >= w->recent_ns + SAMPLE_PERIOD_NS) {
        from_busy = w->recent_busy;
        from_ns = w->recent_ns;
        w->older_busy = w->recent_busy;
        w->older_ns = w->recent_ns;
        w->recent_busy = busy;
        w->recent_ns = now;
    } else {
        from_busy = w->older_busy;
        from_ns = w->older_ns;
    }
    pthread_mutex_unlock(&util_lock);

    uint64_t dbusy = busy > from_busy ? busy - from_busy : 0;
    uint64_t dt = now > from_ns ? now - from_ns : 0;
    if (dbusy == 0)
        return 0;
    if (dt == 0 || dbusy >= dt)
        return 100;
    /* Round up: busy time that was measured is never shown as idle. */
    uint64_t pct = (dbusy * 100 + dt - 1) / dt;
    return pct > 100 ? 100u : (unsigned int)pct;
}

/* Linear interpolation from lo at 0% to hi at 100%. */
static unsigned int scale(unsigned int lo, unsigned int hi, unsigned int util)
{
    return lo + (unsigned int)(((unsigned long long)(hi - lo) * util) / 100u);
}

/* GPU and memory utilisation in percent over the current sample window (see above). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                           nvmlUtilization_t *utilization)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!utilization)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    unsigned int u = sim_nvml_util(sim_nvml_instance(), dev);
    utilization->gpu = u;
    utilization->memory = u;
    return sim_nvml_leave(NVML_SUCCESS);
}

#define TEMP_IDLE_C 30u
#define TEMP_FULL_C 75u

/* The GPU die temperature in degrees C: 30 idle, rising linearly to 75 at full utilisation. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device,
                                                      nvmlTemperatureSensors_t sensorType,
                                                      unsigned int *temp)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!temp || sensorType != NVML_TEMPERATURE_GPU)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *temp = scale(TEMP_IDLE_C, TEMP_FULL_C, sim_nvml_util(sim_nvml_instance(), dev));
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The model's board power limit (TDP) in milliwatts. */
static unsigned int power_limit_mw(int dev)
{
    const struct sim_model *m = sim_instance_model(sim_nvml_instance(), dev);
    int w = m && m->tdp_watts > 0 ? m->tdp_watts : 300;
    return (unsigned int)w * 1000u;
}

/* Board power draw in milliwatts: a tenth of the TDP idle, the TDP at full utilisation. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!power)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    unsigned int limit = power_limit_mw(dev);
    *power = scale(limit / 10u, limit, sim_nvml_util(sim_nvml_instance(), dev));
    return sim_nvml_leave(NVML_SUCCESS);
}

/* Answers one of the power-limit queries: each is the model's TDP (limits cannot be set). */
static nvmlReturn_t power_limit(nvmlDevice_t device, unsigned int *limit)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!limit)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *limit = power_limit_mw(dev);
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The power limit the board enforces, in milliwatts. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device,
                                                             unsigned int *limit)
{
    return power_limit(device, limit);
}

/* The power management limit, in milliwatts. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device,
                                                               unsigned int *limit)
{
    return power_limit(device, limit);
}

/* The default power management limit, in milliwatts. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device,
                                                                      unsigned int *defaultLimit)
{
    return power_limit(device, defaultLimit);
}

/* The range a power limit could be set in: half the TDP to the TDP, in milliwatts. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device,
                                                                          unsigned int *minLimit,
                                                                          unsigned int *maxLimit)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!minLimit || !maxLimit)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *maxLimit = power_limit_mw(dev);
    *minLimit = *maxLimit / 2u;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The maximum clock of a domain in MHz, from the model; 0 for an unknown type. */
static unsigned int max_clock_mhz(int dev, nvmlClockType_t type)
{
    const struct sim_model *m = sim_instance_model(sim_nvml_instance(), dev);
    unsigned int sm = m && m->clock_khz > 0 ? (unsigned int)m->clock_khz / 1000u : 1500u;
    unsigned int mem = m && m->mem_clock_khz > 0 ? (unsigned int)m->mem_clock_khz / 1000u : 1500u;
    switch (type) {
    case NVML_CLOCK_GRAPHICS:
    case NVML_CLOCK_SM:
        return sm;
    case NVML_CLOCK_MEM:
        return mem;
    case NVML_CLOCK_VIDEO:
        return sm * 7u / 8u; /* the video engines run somewhat slower than the SMs */
    default:
        return 0;
    }
}

/* Answers one of the clock queries for a domain in MHz: the current clock when current is set
 * (a fifth of the maximum idle, rising linearly with utilisation to the maximum), else the
 * maximum from the model. */
static nvmlReturn_t clock_info(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock,
                               int current)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    unsigned int max = max_clock_mhz(dev, type);
    if (!clock || max == 0)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    *clock = current ? scale(max / 5u, max, sim_nvml_util(sim_nvml_instance(), dev)) : max;
    return sim_nvml_leave(NVML_SUCCESS);
}

/* The current clock of a domain in MHz: a fifth of the maximum idle, rising linearly with
 * utilisation to the maximum. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                                    unsigned int *clock)
{
    return clock_info(device, type, clock, 1);
}

/* The maximum clock of a domain in MHz, from the model. */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                                       unsigned int *clock)
{
    return clock_info(device, type, clock, 0);
}

/* P0 while the device is busy or any process holds a context on it, else P8 (idle). */
SIM_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device,
                                                           nvmlPstates_t *pState)
{
    int dev;
    nvmlReturn_t rc = sim_nvml_enter_device(device, &dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!pState)
        return sim_nvml_leave(NVML_ERROR_INVALID_ARGUMENT);
    struct sim_instance *inst = sim_nvml_instance();
    struct sim_proc_info one;
    int active = sim_nvml_util(inst, dev) > 0 || sim_instance_processes(inst, dev, &one, 1) > 0;
    *pState = active ? NVML_PSTATE_0 : NVML_PSTATE_8;
    return sim_nvml_leave(NVML_SUCCESS);
}
