/* ravend's cluster member (daemon/cluster): the /raven-vpn:cluster handler
 * (also told of /raven-vpn:pools/partition, whose index the member
 * advertises), vpn-state/cluster, the IKEv2 engine's redirect hooks, and this
 * headend's sessions published from the engine's session events.
 *
 * Prepare checks the new /cluster (endpoints http:// or https://; the etcd
 * client made with etcd_new, which refuses PEMs that do not parse) and keeps
 * the client for apply (a dry run keeps nothing); a commit that leaves /cluster
 * as it was makes no new member. Apply swaps: the running member leaves (its
 * lease revoked, so its keys go), the new one starts; removing /cluster leaves
 * the cluster. The sessions this headend publishes are the engine's own: read
 * from its state each time a lease is granted, then followed by session-up and
 * session-down. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "daemon/base/log.h"
#include "daemon/cluster/cluster.h"
#include "daemon/cluster/etcd.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

#define ENDPOINTS_MAX 16
#define LEAVING_MAX 4

/* A session of this headend, as published. */
struct own {
    uint64_t id;
    struct cluster_session s;
    UT_hash_handle hh;
};

/* What prepare found, for apply (strings borrowed from the new tree). */
struct next {
    bool swap;            /* the member changes (or goes) */
    struct etcd *etcd;    /* the new member's client; NULL: no member */
    struct cluster_conf conf;
    int partition;
};

struct ravend_cluster {
    struct event_base *base;
    const struct ly_ctx *ctx;
    struct ike_engine *ike;
    struct cluster *cur;
    struct cluster *leaving[LEAVING_MAX];
    const struct cfg_txn *prepared;
    struct next next;
    struct own *own;
    uint64_t writes_before; /* etcd-writes of the members before this one (a counter) */
};

static struct ravend_cluster the;

static const char *leaf(const struct lyd_node *tree, const char *path)
{
    struct lyd_node *n = NULL;

    return !lyd_find_path(tree, path, 0, &n) && n ? lyd_get_value(n) : NULL;
}

static int partition_index(const struct lyd_node *tree)
{
    const char *v = tree ? leaf(tree, "/raven-vpn:pools/partition/index") : NULL;

    return v ? atoi(v) : -1;
}

static int bad(struct cfg_errs *errs, const char *path, const char *msg)
{
    cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, path, "%s", msg);
    return -EINVAL;
}

/* The member's settings from @top (/cluster), checked; the etcd client's in @ec. */
static int conf_parse(const struct lyd_node *tree, struct cluster_conf *c, struct etcd_conf *ec,
                      const char **eps, struct cfg_errs *errs)
{
    struct lyd_node *top = NULL, *n;
    const char *v;

    memset(c, 0, sizeof(*c));
    memset(ec, 0, sizeof(*ec));
    lyd_find_path(tree, "/raven-vpn:cluster", 0, &top);
    c->name = leaf(tree, "/raven-vpn:cluster/name");
    c->address = leaf(tree, "/raven-vpn:cluster/address");
    c->prefix = leaf(tree, "/raven-vpn:cluster/prefix");
    v = leaf(tree, "/raven-vpn:cluster/capacity");
    c->capacity = v ? (uint32_t)strtoul(v, NULL, 10) : 1000;
    v = leaf(tree, "/raven-vpn:cluster/draining");
    c->draining = v && !strcmp(v, "true");
    v = leaf(tree, "/raven-vpn:cluster/lease-ttl");
    c->lease_ttl = v ? (unsigned)strtoul(v, NULL, 10) : 10;
    c->partition = partition_index(tree);
    if (!c->name || !c->address || !cluster_addr_family(c->address))
        return bad(errs, "/raven-vpn:cluster/address", "the cluster member needs a name and an IP address");
    LY_LIST_FOR(lyd_child(top), n) {
        if (strcmp(n->schema->name, "cluster-address"))
            continue;
        if (c->ncluster_addrs == CLUSTER_ADDRS_MAX)
            return bad(errs, "/raven-vpn:cluster/cluster-address", "at most 8 cluster addresses");
        c->cluster_addrs[c->ncluster_addrs++] = lyd_get_value(n);
    }
    if (!lyd_find_path(tree, "/raven-vpn:cluster/etcd", 0, &top))
        LY_LIST_FOR(lyd_child(top), n) {
            if (strcmp(n->schema->name, "endpoint"))
                continue;
            v = lyd_get_value(n);
            if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
                return bad(errs, "/raven-vpn:cluster/etcd/endpoint", "an etcd endpoint is an http:// or https:// URL");
            if (ec->nendpoints == ENDPOINTS_MAX)
                return bad(errs, "/raven-vpn:cluster/etcd/endpoint", "at most 16 etcd endpoints");
            eps[ec->nendpoints++] = v;
        }
    if (!ec->nendpoints)
        return bad(errs, "/raven-vpn:cluster/etcd/endpoint", "the cluster needs an etcd endpoint");
    ec->endpoints = eps;
    ec->username = leaf(tree, "/raven-vpn:cluster/etcd/username");
    ec->password = leaf(tree, "/raven-vpn:cluster/etcd/password");
    ec->ca_pem = leaf(tree, "/raven-vpn:cluster/etcd/ca-certificate");
    ec->cert_pem = leaf(tree, "/raven-vpn:cluster/etcd/certificate");
    ec->key_pem = leaf(tree, "/raven-vpn:cluster/etcd/private-key");
    return 0;
}

