/*
 * The scheduler state of another process, for tests that must know a child is asleep (waiting
 * for a lock) or stopped before they go on.
 */
#ifndef GPOOL_TEST_PROC_STATE_H
#define GPOOL_TEST_PROC_STATE_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* The state letter of process pid in /proc/pid/stat ('S' sleeping, 'T' stopped, ...), '?' when
 * it cannot be read. */
static inline char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the command name may hold anything */
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

#endif
