/*
 * GPOOL_LOG handling: a level and an optional file, read once on first use.
 */
#include "gpool/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static enum gpool_log_level log_level = GPOOL_LOG_OFF;
static int log_fd = -1;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug", "trace"};

int gpool_log_parse(const char *spec, enum gpool_log_level *level, const char **path)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

    *path = NULL;
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strlen(level_names[i]) == n && strncmp(level_names[i], spec, n) == 0) {
            *level = (enum gpool_log_level)i;
            if (colon) {
                if (colon[1] == '\0')
                    return -EINVAL;
                *path = colon + 1;
            }
            return 0;
        }
    }
    return -EINVAL;
}

static void log_init(void)
{
    const char *spec = getenv("GPOOL_LOG");
    const char *path;
    enum gpool_log_level level;

    if (!spec || !*spec || gpool_log_parse(spec, &level, &path) < 0)
        return;
    if (path) {
        log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
            return;
    } else {
        log_fd = STDERR_FILENO;
    }
    log_level = level;
}

int gpool_log_enabled(enum gpool_log_level level)
{
    pthread_once(&log_once, log_init);
    return level != GPOOL_LOG_OFF && level <= log_level;
}

void gpool_log(enum gpool_log_level level, const char *component, const char *fmt, ...)
{
    char buf[1024];
    struct timespec ts;
    va_list ap;
    int n;

    if (!gpool_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(buf, sizeof(buf), "%lld.%06ld gpool[%d] %s: %s: ", (long long)ts.tv_sec,
                 ts.tv_nsec / 1000, (int)getpid(), component, level_names[level]);
    if (n < 0)
        return;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(buf) - 2)
        len = sizeof(buf) - 2;
    buf[len++] = '\n';
    /* One write() per line so lines from several threads and processes do not interleave. */
    ssize_t w = write(log_fd, buf, len);
    (void)w;
}
