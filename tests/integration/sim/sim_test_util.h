/*
 * Helpers shared by the shared-state integration tests: paths of the test's instance, child
 * processes that report back through a pipe.
 */
#ifndef GPOOL_SIM_TEST_UTIL_H
#define GPOOL_SIM_TEST_UTIL_H

#include "check.h"
#include "sim.h"
#include "state_layout.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static inline const char *util_instance(void)
{
    const char *n = getenv("GPOOL_SIM_INSTANCE");
    return n && *n ? n : "default";
}

static inline const char *util_simdir(void)
{
    const char *d = getenv("GPOOL_SIM_DIR");
    return d && *d ? d : "/tmp";
}

/* Path of a file of the test's instance ("state", "mem0", ...). */
static inline void util_path(char *buf, size_t len, const char *leaf)
{
    snprintf(buf, len, "%s/gpool-sim-%s/%s", util_simdir(), util_instance(), leaf);
}

/* Bytes of the device memory file actually backed (allocated blocks). */
static inline long long util_backed(int dev)
{
    char path[PATH_MAX], leaf[16];
    struct stat st;
    snprintf(leaf, sizeof(leaf), "mem%d", dev);
    util_path(path, sizeof(path), leaf);
    if (stat(path, &st) < 0)
        return -1;
    return (long long)st.st_blocks * 512;
}

/* Attaches or exits the test. */
static inline struct sim_instance *util_attach(void)
{
    struct sim_instance *inst = NULL;
    char err[512];
    int rc = sim_instance_attach(&inst, err, sizeof(err));
    REQUIRE(rc == 0, "attach failed: %d: %s", rc, err);
    return inst;
}

static inline void util_check_state(struct sim_instance *inst, const char *when)
{
    char err[512];
    int rc = sim_state_check(inst, err, sizeof(err));
    CHECK(rc == 0, "state inconsistent %s: %s", when, err);
}

/* fork() for a child that must not outlive the test: a child left holding, paused or stopped
 * when a REQUIRE ends the test would keep its output open and turn a failure into a time-out. */
static inline pid_t util_fork(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(125); /* the parent is already gone */
    }
    return pid;
}

/* Waits for pid; returns its exit status, or 128+signal when it was killed. */
static inline int util_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static inline void util_write_u64(int fd, uint64_t v)
{
    ssize_t n = write(fd, &v, sizeof(v));
    (void)n;
}

static inline int util_read_u64(int fd, uint64_t *v)
{
    return read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v) ? 0 : -1;
}

#endif
