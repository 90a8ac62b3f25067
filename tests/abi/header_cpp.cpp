// cuda_abi.h must compile as pedantic C++ too: programs written in C++ include it via cuda.h.
#include <gpool/cuda_abi.h>

int main()
{
    CUresult r = CUDA_SUCCESS;
    CUstream s = CU_STREAM_PER_THREAD;

    return (r == CUDA_SUCCESS && s != nullptr && sizeof(CUtensorMap) == 128) ? 0 : 1;
}
