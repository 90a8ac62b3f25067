/*
 * Failpoints (see gpool/failpoint.h). The active set is small and read-mostly: a fixed array
 * guarded by a mutex, parsed from GPOOL_FAILPOINTS on first use.
 */
#include "gpool/failpoint.h"
#include "gpool/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fp_action { FP_OFF, FP_CRASH, FP_ABORT, FP_ERROR, FP_SLEEP };

struct failpoint {
    char name[64];
    enum fp_action action;
    unsigned sleep_ms;
};

#define FP_MAX 32

static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct failpoint fp_set[FP_MAX];
static int fp_count;
static int fp_loaded;

static int fp_parse_one(const char *item, size_t len, struct failpoint *fp)
{
    const char *eq = memchr(item, '=', len);
    size_t name_len = eq ? (size_t)(eq - item) : len;
    const char *act = eq ? eq + 1 : NULL;
    size_t act_len = eq ? len - name_len - 1 : 0;

    if (name_len == 0 || name_len >= sizeof(fp->name))
        return -EINVAL;
    memcpy(fp->name, item, name_len);
    fp->name[name_len] = '\0';
    fp->sleep_ms = 0;
    if (!act || (act_len == 5 && !memcmp(act, "crash", 5)))
        fp->action = FP_CRASH;
    else if (act_len == 5 && !memcmp(act, "abort", 5))
        fp->action = FP_ABORT;
    else if (act_len == 5 && !memcmp(act, "error", 5))
        fp->action = FP_ERROR;
    else if (act_len == 3 && !memcmp(act, "off", 3))
        fp->action = FP_OFF;
    else if (act_len > 6 && !memcmp(act, "sleep:", 6)) {
        unsigned long ms = 0;
        for (size_t i = 6; i < act_len; i++) {
            if (act[i] < '0' || act[i] > '9' || ms > 3600000)
                return -EINVAL;
            ms = ms * 10 + (unsigned long)(act[i] - '0');
        }
        fp->action = FP_SLEEP;
        fp->sleep_ms = (unsigned)ms;
    } else
        return -EINVAL;
    return 0;
}

int gpool_failpoint_configure(const char *spec)
{
    struct failpoint set[FP_MAX];
    int n = 0;
    const char *p = spec ? spec : "";

    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            if (n == FP_MAX || fp_parse_one(p, len, &set[n]) < 0)
                return -EINVAL;
            n++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    pthread_mutex_lock(&fp_lock);
    memcpy(fp_set, set, sizeof(set[0]) * (size_t)n);
    fp_count = n;
    fp_loaded = 1;
    pthread_mutex_unlock(&fp_lock);
    return 0;
}

static int fp_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, name, n - 1) == 0;
    return strcmp(pattern, name) == 0;
}

int gpool_failpoint_eval(const char *name)
{
    enum fp_action action = FP_OFF;
    unsigned sleep_ms = 0;

    pthread_mutex_lock(&fp_lock);
    if (!fp_loaded) {
        pthread_mutex_unlock(&fp_lock);
        const char *spec = getenv("GPOOL_FAILPOINTS");
        if (gpool_failpoint_configure(spec) < 0) {
            LOG_ERROR("failpoint", "GPOOL_FAILPOINTS: cannot parse \"%s\"; failpoints off", spec);
            gpool_failpoint_configure(NULL);
        }
        pthread_mutex_lock(&fp_lock);
    }
    for (int i = 0; i < fp_count; i++) {
        if (fp_matches(fp_set[i].name, name)) {
            action = fp_set[i].action;
            sleep_ms = fp_set[i].sleep_ms;
            break;
        }
    }
    pthread_mutex_unlock(&fp_lock);

    switch (action) {
    case FP_OFF:
        return 0;
    case FP_CRASH:
        LOG_INFO("failpoint", "%s: crash", name);
        kill(getpid(), SIGKILL);
        for (;;)
            pause();
    case FP_ABORT:
        abort();
    case FP_ERROR:
        LOG_INFO("failpoint", "%s: error", name);
        return 1;
    case FP_SLEEP: {
        struct timespec ts = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        return 0;
    }
    }
    return 0;
}
