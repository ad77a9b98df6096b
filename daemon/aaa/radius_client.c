/* The asynchronous RADIUS client; see radius_client.h. Everything runs on the
 * control thread's loop. */
#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/aaa/radius_client.h"
#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

#define IDS 256
#define QUEUE_MAX 4096

struct rad_group;
struct rad_client;

struct rad_srv {
    struct rad_client *c;
    char *name, *secret;
    struct sockaddr_storage addr, source;
    unsigned int timeout_ms, retransmits, deadtime_s;
    bool require_ma;
    int fd;
    struct event *ev;
    struct rad_req *inflight[IDS];
    unsigned int next_id;
    time_t dead_until;
    struct rad_server_stats st;
    struct rad_group *g;
    struct rad_srv *next;
};

struct rad_group {
    char *name;
    struct rad_srv *srvs;
    struct rad_req *qhead, *qtail; /* waiting for an identifier */
    size_t qlen;
    struct rad_group *next;
};

struct rad_req {
    struct rad_client *c;
    struct rad_group *g;
    rad_build_fn build;
    rad_done_fn done;
    void *arg;
    struct rad_srv *srv; /* the server being tried, NULL while queued */
    unsigned int tried;  /* servers tried so far */
    uint8_t id;
    unsigned int attempts;
    struct rad_pkt pkt;
    struct event *timer;
    struct timespec sent;
    struct rad_req *qnext;
    int fail; /* failed before it was sent: reported from the loop, never from inside a call */
};

/* A server name some of whose instances are dead. A server has an instance
 * per group it is in and per port (authentication and accounting), each
 * marked dead on its own; radius-server-dead is the server's: raised when its
 * first instance dies, cleared when none is left dead. */
struct rad_dead {
    char *name;
    unsigned int n;
    struct rad_dead *next;
};

struct rad_client {
    struct event_base *base;
    struct rad_group *groups;
    struct rad_dead *dead;
};

