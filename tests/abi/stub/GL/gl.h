/*
 * Stand-in for the OpenGL header, used by tests/abi only when the system has none. It declares
 * just the types cudaGL.h needs, with the underlying types the Khronos registry gives them.
 */
#ifndef GPOOL_ABI_STUB_GL_H
#define GPOOL_ABI_STUB_GL_H
typedef unsigned int GLenum;
typedef unsigned int GLuint;
#endif