static int cl_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct ravend_cluster *r = arg;
    const struct lyd_node *nt = cfg_txn_new(txn), *ot = cfg_txn_old(txn);
    struct lyd_node *ntop = NULL, *otop = NULL;
    const char *eps[ENDPOINTS_MAX];
    struct etcd_conf ec;
    char err[256] = "";

    if (r->prepared == txn)
        return 0;
    etcd_free(r->next.etcd);
    memset(&r->next, 0, sizeof(r->next));
    r->next.partition = partition_index(nt);
    if (nt)
        lyd_find_path(nt, "/raven-vpn:cluster", 0, &ntop);
    if (ot)
        lyd_find_path(ot, "/raven-vpn:cluster", 0, &otop);
    if (!ntop) {
        r->next.swap = r->cur != NULL;
    } else if (!r->cur || !otop || lyd_compare_single(otop, ntop, LYD_COMPARE_FULL_RECURSION)) {
        if (conf_parse(nt, &r->next.conf, &ec, eps, errs))
            return -EINVAL;
        r->next.etcd = etcd_new(r->base, &ec, err, sizeof(err));
        if (!r->next.etcd)
            return bad(errs, "/raven-vpn:cluster/etcd", *err ? err : "the etcd client cannot be made");
        if (cfg_txn_is_dry_run(txn)) {
            etcd_free(r->next.etcd);
            r->next.etcd = NULL;
        }
        r->next.swap = true;
    }
    r->prepared = txn;
    return 0;
}

static void cl_abort(struct cfg_txn *txn, void *arg)
{
    struct ravend_cluster *r = arg;

    if (r->prepared != txn)
        return;
    etcd_free(r->next.etcd);
    memset(&r->next, 0, sizeof(r->next));
    r->prepared = NULL;
}

static void on_gone(struct cluster *c, void *arg)
{
    struct ravend_cluster *r = arg;

    for (size_t i = 0; i < LEAVING_MAX; i++) {
        if (r->leaving[i] == c)
            r->leaving[i] = NULL;
    }
}

static void leave(struct ravend_cluster *r, struct cluster *c)
{
    size_t i = 0;

    while (i < LEAVING_MAX && r->leaving[i])
        i++;
    if (i == LEAVING_MAX) { /* commits faster than etcd answers: the oldest lease expires */
        cluster_free(r->leaving[0]);
        memmove(r->leaving, r->leaving + 1, (LEAVING_MAX - 1) * sizeof(r->leaving[0]));
        i = LEAVING_MAX - 1;
    }
    r->leaving[i] = c;
    cluster_leave(c, on_gone, r);
}

static void own_count(struct ravend_cluster *r)
{
    cluster_set_sessions(r->cur, (uint32_t)HASH_COUNT(r->own));
}

static void own_clear(struct ravend_cluster *r)
{
    struct own *o, *t;

    HASH_ITER(hh, r->own, o, t) {
        HASH_DEL(r->own, o);
        free(o);
    }
}

/* One of the engine's sessions (a vpn-state/session entry) into the table. */
static void own_from_state(struct ravend_cluster *r, const struct lyd_node *sess)
{
    const struct lyd_node *n;
    struct lyd_node *val = NULL;
    const char *user = NULL, *eap = NULL, *rid = NULL;
    struct own *o = calloc(1, sizeof(*o));

    if (!o)
        return;
    LY_LIST_FOR(lyd_child(sess), n) {
        const char *k = n->schema->name, *v = lyd_get_value(n);

        if (!strcmp(k, "id"))
            o->id = strtoull(v, NULL, 10);
        else if (!strcmp(k, "authorized-user"))
            user = v;
        else if (!strcmp(k, "eap-identity"))
            eap = v;
        else if (!strcmp(k, "remote-identity") && !lyd_find_path(n, "value", 0, &val) && val)
            rid = lyd_get_value(val);
        else if ((!strcmp(k, "assigned-ipv4") || !strcmp(k, "assigned-ipv6")) && o->s.naddr < CLUSTER_SESS_ADDRS)
            snprintf(o->s.addr[o->s.naddr++], sizeof(o->s.addr[0]), "%.*s", (int)strcspn(v, "/"), v);
    }
    snprintf(o->s.user, sizeof(o->s.user), "%s", user ? user : eap ? eap : rid ? rid : "");
    if (!o->id) {
        free(o);
        return;
    }
    HASH_ADD(hh, r->own, id, sizeof(o->id), o);
}

