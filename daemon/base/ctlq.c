/* Control queue implementation: a mutex-protected FIFO plus an eventfd. */
#include "daemon/base/ctlq.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct ctlq_item {
    ctlq_fn fn;
    void *arg;
    bool wait;
    bool done;
    int rc;
    struct ctlq_item *next;
};

struct ctlq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct ctlq_item *head, *tail;
    bool shut;
    int efd;
    struct event *ev;
};

static void ctlq_run(evutil_socket_t fd, short what, void *arg)
{
    struct ctlq *q = arg;
    uint64_t n;
    struct ctlq_item *it;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        it = q->head;
        if (it) {
            q->head = it->next;
            if (!q->head)
                q->tail = NULL;
        }
        pthread_mutex_unlock(&q->lock);
        if (!it)
            break;
        it->fn(it->arg);
        if (it->wait) {
            pthread_mutex_lock(&q->lock);
            it->done = true;
            pthread_cond_broadcast(&q->cond);
            pthread_mutex_unlock(&q->lock);
        } else {
            free(it);
        }
    }
}

struct ctlq *ctlq_new(struct event_base *base)
{
    struct ctlq *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0)
        goto fail;
    q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, ctlq_run, q);
    if (!q->ev || event_add(q->ev, NULL))
        goto fail;
    return q;
fail:
    ctlq_free(q);
    return NULL;
}

void ctlq_free(struct ctlq *q)
{
    struct ctlq_item *it, *next;

    if (!q)
        return;
    if (q->ev)
        event_free(q->ev);
    if (q->efd >= 0)
        close(q->efd);
    for (it = q->head; it; it = next) {
        next = it->next;
        if (!it->wait)
            free(it);
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static int ctlq_enqueue(struct ctlq *q, struct ctlq_item *it)
{
    uint64_t one = 1;

    pthread_mutex_lock(&q->lock);
    if (q->shut) {
        pthread_mutex_unlock(&q->lock);
        return -ESHUTDOWN;
    }
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    pthread_mutex_unlock(&q->lock);
    if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

int ctlq_call(struct ctlq *q, ctlq_fn fn, void *arg)
{
    struct ctlq_item it = {.fn = fn, .arg = arg, .wait = true};
    int rc = ctlq_enqueue(q, &it);

    if (rc)
        return rc;
    pthread_mutex_lock(&q->lock);
    while (!it.done && !q->shut)
        pthread_cond_wait(&q->cond, &q->lock);
    if (!it.done) {
        /* Shut down before our turn: take the item back out of the queue. */
        struct ctlq_item **pp = &q->head, *prev = NULL;
        while (*pp && *pp != &it) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = it.next;
            if (q->tail == &it)
                q->tail = prev;
        }
        rc = -ESHUTDOWN;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int ctlq_post(struct ctlq *q, ctlq_fn fn, void *arg)
{
    struct ctlq_item *it = calloc(1, sizeof(*it));
    int rc;

    if (!it)
        return -ENOMEM;
    it->fn = fn;
    it->arg = arg;
    rc = ctlq_enqueue(q, it);
    if (rc)
        free(it);
    return rc;
}

void ctlq_shutdown(struct ctlq *q)
{
    pthread_mutex_lock(&q->lock);
    q->shut = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void ctlq_drain(struct ctlq *q)
{
    for (;;) {
        struct ctlq_item *it, **pp;

        pthread_mutex_lock(&q->lock);
        for (pp = &q->head; *pp && (*pp)->wait; pp = &(*pp)->next)
            ;
        it = *pp;
        if (it) {
            *pp = it->next;
            q->tail = NULL;
            for (struct ctlq_item *t = q->head; t; t = t->next)
                q->tail = t;
        }
        pthread_mutex_unlock(&q->lock);
        if (!it)
            return;
        it->fn(it->arg);
        free(it);
    }
}
