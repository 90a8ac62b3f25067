/*
 * The GPOOL_SIM_GPUS parser: "[Nx]MODEL[,...]", e.g. "2xH100-80GB,T4". MODEL is an alias or a
 * full model name from the model table (case-insensitive); blanks around items are ignored.
 * And the reader of the simulator's numeric variables (sim_env_u64).
 */
#include "sim.h"

#include "gpool/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPUS_ITEM_MAX 64

/* Writes "GPOOL_SIM_GPUS: <message> (valid models: A, B, ...)" into err. */
static void gpus_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void gpus_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    size_t n = (size_t)snprintf(err, errlen, "GPOOL_SIM_GPUS: ");
    if (n >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    n += (size_t)vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);
    for (int i = 0; sim_model_at(i) && n < errlen; i++)
        n += (size_t)snprintf(err + n, errlen - n, "%s%s", i ? ", " : " (valid models: ",
                              sim_model_at(i)->alias);
    if (n < errlen)
        snprintf(err + n, errlen - n, "; e.g. \"2xH100-80GB,T4\")");
}

/* Parses a device spec (see sim.h). models receives pointers into the static model table. */
int sim_gpus_parse(const char *spec, const struct sim_model **models, int max, char *err,
                   size_t errlen)
{
    int count = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!spec) {
        gpus_error(err, errlen, "no device list given");
        return -EINVAL;
    }
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;

        while (len > 0 && isspace((unsigned char)item[0])) {
            item++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)item[len - 1]))
            len--;
        if (len == 0) {
            gpus_error(err, errlen, "empty item in \"%.100s\"", spec);
            return -EINVAL;
        }
        if (len >= GPUS_ITEM_MAX) {
            gpus_error(err, errlen, "item \"%.40s...\" is too long", item);
            return -EINVAL;
        }

        /* Optional count prefix: digits followed by 'x'. */
        long n = 1;
        size_t digits = 0;
        while (digits < len && isdigit((unsigned char)item[digits]))
            digits++;
        if (digits > 0 && digits < len && (item[digits] == 'x' || item[digits] == 'X')) {
            if (digits > 3) {
                gpus_error(err, errlen, "bad count in \"%.*s\" (1 to %d)", (int)len, item,
                           SIM_MAX_DEVICES);
                return -EINVAL;
            }
            n = 0;
            for (size_t i = 0; i < digits; i++)
                n = n * 10 + (item[i] - '0');
            if (n < 1 || n > SIM_MAX_DEVICES) {
                gpus_error(err, errlen, "bad count %ld in \"%.*s\" (1 to %d)", n, (int)len,
                           item, SIM_MAX_DEVICES);
                return -EINVAL;
            }
            item += digits + 1;
            len -= digits + 1;
            while (len > 0 && isspace((unsigned char)item[0])) {
                item++;
                len--;
            }
            if (len == 0) {
                gpus_error(err, errlen, "count without a model in \"%.100s\"", spec);
                return -EINVAL;
            }
        }

        char name[GPUS_ITEM_MAX];
        memcpy(name, item, len);
        name[len] = '\0';
        const struct sim_model *model = sim_model_find(name);
        if (!model) {
            gpus_error(err, errlen, "unknown model \"%s\"", name);
            return -EINVAL;
        }
        if (count + n > max || count + n > SIM_MAX_DEVICES) {
            gpus_error(err, errlen, "\"%.100s\" names more than %d devices", spec,
                       max < SIM_MAX_DEVICES ? max : SIM_MAX_DEVICES);
            return -EINVAL;
        }
        for (long i = 0; i < n; i++)
            models[count++] = model;

        if (!end)
            break;
        p = end + 1;
    }
    return count;
}

uint64_t sim_env_u64(const char *name, uint64_t max, uint64_t multiple, uint64_t def,
                     const char *what)
{
    const char *env = getenv(name);
    if (!env || !*env)
        return def;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(env, &end, 10);
    if (errno || *end || !isdigit((unsigned char)env[0]) || v > max || v % multiple) {
        LOG_WARN("sim", "%s=\"%s\" is not %s; using %llu", name, env, what,
                 (unsigned long long)def);
        return def;
    }
    return v;
}