/* cluster_resync_fn: a lease was granted; the engine says which sessions are up. */
static void resync(struct cluster *c, void *arg)
{
    struct ravend_cluster *r = arg;
    struct ike_state_sel sel = {.sessions = true};
    struct lyd_node *st = NULL, *n;
    struct own *o, *t;

    if (r->ike && !lyd_new_inner(NULL, ly_ctx_get_module_implemented(r->ctx, "raven-vpn"), "vpn-state", 0, &st) &&
        !ike_engine_state(r->ike, st, &sel)) {
        own_clear(r);
        LY_LIST_FOR(lyd_child(st), n) {
            if (!strcmp(n->schema->name, "session"))
                own_from_state(r, n);
        }
    }
    lyd_free_tree(st);
    HASH_ITER(hh, r->own, o, t)
        cluster_session_put(c, o->id, &o->s);
    cluster_set_sessions(c, (uint32_t)HASH_COUNT(r->own));
}

static void cl_apply(struct cfg_txn *txn, void *arg)
{
    struct ravend_cluster *r = arg;

    if (r->prepared != txn)
        return;
    r->prepared = NULL;
    if (r->next.swap) {
        if (r->cur) {
            struct cluster_info ci;

            cluster_info(r->cur, &ci);
            r->writes_before += ci.writes;
            leave(r, r->cur);
        }
        r->cur = NULL;
        if (r->next.etcd) {
            r->next.conf.partition = r->next.partition;
            r->cur = cluster_new(r->base, r->next.etcd, &r->next.conf, resync, r);
            if (!r->cur)
                log_err("cluster", "out of memory: this headend is no cluster member");
        }
    } else if (r->cur) {
        cluster_set_partition(r->cur, r->next.partition);
    }
    memset(&r->next, 0, sizeof(r->next));
}

int ravend_cluster_register(struct cfg *cfg, const struct ly_ctx *ctx, struct event_base *base,
                            struct ike_engine *ike)
{
    static const char *const paths[] = {"/raven-vpn:cluster", "/raven-vpn:pools/partition"};
    int err = 0;

    memset(&the, 0, sizeof(the));
    the.base = base;
    the.ctx = ctx;
    the.ike = ike;
    for (size_t i = 0; !err && i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct cfg_handler h = {.name = "cluster", .path = paths[i], .prepare = cl_prepare, .abort = cl_abort,
                                .apply = cl_apply, .arg = &the};
        err = cfg_handler_register(cfg, &h);
    }
    /* the engine asks where new clients (and sessions moved by rpc
     * redirect-sessions) should go */
    if (!err && ike)
        ike_engine_set_redirect_hooks(ike, ravend_cluster_redirect_init, ravend_cluster_redirect_other, &the);
    return err;
}

void ravend_cluster_free(void)
{
    cluster_free(the.cur);
    the.cur = NULL;
    for (size_t i = 0; i < LEAVING_MAX; i++) {
        cluster_free(the.leaving[i]);
        the.leaving[i] = NULL;
    }
    etcd_free(the.next.etcd);
    the.next.etcd = NULL;
    own_clear(&the);
}

static void add_str(struct lyd_node *p, const char *name, const char *v)
{
    lyd_new_term(p, NULL, name, v, 0, NULL);
}

static void add_u64(struct lyd_node *p, const char *name, uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    lyd_new_term(p, NULL, name, buf, 0, NULL);
}

static void sess_state(const char *member, uint64_t id, const struct cluster_session *s, void *arg)
{
    struct lyd_node *n = NULL;
    char ids[24];

    snprintf(ids, sizeof(ids), "%" PRIu64, id);
    if (lyd_new_list(arg, NULL, "session", 0, &n, member, ids))
        return;
    add_str(n, "user", s->user);
    for (size_t i = 0; i < s->naddr; i++)
        add_str(n, "address", s->addr[i]);
}

