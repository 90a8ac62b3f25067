/*
 * IPC between two processes on one simulated device: a memory handle (the importer sees and
 * changes the exporter's bytes), an interprocess event (recorded behind a gate in the exporter,
 * not ready in the importer until the gate opens), a VMM allocation exported as a file
 * descriptor (passed with SCM_RIGHTS), and misuse: one's own handle, a freed allocation's
 * handle, a forged descriptor. The child forks before either process calls cuInit.
 */
#include "check.h"

#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024ull * 1024ull)
#define N 4096

struct msg {
    CUipcMemHandle mem, freed;
    CUipcEventHandle ev;
};

static void gate_wait(void *arg)
{
    int fd = *(int *)arg;
    char c;
    while (read(fd, &c, 1) < 0)
        ;
}

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
    struct iovec iov = {(void *)buf, len};
    char ctl[CMSG_SPACE(sizeof(int))];
    memset(ctl, 0, sizeof(ctl));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof(ctl);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(sock, &mh, 0) == (ssize_t)len ? 0 : -1;
}

static int recv_fd(int sock, void *buf, size_t len, int *fd)
{
    struct iovec iov = {buf, len};
    char ctl[CMSG_SPACE(sizeof(int))];
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                        .msg_controllen = sizeof(ctl)};
    if (recvmsg(sock, &mh, MSG_WAITALL) != (ssize_t)len)
        return -1;
    *fd = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    return 0;
}