static int64_t mono_us(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

static struct rad_group *group_find(const struct rad_client *c, const char *name)
{
    for (struct rad_group *g = c->groups; g; g = g->next)
        if (!strcmp(g->name, name))
            return g;
    return NULL;
}

static void req_free(struct rad_req *r)
{
    if (r->timer)
        event_free(r->timer);
    free(r);
}

static bool start(struct rad_req *r, struct rad_srv *s);
static void next_server(struct rad_req *r, int err);

/* Takes @r off its server's identifier table. */
static void release_id(struct rad_req *r)
{
    if (r->srv && r->srv->inflight[r->id] == r)
        r->srv->inflight[r->id] = NULL;
    if (r->timer)
        evtimer_del(r->timer);
}

/* A free identifier on @s was released: start the group's oldest waiting request. */
static void pump(struct rad_group *g)
{
    while (g->qhead) {
        struct rad_req *r = g->qhead;
        struct rad_srv *s = r->srv;

        g->qhead = r->qnext;
        if (!g->qhead)
            g->qtail = NULL;
        g->qlen--;
        r->qnext = NULL;
        r->srv = NULL;
        if (!start(r, s))
            break; /* still no identifier: it went back to the queue */
    }
}

static void finish(struct rad_req *r, const struct rad_view *v, int err)
{
    struct rad_group *g = r->g;
    char name[64] = "";
    uint8_t auth[16];
    char *secret = r->srv ? r->srv->secret : NULL;

    if (r->srv)
        snprintf(name, sizeof(name), "%s", r->srv->name);
    memcpy(auth, r->pkt.buf + 4, 16);
    release_id(r);
    r->done(v, err, name, auth, secret, r->arg);
    req_free(r);
    pump(g);
}

/* A request that cannot be sent fails from the event loop, so that no caller
 * (rad_client_send, rad_client_cancel, a group change) sees its callback run
 * inside the call. */
static void fail_later(struct rad_req *r, int err)
{
    struct timeval now = {0, 0};

    r->fail = err;
    r->srv = NULL;
    evtimer_add(r->timer, &now);
}

static void srv_alarm(const struct rad_srv *s, bool dead)
{
    char res[ALARM_RESOURCE_MAX];

    snprintf(res, sizeof(res), "/raven-vpn:aaa/radius-server[name='%s']", s->name);
    if (dead)
        alarm_raise(ALARM_RADIUS_SERVER_DEAD, res, ALARM_SEV_MAJOR,
                    "RADIUS server %s does not answer after %u retransmissions: skipped for %u s", s->name,
                    s->retransmits, s->deadtime_s);
    else
        alarm_clear(ALARM_RADIUS_SERVER_DEAD, res);
}

/* Marks the instance @s dead or alive (it answered, or goes), and counts it
 * in its server's dead instances (struct rad_dead). */
static void srv_set_dead(struct rad_srv *s, bool dead)
{
    struct rad_dead **pp = &s->c->dead, *d;

    if (s->st.dead == dead)
        return;
    s->st.dead = dead;
    while (*pp && strcmp((*pp)->name, s->name))
        pp = &(*pp)->next;
    d = *pp;
    if (dead) {
        if (!d && (d = calloc(1, sizeof(*d))) && !(d->name = strdup(s->name))) {
            free(d);
            d = NULL;
        }
        if (!d) { /* out of memory: the alarm follows this instance alone */
            srv_alarm(s, true);
            return;
        }
        if (!d->n++) {
            d->next = s->c->dead;
            s->c->dead = d;
            srv_alarm(s, true);
        }
        return;
    }
    if (d && --d->n)
        return;
    srv_alarm(s, false);
    if (d) {
        *pp = d->next;
        free(d->name);
        free(d);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct rad_req *r = arg;
    struct rad_srv *s = r->srv;

    (void)fd;
    (void)what;
    if (r->fail) {
        struct rad_group *g = r->g;
        rad_done_fn done = r->done;
        void *darg = r->arg;
        int err = r->fail;

        req_free(r);
        done(NULL, err, "", NULL, NULL, darg);
        pump(g);
        return;
    }
    if (r->attempts <= s->retransmits) {
        struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};

        /* the same packet again (RFC 5080 2.2.1) */
        r->attempts++;
        s->st.retransmits++;
        if (send(s->fd, r->pkt.buf, r->pkt.len, 0) < 0)
            log_debug("radius", "send to %s: %s", s->name, strerror(errno));
        evtimer_add(r->timer, &tv);
        return;
    }
    s->st.timeouts++;
    if (!s->st.dead)
        log_warn("radius", "server %s does not answer: marked dead for %u s", s->name, s->deadtime_s);
    srv_set_dead(s, true);
    s->dead_until = time(NULL) + s->deadtime_s;
    next_server(r, -ETIMEDOUT);
}

/* Sends @r to @s; false (and @r queued) when @s has no free identifier. */
static bool start(struct rad_req *r, struct rad_srv *s)
{
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    uint8_t auth[16];
    unsigned int i;

    for (i = 0; i < IDS && s->inflight[(s->next_id + i) % IDS]; i++)
        ;
    if (i == IDS) {
        struct rad_group *g = r->g;

        if (g->qlen >= QUEUE_MAX) {
            fail_later(r, -ENOBUFS);
            return true;
        }
        r->srv = s; /* the server it waits for */
        r->qnext = NULL;
        if (g->qtail)
            g->qtail->qnext = r;
        else
            g->qhead = r;
        g->qtail = r;
        g->qlen++;
        return false;
    }
    r->id = (uint8_t)((s->next_id + i) % IDS);
    s->next_id = (unsigned int)r->id + 1;
    s->inflight[r->id] = r;
    r->srv = s;
    r->attempts = 1;
    RAND_bytes(auth, sizeof(auth));
    r->build(&r->pkt, r->id, auth, s->secret, r->arg);
    r->pkt.buf[1] = r->id;
    if (!rad_finish(&r->pkt, s->secret, strlen(s->secret))) {
        s->inflight[r->id] = NULL;
        fail_later(r, -EMSGSIZE);
        return true;
    }
    s->st.requests++;
    clock_gettime(CLOCK_MONOTONIC, &r->sent);
    if (send(s->fd, r->pkt.buf, r->pkt.len, 0) < 0)
        log_debug("radius", "send to %s: %s", s->name, strerror(errno));
    evtimer_add(r->timer, &tv);
    return true;
}

/* The first server of the group, from position @from, that is alive; if all are
 * dead, the one that comes back first (dead servers are tried rather than none). */
static struct rad_srv *pick(struct rad_group *g, unsigned int from)
{
    time_t now = time(NULL);
    struct rad_srv *best = NULL;
    unsigned int i = 0;

    for (struct rad_srv *s = g->srvs; s; s = s->next, i++) {
        if (i < from)
            continue;
        if (s->dead_until <= now)
            return s;
        if (!best || s->dead_until < best->dead_until)
            best = s;
    }
    return from == 0 ? best : NULL;
}

static void next_server(struct rad_req *r, int err)
{
    struct rad_srv *s;

    release_id(r);
    r->tried++;
    s = pick(r->g, r->tried);
    if (!s) {
        finish(r, NULL, err);
        return;
    }
    log_info("radius", "failing over from %s to %s", r->srv->name, s->name);
    r->srv = NULL;
    start(r, s);
    pump(r->g);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct rad_srv *s = arg;
    uint8_t buf[RAD_MAX_LEN];
    ssize_t n;

    (void)what;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        struct rad_view v;
        struct rad_req *r;
        struct timespec now;
        int64_t rtt;

        if (rad_parse(buf, (size_t)n, &v)) {
            s->st.malformed++;
            continue;
        }
        r = s->inflight[v.id];
        if (!r) {
            s->st.unknown_ids++;
            continue;
        }
        /* every Access-Request carries a Message-Authenticator; with
         * require_ma every answer to one must too, else it could be forged by
         * an MD5 collision of the Response Authenticator (CVE-2024-3596,
         * "Blast-RADIUS"). Answers with EAP need it always (RFC 3579 3.2). */
        if (rad_verify_reply(&v, r->pkt.buf + 4, s->secret, strlen(s->secret)) ||
            (s->require_ma && r->pkt.buf[0] == RAD_ACCESS_REQUEST &&
             !rad_find(&v, RAD_MESSAGE_AUTHENTICATOR, &(struct rad_attr){0}))) {
            s->st.bad_authenticators++;
            continue;
        }
        s->st.responses++;
        if (v.code == RAD_ACCESS_ACCEPT)
            s->st.accepts++;
        else if (v.code == RAD_ACCESS_REJECT)
            s->st.rejects++;
        else if (v.code == RAD_ACCESS_CHALLENGE)
            s->st.challenges++;
        clock_gettime(CLOCK_MONOTONIC, &now);
        rtt = mono_us(&now) - mono_us(&r->sent);
        s->st.rtt_us = s->st.rtt_us ? (s->st.rtt_us * 7 + (uint64_t)rtt) / 8 : (uint64_t)rtt;
        if (s->st.dead)
            log_info("radius", "server %s answers again", s->name);
        srv_set_dead(s, false);
        s->dead_until = 0;
        finish(r, &v, 0);
    }
}