void ravend_cluster_state(struct lyd_node *vpn_state)
{
    struct lyd_node *top = NULL, *n;
    const struct cluster_member *m;
    struct cluster_info ci;
    size_t nm;

    if (!the.cur || lyd_new_inner(vpn_state, NULL, "cluster", 0, &top))
        return;
    cluster_info(the.cur, &ci);
    add_str(top, "etcd-state", cluster_state_name(ci.state));
    if (ci.endpoint && *ci.endpoint)
        add_str(top, "etcd-endpoint", ci.endpoint);
    if (ci.error && *ci.error)
        add_str(top, "etcd-error", ci.error);
    add_str(top, "distributing", ci.distributing ? "true" : "false");
    add_u64(top, "member-records-ignored", ci.ignored);
    add_u64(top, "etcd-writes", the.writes_before + ci.writes);
    m = cluster_members(the.cur, &nm);
    for (size_t i = 0; i < nm; i++) {
        if (lyd_new_list(top, NULL, "member", 0, &n, m[i].name))
            continue;
        add_str(n, "address", m[i].address);
        add_u64(n, "sessions", m[i].sessions);
        add_u64(n, "capacity", m[i].capacity);
        add_str(n, "health", m[i].draining ? "draining" : "up");
        if (m[i].partition >= 0)
            add_u64(n, "partition-index", (uint64_t)m[i].partition);
        add_str(n, "self", strcmp(m[i].name, cluster_name(the.cur)) ? "false" : "true");
    }
    cluster_foreach_session(the.cur, sess_state, top);
}

bool ravend_cluster_session_wanted(const char *name)
{
    return the.cur && (!strcmp(name, "session-up") || !strcmp(name, "session-down"));
}

/* The text of the first element <@name> in @xml (the engine's event, see
 * ike_evxml.c: one level of leaves, escaped as &amp; &lt; &gt; &#13;), from
 * @from on; the offset after it, or 0 when there is none. */
static size_t xml_leaf(const char *xml, size_t len, size_t from, const char *name, char *out, size_t outlen)
{
    char open[48], close[48];
    const char *b, *e, *end = xml + len;
    size_t o = 0;

    snprintf(open, sizeof(open), "<%s>", name);
    snprintf(close, sizeof(close), "</%s>", name);
    b = from < len ? memmem(xml + from, len - from, open, strlen(open)) : NULL;
    if (!b)
        return 0;
    b += strlen(open);
    e = memmem(b, (size_t)(end - b), close, strlen(close));
    if (!e)
        return 0;
    while (b < e && o + 1 < outlen) {
        static const struct {
            const char *esc;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&#13;", '\r'}};
        size_t k = 0;

        while (*b == '&' && k < 4 && strncmp(b, ents[k].esc, strlen(ents[k].esc)))
            k++;
        if (*b == '&' && k < 4) {
            out[o++] = ents[k].c;
            b += strlen(ents[k].esc);
        } else
            out[o++] = *b++;
    }
    out[o] = 0;
    return (size_t)(e - xml) + strlen(close);
}

void ravend_cluster_session_event(const char *name, const char *xml, size_t len)
{
    char idt[24], a[INET6_ADDRSTRLEN + 8];
    struct own *o;
    uint64_t id;
    size_t p;

    if (!ravend_cluster_session_wanted(name) || !xml_leaf(xml, len, 0, "session-id", idt, sizeof(idt)))
        return;
    id = strtoull(idt, NULL, 10);
    HASH_FIND(hh, the.own, &id, sizeof(id), o);
    if (!strcmp(name, "session-down")) {
        if (o) {
            HASH_DEL(the.own, o);
            free(o);
        }
        cluster_session_delete(the.cur, id);
        own_count(&the);
        return;
    }
    if (!o && !(o = calloc(1, sizeof(*o))))
        return;
    if (!o->id) {
        o->id = id;
        HASH_ADD(hh, the.own, id, sizeof(o->id), o);
    }
    memset(&o->s, 0, sizeof(o->s));
    /* the user as vpn-state/session names it: authorized, else EAP, else IKE identity */
    if (!xml_leaf(xml, len, 0, "authorized-user", o->s.user, sizeof(o->s.user)) &&
        !xml_leaf(xml, len, 0, "eap-identity", o->s.user, sizeof(o->s.user)))
        xml_leaf(xml, len, 0, "remote-identity", o->s.user, sizeof(o->s.user));
    /* an address, and an IPv6 one without its prefix length */
    if (xml_leaf(xml, len, 0, "assigned-ipv4", a, sizeof(a)) && strlen(a) < sizeof(o->s.addr[0]))
        memcpy(o->s.addr[o->s.naddr++], a, strlen(a) + 1);
    if (xml_leaf(xml, len, 0, "assigned-ipv6", a, sizeof(a)) && (p = strcspn(a, "/")) < sizeof(o->s.addr[0]))
        memcpy(o->s.addr[o->s.naddr++], a, p);
    cluster_session_put(the.cur, id, &o->s);
    own_count(&the);
}

bool ravend_cluster_redirect_init(void *arg, const struct sockaddr *local, const struct sockaddr *remote, char *gw,
                                  size_t gwlen)
{
    (void)arg;
    (void)remote;
    return cluster_redirect_init(the.cur, local, gw, gwlen);
}

bool ravend_cluster_redirect_other(void *arg, char *gw, size_t gwlen)
{
    (void)arg;
    return cluster_redirect_other(the.cur, gw, gwlen);
}
