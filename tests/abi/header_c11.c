/* cuda_abi.h must compile on its own as pedantic C11, with no NVIDIA header anywhere. */
#include <gpool/cuda_abi.h>

int main(void)
{
    CUresult r = CUDA_SUCCESS;
    CUstream s = CU_STREAM_LEGACY;

    return (r == CUDA_SUCCESS && s != NULL && sizeof(CUDA_MEMCPY3D) > 0) ? 0 : 1;
}
