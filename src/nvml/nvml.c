/* nvml.c: the simulated NVML. */