static int child(int sock)
{
    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    struct msg m;
    int fd;
    REQUIRE(recv_fd(sock, &m, sizeof(m), &fd) == 0, "recv");

    CUdeviceptr d;
    REQUIRE_OK(cuIpcOpenMemHandle(&d, m.mem, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
    unsigned char h[N];
    CHECK_OK(cuMemcpyDtoH(h, d, N));
    CHECK(h[0] == 0x42 && h[N - 1] == 0x42, "importer does not see the exporter's bytes");
    CUdeviceptr d2;
    CHECK_OK(cuIpcOpenMemHandle(&d2, m.mem, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
    CHECK(d2 == d, "reopening gave another address");
    CHECK_OK(cuIpcCloseMemHandle(d2));
    CHECK_RC(cuIpcOpenMemHandle(&d2, m.freed, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
             CUDA_ERROR_INVALID_HANDLE);
    CUipcMemHandle forged = m.mem;
    forged.reserved[24] ^= 0x5a; /* the tag */
    CHECK_RC(cuIpcOpenMemHandle(&d2, forged, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
             CUDA_ERROR_INVALID_HANDLE);

    CUevent ev;
    REQUIRE_OK(cuIpcOpenEventHandle(&ev, m.ev));
    CHECK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY); /* the exporter's gate is closed */
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuStreamWaitEvent(s, ev, 0));
    CHECK_OK(cuMemsetD8Async(d, 0x77, N, s)); /* runs only after the exporter's record */
    CHECK_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    char c = 'g';
    REQUIRE(write(sock, &c, 1) == 1, "ask the parent to open its gate");
    CHECK_OK(cuEventSynchronize(ev));
    CHECK_OK(cuEventQuery(ev));
    CHECK_OK(cuStreamSynchronize(s));
    CHECK_OK(cuIpcCloseMemHandle(d));
    CHECK_RC(cuIpcCloseMemHandle(d), CUDA_ERROR_INVALID_VALUE);
    CHECK_OK(cuEventDestroy(ev));

    /* The VMM allocation, imported from the descriptor. */
    CUmemGenericAllocationHandle vh;
    REQUIRE(fd >= 0, "no descriptor received");
    REQUIRE_OK(cuMemImportFromShareableHandle(&vh, (void *)(intptr_t)fd,
                                              CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
    CUdeviceptr va;
    REQUIRE_OK(cuMemAddressReserve(&va, 2 * MiB, 0, 0, 0));
    REQUIRE_OK(cuMemMap(va, 2 * MiB, 0, vh, 0));
    CUmemAccessDesc acc = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    REQUIRE_OK(cuMemSetAccess(va, 2 * MiB, &acc, 1));
    CHECK_OK(cuMemcpyDtoH(h, va, N));
    CHECK(h[0] == 0x33 && h[N - 1] == 0x33, "VMM import does not show the exporter's bytes");
    CHECK_OK(cuMemsetD8(va, 0x44, N));
    CHECK_OK(cuCtxSynchronize());
    CHECK_OK(cuMemUnmap(va, 2 * MiB));
    CHECK_OK(cuMemRelease(vh));
    CHECK_OK(cuMemAddressFree(va, 2 * MiB));
    close(fd);
    /* A descriptor that is not an export. */
    int p[2];
    REQUIRE(pipe(p) == 0, "pipe");
    CHECK_RC(cuMemImportFromShareableHandle(&vh, (void *)(intptr_t)p[0],
                                            CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR),
             CUDA_ERROR_INVALID_VALUE);
    REQUIRE(write(sock, &c, 1) == 1, "done");
    return check_done("vmm-ipc (child)");
}

int main(void)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(sv[0]);
        _exit(child(sv[1]));
    }
    close(sv[1]);
    int sock = sv[0];

    REQUIRE_OK(cuInit(0));
    CUcontext ctx;
    REQUIRE_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    REQUIRE_OK(cuCtxSetCurrent(ctx));
    struct msg m;
    CUdeviceptr d, gone;
    REQUIRE_OK(cuMemAlloc(&d, N));
    CHECK_OK(cuMemsetD8(d, 0x42, N));
    CHECK_OK(cuCtxSynchronize());
    REQUIRE_OK(cuIpcGetMemHandle(&m.mem, d));
    CHECK_RC(cuIpcGetMemHandle(&m.freed, d + 16), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuMemAlloc(&gone, N));
    REQUIRE_OK(cuIpcGetMemHandle(&m.freed, gone));
    CHECK_OK(cuMemFree(gone));
    CUdeviceptr self;
    CHECK_RC(cuIpcOpenMemHandle(&self, m.mem, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
             CUDA_ERROR_INVALID_CONTEXT);

    CUevent plain, ev;
    CHECK_RC(cuEventCreate(&ev, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuEventCreate(&plain, CU_EVENT_DISABLE_TIMING));
    CHECK_RC(cuIpcGetEventHandle(&m.ev, plain), CUDA_ERROR_INVALID_VALUE);
    REQUIRE_OK(cuEventCreate(&ev, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING));
    REQUIRE_OK(cuIpcGetEventHandle(&m.ev, ev));
    int gate[2];
    REQUIRE(pipe(gate) == 0, "pipe");
    CUstream s;
    REQUIRE_OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK_OK(cuLaunchHostFunc(s, gate_wait, &gate[0]));
    CHECK_OK(cuEventRecord(ev, s));

    /* A VMM allocation to export. */
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    CUmemGenericAllocationHandle nofd, vh;
    REQUIRE_OK(cuMemCreate(&nofd, 2 * MiB, &prop, 0));
    int fd = -1;
    CHECK_RC(cuMemExportToShareableHandle(&fd, nofd, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
             CUDA_ERROR_INVALID_VALUE); /* not created as exportable */
    CHECK_OK(cuMemRelease(nofd));
    prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    REQUIRE_OK(cuMemCreate(&vh, 2 * MiB, &prop, 0));
    CUdeviceptr va;
    REQUIRE_OK(cuMemAddressReserve(&va, 2 * MiB, 0, 0, 0));
    REQUIRE_OK(cuMemMap(va, 2 * MiB, 0, vh, 0));
    CUmemAccessDesc acc = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    REQUIRE_OK(cuMemSetAccess(va, 2 * MiB, &acc, 1));
    CHECK_OK(cuMemsetD8(va, 0x33, N));
    CHECK_OK(cuStreamSynchronize(NULL)); /* not the context: stream s is gated */
    REQUIRE_OK(cuMemExportToShareableHandle(&fd, vh, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));

    REQUIRE(send_fd(sock, &m, sizeof(m), fd) == 0, "send");
    close(fd);
    char c;
    REQUIRE(read(sock, &c, 1) == 1, "child went away");
    CHECK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
    REQUIRE(write(gate[1], &c, 1) == 1, "open the gate");
    CHECK_OK(cuEventSynchronize(ev));
    REQUIRE(read(sock, &c, 1) == 1, "child went away");
    unsigned char h[N];
    CHECK_OK(cuMemcpyDtoH(h, d, N));
    CHECK(h[0] == 0x77 && h[N - 1] == 0x77, "the importer's write is not visible");
    CHECK_OK(cuMemcpyDtoH(h, va, N));
    CHECK(h[0] == 0x44 && h[N - 1] == 0x44, "the VMM importer's write is not visible");
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)", status);

    CHECK_OK(cuMemUnmap(va, 2 * MiB));
    CHECK_OK(cuMemRelease(vh));
    CHECK_OK(cuMemAddressFree(va, 2 * MiB));
    CHECK_OK(cuEventDestroy(ev));
    CHECK_OK(cuEventDestroy(plain));
    CHECK_OK(cuStreamDestroy(s));
    CHECK_OK(cuMemFree(d));
    CHECK_OK(cuDevicePrimaryCtxRelease(0));
    return check_done("vmm-ipc");
}
