/* Control queue: the one way other threads get work done on the control thread.
 * A management thread posts a call and blocks until the control thread has run it;
 * the control thread owns all control state, so the call needs no further locking.
 * Wake-ups go through an eventfd watched by the control thread's libevent loop. */
#ifndef RAVEN_BASE_CTLQ_H
#define RAVEN_BASE_CTLQ_H

struct event_base;
struct ctlq;

typedef void (*ctlq_fn)(void *arg);

/* Creates a queue served by @base (the control thread's loop). NULL on failure. */
struct ctlq *ctlq_new(struct event_base *base);
void ctlq_free(struct ctlq *q);
/* Runs fn(arg) on the control thread and waits for it to return. Returns 0, or
 * -ESHUTDOWN when the queue has been shut down (fn is then not run). Must not be
 * called from the control thread itself. */
int ctlq_call(struct ctlq *q, ctlq_fn fn, void *arg);
/* Runs fn(arg) on the control thread later, without waiting; fn owns arg. */
int ctlq_post(struct ctlq *q, ctlq_fn fn, void *arg);
/* Refuses further calls and fails the waiting ones; called before the loop stops. */
void ctlq_shutdown(struct ctlq *q);
/* Runs the posted functions still queued (after ctlq_shutdown, on the control
 * thread), so that what they own is released while its context still exists. */
void ctlq_drain(struct ctlq *q);

#endif
