/* Just enough of OpenGL's types for the toolkit's cudaGL.h (tests/api's toolkit check only). */
#pragma once
typedef unsigned int GLuint;
typedef unsigned int GLenum;
