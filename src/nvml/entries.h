/*
 * The simulated NVML's entry points, written once. SIM_NVML_SUPPORTED lists what nvml.c,
 * device.c, telemetry.c and process_util.c implement; SIM_NVML_UNSUPPORTED lists entry points that programs
 * commonly call and that the sim exports only to answer NVML_ERROR_NOT_SUPPORTED
 * (NVML_ERROR_UNINITIALIZED before nvmlInit), so that a program linked against NVIDIA's
 * library loads and takes its "not supported" path instead of failing to resolve a symbol.
 * unsupported.c generates those stubs; the nvml tests check every name resolves.
 */
#ifndef GPOOL_NVML_ENTRIES_H
#define GPOOL_NVML_ENTRIES_H

#define SIM_NVML_SUPPORTED(X)                                                                      \
    X(nvmlInit)                                                                                    \
    X(nvmlInit_v2)                                                                                 \
    X(nvmlInitWithFlags)                                                                           \
    X(nvmlShutdown)                                                                                \
    X(nvmlErrorString)                                                                             \
    X(nvmlSystemGetDriverVersion)                                                                  \
    X(nvmlSystemGetNVMLVersion)                                                                    \
    X(nvmlSystemGetCudaDriverVersion)                                                              \
    X(nvmlSystemGetCudaDriverVersion_v2)                                                           \
    X(nvmlSystemGetProcessName)                                                                    \
    X(nvmlDeviceGetCount)                                                                          \
    X(nvmlDeviceGetCount_v2)                                                                       \
    X(nvmlDeviceGetHandleByIndex)                                                                  \
    X(nvmlDeviceGetHandleByIndex_v2)                                                               \
    X(nvmlDeviceGetHandleByUUID)                                                                   \
    X(nvmlDeviceGetHandleByPciBusId)                                                               \
    X(nvmlDeviceGetHandleByPciBusId_v2)                                                            \
    X(nvmlDeviceGetIndex)                                                                          \
    X(nvmlDeviceGetMinorNumber)                                                                    \
    X(nvmlDeviceGetName)                                                                           \
    X(nvmlDeviceGetBrand)                                                                          \
    X(nvmlDeviceGetUUID)                                                                           \
    X(nvmlDeviceGetPciInfo)                                                                        \
    X(nvmlDeviceGetPciInfo_v2)                                                                     \
    X(nvmlDeviceGetPciInfo_v3)                                                                     \
    X(nvmlDeviceGetPciInfoExt)                                                                     \
    X(nvmlDeviceGetMemoryInfo)                                                                     \
    X(nvmlDeviceGetMemoryInfo_v2)                                                                  \
    X(nvmlDeviceGetMemoryBusWidth)                                                                 \
    X(nvmlDeviceGetUtilizationRates)                                                               \
    X(nvmlDeviceGetComputeRunningProcesses)                                                        \
    X(nvmlDeviceGetComputeRunningProcesses_v2)                                                     \
    X(nvmlDeviceGetComputeRunningProcesses_v3)                                                     \
    X(nvmlDeviceGetGraphicsRunningProcesses)                                                       \
    X(nvmlDeviceGetGraphicsRunningProcesses_v2)                                                    \
    X(nvmlDeviceGetGraphicsRunningProcesses_v3)                                                    \
    X(nvmlDeviceGetMPSComputeRunningProcesses)                                                     \
    X(nvmlDeviceGetMPSComputeRunningProcesses_v2)                                                  \
    X(nvmlDeviceGetMPSComputeRunningProcesses_v3)                                                  \
    X(nvmlDeviceGetTemperature)                                                                    \
    X(nvmlDeviceGetPowerUsage)                                                                     \
    X(nvmlDeviceGetEnforcedPowerLimit)                                                             \
    X(nvmlDeviceGetPowerManagementLimit)                                                           \
    X(nvmlDeviceGetPowerManagementDefaultLimit)                                                    \
    X(nvmlDeviceGetPowerManagementLimitConstraints)                                                \
    X(nvmlDeviceGetClockInfo)                                                                      \
    X(nvmlDeviceGetMaxClockInfo)                                                                   \
    X(nvmlDeviceGetCudaComputeCapability)                                                          \
    X(nvmlDeviceGetComputeMode)                                                                    \
    X(nvmlDeviceGetPersistenceMode)                                                                \
    X(nvmlDeviceGetPerformanceState)                                                               \
    X(nvmlDeviceGetProcessUtilization)