static void srv_free(struct rad_srv *s)
{
    srv_set_dead(s, false); /* removed from the configuration */
    if (s->ev)
        event_free(s->ev);
    if (s->fd >= 0)
        close(s->fd);
    free(s->name);
    free(s->secret);
    free(s);
}

static struct rad_srv *srv_new(struct rad_client *c, struct rad_group *g, const struct rad_server_conf *sc)
{
    struct rad_srv *s = calloc(1, sizeof(*s));
    socklen_t al = sc->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (!s)
        return NULL;
    s->fd = -1;
    s->c = c;
    s->name = strdup(sc->name);
    s->secret = strdup(sc->secret);
    s->addr = sc->addr;
    s->source = sc->source;
    s->timeout_ms = sc->timeout_ms ? sc->timeout_ms : 3000;
    s->retransmits = sc->retransmits;
    s->deadtime_s = sc->deadtime_s;
    s->require_ma = sc->require_ma;
    s->g = g;
    s->fd = socket(sc->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd >= 0 && sc->source.ss_family == sc->addr.ss_family &&
        bind(s->fd, (const struct sockaddr *)&sc->source, al)) {
        log_warn("radius", "server %s: cannot send from the source address: %s", sc->name, strerror(errno));
        srv_free(s);
        return NULL;
    }
    if (!s->name || !s->secret || s->fd < 0 || connect(s->fd, (const struct sockaddr *)&s->addr, al)) {
        srv_free(s);
        return NULL;
    }
    s->ev = event_new(c->base, s->fd, EV_READ | EV_PERSIST, on_read, s);
    if (!s->ev || event_add(s->ev, NULL)) {
        srv_free(s);
        return NULL;
    }
    return s;
}

struct rad_client *rad_client_new(struct event_base *base)
{
    struct rad_client *c = calloc(1, sizeof(*c));

    if (c)
        c->base = base;
    return c;
}

/* Ends every request of @s (they fail over, or fail). */
static void srv_drain(struct rad_srv *s)
{
    for (unsigned int i = 0; i < IDS; i++)
        if (s->inflight[i])
            next_server(s->inflight[i], -ETIMEDOUT);
}

void rad_client_free(struct rad_client *c)
{
    if (!c)
        return;
    while (c->groups) {
        struct rad_group *g = c->groups;

        c->groups = g->next;
        while (g->qhead) {
            struct rad_req *r = g->qhead;

            g->qhead = r->qnext;
            req_free(r);
        }
        while (g->srvs) {
            struct rad_srv *s = g->srvs;

            g->srvs = s->next;
            for (unsigned int i = 0; i < IDS; i++)
                if (s->inflight[i])
                    req_free(s->inflight[i]);
            srv_free(s);
        }
        free(g->name);
        free(g);
    }
    free(c);
}

