/*
 * gpool's libraries never write to the application's stdout/stderr unless GPOOL_LOG asks, and
 * with GPOOL_LOG=level:path its messages go to that file and still not to stderr.
 */
#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the child with its stdout and stderr captured into out/err; returns its exit status. */
static int run_child(const char *child, const char *log_spec, char *out, size_t outlen, char *err,
                     size_t errlen)
{
    char out_path[] = "/tmp/gpool-quiet-out-XXXXXX", err_path[] = "/tmp/gpool-quiet-err-XXXXXX";
    int ofd = mkstemp(out_path), efd = mkstemp(err_path);
    REQUIRE(ofd >= 0 && efd >= 0, "mkstemp failed");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork failed");
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        setenv("GPOOL_SIM_GPUS", "NoSuchGPU-1TB", 1);
        if (log_spec)
            setenv("GPOOL_LOG", log_spec, 1);
        else
            unsetenv("GPOOL_LOG");
        execl(child, child, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ssize_t n = pread(ofd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    n = pread(efd, err, errlen - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(ofd);
    close(efd);
    unlink(out_path);
    unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(int argc, char **argv)
{
    char out[4096], err[4096];
    REQUIRE(argc == 2, "usage: test_quiet PATH-TO-quiet_child");

    /* Default: errors happen, nothing of gpool's appears. */
    int rc = run_child(argv[1], NULL, out, sizeof(out), err, sizeof(err));
    CHECK(rc == 0, "child exit %d (stdout: %s)", rc, out);
    CHECK(strncmp(out, "child: ", 7) == 0 && strchr(out, '\n') == out + strlen(out) - 1,
          "stdout holds more than the program's own line: \"%s\"", out);
    CHECK(err[0] == '\0', "stderr is not empty: \"%s\"", err);

    /* GPOOL_LOG to a file: the reason for the failure is there, stderr is still clean. */
    char log_path[] = "/tmp/gpool-quiet-log-XXXXXX";
    int lfd = mkstemp(log_path);
    REQUIRE(lfd >= 0, "mkstemp failed");
    char spec[128];
    snprintf(spec, sizeof(spec), "info:%s", log_path);
    rc = run_child(argv[1], spec, out, sizeof(out), err, sizeof(err));
    char logbuf[4096];
    ssize_t n = pread(lfd, logbuf, sizeof(logbuf) - 1, 0);
    logbuf[n > 0 ? n : 0] = '\0';
    close(lfd);
    unlink(log_path);
    CHECK(rc == 0, "child exit %d", rc);
    CHECK(err[0] == '\0', "stderr is not empty with a log file: \"%s\"", err);
    CHECK(strstr(logbuf, "NoSuchGPU-1TB") != NULL,
          "the log does not name the bad model; log: \"%s\"", logbuf);

    /* GPOOL_LOG without a path writes to stderr, as asked. */
    rc = run_child(argv[1], "error", out, sizeof(out), err, sizeof(err));
    CHECK(strstr(err, "NoSuchGPU-1TB") != NULL, "GPOOL_LOG=error wrote nothing useful: \"%s\"",
          err);
    return check_done("quiet");
}
