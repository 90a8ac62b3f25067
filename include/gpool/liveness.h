/*
 * Process liveness as a token the kernel releases when the process dies: an OFD lock on one
 * byte of a file. A PID cannot be checked across PID namespaces and is reused; a lock cannot.
 *
 * A process holds the lock of its slot through its own open file description; others probe it
 * through a *different* description (F_OFD_GETLK on the holder's own description reports no
 * conflict). OFD locks are shared with a fork()ed child through the inherited descriptor, so a
 * child must open the file again and claim a slot of its own.
 */
#ifndef GPOOL_LIVENESS_H
#define GPOOL_LIVENESS_H

#include <stdint.h>

/* Takes the lock of byte `index` of fd without waiting. 0, or -EAGAIN when another open file
 * description holds it (a live process, or one still exiting), or -errno. */
int gpool_live_claim(int fd, uint64_t index);

/* Drops this description's lock of byte `index`. */
void gpool_live_release(int fd, uint64_t index);

/* 1 when some other open file description holds the lock of byte `index` (its owner lives),
 * 0 when none does. Returns 1 when it cannot tell: never reap on doubt. */
int gpool_live_probe(int probe_fd, uint64_t index);

#endif
