/* Crypto pool (see cpool.h): a mutex-protected FIFO of jobs to run, another of
 * jobs run, an eventfd that wakes the control thread when the second fills.
 *
 * Wake-ups cost more than the locking around them, so each is made only when
 * needed: a submit signals a thread only if one waits that no earlier submit
 * signalled already (a busy thread takes the next job itself, without
 * sleeping); a thread writes the eventfd only when the done list goes from
 * empty to non-empty and the control thread is not delivering (it takes what
 * finishes meanwhile before it returns to the loop). */
#include "daemon/base/cpool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/poison.h"

struct fifo {
    struct cpool_job *head, *tail;
};

struct cpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct fifo todo, done; /* under lock */
    bool stop;              /* under lock */
    unsigned idle;          /* under lock: threads waiting for a job */
    unsigned woken;         /* under lock: of those, signalled and not yet up */
    bool delivering;        /* under lock: the control thread takes done again before it sleeps */
    unsigned long signals, notices; /* under lock: cond signals, eventfd writes */
    pthread_t *threads;
    unsigned nthreads;
    size_t pending, cap; /* the control thread's: submitted, not delivered */
    unsigned long refused;
    int efd;
    struct event *ev;
};

static void fifo_push(struct fifo *f, struct cpool_job *j)
{
    j->next = NULL;
    if (f->tail)
        f->tail->next = j;
    else
        f->head = j;
    f->tail = j;
}

static struct cpool_job *fifo_take(struct fifo *f)
{
    struct cpool_job *j = f->head;

    f->head = f->tail = NULL;
    return j;
}

static void *worker(void *arg)
{
    struct cpool *p = arg;
    static const uint64_t one = 1;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct cpool_job *j;
        bool wake;

        while (!p->stop && !p->todo.head) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
            if (p->woken) /* ours or another's signal: at worst one more signal later */
                p->woken--;
        }
        if (p->stop)
            break;
        j = p->todo.head;
        p->todo.head = j->next;
        if (!p->todo.head)
            p->todo.tail = NULL;
        pthread_mutex_unlock(&p->lock);
        j->work(j);
        pthread_mutex_lock(&p->lock);
        wake = !p->done.head && !p->delivering;
        fifo_push(&p->done, j);
        if (wake) {
            p->notices++;
            if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                log_err("cpool", "cannot wake the control thread: %s", strerror(errno));
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Runs done of every job the threads finished (on the control thread), and
 * of those that finish meanwhile: their threads do not write the eventfd. */
static void deliver(evutil_socket_t fd, short what, void *arg)
{
    struct cpool *p = arg;
    struct cpool_job *j, *next;
    uint64_t n;

    (void)what;
    /* whatever the read says, the finished jobs are taken: a worker wakes us
     * only when done was empty, so leaving them would strand them (and pending) */
    (void)!read(fd, &n, sizeof(n));
    for (;;) {
        pthread_mutex_lock(&p->lock);
        j = fifo_take(&p->done);
        p->delivering = j != NULL;
        pthread_mutex_unlock(&p->lock);
        if (!j)
            return;
        for (; j; j = next) {
            next = j->next;
            p->pending--;
            j->done(j, true);
        }
    }
}

struct cpool *cpool_new(struct event_base *base, unsigned nthreads, size_t queue_max)
{
    struct cpool *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->cap = queue_max ? queue_max : 1;
    p->efd = -1;
    if (!nthreads)
        return p;
    p->threads = calloc(nthreads, sizeof(*p->threads));
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->ev = p->efd >= 0 ? event_new(base, p->efd, EV_READ | EV_PERSIST, deliver, p) : NULL;
    if (!p->threads || !p->ev || event_add(p->ev, NULL)) {
        log_err("cpool", "cannot start the crypto pool: %s", strerror(errno ? errno : ENOMEM));
        cpool_free(p);
        return NULL;
    }
    for (; p->nthreads < nthreads; p->nthreads++) {
        int err = pthread_create(&p->threads[p->nthreads], NULL, worker, p);

        if (err) {
            log_err("cpool", "cannot start crypto thread %u: %s", p->nthreads, strerror(err));
            cpool_free(p);
            return NULL;
        }
    }
    return p;
}

void cpool_free(struct cpool *p)
{
    struct cpool_job *ran, *waiting, *next;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    ran = fifo_take(&p->done);
    waiting = fifo_take(&p->todo);
    for (; ran; ran = next) {
        next = ran->next;
        ran->done(ran, true);
    }
    for (; waiting; waiting = next) {
        next = waiting->next;
        waiting->done(waiting, false);
    }
    if (p->ev)
        event_free(p->ev);
    if (p->efd >= 0)
        close(p->efd);
    free(p->threads);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int cpool_submit(struct cpool *p, struct cpool_job *j)
{
    bool signal;

    if (!p || !p->nthreads) {
        j->work(j);
        j->done(j, true);
        return 0;
    }
    if (p->pending >= p->cap) {
        p->refused++;
        return -EAGAIN;
    }
    p->pending++;
    pthread_mutex_lock(&p->lock);
    fifo_push(&p->todo, j);
    signal = p->idle > p->woken; /* else a thread awake takes it after its own */
    if (signal) {
        p->woken++;
        p->signals++;
    }
    pthread_mutex_unlock(&p->lock);
    /* after the unlock: the thread woken does not wait for the lock at once */
    if (signal)
        pthread_cond_signal(&p->cond);
    return 0;
}

size_t cpool_pending(const struct cpool *p)
{
    return p ? p->pending : 0;
}

size_t cpool_capacity(const struct cpool *p)
{
    return p && p->nthreads ? p->cap : 0;
}

unsigned cpool_threads(const struct cpool *p)
{
    return p ? p->nthreads : 0;
}

unsigned long cpool_refused(const struct cpool *p)
{
    return p ? p->refused : 0;
}

void cpool_wakes(struct cpool *p, unsigned long *signals, unsigned long *notices)
{
    *signals = *notices = 0;
    if (!p || !p->nthreads)
        return;
    pthread_mutex_lock(&p->lock);
    *signals = p->signals;
    *notices = p->notices;
    pthread_mutex_unlock(&p->lock);
}
