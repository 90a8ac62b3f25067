/*
 * The log a test's process writes through GPOOL_LOG=<level>:<file>, for tests that assert what
 * gpool said (and how many times it said it).
 */
#ifndef GPOOL_TEST_LOG_FILE_H
#define GPOOL_TEST_LOG_FILE_H

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file GPOOL_LOG names, removed so that the test reads only what it makes gpool say. */
static inline const char *log_file_reset(void)
{
    const char *log = getenv("GPOOL_LOG");
    const char *path = log ? strchr(log, ':') : NULL;
    REQUIRE(path, "GPOOL_LOG must be <level>:<file>");
    path++;
    unlink(path);
    return path;
}

/* Reads the log at path into buf (NUL-terminated, cut at len - 1 bytes). */
static inline void log_file_read(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL, "nothing logged to %s", path);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* How many times needle occurs in text. */
static inline int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *s = text; (s = strstr(s, needle)); s++)
        n++;
    return n;
}

#endif
