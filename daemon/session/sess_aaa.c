/* A session's RADIUS (sess.h): its Access-Requests (EAP, authorization, keys),
 * its accounting (RFC 2866: Start, interim updates, Stop) and dynamic
 * authorization on the sessions of a manager (RFC 5176: Disconnect-Request,
 * CoA-Request). RADIUS sees a session through its Acct-Session-Id,
 * Calling-Station-Id (the client's outer address, ops->peer) and NAS-Port-Id
 * (the session id). */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/log.h"
#include "daemon/session/sess.h"
#include "daemon/base/poison.h"

/* ---- Access-Requests ---- */

bool sess_aaa_radius(const struct sess *ss, enum aaa_list_kind kind, const char *list)
{
    return ss->m->aaa && list && aaa_list_source(ss->m->aaa, kind, list) == AAA_RADIUS;
}

struct aaa_op *sess_aaa_access(struct sess *ss, enum aaa_list_kind kind, const char *list, struct aaa_access *q,
                               aaa_access_fn done, void *arg)
{
    char peer[INET6_ADDRSTRLEN], port[24];

    if (!ss->m->aaa || !list)
        return NULL;
    ss->m->ops->peer(ss, peer, sizeof(peer));
    snprintf(port, sizeof(port), "%" PRIu64, ss->id);
    q->calling_station = peer;
    q->nas_port_id = port;
    return aaa_access_send(ss->m->aaa, kind, list, q, done, arg); /* the request is encoded before it returns */
}

struct aaa_op *sess_authz_query(struct sess *ss, const char *list, const char *name, aaa_access_fn done, void *arg)
{
    /* Service-Type Outbound and the fixed password of the vendor's
     * authorization requests (S5, S9) */
    struct aaa_access q = {.user = name, .password = "cisco", .service_type = 5};

    return sess_aaa_radius(ss, AAA_AUTHORIZATION, list) ? sess_aaa_access(ss, AAA_AUTHORIZATION, list, &q, done, arg)
                                                         : NULL;
}

/* ---- accounting (RFC 2866) ---- */

static void acct_send(struct sess *ss, int status, uint32_t cause)
{
    struct sess_mgr *m = ss->m;
    char peer[INET6_ADDRSTRLEN], port[24];
    struct aaa_acct r = {.status = status, .session_id = ss->acct_id, .calling_station = peer,
                         .class_ = ss->acct_class, .nas_port_id = port, .terminate_cause = cause};

    if (!ss->acct_list || !m->aaa)
        return;
    m->ops->peer(ss, peer, sizeof(peer));
    snprintf(port, sizeof(port), "%" PRIu64, ss->id);
    r.user = ss->eap_identity ? ss->eap_identity : ss->user ? ss->user : ss->remote_id;
    r.has_addr = ss->have_addr4;
    r.addr = ss->addr4;
    if (status != AAA_ACCT_START) {
        struct sess_traffic t = {0};

        m->ops->traffic(ss, &t);
        r.in_octets = t.in_octets;
        r.out_octets = t.out_octets;
        r.in_packets = t.in_packets;
        r.out_packets = t.out_packets;
        r.session_time = ss->established ? (uint32_t)(time(NULL) - ss->established) : 0;
    }
    aaa_acct_send(m->aaa, ss->acct_list, &r);
}

static void on_acct(evutil_socket_t fd, short what, void *arg)
{
    struct sess *ss = arg;
    uint32_t iv = ss->m->aaa ? aaa_interim_interval(ss->m->aaa) : 0;

    (void)fd;
    (void)what;
    if (!ss->m->ops->up(ss))
        return;
    acct_send(ss, AAA_ACCT_INTERIM, 0);
    if (iv)
        evtimer_add(ss->ev_acct, &(struct timeval){.tv_sec = iv});
}

/* Interim updates every @iv seconds (none when 0). */
static void interim_arm(struct sess *ss, uint32_t iv)
{
    if (iv && (ss->ev_acct || (ss->ev_acct = evtimer_new(ss->m->base, on_acct, ss))))
        evtimer_add(ss->ev_acct, &(struct timeval){.tv_sec = iv});
}

void sess_acct_start(struct sess *ss)
{
    /* the process's start and the session's number (its low 32 bits, so that the
     * id fits); an adopted session keeps the id its Start was sent with */
    snprintf(ss->acct_id, sizeof(ss->acct_id), "%08" PRIX32 "%08" PRIX32, ss->m->boot, (uint32_t)ss->id);
    if (!ss->acct_list || !ss->m->aaa)
        return;
    acct_send(ss, AAA_ACCT_START, 0);
    interim_arm(ss, aaa_interim_interval(ss->m->aaa));
}

void sess_acct_resume(struct sess *ss)
{
    if (ss->acct_list && ss->m->aaa)
        interim_arm(ss, aaa_interim_interval(ss->m->aaa));
}

