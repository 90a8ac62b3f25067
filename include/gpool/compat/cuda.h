/*
 * gpool's stand-in for the toolkit's <cuda.h>, used only when the CUDA toolkit is absent or
 * hidden: programs written against the driver API compile against gpool's own declarations.
 */
#include "gpool/cuda_api.h"
