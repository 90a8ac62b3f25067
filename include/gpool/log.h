/*
 * gpool's diagnostics. Silent by default: nothing is written to the application's stdout or
 * stderr unless GPOOL_LOG asks for it.
 *
 *   GPOOL_LOG=level[:path]     level is error|warn|info|debug|trace; without a path messages go
 *                              to stderr, with one they are appended to that file.
 *
 * Configuration is read on the first message, never in a constructor.
 */
#ifndef GPOOL_LOG_H
#define GPOOL_LOG_H

enum gpool_log_level {
    GPOOL_LOG_OFF = 0,
    GPOOL_LOG_ERROR,
    GPOOL_LOG_WARN,
    GPOOL_LOG_INFO,
    GPOOL_LOG_DEBUG,
    GPOOL_LOG_TRACE,
};

/* True when messages at this level are written; cheap enough for hot paths. */
int gpool_log_enabled(enum gpool_log_level level);

/* Writes one line "gpool[pid] <component>: level: message". */
void gpool_log(enum gpool_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses a GPOOL_LOG value; returns 0 and fills level (and path, borrowed from spec, may be NULL)
 * or -EINVAL. Exposed for tests. */
int gpool_log_parse(const char *spec, enum gpool_log_level *level, const char **path);

#define GPOOL_LOG_AT(lvl, comp, ...)                                                               \
    do {                                                                                           \
        if (gpool_log_enabled(lvl))                                                                \
            gpool_log(lvl, comp, __VA_ARGS__);                                                     \
    } while (0)
#define LOG_ERROR(comp, ...) GPOOL_LOG_AT(GPOOL_LOG_ERROR, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...)  GPOOL_LOG_AT(GPOOL_LOG_WARN, comp, __VA_ARGS__)
#define LOG_INFO(comp, ...)  GPOOL_LOG_AT(GPOOL_LOG_INFO, comp, __VA_ARGS__)
#define LOG_DEBUG(comp, ...) GPOOL_LOG_AT(GPOOL_LOG_DEBUG, comp, __VA_ARGS__)
#define LOG_TRACE(comp, ...) GPOOL_LOG_AT(GPOOL_LOG_TRACE, comp, __VA_ARGS__)

#endif
