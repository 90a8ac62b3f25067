/*
 * Stand-in for the VDPAU header, used by tests/abi only when the system has none. It declares
 * just the types cudaVDPAU.h needs, with the underlying types VDPAU's documentation gives them.
 */
#ifndef GPOOL_ABI_STUB_VDPAU_H
#define GPOOL_ABI_STUB_VDPAU_H
#include <stdint.h>
typedef enum { VDP_STATUS_OK = 0, VDP_STATUS_ERROR = 25 } VdpStatus;
typedef uint32_t VdpDevice;
typedef uint32_t VdpVideoSurface;
typedef uint32_t VdpOutputSurface;
typedef VdpStatus VdpGetProcAddress(VdpDevice device, uint32_t function_id, void **function_pointer);
#endif
