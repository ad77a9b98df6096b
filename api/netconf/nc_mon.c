/* ietf-netconf-monitoring (RFC 6022) beyond capabilities and schemas: the NETCONF
 * sessions of this process with their user, address, login time and counters; the
 * statistics since this process started (the counters of ended sessions kept);
 * the datastores and their locks, global and partial (RFC 5717), which ravend
 * holds; the partial-lock and partial-unlock operations. */
#include <errno.h>
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

/* The partial-lock entries of running's <locks>. */
static void partial(struct lyd_node *ds, const struct mc_plock *pl, size_t n)
{
    struct lyd_node *l = NULL;
    char v[16];

    if (n && lyd_new_inner(ds, NULL, "locks", 0, &l))
        return;
    for (size_t i = 0; i < n; i++) {
        struct lyd_node *p = NULL;

        snprintf(v, sizeof(v), "%u", pl[i].id);
        if (lyd_new_list(l, NULL, "partial-lock", 0, &p, v))
            continue;
        snprintf(v, sizeof(v), "%u", pl[i].sid);
        lyd_new_term(p, NULL, "locked-by-session", v, 0, NULL);
        lyd_new_term(p, NULL, "locked-time", pl[i].time, 0, NULL);
        for (size_t k = 0; k < pl[i].nselect; k++)
            lyd_new_term(p, NULL, "select", pl[i].select[k], 0, NULL);
        for (size_t k = 0; k < pl[i].nnodes; k++)
            lyd_new_term(p, NULL, "locked-node", pl[i].nodes[k], 0, NULL);
    }
}

static void datastores(struct nc_api *api, struct lyd_node *ncs)
{
    static const char *const names[] = {"running", "candidate", "startup"};
    struct mc_lock locks[3];
    struct mc_plock *pl = NULL;
    struct lyd_node *dss = NULL;
    size_t n = 0, npl = 0;

    if (mc_locks(api->mc, locks, 3, &n, &pl, &npl))
        n = 0; /* ravend unreachable: no lock shown */
    if (lyd_new_inner(ncs, NULL, "datastores", 0, &dss)) {
        mc_plocks_free(pl, npl);
        return;
    }
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
        if (i == 0)
            partial(ds, pl, npl);
    }
    mc_plocks_free(pl, npl);
}

void nc_mon_state(struct nc_api *api, struct lyd_node *ncs)
{
    if (!ncs)
        return;
    datastores(api, ncs);
    sessions(api, ncs);
}

/* partial-lock (RFC 5717) of running, held by ravend; the select expressions use
 * module names as prefixes ("/raven-vpn:pools/ipv4-pool[name='p1']"), as libyang
 * keeps a string's text without its XML namespaces. */
struct nc_server_reply *nc_op_partial_lock(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    const char **sel = NULL;
    struct lyd_node *c, *out = NULL;
    char **nodes = NULL, id[16];
    size_t n = 0, nnodes = 0;
    uint32_t lock_id = 0;
    int rc;

    LY_LIST_FOR(lyd_child(r->rpc), c) {
        if (c->schema && !strcmp(c->schema->name, "select")) {
            const char **t = realloc(sel, (n + 1) * sizeof(*t));

            if (!t) {
                free(sel);
                return nc_reply_rc(api->ctx, -ENOMEM, &errs);
            }
            sel = t;
            sel[n++] = lyd_get_value(c);
        }
    }
    rc = mc_partial_lock(api->mc, &r->actor, sel, n, &lock_id, &nodes, &nnodes, &errs);
    free(sel);
    if (!rc) {
        snprintf(id, sizeof(id), "%u", lock_id);
        if (lyd_dup_single(r->rpc, NULL, 0, &out) || lyd_new_term(out, NULL, "lock-id", id, 1, NULL))
            rc = -ENOMEM;
        for (size_t i = 0; !rc && i < nnodes; i++)
            if (lyd_new_term(out, NULL, "locked-node", nodes[i], 1, NULL))
                rc = -ENOMEM;
        if (rc) {
            /* the client never learns the lock's id: release it */
            struct cfg_errs ignored = {0};

            mc_partial_unlock(api->mc, &r->actor, lock_id, &ignored);
            cfg_errs_clear(&ignored);
        }
    }
    for (size_t i = 0; i < nnodes; i++)
        free(nodes[i]);
    free(nodes);
    if (rc) {
        lyd_free_tree(out);
        return nc_reply_rc(api->ctx, rc, &errs);
    }
    return nc_server_reply_data(out, NC_WD_EXPLICIT, NC_PARAMTYPE_FREE);
}

struct nc_server_reply *nc_op_partial_unlock(struct rpc_req *r)
{
    const char *v = nc_child_val(r->rpc, "lock-id");
    struct cfg_errs errs = {0};
    int rc = mc_partial_unlock(r->api->mc, &r->actor, v ? (uint32_t)strtoul(v, NULL, 10) : 0, &errs);

    return nc_reply_rc(r->api->ctx, rc, &errs);
}
