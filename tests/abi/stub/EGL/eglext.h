/* Stand-in for the EGL extensions header; the stand-in egl.h already declares what tests/abi needs. */
#include <EGL/egl.h>
