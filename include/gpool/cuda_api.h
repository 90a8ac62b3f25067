/*
 * gpool's declaration of every CUDA driver API entry point, generated from gpool/cuda_api.def.
 *
 * Two ways to include it:
 *   - with GPOOL_CUDA_INTERNAL defined (gpool's own driver layers: the simulator, the hook, the
 *     client), every export is declared under its exported name (cuMemAlloc_v2, cuMemAlloc,
 *     cuMemcpyHtoDAsync_v2_ptsz, ...), with default visibility, and no name is remapped;
 *   - otherwise (applications, through include/gpool/compat/cuda.h), every export is declared and
 *     then the base names are mapped to the current exports exactly as NVIDIA's cuda.h maps them
 *     (cuMemAlloc -> cuMemAlloc_v2), including the per-thread default-stream variants selected by
 *     CUDA_API_PER_THREAD_DEFAULT_STREAM, so a program written against cuda.h compiles unchanged.
 *
 * Types come from gpool/cuda_abi.h; no toolkit header is used.
 */
#ifndef GPOOL_CUDA_API_H
#define GPOOL_CUDA_API_H

#include "gpool/cuda_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef GPOOL_CUDA_INTERNAL
/* A gpool driver layer defines these functions and must export them from its hidden-by-default
 * library; the attribute on the declaration carries over to the definition. */
#define GPOOL_CUDA_EXPORT __attribute__((visibility("default")))
#else
#define GPOOL_CUDA_EXPORT
#endif

#define CU_API(name, base, version, mode, class, params, args) GPOOL_CUDA_EXPORT CUresult name params;
#include "gpool/cuda_api.def"

#ifndef GPOOL_CUDA_INTERNAL

/* Which variant a per-thread-capable base name selects: the _ptds (synchronous) or _ptsz (stream)
 * export when the program asks for a per-thread default stream, else the plain one. */
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
#define GPOOL_API_PTDS(api) api##_ptds
#define GPOOL_API_PTSZ(api) api##_ptsz
#else
#define GPOOL_API_PTDS(api) api
#define GPOOL_API_PTSZ(api) api
#endif

