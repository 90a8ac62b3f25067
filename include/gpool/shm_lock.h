/*
 * Pieces shared by every gpool structure that lives in shared memory and is guarded by a
 * process-shared robust mutex (the simulator's device state, the vGPU ledger).
 */
#ifndef GPOOL_SHM_LOCK_H
#define GPOOL_SHM_LOCK_H

#include <pthread.h>
#include <stddef.h>

/* Length of a buffer that holds the kernel's boot id (36 characters) and its terminator. */
#define GPOOL_BOOT_ID_LEN 64

/* Initialises *m as a process-shared robust mutex. 0 or -errno. */
int gpool_robust_mutex_init(pthread_mutex_t *m);

/* Writes the kernel's id of the current boot into buf; "" when it cannot be read. A robust
 * mutex whose holder's machine went down names an owner that no longer exists, so a structure
 * that outlives a reboot records this id and re-initialises its mutexes when it changes. */
void gpool_boot_id(char *buf, size_t len);

#endif
