/* Just enough of EGL's types for the toolkit's cudaEGL.h (tests/api's toolkit check only). */
#pragma once
#include <stdint.h>
typedef int32_t EGLint;
typedef void *EGLImageKHR;
typedef void *EGLStreamKHR;
typedef void *EGLSyncKHR;
