/* The session manager and a session's life (sess.h): the list of sessions by
 * id, the session lifetime, what a session frees when it goes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/session/sess.h"
#include "daemon/base/poison.h"

void sess_mgr_init(struct sess_mgr *m, struct event_base *base, const struct sess_ops *ops)
{
    memset(m, 0, sizeof(*m));
    m->base = base;
    m->ops = ops;
    m->boot = (uint32_t)time(NULL);
}

void sess_mgr_set_aaa(struct sess_mgr *m, struct aaa *aaa)
{
    m->aaa = aaa;
    if (aaa)
        aaa_set_dae_handler(aaa, sess_dae, m);
}

void sess_mgr_set_dhcp(struct sess_mgr *m, struct dhcp_client *dhcp)
{
    m->dhcp = dhcp;
}

void sess_mgr_set_dp(struct sess_mgr *m, struct dp *dp, struct sess_arena *arena)
{
    m->dp = dp;
    m->arena = arena;
}

void sess_mgr_set_pools(struct sess_mgr *m, struct pool_set *pools, struct pool_set *pools6)
{
    m->pools = pools;
    m->pools6 = pools6;
}

static void on_life(evutil_socket_t fd, short what, void *arg)
{
    struct sess *ss = arg;

    (void)fd;
    (void)what;
    ss->m->ops->end(ss, "session-lifetime", true);
}

bool sess_init(struct sess *ss, struct sess_mgr *m)
{
    ss->m = m;
    ss->ev_life = evtimer_new(m->base, on_life, ss);
    return ss->ev_life != NULL;
}

void sess_add(struct sess *ss)
{
    struct sess *o;

    HASH_FIND(hh, ss->m->by_id, &ss->id, sizeof(ss->id), o);
    if (o || ss->listed)
        return;
    HASH_ADD(hh, ss->m->by_id, id, sizeof(ss->id), ss);
    ss->listed = true;
}

void sess_del(struct sess *ss)
{
    if (!ss->listed)
        return;
    HASH_DELETE(hh, ss->m->by_id, ss);
    ss->listed = false;
}

struct sess *sess_find(const struct sess_mgr *m, uint64_t id)
{
    struct sess *ss;

    HASH_FIND(hh, m->by_id, &id, sizeof(id), ss);
    return ss;
}

void sess_lifetime_arm(struct sess *ss)
{
    time_t left;

    if (!ss->session_lifetime || !ss->ev_life)
        return;
    left = (ss->established ? ss->established : time(NULL)) + (time_t)ss->session_lifetime - time(NULL);
    evtimer_add(ss->ev_life, &(struct timeval){.tv_sec = left > 0 ? left : 0});
}

void sess_end(struct sess *ss, const char *reason, bool was_up)
{
    if (was_up)
        sess_acct_stop(ss, reason);
    if (ss->ev_life)
        evtimer_del(ss->ev_life);
}

void sess_release(struct sess *ss)
{
    char **strs[] = {&ss->remote_id, &ss->local_id, &ss->eap_identity, &ss->profile,   &ss->ipsec_profile,
                     &ss->auth_method, &ss->user,     &ss->group,        &ss->authz_sources, &ss->cert_tp,
                     &ss->acct_list, &ss->acct_class, &ss->pool,         &ss->pool6};

    if (ss->m)
        sess_del(ss);
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    X509_NAME_free(ss->cert_issuer);
    ASN1_INTEGER_free(ss->cert_serial);
    ss->cert_issuer = NULL;
    ss->cert_serial = NULL;
    if (ss->ev_acct)
        event_free(ss->ev_acct);
    if (ss->ev_life)
        event_free(ss->ev_life);
    if (ss->ev_dhcp)
        event_free(ss->ev_dhcp);
    ss->ev_acct = ss->ev_life = ss->ev_dhcp = NULL;
    free(ss->dhcp);
    ss->dhcp = NULL;
}
