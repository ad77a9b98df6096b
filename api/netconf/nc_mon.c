/* ietf-netconf-monitoring (RFC 6022) beyond capabilities and schemas: the NETCONF
 * sessions of this process with their user, address, login time and counters; the
 * statistics since this process started (the counters of ended sessions kept);
 * the datastores and their global locks, which ravend holds. Partial locks (RFC
 * 5717) do not exist in Raven. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/poison.h"

void nc_mon_count(struct nc_api *api, const struct nc_session *s, int r)
{
    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess *e = api->sessions; e; e = e->next) {
        if (e->s != s)
            continue;
        if (r & NC_PSPOLL_RPC)
            e->c.in_rpcs++;
        if (r & NC_PSPOLL_BAD_RPC)
            e->c.in_bad_rpcs++;
        if (r & NC_PSPOLL_REPLY_ERROR)
            e->c.out_rpc_errors++;
        break;
    }
    pthread_mutex_unlock(&api->sess_lock);
}

static void term_u64(struct lyd_node *parent, const char *name, uint64_t v)
{
    char b[24];

    /* yang:zero-based-counter32 wraps */
    snprintf(b, sizeof(b), "%llu", (unsigned long long)(v & 0xffffffffu));
    lyd_new_term(parent, NULL, name, b, 0, NULL);
}

static void counters(struct lyd_node *parent, const struct nc_counters *c)
{
    term_u64(parent, "in-rpcs", c->in_rpcs);
    term_u64(parent, "in-bad-rpcs", c->in_bad_rpcs);
    term_u64(parent, "out-rpc-errors", c->out_rpc_errors);
    term_u64(parent, "out-notifications", c->out_notifs);
}

static void sessions(struct nc_api *api, struct lyd_node *ncs)
{
    struct lyd_node *list = NULL, *stats = NULL;
    struct nc_counters sum;
    char id[16], *t = NULL;

    lyd_new_inner(ncs, NULL, "sessions", 0, &list);
    pthread_mutex_lock(&api->sess_lock);
    sum = api->ended;
    for (struct nc_sess *e = api->sessions; e && list; e = e->next) {
        struct lyd_node *s = NULL;
        const char *host = nc_session_get_host(e->s);

        snprintf(id, sizeof(id), "%u", e->sid);
        if (lyd_new_list(list, NULL, "session", 0, &s, id))
            continue;
        lyd_new_term(s, NULL, "transport", "ietf-netconf-monitoring:netconf-ssh", 0, NULL);
        lyd_new_term(s, NULL, "username", nc_session_get_username(e->s) ? nc_session_get_username(e->s) : "", 0,
                     NULL);
        if (host)
            lyd_new_term(s, NULL, "source-host", host, 0, NULL);
        if (!ly_time_time2str(nc_session_get_start_time(e->s), NULL, &t))
            lyd_new_term(s, NULL, "login-time", t, 0, NULL);
        free(t);
        t = NULL;
        counters(s, &e->c);
        sum.in_rpcs += e->c.in_rpcs;
        sum.in_bad_rpcs += e->c.in_bad_rpcs;
        sum.out_rpc_errors += e->c.out_rpc_errors;
        sum.out_notifs += e->c.out_notifs;
    }
    if (!lyd_new_inner(ncs, NULL, "statistics", 0, &stats)) {
        if (!ly_time_time2str(api->start, NULL, &t))
            lyd_new_term(stats, NULL, "netconf-start-time", t, 0, NULL);
        free(t);
        term_u64(stats, "in-bad-hellos", api->bad_hellos);
        term_u64(stats, "in-sessions", api->in_sessions);
        term_u64(stats, "dropped-sessions", api->dropped_sessions);
        counters(stats, &sum);
    }
    pthread_mutex_unlock(&api->sess_lock);
}

static void datastores(struct nc_api *api, struct lyd_node *ncs)
{
    static const char *const names[] = {"running", "candidate", "startup"};
    struct mc_lock locks[3];
    struct lyd_node *dss = NULL;
    size_t n = 0;

    if (mc_locks(api->mc, locks, 3, &n))
        n = 0; /* ravend unreachable: no lock shown */
    if (lyd_new_inner(ncs, NULL, "datastores", 0, &dss))
        return;
    for (size_t i = 0; i < 3; i++) {
        struct lyd_node *ds = NULL, *l = NULL, *g = NULL;

        if (lyd_new_list(dss, NULL, "datastore", 0, &ds, names[i]))
            continue;
        for (size_t k = 0; k < n; k++) {
            char sid[16];

            if (strcmp(locks[k].ds, names[i]) || lyd_new_inner(ds, NULL, "locks", 0, &l) ||
                lyd_new_inner(l, NULL, "global-lock", 0, &g))
                continue;
            snprintf(sid, sizeof(sid), "%u", locks[k].sid);
            lyd_new_term(g, NULL, "locked-by-session", sid, 0, NULL);
            lyd_new_term(g, NULL, "locked-time", locks[k].time, 0, NULL);
        }
    }
}

void nc_mon_state(struct nc_api *api, struct lyd_node *ncs)
{
    if (!ncs)
        return;
    datastores(api, ncs);
    sessions(api, ncs);
}
