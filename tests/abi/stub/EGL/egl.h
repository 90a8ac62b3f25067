/*
 * Stand-in for the EGL header, used by tests/abi only when the system has none. It declares just
 * the types cudaEGL.h needs, with the underlying types the Khronos registry gives them.
 */
#ifndef GPOOL_ABI_STUB_EGL_H
#define GPOOL_ABI_STUB_EGL_H
#include <stdint.h>
typedef int32_t EGLint;
typedef void *EGLImageKHR;
typedef void *EGLStreamKHR;
typedef void *EGLSyncKHR;
#endif
