/* Part of the EGL stand-in: everything is in egl.h. */
#pragma once
#include "EGL/egl.h"
