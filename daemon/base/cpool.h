/* Crypto pool: a few threads that compute for the control thread (DESIGN.md
 * "Processes and threads"). The control thread submits a job whose inputs the
 * job owns (copied: no state is shared with the control thread while it runs);
 * a pool thread runs its work function; the control thread's libevent loop then
 * runs its done function (an eventfd wakes it). Only the control thread submits,
 * cancels and frees. The queue is bounded: a full pool refuses a job at once, so
 * that work is never queued without limit.
 *
 * A pool of 0 threads (or no pool: NULL) runs each job inline on the caller,
 * work then done, before cpool_submit returns: tests and fuzzers use it. */
#ifndef RAVEN_BASE_CPOOL_H
#define RAVEN_BASE_CPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct cpool;
struct cpool_job;

/* On a pool thread: reads and writes only the job's own memory. */
typedef void (*cpool_work_fn)(struct cpool_job *j);
/* On the control thread, once: after work ran, or without it when the pool is
 * freed first (@ran false). Frees the job. */
typedef void (*cpool_done_fn)(struct cpool_job *j, bool ran);

/* Embedded first in the caller's job. */
struct cpool_job {
    cpool_work_fn work;
    cpool_done_fn done;
    struct cpool_job *next; /* the pool's */
};

/* A pool of @nthreads threads (0: inline) whose queue holds at most @queue_max
 * jobs waiting or done-but-not-delivered (at least 1); served by @base. NULL on
 * failure (log says why). */
struct cpool *cpool_new(struct event_base *base, unsigned nthreads, size_t queue_max);
/* Stops the threads (the job each runs finishes), joins them, and calls done of
 * every job not delivered yet (with ran false for those that never ran). */
void cpool_free(struct cpool *p);
/* Queues @j: 0, or -EAGAIN when the queue is full (the job is not taken and
 * its done is not called). With no threads (@p NULL or 0 threads) work and done
 * run before it returns. */
int cpool_submit(struct cpool *p, struct cpool_job *j);
/* Jobs submitted and not yet delivered; the queue's bound. 0 and 0 inline. */
size_t cpool_pending(const struct cpool *p);
size_t cpool_capacity(const struct cpool *p);
unsigned cpool_threads(const struct cpool *p);
/* Jobs refused because the queue was full, since the pool started. */
unsigned long cpool_refused(const struct cpool *p);
/* Wake-ups since the pool started: @signals of a waiting thread by a submit
 * (none while every thread is busy or already signalled), @notices to the
 * control thread (none while the done list is non-empty or being delivered).
 * 0 and 0 inline. */
void cpool_wakes(struct cpool *p, unsigned long *signals, unsigned long *notices);

#endif