/* Base names that compile to a newer export than the one of the same name. */
#define cuDeviceTotalMem                   cuDeviceTotalMem_v2
#define cuCtxCreate                        cuCtxCreate_v4
#define cuModuleGetGlobal                  cuModuleGetGlobal_v2
#define cuMemGetInfo                       cuMemGetInfo_v2
#define cuMemAlloc                         cuMemAlloc_v2
#define cuMemAllocPitch                    cuMemAllocPitch_v2
#define cuMemFree                          cuMemFree_v2
#define cuMemGetAddressRange               cuMemGetAddressRange_v2
#define cuMemAllocHost                     cuMemAllocHost_v2
#define cuMemHostGetDevicePointer          cuMemHostGetDevicePointer_v2
#define cuMemAdvise                        cuMemAdvise_v2
#define cuMemPrefetchAsync                 GPOOL_API_PTSZ(cuMemPrefetchAsync_v2)
#define cuMemPrefetchBatchAsync            GPOOL_API_PTSZ(cuMemPrefetchBatchAsync)
#define cuMemDiscardBatchAsync             GPOOL_API_PTSZ(cuMemDiscardBatchAsync)
#define cuMemDiscardAndPrefetchBatchAsync  GPOOL_API_PTSZ(cuMemDiscardAndPrefetchBatchAsync)
#define cuMemcpyHtoD                       GPOOL_API_PTDS(cuMemcpyHtoD_v2)
#define cuMemcpyDtoH                       GPOOL_API_PTDS(cuMemcpyDtoH_v2)
#define cuMemcpyDtoD                       GPOOL_API_PTDS(cuMemcpyDtoD_v2)
#define cuMemcpyDtoA                       GPOOL_API_PTDS(cuMemcpyDtoA_v2)
#define cuMemcpyAtoD                       GPOOL_API_PTDS(cuMemcpyAtoD_v2)
#define cuMemcpyHtoA                       GPOOL_API_PTDS(cuMemcpyHtoA_v2)
#define cuMemcpyAtoH                       GPOOL_API_PTDS(cuMemcpyAtoH_v2)
#define cuMemcpyAtoA                       GPOOL_API_PTDS(cuMemcpyAtoA_v2)
#define cuMemcpyHtoAAsync                  GPOOL_API_PTSZ(cuMemcpyHtoAAsync_v2)
#define cuMemcpyAtoHAsync                  GPOOL_API_PTSZ(cuMemcpyAtoHAsync_v2)
#define cuMemcpy2D                         GPOOL_API_PTDS(cuMemcpy2D_v2)
#define cuMemcpy2DUnaligned                GPOOL_API_PTDS(cuMemcpy2DUnaligned_v2)
#define cuMemcpy3D                         GPOOL_API_PTDS(cuMemcpy3D_v2)
#define cuMemcpyHtoDAsync                  GPOOL_API_PTSZ(cuMemcpyHtoDAsync_v2)
#define cuMemcpyDtoHAsync                  GPOOL_API_PTSZ(cuMemcpyDtoHAsync_v2)
#define cuMemcpyDtoDAsync                  GPOOL_API_PTSZ(cuMemcpyDtoDAsync_v2)
#define cuMemcpy2DAsync                    GPOOL_API_PTSZ(cuMemcpy2DAsync_v2)
#define cuMemcpy3DAsync                    GPOOL_API_PTSZ(cuMemcpy3DAsync_v2)
#define cuMemcpyBatchAsync                 GPOOL_API_PTSZ(cuMemcpyBatchAsync_v2)
#define cuMemcpy3DBatchAsync               GPOOL_API_PTSZ(cuMemcpy3DBatchAsync_v2)
#define cuMemsetD8                         GPOOL_API_PTDS(cuMemsetD8_v2)
#define cuMemsetD16                        GPOOL_API_PTDS(cuMemsetD16_v2)
#define cuMemsetD32                        GPOOL_API_PTDS(cuMemsetD32_v2)
#define cuMemsetD2D8                       GPOOL_API_PTDS(cuMemsetD2D8_v2)
#define cuMemsetD2D16                      GPOOL_API_PTDS(cuMemsetD2D16_v2)
#define cuMemsetD2D32                      GPOOL_API_PTDS(cuMemsetD2D32_v2)
#define cuArrayCreate                      cuArrayCreate_v2
#define cuArrayGetDescriptor               cuArrayGetDescriptor_v2
#define cuArray3DCreate                    cuArray3DCreate_v2
#define cuArray3DGetDescriptor             cuArray3DGetDescriptor_v2
#define cuTexRefSetAddress                 cuTexRefSetAddress_v2
#define cuTexRefGetAddress                 cuTexRefGetAddress_v2
#define cuGraphicsResourceGetMappedPointer cuGraphicsResourceGetMappedPointer_v2
#define cuCtxDestroy                       cuCtxDestroy_v2
#define cuCtxPopCurrent                    cuCtxPopCurrent_v2
#define cuCtxPushCurrent                   cuCtxPushCurrent_v2
#define cuStreamDestroy                    cuStreamDestroy_v2
#define cuEventDestroy                     cuEventDestroy_v2
#define cuTexRefSetAddress2D               cuTexRefSetAddress2D_v3
#define cuLinkCreate                       cuLinkCreate_v2
#define cuLinkAddData                      cuLinkAddData_v2
#define cuLinkAddFile                      cuLinkAddFile_v2
#define cuMemHostRegister                  cuMemHostRegister_v2
#define cuGraphicsResourceSetMapFlags      cuGraphicsResourceSetMapFlags_v2
#define cuStreamBeginCapture               GPOOL_API_PTSZ(cuStreamBeginCapture_v2)
#define cuDevicePrimaryCtxRelease          cuDevicePrimaryCtxRelease_v2
#define cuDevicePrimaryCtxReset            cuDevicePrimaryCtxReset_v2
#define cuDevicePrimaryCtxSetFlags         cuDevicePrimaryCtxSetFlags_v2
#define cuDeviceGetUuid                    cuDeviceGetUuid_v2
#define cuIpcOpenMemHandle                 cuIpcOpenMemHandle_v2
#define cuGraphInstantiate                 cuGraphInstantiateWithFlags
#define cuGraphExecUpdate                  cuGraphExecUpdate_v2
#define cuGetProcAddress                   cuGetProcAddress_v2
#define cuGraphAddKernelNode               cuGraphAddKernelNode_v2
#define cuGraphKernelNodeGetParams         cuGraphKernelNodeGetParams_v2
#define cuGraphKernelNodeSetParams         cuGraphKernelNodeSetParams_v2
#define cuGraphExecKernelNodeSetParams     cuGraphExecKernelNodeSetParams_v2
#define cuGraphGetEdges                    cuGraphGetEdges_v2
#define cuGraphNodeGetDependencies         cuGraphNodeGetDependencies_v2
#define cuGraphNodeGetDependentNodes       cuGraphNodeGetDependentNodes_v2
#define cuGraphAddDependencies             cuGraphAddDependencies_v2
#define cuGraphRemoveDependencies          cuGraphRemoveDependencies_v2
#define cuGraphAddNode                     cuGraphAddNode_v2
#define cuEventElapsedTime                 cuEventElapsedTime_v2
#define cuStreamWriteValue32               GPOOL_API_PTSZ(cuStreamWriteValue32_v2)
#define cuStreamWaitValue32                GPOOL_API_PTSZ(cuStreamWaitValue32_v2)
#define cuStreamWriteValue64               GPOOL_API_PTSZ(cuStreamWriteValue64_v2)
#define cuStreamWaitValue64                GPOOL_API_PTSZ(cuStreamWaitValue64_v2)
#define cuStreamBatchMemOp                 GPOOL_API_PTSZ(cuStreamBatchMemOp_v2)
#define cuStreamGetCaptureInfo             GPOOL_API_PTSZ(cuStreamGetCaptureInfo_v3)
#define cuStreamUpdateCaptureDependencies  GPOOL_API_PTSZ(cuStreamUpdateCaptureDependencies_v2)
#define cuMemBatchDecompressAsync          GPOOL_API_PTSZ(cuMemBatchDecompressAsync)
#define cuGLCtxCreate                      cuGLCtxCreate_v2
#define cuGLMapBufferObject                GPOOL_API_PTDS(cuGLMapBufferObject_v2)
#define cuGLMapBufferObjectAsync           GPOOL_API_PTSZ(cuGLMapBufferObjectAsync_v2)
#define cuGLGetDevices                     cuGLGetDevices_v2
#define cuVDPAUCtxCreate                   cuVDPAUCtxCreate_v2

