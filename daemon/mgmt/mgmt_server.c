/* The management socket: @raven-mgmt-PID in the abstract namespace, accepted on
 * the control thread's event loop only from a front end ravend started
 * (SO_PEERCRED, checked by the supervisor); per connection, frames read without blocking, decoded strictly and
 * answered in order; events pushed to every front end past its hello. A frame
 * that cannot be decoded costs its connection and nothing else. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/mgmt/mgmt_nacm.h"
#include "daemon/mgmt/mgmt_super.h"
#include "daemon/base/poison.h"

#define BACKLOG 16

static void on_reap(evutil_socket_t fd, short what, void *arg);

static void on_changed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mgmt_changed_flush(arg);
}

struct mgmt *mgmt_new(struct event_base *base, struct cfg *cfg, const struct mgmt_opts *o,
                      const struct mgmt_hooks *hooks)
{
    struct mgmt *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->base = base;
    m->cfg = cfg;
    m->ctx = cfg_ctx(cfg);
    m->lfd = -1;
    if (hooks)
        m->hooks = *hooks;
    m->auth = mauth_new();
    m->listen = mlisten_new(o->state_dir);
    m->nacm = nacm_new(m->ctx);
    {
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        m->replay = mreplay_new(MREPLAY_MAX_EVENTS, MREPLAY_MAX_BYTES,
                                (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    }
    if (base) {
        m->reap = event_new(base, -1, 0, on_reap, m);
        m->changed_ev = event_new(base, -1, 0, on_changed, m);
    }
    if (!m->auth || !m->listen || !m->nacm || !m->replay || (base && (!m->reap || !m->changed_ev))) {
        mgmt_free(m);
        return NULL;
    }
    return m;
}

void mgmt_set_super(struct mgmt *m, struct super *sup)
{
    m->sup = sup;
}

/* ---- connections ---- */

struct mconn *mconn_new(struct mgmt *m, int fd, int idx)
{
    struct mconn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->m = m;
    c->fd = fd;
    c->idx = idx;
    mwire_rx_init(&c->rx);
    c->next = m->conns;
    m->conns = c;
    return c;
}

static void conn_unlink(struct mconn *c)
{
    for (struct mconn **pp = &c->m->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            return;
        }
    }
}

static void users_forget(struct mconn *c)
{
    for (size_t i = 0; i < c->nusers; i++)
        free(c->users[i]);
    free(c->users);
    c->users = NULL;
    c->nusers = 0;
    for (size_t i = 0; i < c->ngone; i++)
        free(c->gone[i]);
    free(c->gone);
    c->gone = NULL;
    c->ngone = 0;
}

/* @user (adopted) among the gone; freed if it cannot be kept, the
 * connection's front end then ended (its sessions could get what the user
 * may no longer see). */
static void gone_add(struct mconn *c, char *user)
{
    char **ng;

    for (size_t i = 0; i < c->ngone; i++) {
        if (!strcmp(c->gone[i], user)) {
            free(user);
            return;
        }
    }
    ng = realloc(c->gone, (c->ngone + 1) * sizeof(*ng));
    if (!ng) {
        free(user);
        c->dead = true;
        return;
    }
    c->gone = ng;
    c->gone[c->ngone++] = user;
}

static void gone_remove(struct mconn *c, const char *user)
{
    for (size_t i = 0; i < c->ngone; i++) {
        if (!strcmp(c->gone[i], user)) {
            free(c->gone[i]);
            c->gone[i] = c->gone[--c->ngone];
            return;
        }
    }
}

/* Frees @c; with @tell the supervisor learns the front end is gone (not at
 * shutdown: it would start it again). */
static void conn_close(struct mconn *c, bool tell)
{
    struct mgmt *m = c->m;

    conn_unlink(c);
    if (c->ev)
        event_free(c->ev);
    if (c->fd >= 0)
        close(c->fd);
    mwire_rx_clear(&c->rx);
    /* as if each of its sessions had closed: locks, candidate, confirmed commit */
    for (size_t i = 0; i < c->nsids; i++)
        cfg_session_end(m->cfg, c->sids[i]);
    if (tell && m->sup && c->idx >= 0)
        super_disconnected(m->sup, c->idx);
    users_forget(c);
    free(c->sids);
    free(c->last_hdr);
    free(c);
}

