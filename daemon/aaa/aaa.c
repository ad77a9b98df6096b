/* The AAA service: the aaa subtree (compiled by aaa_conf.c) pushed to the RADIUS
 * client, access and accounting requests through method lists, the dynamic
 * authorization socket's life across commits (its requests: aaa_dae.c), and the
 * radius-server counters of vpn-state. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/aaa/aaa.h"
#include "daemon/aaa/aaa_int.h"
#include "daemon/aaa/radius_client.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

struct aaa_op {
    struct aaa *a;
    struct aaa_op *next, **pprev;
    enum aaa_list_kind kind;
    char *list;
    size_t method; /* the method of the list being asked */
    struct rad_req *req;
    bool acct;
    /* the request */
    uint8_t code;
    char *user, *password, *calling, *port_id;
    uint8_t *eap, *state;
    size_t eap_len, state_len;
    uint32_t service_type;
    struct aaa_acct ac;
    char *ac_session, *ac_user, *ac_calling, *ac_class, *ac_port;
    aaa_access_fn done;
    void *arg;
};

/* ---- the service ---- */

struct aaa *aaa_new(struct event_base *base)
{
    struct aaa *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->base = base;
    a->dae_fd = a->new_dae_fd = -1;
    a->rc = rad_client_new(base);
    if (!a->rc) {
        free(a);
        return NULL;
    }
    return a;
}

static void op_free(struct aaa_op *op)
{
    if (op->pprev) {
        *op->pprev = op->next;
        if (op->next)
            op->next->pprev = op->pprev;
    }
    free(op->list);
    free(op->user);
    if (op->password)
        OPENSSL_cleanse(op->password, strlen(op->password));
    free(op->password);
    free(op->calling);
    free(op->port_id);
    free(op->eap);
    free(op->state);
    free(op->ac_session);
    free(op->ac_user);
    free(op->ac_calling);
    free(op->ac_class);
    free(op->ac_port);
    free(op);
}

void aaa_free(struct aaa *a)
{
    if (!a)
        return;
    while (a->ops) {
        if (a->ops->req)
            rad_client_cancel(a->ops->req);
        op_free(a->ops);
    }
    rad_client_free(a->rc);
    if (a->dae_ev)
        event_free(a->dae_ev);
    if (a->dae_fd >= 0)
        close(a->dae_fd);
    aaa_abort(a);
    aaa_conf_free(a->conf);
    free(a);
}

int aaa_prepare(struct aaa *a, const struct lyd_node *tree, bool dry_run, aaa_err_fn err, void *arg)
{
    struct aaa_conf *c = calloc(1, sizeof(*c));
    int rc;

    aaa_abort(a);
    if (!c)
        return -ENOMEM;
    rc = aaa_conf_compile(tree, c, err, arg);
    if (rc) {
        aaa_conf_free(c);
        return rc;
    }
    /* the dynamic authorization socket: only with clients, bound here so that a
     * port that cannot be bound fails the commit; it is read from apply on */
    a->new_dae_port = c->ndae ? c->dae_port : 0;
    if (a->new_dae_port && a->new_dae_port != a->dae_port_bound) {
        a->new_dae_fd = aaa_dae_open(a->new_dae_port);
        if (a->new_dae_fd < 0) {
            char msg[160];

            snprintf(msg, sizeof(msg), "cannot listen for dynamic authorization on UDP port %u: %s",
                     a->new_dae_port, strerror(-a->new_dae_fd));
            err(arg, "/raven-vpn:aaa/dynamic-author-port", msg);
            a->new_dae_fd = -1;
            aaa_conf_free(c);
            return -EADDRINUSE;
        }
        if (dry_run) { /* the port can be bound; a dry run keeps nothing */
            close(a->new_dae_fd);
            a->new_dae_fd = -1;
            a->pending = c;
            return 0;
        }
        a->new_dae_ev = event_new(a->base, a->new_dae_fd, EV_READ | EV_PERSIST, aaa_dae_recv, a);
        if (!a->new_dae_ev) {
            close(a->new_dae_fd);
            a->new_dae_fd = -1;
            aaa_conf_free(c);
            return -ENOMEM;
        }
    }
    a->pending = c;
    return 0;
}

