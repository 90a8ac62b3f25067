/* device_printf: 2 blocks of 3 threads print one line each. stdout is redirected to a temporary
 * file around the launch (device printf output is flushed to the host's stdout at the
 * synchronisation); the lines, sorted, must be exactly the six expected ones. */
#include "kernel_test.h"

#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { LINES = 6 };
    const char *tag = "gpool";
    CUdeviceptr dtag = kt_upload(tag, strlen(tag) + 1);
    int base = 40;
    void *args[] = {&base, &dtag};
    CUfunction f = kt_func("device_printf");

    char path[] = "/tmp/gpool-kernel-printf-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0, "mkstemp failed");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    REQUIRE(saved >= 0 && dup2(fd, STDOUT_FILENO) >= 0, "cannot redirect stdout");
    CUresult rc = cuLaunchKernel(f, 2, 1, 1, 3, 1, 1, 0, NULL, args, NULL);
    CUresult rc_sync = cuCtxSynchronize();
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    REQUIRE(rc == CUDA_SUCCESS && rc_sync == CUDA_SUCCESS, "launch %d, sync %d", (int)rc,
            (int)rc_sync);

    char *text = kt_read_file(path, NULL);
    close(fd);
    unlink(path);
    char *lines[64];
    int nlines = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && nlines < 64;
         l = strtok_r(NULL, "\n", &save))
        lines[nlines++] = l;
    CHECK(nlines == LINES, "device printf produced %d lines, expected %d:\n%s", nlines, LINES, text);
    qsort(lines, (size_t)nlines, sizeof lines[0], cmp_str);

    char want[LINES][160];
    char *wantp[LINES];
    for (int t = 0; t < LINES; t++) {
        long long big = (long long)(base + t) << 32;
        snprintf(want[t], sizeof want[t], "t=%d u=%u x=%x ll=%lld f=%.3f g=%g s=%s c=%c", t,
                 (unsigned)(base * t), 0xabc0u + (unsigned)t, big, (double)((float)t * 0.5f),
                 (double)t / 4.0, tag, 'A' + t);
        wantp[t] = want[t];
    }
    qsort(wantp, LINES, sizeof wantp[0], cmp_str);
    for (int t = 0; t < LINES && t < nlines; t++)
        CHECK(strcmp(lines[t], wantp[t]) == 0, "line '%s', expected '%s'", lines[t], wantp[t]);
    free(text);
    return kt_done("kernel-device_printf");
}