void mconn_free(struct mconn *c)
{
    conn_close(c, true);
}

static void mark_dead(struct mconn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    if (c->m->reap)
        event_active(c->m->reap, 0, 0);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct mgmt *m = arg;
    struct mconn *c = m->conns, *n;

    for (; c; c = n) {
        n = c->next;
        if (c->dead) {
            log_warn("mgmt", "front end %s: connection lost (a send failed)",
                     m->sup && c->idx >= 0 ? super_name(m->sup, c->idx) : "?");
            conn_close(c, true);
        }
    }
}

/* The socket stays blocking with SO_SNDTIMEO for sends (a front end that stops
 * reading, or reads a frame too slowly, costs 2 s at most, once: mwire_send
 * gives the whole frame that long) and is read with MSG_DONTWAIT: its flags are
 * set once. */
static int send_frame(struct mconn *c, const char *hdr, size_t hlen, const char *data, size_t dlen, const int *fds,
                      int nfds)
{
    int rc;

    if (c->dead)
        return -EPIPE;
    c->nsent++;
    if (c->fd < 0) {
        char *copy = strndup(hdr, hlen);

        if (!copy) {
            mark_dead(c);
            return -ENOMEM;
        }
        free(c->last_hdr);
        c->last_hdr = copy;
        return 0;
    }
    rc = mwire_send(c->fd, hdr, hlen, data, dlen, fds, nfds);
    if (rc)
        mark_dead(c);
    return rc;
}

int mconn_send_raw(struct mconn *c, const char *hdr, size_t hlen, const char *data, size_t dlen)
{
    return send_frame(c, hdr, hlen, data, dlen, NULL, 0);
}

int mconn_send(struct mconn *c, json_t *hdr, const char *data, size_t dlen, const int *fds, int nfds)
{
    char *s;
    int rc;

    if (c->dead)
        return -EPIPE;
    s = json_dumps(hdr, JSON_COMPACT);
    if (!s) {
        mark_dead(c);
        return -ENOMEM;
    }
    rc = send_frame(c, s, strlen(s), data, dlen, fds, nfds);
    free(s);
    return rc;
}

void mconn_send_error(struct mconn *c, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);

    if (j)
        mconn_send(c, j, NULL, 0, NULL, 0);
    json_decref(j);
}

/* The users changed: forget the logins of users that no longer exist (a user
 * removed and added again must log in again; until then notifications are
 * denied to it, c->gone); the others' sessions go on, with the role the
 * configuration gives them now. */
static void users_recheck(struct mconn *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nusers; i++) {
        if (mauth_role(c->m->auth, c->users[i]) < 0)
            gone_add(c, c->users[i]);
        else
            c->users[n++] = c->users[i];
    }
    c->nusers = n;
    c->auth_gen = mauth_gen(c->m->auth);
}

void mconn_users_sync(struct mconn *c)
{
    if (c->auth_gen != mauth_gen(c->m->auth))
        users_recheck(c);
}

bool mconn_user_ok(struct mconn *c, const char *user)
{
    if (c->auth_gen != mauth_gen(c->m->auth))
        users_recheck(c);
    if (mauth_role(c->m->auth, user) < 0)
        return false;
    for (size_t i = 0; i < c->nusers; i++) {
        if (!strcmp(c->users[i], user))
            return true;
    }
    return false;
}

void mconn_user_add(struct mconn *c, const char *user)
{
    char **nu, *u;

    if (mconn_user_ok(c, user))
        return;
    c->auth_gen = mauth_gen(c->m->auth);
    u = strdup(user);
    nu = u ? realloc(c->users, (c->nusers + 1) * sizeof(*nu)) : NULL;
    if (!nu) {
        free(u);
        return;
    }
    c->users = nu;
    c->users[c->nusers++] = u;
    gone_remove(c, user);
}

void mconn_sid_add(struct mconn *c, uint32_t sid)
{
    uint32_t *ns;

    for (size_t i = 0; i < c->nsids; i++) {
        if (c->sids[i] == sid)
            return;
    }
    ns = realloc(c->sids, (c->nsids + 1) * sizeof(*ns));
    if (!ns)
        return;
    c->sids = ns;
    c->sids[c->nsids++] = sid;
}

void mconn_sid_del(struct mconn *c, uint32_t sid)
{
    for (size_t i = 0; i < c->nsids; i++) {
        if (c->sids[i] == sid) {
            c->sids[i] = c->sids[--c->nsids];
            return;
        }
    }
}