void aaa_abort(struct aaa *a)
{
    aaa_conf_free(a->pending);
    a->pending = NULL;
    if (a->new_dae_ev)
        event_free(a->new_dae_ev);
    a->new_dae_ev = NULL;
    if (a->new_dae_fd >= 0)
        close(a->new_dae_fd);
    a->new_dae_fd = -1;
}

/* The client's groups: every server group twice, with the authentication and
 * with the accounting ports. Groups that went away are emptied. */
static void push_groups(struct aaa *a, const struct aaa_conf *old, const struct aaa_conf *c)
{
    for (size_t i = 0; old && i < old->ngroups; i++) {
        bool kept = false;
        char acct[300];

        for (size_t j = 0; j < c->ngroups && !kept; j++)
            kept = !strcmp(c->groups[j].name, old->groups[i].name);
        if (kept)
            continue;
        snprintf(acct, sizeof(acct), AAA_ACCT_PREFIX "%s", old->groups[i].name);
        rad_client_set_group(a->rc, old->groups[i].name, NULL, 0);
        rad_client_set_group(a->rc, acct, NULL, 0);
    }
    for (size_t i = 0; i < c->ngroups; i++) {
        const struct aaa_group *g = &c->groups[i];
        struct rad_server_conf sc[32], ac[32];
        size_t n = 0;
        char acct[300];

        for (size_t j = 0; j < g->n && n < 32; j++) {
            const struct aaa_server *s = aaa_conf_server(c, g->servers[j]);

            if (!s)
                continue;
            sc[n] = (struct rad_server_conf){.name = s->name, .addr = s->auth, .source = s->source, .secret = s->secret,
                                             .timeout_ms = s->timeout_ms, .retransmits = s->retransmits,
                                             .deadtime_s = g->deadtime_s, .require_ma = s->require_ma};
            ac[n] = sc[n];
            ac[n].addr = s->acct;
            n++;
        }
        snprintf(acct, sizeof(acct), AAA_ACCT_PREFIX "%s", g->name);
        if (rad_client_set_group(a->rc, g->name, sc, n) || rad_client_set_group(a->rc, acct, ac, n))
            log_err("radius", "server group %s: cannot open its sockets", g->name);
    }
}

void aaa_apply(struct aaa *a)
{
    struct aaa_conf *old = a->conf;

    if (!a->pending)
        return;
    a->conf = a->pending;
    a->pending = NULL;
    push_groups(a, old, a->conf);
    aaa_conf_free(old);
    if (a->new_dae_fd >= 0 || !a->new_dae_port) {
        /* a new port, or none any more */
        if (a->dae_ev)
            event_free(a->dae_ev);
        if (a->dae_fd >= 0)
            close(a->dae_fd);
        a->dae_ev = a->new_dae_ev;
        a->dae_fd = a->new_dae_fd;
        a->dae_port_bound = a->new_dae_fd >= 0 ? a->new_dae_port : 0;
        a->new_dae_ev = NULL;
        a->new_dae_fd = -1;
        if (a->dae_ev)
            event_add(a->dae_ev, NULL);
    }
}

void aaa_set_dae_handler(struct aaa *a, aaa_dae_fn fn, void *arg)
{
    a->dae_fn = fn;
    a->dae_arg = arg;
}

uint32_t aaa_interim_interval(const struct aaa *a)
{
    return a->conf ? a->conf->interim : 0;
}

enum aaa_source aaa_list_source(const struct aaa *a, enum aaa_list_kind kind, const char *list)
{
    const struct aaa_list *l = aaa_conf_list(a->conf, kind, list);

    if (!l || !l->n)
        return AAA_NONE;
    return l->m[0].local ? AAA_LOCAL : AAA_RADIUS;
}

/* ---- requests ---- */

