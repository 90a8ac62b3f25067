/* Just enough of VDPAU's types for the toolkit's cudaVDPAU.h (tests/api's toolkit check only). */
#pragma once
#include <stdint.h>
typedef uint32_t VdpDevice;
typedef uint32_t VdpVideoSurface;
typedef uint32_t VdpOutputSurface;
typedef uint32_t VdpFuncId;
typedef uint32_t VdpChromaType;
typedef uint32_t VdpRGBAFormat;
typedef enum { VDP_STATUS_OK = 0 } VdpStatus;
typedef VdpStatus VdpGetProcAddress(VdpDevice device, VdpFuncId function_id, void **function_pointer);
