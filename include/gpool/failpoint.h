/*
 * Failpoints: named places in the code where a test can make gpool fail on purpose.
 *
 *   GPOOL_FAILPOINTS=name[=action],...
 *
 * Actions: "crash" (SIGKILL the process at that point; the default), "abort", "error" (the
 * failpoint returns nonzero so the caller takes its error path), "sleep:MS", "off".
 * A name may end in "*" to match every failpoint with that prefix.
 *
 * Failpoints exist only in builds configured with -Dfailpoints=true (test builds); elsewhere
 * GPOOL_FAILPOINT() is the constant 0 and costs nothing.
 */
#ifndef GPOOL_FAILPOINT_H
#define GPOOL_FAILPOINT_H

/* Evaluates the failpoint: may kill the process or sleep; returns 1 when the caller must take
 * its error path ("error" action), else 0. Reads GPOOL_FAILPOINTS on first use. */
int gpool_failpoint_eval(const char *name);

/* Parses a GPOOL_FAILPOINTS value and replaces the active set; returns 0 or -EINVAL. Used by
 * tests and by the first gpool_failpoint_eval(). */
int gpool_failpoint_configure(const char *spec);

#ifdef GPOOL_FAILPOINTS_ENABLED
#define GPOOL_FAILPOINT(name) gpool_failpoint_eval(name)
#else
#define GPOOL_FAILPOINT(name) 0
#endif

#endif