void sess_acct_stop(struct sess *ss, const char *reason)
{
    static const struct {
        const char *reason;
        uint32_t cause;
    } map[] = {{"peer-delete", 1},    {"dpd-timeout", 2},       {"session-lifetime", 5}, {"ike-lifetime", 5},
               {"admin-clear", 6},    {"radius-disconnect", 6}, {"replaced", 10},        {"rekey-failure", 10},
               {"certificate-revoked", 6}, /* Admin-Reset: the CA revoked it */
               {"redirected", 10},         /* NAS-Request: the client did not follow a REDIRECT */
               {"config-change", 10}, {"shutdown", 11},         {"dataplane-failure", 8},
               {"dhcp-lease-lost", 3},  {"idle-timeout", 4}};
    uint32_t cause = 9; /* NAS-Error */

    if (ss->ev_acct)
        evtimer_del(ss->ev_acct);
    for (size_t i = 0; reason && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].reason, reason))
            cause = map[i].cause;
    acct_send(ss, AAA_ACCT_STOP, cause);
}

/* ---- dynamic authorization (RFC 5176) ---- */

static bool dae_matches(const struct sess *ss, const struct aaa_dae *q)
{
    if (!ss->m->ops->up(ss))
        return false;
    if (q->session_id && strcmp(q->session_id, ss->acct_id))
        return false;
    if (q->user && !((ss->eap_identity && !strcmp(q->user, ss->eap_identity)) ||
                     (ss->user && !strcmp(q->user, ss->user)) || (ss->remote_id && !strcmp(q->user, ss->remote_id))))
        return false;
    if (q->has_addr && !(ss->have_addr4 && ss->addr4 == q->addr))
        return false;
    return true;
}

/* What a CoA changes on a live session: its session lifetime (Session-Timeout
 * seconds from now, kept as a lifetime from its establishment, at most
 * UINT32_MAX: a server's "no limit" of 0xFFFFFFFF must not wrap into an end
 * at once), its flow limit, its bandwidth limits (a direction the CoA does
 * not name keeps its own). */
static void coa_apply(struct sess *ss, const struct aaa_attrs *a)
{
    if (a->session_timeout) {
        uint64_t life = (uint64_t)(time(NULL) - ss->established) + a->session_timeout;

        ss->session_lifetime = life > UINT32_MAX ? UINT32_MAX : (uint32_t)life;
        sess_lifetime_arm(ss);
    }
    if (a->flow_limit != UINT32_MAX)
        ss->m->ops->flow_limit(ss, a->flow_limit);
    /* raven:rate-limit-in/-out: the dataplane's buckets change at once */
    if (a->rate_in || a->rate_out) {
        const uint32_t kbps[2] = {a->rate_in, a->rate_out}, burst[2] = {a->burst_in, a->burst_out};

        for (int d = 0; d < 2; d++) {
            if (kbps[d]) {
                ss->rate.kbps[d] = kbps[d];
                ss->rate.burst[d] = burst[d];
            }
        }
        sess_rate_apply(ss);
    }
    ss->m->ops->changed(ss);
    log_info("ike", "session %" PRIu64 " changed by CoA:%s%s%s%s", ss->id, a->session_timeout ? " session-timeout" : "",
             a->flow_limit != UINT32_MAX ? " flow-limit" : "", a->rate_in ? " rate-limit-in" : "",
             a->rate_out ? " rate-limit-out" : "");
}

int sess_dae(const struct aaa_dae *q, void *arg)
{
    struct sess_mgr *m = arg;
    struct sess *ss, *tmp;
    uint64_t *ids = NULL;
    size_t n = 0, others;
    const struct aaa_attrs *a = &q->attrs;

    HASH_ITER(hh, m->by_id, ss, tmp) {
        if (dae_matches(ss, q)) {
            uint64_t *more = realloc(ids, (n + 1) * sizeof(*ids));

            if (!more) {
                free(ids);
                return AAA_EC_RESOURCES_UNAVAILABLE;
            }
            ids = more;
            ids[n++] = ss->id;
        }
    }
    if (!n)
        return AAA_EC_SESSION_NOT_FOUND;
    /* CoA: what can change on a live session */
    others = a->n - a->n_again - (a->session_timeout ? 1 : 0) - (a->flow_limit != UINT32_MAX ? 1 : 0) -
             (a->has_addr ? 1 : 0) - (a->rate_in ? 1 : 0) - (a->rate_out ? 1 : 0);
    if (q->coa && others) {
        free(ids);
        return AAA_EC_UNSUPPORTED_ATTRIBUTE;
    }
    /* by identifier: ending one session may end others (their stubs), so no
     * pointer is kept across it */
    for (size_t i = 0; i < n; i++) {
        if (!(ss = sess_find(m, ids[i])))
            continue;
        if (q->coa)
            coa_apply(ss, a);
        else
            m->ops->end(ss, "radius-disconnect", true);
    }
    free(ids);
    return 0;
}