static void build_access(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *secret, void *arg)
{
    struct aaa_op *op = arg;

    rad_init(p, RAD_ACCESS_REQUEST, id, auth);
    if (op->user)
        rad_add_str(p, RAD_USER_NAME, op->user);
    if (op->password)
        rad_add_password(p, secret, strlen(secret), op->password);
    rad_add_u32(p, RAD_SERVICE_TYPE, op->service_type);
    rad_add_u32(p, RAD_NAS_PORT_TYPE, 5); /* Virtual */
    rad_add_str(p, RAD_NAS_IDENTIFIER, "raven");
    if (op->calling)
        rad_add_str(p, RAD_CALLING_STATION_ID, op->calling);
    if (op->port_id)
        rad_add_str(p, RAD_NAS_PORT_ID, op->port_id);
    if (op->state_len)
        rad_add(p, RAD_STATE, op->state, op->state_len);
    if (op->eap_len)
        rad_add_eap(p, op->eap, op->eap_len);
    else
        rad_add_msg_auth(p); /* on every Access-Request (RFC 5080 2.2.2 advice) */
}

static void build_acct(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *secret, void *arg)
{
    struct aaa_op *op = arg;
    const struct aaa_acct *r = &op->ac;

    rad_init(p, RAD_ACCOUNTING_REQUEST, id, auth);
    rad_add_u32(p, RAD_ACCT_STATUS_TYPE, (uint32_t)r->status);
    if (op->ac_session)
        rad_add_str(p, RAD_ACCT_SESSION_ID, op->ac_session);
    if (op->ac_user)
        rad_add_str(p, RAD_USER_NAME, op->ac_user);
    if (op->ac_class)
        rad_add_str(p, RAD_CLASS, op->ac_class);
    rad_add_str(p, RAD_NAS_IDENTIFIER, "raven");
    rad_add_u32(p, RAD_NAS_PORT_TYPE, 5);
    rad_add_u32(p, RAD_SERVICE_TYPE, 2);
    if (op->ac_calling)
        rad_add_str(p, RAD_CALLING_STATION_ID, op->ac_calling);
    if (op->ac_port)
        rad_add_str(p, RAD_NAS_PORT_ID, op->ac_port);
    if (r->has_addr)
        rad_add_u32(p, RAD_FRAMED_IP_ADDRESS, r->addr);
    rad_add_u32(p, RAD_EVENT_TIMESTAMP, (uint32_t)time(NULL));
    if (r->status != AAA_ACCT_START) {
        rad_add_u32(p, RAD_ACCT_SESSION_TIME, r->session_time);
        rad_add_u32(p, RAD_ACCT_INPUT_OCTETS, (uint32_t)r->in_octets);
        rad_add_u32(p, RAD_ACCT_OUTPUT_OCTETS, (uint32_t)r->out_octets);
        rad_add_u32(p, RAD_ACCT_INPUT_GIGAWORDS, (uint32_t)(r->in_octets >> 32));
        rad_add_u32(p, RAD_ACCT_OUTPUT_GIGAWORDS, (uint32_t)(r->out_octets >> 32));
        rad_add_u32(p, RAD_ACCT_INPUT_PACKETS, (uint32_t)r->in_packets);
        rad_add_u32(p, RAD_ACCT_OUTPUT_PACKETS, (uint32_t)r->out_packets);
    }
    if (r->status == AAA_ACCT_STOP && r->terminate_cause)
        rad_add_u32(p, RAD_ACCT_TERMINATE_CAUSE, r->terminate_cause);
}

static bool op_next(struct aaa_op *op);