int rad_client_set_group(struct rad_client *c, const char *group, const struct rad_server_conf *srv, size_t n)
{
    struct rad_group *g = group_find(c, group);
    struct rad_srv *fresh = NULL, **tail = &fresh, *old;

    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g || !(g->name = strdup(group))) {
            free(g);
            return -ENOMEM;
        }
        g->next = c->groups;
        c->groups = g;
    }
    /* first every new socket, so that a failure changes nothing */
    {
        struct rad_srv **made = calloc(n ? n : 1, sizeof(*made));

        if (!made)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            struct rad_srv *m = NULL;

            for (struct rad_srv *x = g->srvs; x && !m; x = x->next)
                if (!strcmp(x->name, srv[i].name) && !strcmp(x->secret, srv[i].secret) &&
                    !memcmp(&x->addr, &srv[i].addr, sizeof(srv[i].addr)) &&
                    !memcmp(&x->source, &srv[i].source, sizeof(srv[i].source)))
                    m = x;
            if (!m && !(made[i] = srv_new(c, g, &srv[i]))) {
                for (size_t j = 0; j < i; j++)
                    if (made[j])
                        srv_free(made[j]);
                free(made);
                return -EADDRNOTAVAIL;
            }
        }
        /* then the list: the same server, unchanged, keeps its socket, requests and
         * statistics */
        for (size_t i = 0; i < n; i++) {
            struct rad_srv *x = made[i], **pp;

            if (!x)
                for (pp = &g->srvs; *pp; pp = &(*pp)->next)
                    if (!strcmp((*pp)->name, srv[i].name) && !strcmp((*pp)->secret, srv[i].secret) &&
                        !memcmp(&(*pp)->addr, &srv[i].addr, sizeof(srv[i].addr)) &&
                        !memcmp(&(*pp)->source, &srv[i].source, sizeof(srv[i].source))) {
                        x = *pp;
                        *pp = x->next;
                        break;
                    }
            x->timeout_ms = srv[i].timeout_ms ? srv[i].timeout_ms : 3000;
            x->retransmits = srv[i].retransmits;
            x->deadtime_s = srv[i].deadtime_s;
            x->require_ma = srv[i].require_ma;
            x->next = NULL;
            *tail = x;
            tail = &x->next;
        }
        free(made);
    }
    old = g->srvs;
    g->srvs = fresh;
    /* requests waiting for an identifier of a server that goes wait for a new one */
    for (struct rad_req **pp = &g->qhead; *pp;) {
        struct rad_req *r = *pp;
        bool gone = false;

        for (struct rad_srv *x = old; x && !gone; x = x->next)
            gone = x == r->srv;
        if (gone && !(r->srv = pick(g, 0))) {
            *pp = r->qnext;
            g->qlen--;
            fail_later(r, -ETIMEDOUT);
            continue;
        }
        pp = &r->qnext;
    }
    g->qtail = NULL;
    for (struct rad_req *x = g->qhead; x; x = x->qnext)
        g->qtail = x;
    while (old) {
        struct rad_srv *x = old;

        old = x->next;
        srv_drain(x);
        srv_free(x);
    }
    return 0;
}

struct rad_req *rad_client_send(struct rad_client *c, const char *group, rad_build_fn build, rad_done_fn done,
                                void *arg)
{
    struct rad_group *g = group_find(c, group);
    struct rad_srv *s;
    struct rad_req *r;

    if (!g || !(s = pick(g, 0)))
        return NULL;
    r = calloc(1, sizeof(*r));
    if (!r || !(r->timer = evtimer_new(c->base, on_timer, r))) {
        free(r);
        return NULL;
    }
    r->c = c;
    r->g = g;
    r->build = build;
    r->done = done;
    r->arg = arg;
    start(r, s);
    return r;
}

void rad_client_cancel(struct rad_req *r)
{
    struct rad_group *g = r->g;

    if (!r->srv || r->srv->inflight[r->id] != r) {
        /* waiting in the queue */
        struct rad_req **pp;

        for (pp = &g->qhead; *pp && *pp != r; pp = &(*pp)->qnext)
            ;
        if (*pp) {
            *pp = r->qnext;
            if (g->qtail == r) {
                g->qtail = NULL;
                for (struct rad_req *x = g->qhead; x; x = x->qnext)
                    g->qtail = x;
            }
            g->qlen--;
        }
    }
    release_id(r);
    req_free(r);
    pump(g);
}

bool rad_client_stats(const struct rad_client *c, const char *group, const char *name, struct rad_server_stats *st)
{
    const struct rad_group *g = group_find(c, group);

    for (const struct rad_srv *s = g ? g->srvs : NULL; s; s = s->next)
        if (!strcmp(s->name, name)) {
            *st = s->st;
            st->dead = s->dead_until > time(NULL);
            return true;
        }
    return false;
}
