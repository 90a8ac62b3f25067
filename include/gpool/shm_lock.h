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

/* Takes the process-shared robust mutex *m: 0, EOWNERDEAD (the caller repairs what the dead
 * owner left, then calls pthread_mutex_consistent) or another pthread error. Never sleeps
 * unbounded: a plain lock can wait forever beside a waiter that is stopped (SIGSTOP, SIGTSTP)
 * just as the holder's unlock wakes it, since the kernel's one wake-up then goes to a process
 * that cannot take the lock and the others sleep on. This one sleeps in bounded slices
 * (GPOOL_ROBUST_LOCK_SLICE_NS) and tries again after each, so a free mutex is always taken. */
int gpool_robust_lock(pthread_mutex_t *m);

#define GPOOL_ROBUST_LOCK_SLICE_NS (20ull * 1000 * 1000)

/* Writes the kernel's id of the current boot into buf; "" when it cannot be read. A robust
 * mutex whose holder's machine went down names an owner that no longer exists, so a structure
 * that outlives a reboot records this id and re-initialises its mutexes when it changes. */
void gpool_boot_id(char *buf, size_t len);

#endif