/* A `pong` (or any other event a front end may send): seen, nothing more. */
static int frame_event(struct mconn *c, json_t *req, const char **why)
{
    const char *ev = json_string_value(json_object_get(req, "ev"));

    if (!ev || strcmp(ev, "pong") || !json_is_integer(json_object_get(req, "seq"))) {
        *why = "the only event a front end sends is {\"ev\": \"pong\", \"seq\": N}";
        return -1;
    }
    return 0;
}

int mconn_frame(struct mconn *c, const char *hdr, size_t hlen, const char *data, size_t dlen)
{
    json_error_t je;
    json_t *req = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, &je);
    const char *why = NULL;
    char msg[256];
    int rc = 0;

    if (c->m->sup && c->idx >= 0)
        super_seen(c->m->sup, c->idx);
    if (!req) {
        snprintf(msg, sizeof(msg), "the header is not valid JSON: %s at offset %d", je.text, je.position);
        mconn_send_error(c, msg);
        return -1;
    }
    if (!json_is_object(req))
        why = "the header is not a JSON object";
    else if (json_object_get(req, "ev"))
        rc = frame_event(c, req, &why);
    else if (json_is_string(json_object_get(req, "op")) &&
             !strcmp(json_string_value(json_object_get(req, "op")), "interest"))
        rc = mgmt_interest(c, req, &why);
    else if (json_is_string(json_object_get(req, "op")) &&
             !strcmp(json_string_value(json_object_get(req, "op")), "replay"))
        rc = mgmt_replay(c, req, &why);
    else {
        /* a reply must not overtake the `changed` of the state it shows */
        mgmt_changed_flush(c->m);
        rc = mgmt_dispatch(c, req, data, dlen, &why);
    }
    json_decref(req);
    if (why) {
        mconn_send_error(c, why);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

static int frame_taken(struct mconn *c)
{
    char *hdr, *data;
    size_t hlen, dlen;
    int fds[MWIRE_MAX_FDS], nfds = 0, rc;

    mwire_rx_take(&c->rx, &hdr, &hlen, &data, &dlen, fds, &nfds);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (nfds) {
        mconn_send_error(c, "descriptors travel only from ravend to a front end");
        rc = -1;
    } else {
        rc = mconn_frame(c, hdr, hlen, data, dlen);
    }
    free(hdr);
    return c->dead ? -1 : rc;
}

static int rx_error(struct mconn *c, int r)
{
    if (r == -EMSGSIZE)
        mconn_send_error(c, "frame over its limits (header 1..65536 bytes, data up to 64 MiB)");
    else if (r == -EPROTO)
        mconn_send_error(c, "connection closed inside a frame");
    return -1;
}

int mconn_feed(struct mconn *c, const void *p, size_t n)
{
    const unsigned char *b = p;

    while (n) {
        size_t used = 0;
        int r = mwire_rx_feed(&c->rx, b, n, &used);

        b += used;
        n -= used;
        if (r < 0)
            return rx_error(c, r);
        if (r == 0)
            return 0;
        if (frame_taken(c))
            return -1;
    }
    return 0;
}

static void on_conn_read(evutil_socket_t fd, short what, void *arg)
{
    struct mconn *c = arg;
    int r;

    while (!c->dead) {
        r = mwire_rx_read_nb(&c->rx, c->fd);
        if (r == 0)
            return;
        if (r < 0) {
            if (r != -EPIPE)
                log_warn("mgmt", "front end %s: %s; closing its connection",
                         c->m->sup && c->idx >= 0 ? super_name(c->m->sup, c->idx) : "?", strerror(-r));
            rx_error(c, r);
            break;
        }
        if (frame_taken(c))
            break;
    }
    conn_close(c, true);
}

/* ---- the listening socket ---- */

static void refuse(struct mgmt *m, int fd, pid_t pid, uid_t uid)
{
    m->refused++;
    if (m->sup)
        super_note_refused(m->sup);
    log_warn("mgmt", "refused a management connection from pid %d uid %u: not a front end ravend runs",
             (int)pid, (unsigned int)uid);
    close(fd);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct mgmt *m = arg;
    struct ucred cr;
    socklen_t cl = sizeof(cr);
    struct timeval tv = {.tv_sec = MGMT_SEND_TIMEOUT_S};
    struct mconn *c;
    int fd, idx;

    /* blocking for sends (SO_SNDTIMEO), read with MSG_DONTWAIT */
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) || cl != sizeof(cr)) {
        refuse(m, fd, 0, (uid_t)-1);
        return;
    }
    idx = m->sup ? super_peer(m->sup, cr.pid, cr.uid) : -1;
    if (idx < 0) {
        refuse(m, fd, cr.pid, cr.uid);
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c = mconn_new(m, fd, idx);
    if (c)
        c->ev = event_new(m->base, fd, EV_READ | EV_PERSIST, on_conn_read, c);
    if (!c || !c->ev || event_add(c->ev, NULL)) {
        log_err("mgmt", "out of memory accepting front end %s", super_name(m->sup, idx));
        if (c)
            conn_close(c, true);
        else
            close(fd);
        return;
    }
    super_connected(m->sup, idx); /* which logs it */
}

