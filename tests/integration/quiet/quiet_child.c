/*
 * A CUDA program that makes gpool hit error paths (a device spec that does not parse, then calls
 * before a successful cuInit). test_quiet runs it and checks that gpool said nothing on the
 * program's stdout/stderr unless GPOOL_LOG asked. It prints only its own marker line.
 */
#include <cuda.h>

#include <stdio.h>

int main(void)
{
    CUdevice dev;
    CUresult init = cuInit(0);             /* fails: GPOOL_SIM_GPUS names no model */
    CUresult get = cuDeviceGet(&dev, 0);   /* fails: not initialised */
    printf("child: cuInit=%d cuDeviceGet=%d\n", (int)init, (int)get);
    return init == CUDA_SUCCESS ? 1 : 0;
}
