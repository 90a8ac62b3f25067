/*
 * gpool's stand-in for <nvml.h>, which NVIDIA ships with the driver, not the toolkit: programs
 * written against NVML compile against gpool's own declarations.
 */
#include "gpool/nvml_abi.h"