static void access_done(const struct rad_view *v, int err, const char *server, const uint8_t req_auth[16],
                        const char *secret, void *arg)
{
    struct aaa_op *op = arg;
    struct aaa_reply *r;

    op->req = NULL;
    if (!v && err == -ETIMEDOUT) {
        op->method++;
        if (op_next(op))
            return; /* the next group of the list */
    }
    if (op->acct) {
        if (!v)
            log_warn("radius", "accounting for %s: no server of list %s answered", op->ac_session ? op->ac_session : "?",
                     op->list);
        op_free(op);
        return;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        op_free(op);
        return;
    }
    aaa_attrs_init(&r->attrs);
    r->server = server;
    if (!v) {
        r->result = err == -ETIMEDOUT ? AAA_UNREACHABLE : AAA_FAILED;
    } else {
        struct rad_attr at;
        size_t pos = 0;

        r->result = v->code == RAD_ACCESS_ACCEPT ? AAA_ACCEPT : v->code == RAD_ACCESS_CHALLENGE ? AAA_CHALLENGE
                                                                                                : AAA_REJECT;
        r->eap_len = rad_eap(v, r->eap, sizeof(r->eap));
        if (rad_find(v, RAD_STATE, &at) && at.len <= sizeof(r->state)) {
            memcpy(r->state, at.val, at.len);
            r->state_len = at.len;
        }
        if (rad_find(v, RAD_REPLY_MESSAGE, &at))
            snprintf(r->reply_message, sizeof(r->reply_message), "%.*s", (int)at.len, (const char *)at.val);
        if (r->result == AAA_ACCEPT) {
            uint8_t recv[64], send[64];
            size_t nr = 0, ns = 0;

            while (rad_next(v, &pos, &at)) {
                uint32_t vendor;
                uint8_t vt;
                const uint8_t *val;
                size_t len;

                if (at.type != RAD_VENDOR_SPECIFIC || !rad_vsa(&at, &vendor, &vt, &val, &len) ||
                    vendor != RAD_VENDOR_MICROSOFT)
                    continue;
                if (vt == RAD_MS_MPPE_RECV_KEY)
                    nr = rad_mppe_key(val, len, secret, strlen(secret), req_auth, recv, sizeof(recv));
                else if (vt == RAD_MS_MPPE_SEND_KEY)
                    ns = rad_mppe_key(val, len, secret, strlen(secret), req_auth, send, sizeof(send));
            }
            /* MSK = Recv-Key | Send-Key, zero-padded to 64 octets (RFC 3748,
             * MS-CHAPv2 keys are 16 octets each: RFC 3079 3.3) */
            if (nr && ns && nr + ns <= sizeof(r->msk)) {
                memcpy(r->msk, recv, nr);
                memcpy(r->msk + nr, send, ns);
                r->msk_len = sizeof(r->msk);
            }
            OPENSSL_cleanse(recv, sizeof(recv));
            OPENSSL_cleanse(send, sizeof(send));
            if (aaa_attrs_parse(v, secret, req_auth, &r->attrs))
                r->result = AAA_FAILED;
            else if (r->attrs.unknown)
                log_info("radius", "%s: attribute not understood, ignored: %s", server, r->attrs.unknown);
        }
    }
    op->done(r, op->arg);
    OPENSSL_cleanse(r->msk, sizeof(r->msk));
    aaa_attrs_free(&r->attrs);
    free(r);
    op_free(op);
}

/* Sends the operation to the group of its current method, or the next one that
 * is a group. False when the list has no more groups. */