#define SIM_NVML_UNSUPPORTED(X)                                                                    \
    /* cooling, ECC, display */                                                                    \
    X(nvmlDeviceGetFanSpeed)                                                                       \
    X(nvmlDeviceGetFanSpeed_v2)                                                                    \
    X(nvmlDeviceGetNumFans)                                                                        \
    X(nvmlDeviceGetEccMode)                                                                        \
    X(nvmlDeviceGetTotalEccErrors)                                                                 \
    X(nvmlDeviceGetMemoryErrorCounter)                                                             \
    X(nvmlDeviceGetDetailedEccErrors)                                                              \
    X(nvmlDeviceGetRetiredPages)                                                                   \
    X(nvmlDeviceGetRetiredPagesPendingStatus)                                                      \
    X(nvmlDeviceGetRemappedRows)                                                                   \
    X(nvmlDeviceGetDisplayMode)                                                                    \
    X(nvmlDeviceGetDisplayActive)                                                                  \
    /* media engines and per-process sampling */                                                   \
    X(nvmlDeviceGetEncoderUtilization)                                                             \
    X(nvmlDeviceGetDecoderUtilization)                                                             \
    X(nvmlDeviceGetJpgUtilization)                                                                 \
    X(nvmlDeviceGetOfaUtilization)                                                                 \
    X(nvmlDeviceGetEncoderSessions)                                                                \
    X(nvmlDeviceGetEncoderStats)                                                                   \
    X(nvmlDeviceGetFBCStats)                                                                       \
    X(nvmlDeviceGetFBCSessions)                                                                    \
    X(nvmlDeviceGetSamples)                                                                        \
    X(nvmlDeviceGetProcessesUtilizationInfo)                                                       \
    X(nvmlDeviceGetFieldValues)                                                                    \
    /* identity, firmware, board */                                                                \
    X(nvmlDeviceGetSerial)                                                                         \
    X(nvmlDeviceGetBoardPartNumber)                                                                \
    X(nvmlDeviceGetBoardId)                                                                        \
    X(nvmlDeviceGetMultiGpuBoard)                                                                  \
    X(nvmlDeviceGetVbiosVersion)                                                                   \
    X(nvmlDeviceGetInforomVersion)                                                                 \
    X(nvmlDeviceGetInforomImageVersion)                                                            \
    X(nvmlDeviceGetInforomConfigurationChecksum)                                                   \
    X(nvmlDeviceGetArchitecture)                                                                   \
    X(nvmlDeviceGetNumGpuCores)                                                                    \
    X(nvmlDeviceGetAttributes_v2)                                                                  \
    X(nvmlDeviceGetHandleBySerial)                                                                 \
    X(nvmlDeviceGetGspFirmwareMode)                                                                \
    X(nvmlDeviceGetGspFirmwareVersion)                                                             \
    X(nvmlDeviceGetDriverModel)                                                                    \
    X(nvmlDeviceGetDriverModel_v2)                                                                 \
    X(nvmlDeviceGetVirtualizationMode)                                                             \
    X(nvmlDeviceGetGpuOperationMode)                                                               \
    X(nvmlDeviceGetAPIRestriction)                                                                 \
    /* PCIe, NVLink, topology */                                                                   \
    X(nvmlDeviceGetBAR1MemoryInfo)                                                                 \
    X(nvmlDeviceGetPcieThroughput)                                                                 \
    X(nvmlDeviceGetPcieReplayCounter)                                                              \
    X(nvmlDeviceGetPcieSpeed)                                                                      \
    X(nvmlDeviceGetPcieLinkMaxSpeed)                                                               \
    X(nvmlDeviceGetCurrPcieLinkGeneration)                                                         \
    X(nvmlDeviceGetCurrPcieLinkWidth)                                                              \
    X(nvmlDeviceGetMaxPcieLinkGeneration)                                                          \
    X(nvmlDeviceGetMaxPcieLinkWidth)                                                               \
    X(nvmlDeviceGetNvLinkState)                                                                    \
    X(nvmlDeviceGetNvLinkVersion)                                                                  \
    X(nvmlDeviceGetNvLinkCapability)                                                               \
    X(nvmlDeviceGetNvLinkRemotePciInfo_v2)                                                         \
    X(nvmlDeviceGetNvLinkErrorCounter)                                                             \
    X(nvmlDeviceGetTopologyCommonAncestor)                                                         \
    X(nvmlDeviceGetTopologyNearestGpus)                                                            \
    X(nvmlSystemGetTopologyGpuSet)                                                                 \
    X(nvmlDeviceGetP2PStatus)                                                                      \
    X(nvmlDeviceGetCpuAffinity)                                                                    \
    X(nvmlDeviceGetCpuAffinityWithinScope)                                                         \
    X(nvmlDeviceGetMemoryAffinity)                                                                 \
    X(nvmlDeviceSetCpuAffinity)                                                                    \
    X(nvmlDeviceClearCpuAffinity)                                                                  \
    X(nvmlDeviceGetGpuFabricInfo)                                                                  \
    X(nvmlDeviceGetGpuFabricInfoV)                                                                 \
    /* clocks, power, thermals beyond the basics */                                                \
    X(nvmlDeviceGetTotalEnergyConsumption)                                                         \
    X(nvmlDeviceGetCurrentClocksThrottleReasons)                                                   \
    X(nvmlDeviceGetCurrentClocksEventReasons)                                                      \
    X(nvmlDeviceGetSupportedClocksThrottleReasons)                                                 \
    X(nvmlDeviceGetSupportedClocksEventReasons)                                                    \
    X(nvmlDeviceGetApplicationsClock)                                                              \
    X(nvmlDeviceGetDefaultApplicationsClock)                                                       \
    X(nvmlDeviceGetClock)                                                                          \
    X(nvmlDeviceGetMaxCustomerBoostClock)                                                          \
    X(nvmlDeviceGetSupportedMemoryClocks)                                                          \
    X(nvmlDeviceGetSupportedGraphicsClocks)                                                        \
    X(nvmlDeviceGetAutoBoostedClocksEnabled)                                                       \
    X(nvmlDeviceGetTemperatureThreshold)                                                           \
    X(nvmlDeviceGetTemperatureV)                                                                   \
    X(nvmlDeviceGetPowerState)                                                                     \
    X(nvmlDeviceGetPowerManagementMode)                                                            \
    X(nvmlDeviceGetViolationStatus)                                                                \
    X(nvmlDeviceGetDynamicPstatesInfo)                                                             \
    /* accounting, events */                                                                       \
    X(nvmlDeviceGetAccountingMode)                                                                 \
    X(nvmlDeviceGetAccountingStats)                                                                \
    X(nvmlDeviceGetAccountingPids)                                                                 \
    X(nvmlDeviceGetAccountingBufferSize)                                                           \
    X(nvmlDeviceGetSupportedEventTypes)                                                            \
    X(nvmlEventSetCreate)                                                                          \
    X(nvmlDeviceRegisterEvents)                                                                    \
    X(nvmlEventSetWait)                                                                            \
    X(nvmlEventSetWait_v2)                                                                         \
    X(nvmlEventSetFree)                                                                            \
    /* MIG */                                                                                      \
    X(nvmlDeviceGetMigMode)                                                                        \
    X(nvmlDeviceGetMaxMigDeviceCount)                                                              \
    X(nvmlDeviceGetMigDeviceHandleByIndex)                                                         \
    X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle)                                                \
    X(nvmlDeviceIsMigDeviceHandle)                                                                 \
    X(nvmlDeviceGetGpuInstanceId)                                                                  \
    X(nvmlDeviceGetComputeInstanceId)                                                              \
    X(nvmlDeviceGetGpuInstances)                                                                   \
    X(nvmlDeviceGetGpuInstanceProfileInfo)                                                         \
    X(nvmlDeviceGetGpuInstanceProfileInfoV)                                                        \
    X(nvmlDeviceCreateGpuInstance)                                                                 \
    X(nvmlGpuInstanceDestroy)                                                                      \
    X(nvmlGpuInstanceGetInfo)                                                                      \
    X(nvmlGpuInstanceGetComputeInstances)                                                          \
    X(nvmlComputeInstanceGetInfo_v2)                                                               \
    /* vGPU, units, excluded devices */                                                            \
    X(nvmlDeviceGetHostVgpuMode)                                                                   \
    X(nvmlDeviceGetSupportedVgpus)                                                                 \
    X(nvmlDeviceGetCreatableVgpus)                                                                 \
    X(nvmlDeviceGetActiveVgpus)                                                                    \
    X(nvmlDeviceGetVgpuUtilization)                                                                \
    X(nvmlDeviceGetGridLicensableFeatures_v4)                                                      \
    X(nvmlGetVgpuVersion)                                                                          \
    X(nvmlGetVgpuCompatibility)                                                                    \
    X(nvmlUnitGetCount)                                                                            \
    X(nvmlUnitGetHandleByIndex)                                                                    \
    X(nvmlUnitGetUnitInfo)                                                                         \
    X(nvmlUnitGetDevices)                                                                          \
    X(nvmlSystemGetHicVersion)                                                                     \
    X(nvmlGetExcludedDeviceCount)                                                                  \
    X(nvmlGetExcludedDeviceInfoByIndex)                                                            \
    X(nvmlSystemGetConfComputeCapabilities)                                                        \
    X(nvmlSystemGetConfComputeState)                                                               \
    /* settings: the sim's devices cannot be reconfigured */                                       \
    X(nvmlDeviceSetPersistenceMode)                                                                \
    X(nvmlDeviceSetComputeMode)                                                                    \
    X(nvmlDeviceSetEccMode)                                                                        \
    X(nvmlDeviceClearEccErrorCounts)                                                               \
    X(nvmlDeviceSetPowerManagementLimit)                                                           \
    X(nvmlDeviceSetApplicationsClocks)                                                             \
    X(nvmlDeviceResetApplicationsClocks)                                                           \
    X(nvmlDeviceSetGpuLockedClocks)                                                                \
    X(nvmlDeviceResetGpuLockedClocks)                                                              \
    X(nvmlDeviceSetMemoryLockedClocks)                                                             \
    X(nvmlDeviceResetMemoryLockedClocks)                                                           \
    X(nvmlDeviceSetAutoBoostedClocksEnabled)                                                       \
    X(nvmlDeviceSetMigMode)                                                                        \
    X(nvmlDeviceSetAccountingMode)                                                                 \
    X(nvmlDeviceClearAccountingPids)                                                               \
    X(nvmlDeviceSetGpuOperationMode)                                                               \
    X(nvmlDeviceSetAPIRestriction)                                                                 \
    X(nvmlDeviceModifyDrainState)                                                                  \
    X(nvmlDeviceQueryDrainState)                                                                   \
    X(nvmlDeviceRemoveGpu_v2)                                                                      \
    X(nvmlDeviceDiscoverGpus)                                                                      \
    X(nvmlDeviceOnSameBoard)                                                                       \
    X(nvmlDeviceValidateInforom)

#endif