/* Whether a ravend answers on @sa: then this one must not take the socket over. */
int mgmt_socket_open(char name[MGMT_SOCK_NAME_MAX])
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    int fd, rc;

    /* abstract namespace: no file to protect or leave behind; who may talk is
     * decided by the peer's credentials alone (on_accept) */
    snprintf(name, MGMT_SOCK_NAME_MAX, "@raven-mgmt-%ld", (long)getpid());
    memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) || listen(fd, BACKLOG)) {
        rc = -errno;
        log_err("mgmt", "cannot listen on the management socket %s: %s", name, strerror(-rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    return fd;
}

int mgmt_start(struct mgmt *m, int fd)
{
    int rc = mlisten_keys(m->listen);

    m->lfd = fd;
    if (rc)
        return rc;
    m->lev = event_new(m->base, m->lfd, EV_READ | EV_PERSIST, on_accept, m);
    if (!m->lev || event_add(m->lev, NULL))
        return -ENOMEM;
    return 0;
}

void mgmt_free(struct mgmt *m)
{
    if (!m)
        return;
    while (m->conns)
        conn_close(m->conns, false);
    if (m->lev)
        event_free(m->lev);
    if (m->lfd >= 0)
        close(m->lfd);
    if (m->reap)
        event_free(m->reap);
    if (m->changed_ev)
        event_free(m->changed_ev);
    lyd_free_siblings(m->trash);
    mlisten_free(m->listen);
    nacm_free(m->nacm);
    mauth_free(m->auth);
    mreplay_free(m->replay);
    free(m);
}

/* ---- events ---- */

void mgmt_broadcast(struct mgmt *m, enum mgmt_kind kind, unsigned int cls, json_t *hdr, const char *data,
                    size_t dlen)
{
    char *s = NULL;

    /* the header is encoded once, the same frame goes to each */
    for (struct mconn *c = m->conns; hdr && c; c = c->next) {
        if (c->kind == MGMT_KIND_NONE || c->dead || (kind != MGMT_KIND_NONE && c->kind != kind) ||
            (cls && !(c->interest & cls)))
            continue;
        if (!s && !(s = json_dumps(hdr, JSON_COMPACT)))
            break;
        mconn_send_raw(c, s, strlen(s), data, dlen);
    }
    free(s);
    json_decref(hdr);
}

void mgmt_send_listen(struct mgmt *m, struct mconn *c)
{
    int fds[MGMT_MAX_EPS], nfds = 0;
    json_t *j = mlisten_event(m->listen, c->kind, fds, &nfds);

    if (j)
        mconn_send(c, j, NULL, 0, fds, nfds);
    else
        mark_dead(c);
    json_decref(j);
}

void mgmt_users_changed(struct mgmt *m)
{
    mgmt_broadcast(m, MGMT_KIND_NONE, 0, json_pack("{s:s}", "ev", "users"), NULL, 0);
}

void mgmt_ping(int idx, uint32_t seq, void *arg)
{
    struct mgmt *m = arg;

    for (struct mconn *c = m->conns; c; c = c->next) {
        if (c->idx == idx && !c->dead) {
            json_t *j = json_pack("{s:s, s:I}", "ev", "ping", "seq", (json_int_t)seq);

            if (j)
                mconn_send(c, j, NULL, 0, NULL, 0);
            json_decref(j);
            return;
        }
    }
}