static bool op_next(struct aaa_op *op)
{
    const struct aaa_list *l = aaa_conf_list(op->a->conf, op->kind, op->list);

    for (; l && op->method < l->n; op->method++) {
        char acct[300];

        if (!l->m[op->method].group)
            continue;
        snprintf(acct, sizeof(acct), AAA_ACCT_PREFIX "%s", l->m[op->method].group);
        op->req = rad_client_send(op->a->rc, op->acct ? acct : l->m[op->method].group,
                                  op->acct ? build_acct : build_access, access_done, op);
        if (op->req)
            return true;
    }
    return false;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static struct aaa_op *op_new(struct aaa *a, enum aaa_list_kind kind, const char *list)
{
    struct aaa_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->a = a;
    op->kind = kind;
    if (!(op->list = strdup(list))) {
        free(op);
        return NULL;
    }
    op->next = a->ops;
    if (a->ops)
        a->ops->pprev = &op->next;
    a->ops = op;
    op->pprev = &a->ops;
    return op;
}

struct aaa_op *aaa_access_send(struct aaa *a, enum aaa_list_kind kind, const char *list, const struct aaa_access *q,
                               aaa_access_fn done, void *arg)
{
    struct aaa_op *op = list ? op_new(a, kind, list) : NULL;

    if (!op)
        return NULL;
    op->done = done;
    op->arg = arg;
    op->user = dup_or_null(q->user);
    op->password = dup_or_null(q->password);
    op->calling = dup_or_null(q->calling_station);
    op->port_id = dup_or_null(q->nas_port_id);
    op->service_type = q->service_type ? q->service_type : 2;
    if (q->eap_len && (op->eap = malloc(q->eap_len))) {
        memcpy(op->eap, q->eap, q->eap_len);
        op->eap_len = q->eap_len;
    }
    if (q->state_len && (op->state = malloc(q->state_len))) {
        memcpy(op->state, q->state, q->state_len);
        op->state_len = q->state_len;
    }
    if ((q->user && !op->user) || (q->eap_len && !op->eap) || (q->state_len && !op->state) || !op_next(op)) {
        op_free(op);
        return NULL;
    }
    return op;
}

void aaa_cancel(struct aaa_op *op)
{
    if (!op)
        return;
    if (op->req)
        rad_client_cancel(op->req);
    op_free(op);
}

void aaa_acct_send(struct aaa *a, const char *list, const struct aaa_acct *r)
{
    struct aaa_op *op = list ? op_new(a, AAA_ACCOUNTING, list) : NULL;

    if (!op)
        return;
    op->acct = true;
    op->ac = *r;
    op->ac_session = dup_or_null(r->session_id);
    op->ac_user = dup_or_null(r->user);
    op->ac_calling = dup_or_null(r->calling_station);
    op->ac_class = dup_or_null(r->class_);
    op->ac_port = dup_or_null(r->nas_port_id);
    if (!op_next(op)) {
        log_warn("radius", "accounting list %s has no server group", list);
        op_free(op);
    }
}

/* ---- state ---- */

static void add_u64(struct lyd_node *p, const char *name, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%" PRIu64, v);
    lyd_new_term(p, NULL, name, b, 0, NULL);
}

void aaa_state(const struct aaa *a, struct lyd_node *state)
{
    const struct aaa_conf *c = a->conf;

    for (size_t i = 0; c && i < c->nservers; i++) {
        struct rad_server_stats t = {0}, acc = {0};
        struct lyd_node *n = NULL;
        bool any = false, dead = false;
        uint64_t rtt = 0;

        /* a server may be in several groups: its counters are the sum */
        for (size_t g = 0; g < c->ngroups; g++) {
            struct rad_server_stats st;
            char acct[300];

            snprintf(acct, sizeof(acct), AAA_ACCT_PREFIX "%s", c->groups[g].name);
            if (rad_client_stats(a->rc, c->groups[g].name, c->servers[i].name, &st)) {
                any = true;
                t.requests += st.requests;
                t.retransmits += st.retransmits;
                t.timeouts += st.timeouts;
                t.accepts += st.accepts;
                t.rejects += st.rejects;
                t.challenges += st.challenges;
                t.malformed += st.malformed + st.bad_authenticators;
                dead |= st.dead;
                if (st.rtt_us)
                    rtt = st.rtt_us;
            }
            if (rad_client_stats(a->rc, acct, c->servers[i].name, &st)) {
                acc.requests += st.requests;
                acc.responses += st.responses;
                t.retransmits += st.retransmits;
                t.timeouts += st.timeouts;
                t.malformed += st.malformed + st.bad_authenticators;
            }
        }
        if (lyd_new_list(state, NULL, "radius-server", 0, &n, c->servers[i].name))
            continue;
        lyd_new_term(n, NULL, "state", any && dead ? "dead" : "alive", 0, NULL);
        add_u64(n, "requests", t.requests);
        add_u64(n, "retransmits", t.retransmits);
        add_u64(n, "timeouts", t.timeouts);
        add_u64(n, "accepts", t.accepts);
        add_u64(n, "rejects", t.rejects);
        add_u64(n, "challenges", t.challenges);
        add_u64(n, "malformed-responses", t.malformed);
        add_u64(n, "accounting-requests", acc.requests);
        add_u64(n, "accounting-responses", acc.responses);
        add_u64(n, "rtt", (rtt + 500) / 1000);
    }
}