/* Base names whose plain export keeps its name but that have per-thread variants. */
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
#define cuMemcpy                           GPOOL_API_PTDS(cuMemcpy)
#define cuMemcpyAsync                      GPOOL_API_PTSZ(cuMemcpyAsync)
#define cuMemcpyPeer                       GPOOL_API_PTDS(cuMemcpyPeer)
#define cuMemcpyPeerAsync                  GPOOL_API_PTSZ(cuMemcpyPeerAsync)
#define cuMemcpy3DPeer                     GPOOL_API_PTDS(cuMemcpy3DPeer)
#define cuMemcpy3DPeerAsync                GPOOL_API_PTSZ(cuMemcpy3DPeerAsync)
#define cuMemsetD8Async                    GPOOL_API_PTSZ(cuMemsetD8Async)
#define cuMemsetD16Async                   GPOOL_API_PTSZ(cuMemsetD16Async)
#define cuMemsetD32Async                   GPOOL_API_PTSZ(cuMemsetD32Async)
#define cuMemsetD2D8Async                  GPOOL_API_PTSZ(cuMemsetD2D8Async)
#define cuMemsetD2D16Async                 GPOOL_API_PTSZ(cuMemsetD2D16Async)
#define cuMemsetD2D32Async                 GPOOL_API_PTSZ(cuMemsetD2D32Async)
#define cuStreamGetPriority                GPOOL_API_PTSZ(cuStreamGetPriority)
#define cuStreamGetId                      GPOOL_API_PTSZ(cuStreamGetId)
#define cuStreamGetFlags                   GPOOL_API_PTSZ(cuStreamGetFlags)
#define cuStreamGetDevice                  GPOOL_API_PTSZ(cuStreamGetDevice)
#define cuStreamGetCtx                     GPOOL_API_PTSZ(cuStreamGetCtx)
#define cuStreamGetCtx_v2                  GPOOL_API_PTSZ(cuStreamGetCtx_v2)
#define cuStreamWaitEvent                  GPOOL_API_PTSZ(cuStreamWaitEvent)
#define cuStreamEndCapture                 GPOOL_API_PTSZ(cuStreamEndCapture)
#define cuStreamIsCapturing                GPOOL_API_PTSZ(cuStreamIsCapturing)
#define cuStreamAddCallback                GPOOL_API_PTSZ(cuStreamAddCallback)
#define cuStreamAttachMemAsync             GPOOL_API_PTSZ(cuStreamAttachMemAsync)
#define cuStreamQuery                      GPOOL_API_PTSZ(cuStreamQuery)
#define cuStreamSynchronize                GPOOL_API_PTSZ(cuStreamSynchronize)
#define cuEventRecord                      GPOOL_API_PTSZ(cuEventRecord)
#define cuEventRecordWithFlags             GPOOL_API_PTSZ(cuEventRecordWithFlags)
#define cuLaunchKernel                     GPOOL_API_PTSZ(cuLaunchKernel)
#define cuLaunchKernelEx                   GPOOL_API_PTSZ(cuLaunchKernelEx)
#define cuLaunchHostFunc                   GPOOL_API_PTSZ(cuLaunchHostFunc)
#define cuGraphicsMapResources             GPOOL_API_PTSZ(cuGraphicsMapResources)
#define cuGraphicsUnmapResources           GPOOL_API_PTSZ(cuGraphicsUnmapResources)
#define cuLaunchCooperativeKernel          GPOOL_API_PTSZ(cuLaunchCooperativeKernel)
#define cuSignalExternalSemaphoresAsync    GPOOL_API_PTSZ(cuSignalExternalSemaphoresAsync)
#define cuWaitExternalSemaphoresAsync      GPOOL_API_PTSZ(cuWaitExternalSemaphoresAsync)
#define cuGraphInstantiateWithParams       GPOOL_API_PTSZ(cuGraphInstantiateWithParams)
#define cuGraphUpload                      GPOOL_API_PTSZ(cuGraphUpload)
#define cuGraphLaunch                      GPOOL_API_PTSZ(cuGraphLaunch)
#define cuStreamCopyAttributes             GPOOL_API_PTSZ(cuStreamCopyAttributes)
#define cuStreamGetAttribute               GPOOL_API_PTSZ(cuStreamGetAttribute)
#define cuStreamSetAttribute               GPOOL_API_PTSZ(cuStreamSetAttribute)
#define cuMemMapArrayAsync                 GPOOL_API_PTSZ(cuMemMapArrayAsync)
#define cuMemFreeAsync                     GPOOL_API_PTSZ(cuMemFreeAsync)
#define cuMemAllocAsync                    GPOOL_API_PTSZ(cuMemAllocAsync)
#define cuMemAllocFromPoolAsync            GPOOL_API_PTSZ(cuMemAllocFromPoolAsync)
#define cuStreamBeginCaptureToGraph        GPOOL_API_PTSZ(cuStreamBeginCaptureToGraph)

/* With a per-thread default stream, cuGetProcAddress also defaults to per-thread variants: this
 * inline wrapper (not an export) adds the flag when the caller chose neither stream mode. */
static inline CUresult cuGetProcAddress_v2_ptsz(const char *symbol, void **funcPtr,
                                                int driverVersion, cuuint64_t flags,
                                                CUdriverProcAddressQueryResult *symbolStatus)
{
    if ((flags & (CU_GET_PROC_ADDRESS_LEGACY_STREAM |
                  CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)) == 0)
        flags |= CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    return cuGetProcAddress_v2(symbol, funcPtr, driverVersion, flags, symbolStatus);
}
#define cuGetProcAddress_v2 cuGetProcAddress_v2_ptsz
#endif /* CUDA_API_PER_THREAD_DEFAULT_STREAM */

#endif /* !GPOOL_CUDA_INTERNAL */

#ifdef __cplusplus
}
#endif

#endif /* GPOOL_CUDA_API_H */
