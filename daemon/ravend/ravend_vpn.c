/* ravend's glue between the datastore, the management socket, the IKEv2 engine and
 * the dataplane: the configuration handlers of the VPN and dataplane subtrees, the
 * operational state of <get>, the raven-vpn RPCs and the session notifications. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/aaa/aaa.h"
#include "daemon/base/log.h"
#include "daemon/cprof/cprof.h"
#include "daemon/ike/ike_engine.h"
#include "dataplane/dp.h"
#include "daemon/ravend/ravend.h"
#include "daemon/session/sess_arena.h"
#include "daemon/base/poison.h"

/* The subtrees the IKEv2 engine compiles into one configuration (it reads the
 * authorization method lists of aaa too). */
/* dataplane: the outside interface's replay-window is the default of IPsec
 * profiles without one (compiled into the IKE engine's generation) */
static const char *const vpn_paths[] = {"/raven-vpn:ikev2",        "/raven-vpn:ipsec", "/raven-vpn:pools",
                                        "/raven-vpn:access-lists", "/raven-vpn:pki",   "/raven-vpn:aaa",
                                        "/raven-vpn:dataplane"};

struct vpn {
    struct ike_engine *ike;
    struct aaa *aaa;
    struct dp *dp;
    const struct cfg_txn *prepared; /* one prepare per transaction, whichever subtree changed */
    bool applied;
};

static struct vpn vpn_state;

static void add_err(void *arg, const char *path, const char *msg)
{
    cfg_err_add(arg, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, path, "%s", msg);
}

/* The data paths of every change of @txn and of what its validation added or
 * removed, for the engine to compile only what they touch; NULL (everything
 * changed) when the change set is not the whole difference or out of memory. */
static const char **vpn_changed(const struct cfg_txn *txn, size_t *n)
{
    const struct cfg_change *chg, *made;
    size_t nchg, nmade;
    const char **paths;

    *n = 0;
    if (!cfg_txn_all_changes(txn, &chg, &nchg, &made, &nmade) ||
        !(paths = calloc(nchg + nmade + 1, sizeof(*paths))))
        return NULL;
    for (size_t i = 0; i < nchg + nmade; i++) {
        const struct cfg_change *c = i < nchg ? &chg[i] : &made[i - nchg];

        paths[(*n)++] = c->snode && c->path ? c->path : "/";
    }
    return paths;
}

static int vpn_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct vpn *v = arg;
    const char **changed;
    size_t nchanged;
    int rc;

    if (v->prepared == txn)
        return 0;
    /* the AAA service first: the engine's sessions may ask it as soon as both apply */
    rc = aaa_prepare(v->aaa, cfg_txn_new(txn), cfg_txn_is_dry_run(txn), add_err, errs);
    if (!rc) {
        changed = vpn_changed(txn, &nchanged);
        rc = ike_engine_prepare_changed(v->ike, cfg_txn_new(txn), changed, nchanged, cfg_txn_is_dry_run(txn),
                                        add_err, errs);
        free(changed);
        if (rc)
            aaa_abort(v->aaa);
    }
    if (rc && !errs->count)
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL, "the IKE service cannot take the "
                    "change: %s", strerror(-rc));
    if (!rc) {
        v->prepared = txn;
        v->applied = false;
    }
    return rc;
}

static void vpn_abort(struct cfg_txn *txn, void *arg)
{
    struct vpn *v = arg;

    if (v->prepared != txn)
        return;
    ike_engine_abort(v->ike);
    aaa_abort(v->aaa);
    v->prepared = NULL;
}

static void vpn_apply(struct cfg_txn *txn, void *arg)
{
    struct vpn *v = arg;

    if (v->prepared != txn || v->applied)
        return;
    aaa_apply(v->aaa);
    ike_engine_apply(v->ike);
    v->applied = true;
    v->prepared = NULL;
}

/* The dataplane's interfaces: prepare builds the new set beside the running one
 * (dp_ifset_prepare: checked, XDP programs loaded, workers' memory and sockets
 * made; no worker stops, no program is attached or detached), apply switches. A
 * dry run only checks (dp_check_interfaces). What cannot be reserved while the
 * running set holds it, the attachment and the AF_XDP binds, is left to apply;
 * should the driver refuse native mode or the kernel a bind there, the previous
 * set is served again, it is logged, and the operational state shows the
 * interfaces really served. */
struct dplane {
    struct dp *dp;
    const struct cfg_txn *prepared;
    struct dp_ifset *next; /* a real commit's new set, switched to at apply */
    struct dp_if_conf cur[DP_MAX_IFACES], want[DP_MAX_IFACES];
    size_t ncur, nwant;
    /* /dataplane/crypto-backend: checked at prepare, set at apply */
    enum dp_crypto_backend cb_cur, cb_want;
};

static struct dplane dplane_state;

static int dp_conf_parse(const struct lyd_node *tree, struct dp_if_conf *ifs, size_t *n, struct cfg_errs *errs)
{
    struct lyd_node *top = NULL, *it, *l;

    *n = 0;
    if (lyd_find_path(tree, "/raven-vpn:dataplane", 0, &top) || !top)
        return 0;
    LY_LIST_FOR(lyd_child(top), it) {
        struct dp_if_conf c = {0};

        if (strcmp(it->schema->name, "interface"))
            continue;
        if (*n == DP_MAX_IFACES) {
            cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, "/raven-vpn:dataplane/interface",
                        "at most %d dataplane interfaces", DP_MAX_IFACES);
            return -EINVAL;
        }
        LY_LIST_FOR(lyd_child(it), l) {
            const char *name = l->schema->name, *v = lyd_get_value(l);

            if (!strcmp(name, "name"))
                snprintf(c.name, sizeof(c.name), "%s", v);
            else if (!strcmp(name, "role"))
                c.role = strcmp(v, "inside") ? DP_ROLE_OUTSIDE : DP_ROLE_INSIDE;
            else if (!strcmp(name, "xdp-mode"))
                c.mode = !strcmp(v, "native") ? DP_XDP_NATIVE : !strcmp(v, "generic") ? DP_XDP_GENERIC : DP_XDP_AUTO;
            else if (!strcmp(name, "queues"))
                c.queues = (uint16_t)strtoul(v, NULL, 10);
        }
        ifs[(*n)++] = c;
    }
    return 0;
}

/* /dataplane/crypto-backend (default auto) */
static enum dp_crypto_backend crypto_backend_parse(const struct lyd_node *tree)
{
    struct lyd_node *l = NULL;
    const char *v;

    if (lyd_find_path(tree, "/raven-vpn:dataplane/crypto-backend", 0, &l) || !l)
        return DP_CRYPTO_AUTO;
    v = lyd_get_value(l);
    return !strcmp(v, "openssl") ? DP_CRYPTO_OPENSSL : !strcmp(v, "ipsec-mb") ? DP_CRYPTO_IPSEC_MB : DP_CRYPTO_AUTO;
}

void ravend_vpn_crypto_preset(const struct lyd_node *running)
{
    struct dplane *d = &dplane_state;
    enum dp_crypto_backend b = crypto_backend_parse(running);
    char err[256] = "";

    if (!d->dp)
        return;
    if (dp_check_crypto_backend(b, err, sizeof(err))) {
        log_warn("dataplane", "%s: OpenSSL EVP instead", err);
        b = DP_CRYPTO_OPENSSL;
    }
    if (!dp_set_crypto_backend(d->dp, b, err, sizeof(err)))
        d->cb_cur = b;
}

static int dplane_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct dplane *d = arg;
    struct dp_if_conf ifs[DP_MAX_IFACES];
    size_t n;
    char err[256] = "";
    int rc;

    dp_ifset_free(d->next);
    d->next = NULL;
    d->cb_want = crypto_backend_parse(cfg_txn_new(txn));
    if ((rc = dp_check_crypto_backend(d->cb_want, err, sizeof(err))) &&
        (cfg_txn_is_initial(txn) || crypto_backend_parse(cfg_txn_old(txn)) == d->cb_want)) {
        /* at start (and in commits that leave the leaf as it was) the stored
         * configuration is not refused for the CPU or build it now runs on:
         * OpenSSL, and vpn-state/dataplane/crypto says why (the warning once:
         * at start it came from ravend_vpn_crypto_preset) */
        if (d->cb_cur != DP_CRYPTO_OPENSSL)
            log_warn("dataplane", "%s: OpenSSL EVP instead", err);
        d->cb_want = DP_CRYPTO_OPENSSL;
        rc = 0;
    }
    if (rc) { /* an interactive commit is refused */
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, "/raven-vpn:dataplane/crypto-backend", "%s",
                    err);
        return rc;
    }
    if (dp_conf_parse(cfg_txn_new(txn), ifs, &n, errs))
        return -EINVAL;
    /* unchanged and running as configured (a failed switch leaves the previous set
     * or none: then the same configuration is tried again) */
    if (n == d->ncur && !memcmp(ifs, d->cur, n * sizeof(ifs[0])) && dp_if_count(d->dp) == n) {
        d->prepared = txn;
        return 0;
    }
    rc = cfg_txn_is_dry_run(txn) ? dp_check_interfaces(d->dp, ifs, n, err, sizeof(err))
                                 : dp_ifset_prepare(d->dp, ifs, n, &d->next, err, sizeof(err));
    if (rc) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, "/raven-vpn:dataplane", "%s", err);
        return rc;
    }
    memcpy(d->want, ifs, sizeof(ifs));
    d->nwant = n;
    d->prepared = txn;
    return 0;
}

static void dplane_abort(struct cfg_txn *txn, void *arg)
{
    struct dplane *d = arg;

    if (d->prepared != txn)
        return;
    d->prepared = NULL;
    dp_ifset_free(d->next);
    d->next = NULL;
}

static void dplane_apply(struct cfg_txn *txn, void *arg)
{
    struct dplane *d = arg;
    struct dp_ifset *set = d->next;
    char err[256] = "";
    int rc;

    if (d->prepared != txn)
        return;
    d->prepared = NULL;
    d->next = NULL;
    if (d->cb_want != d->cb_cur) {
        /* checked at prepare; SAs installed from now on take it */
        if ((rc = dp_set_crypto_backend(d->dp, d->cb_want, err, sizeof(err))))
            log_err("dataplane", "crypto backend: %s", err);
        else {
            struct dp_crypto_info ci;

            dp_crypto_info(d->dp, &ci);
            log_info("dataplane", "ESP crypto backend of new SAs: %s", ci.in_use);
            d->cb_cur = d->cb_want;
        }
    }
    if (!set)
        return;
    if ((rc = dp_ifset_apply(d->dp, set, err, sizeof(err)))) {
        log_err("dataplane", "cannot switch to the committed interfaces, %s: %s; fix the cause and commit again",
                rc == -ENETDOWN ? "nor serve the previous ones again (no interface is served)"
                                : "the previous ones are served again",
                err);
        return;
    }
    for (size_t i = 0; i < d->nwant; i++) {
        struct dp_if_stats st;
        if (!dp_if_stats(d->dp, i, &st))
            log_info("dataplane", "%s (%s): XDP %s, %u queue(s)", st.name,
                     st.role == DP_ROLE_INSIDE ? "inside" : "outside", st.mode == DP_MODE_NATIVE ? "native" : "generic",
                     st.queues);
    }
    memcpy(d->cur, d->want, sizeof(d->cur));
    d->ncur = d->nwant;
}

int ravend_vpn_register(struct cfg *cfg, struct ike_engine *ike, struct aaa *aaa, struct dp *dp)
{
    struct cfg_handler dh = {.name = "dataplane", .path = "/raven-vpn:dataplane", .prepare = dplane_prepare,
                             .abort = dplane_abort, .apply = dplane_apply, .arg = &dplane_state};
    int rc;

    vpn_state.ike = ike;
    vpn_state.aaa = aaa;
    vpn_state.dp = dp;
    dplane_state.dp = dp;
    /* ipsec-mb's probe and self-test at start, logged (the configuration may
     * then force a backend) */
    if (dp) {
        char err[200];
        dp_check_crypto_backend(DP_CRYPTO_AUTO, err, sizeof(err));
    }
    rc = cfg_handler_register(cfg, &dh);
    for (size_t i = 0; !rc && i < sizeof(vpn_paths) / sizeof(vpn_paths[0]); i++) {
        struct cfg_handler h = {.name = "ike", .path = vpn_paths[i], .prepare = vpn_prepare, .abort = vpn_abort,
                                .apply = vpn_apply, .arg = &vpn_state};
        rc = cfg_handler_register(cfg, &h);
    }
    return rc;
}

static void add_u64(struct lyd_node *parent, const char *name, uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    lyd_new_term(parent, NULL, name, buf, 0, NULL);
}

static const char *const drop_leaf[DP_DROP_N] = {
    [DP_DROP_NO_SA] = "no-sa",         [DP_DROP_REPLAY] = "replay",       [DP_DROP_AUTH] = "auth-failure",
    [DP_DROP_MALFORMED] = "malformed", [DP_DROP_SELECTOR] = "selector-mismatch",
    [DP_DROP_NO_ROUTE] = "no-route",   [DP_DROP_MTU] = "mtu-exceeded", [DP_DROP_RING_FULL] = "ring-full",
    [DP_DROP_FRAGMENT] = "fragment",   [DP_DROP_EXPIRED] = "sa-expired", [DP_DROP_POLICED] = "policed",
    [DP_DROP_OTHER] = "other",
};

/* A worker's reassembly and inner fragmentation (dataplane/dp_frag.h). */
static void worker_frag_state(struct lyd_node *wk, const struct dp_worker_stats *w)
{
    struct lyd_node *f;

    if (lyd_new_inner(wk, NULL, "fragments", 0, &f))
        return;
    add_u64(f, "received", w->frag_received);
    add_u64(f, "reassembled", w->frag_reassembled);
    add_u64(f, "timeouts", w->frag_timeouts);
    add_u64(f, "invalid", w->frag_invalid);
    add_u64(f, "evictions", w->frag_evictions);
    add_u64(f, "inner-fragmented", w->inner_fragmented);
    add_u64(f, "inner-fragments", w->inner_fragments);
}

/* vpn-state/dataplane: interfaces and workers, counters summed over workers. */
static void dataplane_state(struct dp *dp, struct lyd_node *st)
{
    struct lyd_node *top = NULL, *n, *d;
    struct dp_crypto_info ci;

    if (!dp || lyd_new_inner(st, NULL, "dataplane", 0, &top))
        return;
    dp_crypto_info(dp, &ci);
    if (!lyd_new_inner(top, NULL, "crypto", 0, &n)) {
        lyd_new_term(n, NULL, "backend", ci.in_use, 0, NULL);
        lyd_new_term(n, NULL, "ipsec-mb-arch", ci.ipsec_mb_arch, 0, NULL);
        lyd_new_term(n, NULL, "ipsec-mb-status", ci.ipsec_mb_status, 0, NULL);
        add_u64(n, "transforms-openssl", ci.xforms_openssl);
        add_u64(n, "transforms-ipsec-mb", ci.xforms_ipsec_mb);
    }
    for (size_t i = 0; i < dp_if_count(dp); i++) {
        struct dp_if_stats s;

        if (dp_if_stats(dp, i, &s) || lyd_new_list(top, NULL, "interface", 0, &n, s.name))
            continue;
        lyd_new_term(n, NULL, "mode-in-use", s.mode == DP_MODE_NATIVE ? "native" : s.mode == DP_MODE_GENERIC ? "generic"
                     : "down", 0, NULL);
        add_u64(n, "queues", s.queues);
        add_u64(n, "rx-packets", s.rx_packets);
        add_u64(n, "rx-bytes", s.rx_bytes);
        add_u64(n, "tx-packets", s.tx_packets);
        add_u64(n, "tx-bytes", s.tx_bytes);
        add_u64(n, "to-kernel", s.to_kernel);
        if (lyd_new_inner(n, NULL, "drops", 0, &d))
            continue;
        for (size_t r = 0; r < DP_DROP_N; r++)
            add_u64(d, drop_leaf[r], s.drops[r]);
    }
    for (size_t i = 0; i < dp_worker_count(dp); i++) {
        struct dp_worker_stats w;
        char id[24];

        snprintf(id, sizeof(id), "%zu", i);
        if (dp_worker_stats(dp, i, &w) || lyd_new_list(top, NULL, "worker", 0, &n, id))
            continue;
        add_u64(n, "cpu", w.cpu);
        add_u64(n, "queue", w.queue);
        add_u64(n, "packets-decrypted", w.packets_decrypted);
        add_u64(n, "packets-encrypted", w.packets_encrypted);
        add_u64(n, "bytes-decrypted", w.bytes_decrypted);
        add_u64(n, "bytes-encrypted", w.bytes_encrypted);
        add_u64(n, "drops", w.drops);
        add_u64(n, "busy-polls", w.busy_polls);
        add_u64(n, "idle-polls", w.idle_polls);
        worker_frag_state(n, &w);
    }
}

int ravend_vpn_state(struct ly_ctx *ctx, struct lyd_node **data, struct mgmt_state_sel *sel, void *arg)
{
    struct lyd_node *st = NULL;
    struct ike_state_sel is = {
        .sessions = sel->sessions, .count_only = sel->count_only, .others = sel->others, .one = sel->one,
        .id = sel->id, .paged = sel->paged, .limit = sel->limit, .offset = sel->offset,
        .has_cursor = sel->has_cursor, .cursor = sel->cursor};

    if (!sel->sessions && !sel->others)
        return 0;
    if (lyd_new_inner(NULL, ly_ctx_get_module_implemented(ctx, "raven-vpn"), "vpn-state", 0, &st))
        return -ENOMEM;
    if (ike_engine_state(vpn_state.ike, st, &is)) {
        lyd_free_tree(st);
        return -ENOMEM;
    }
    sel->total = is.total;
    sel->remaining = is.remaining;
    sel->next = is.next;
    if (sel->others) {
        aaa_state(vpn_state.aaa, st);
        dataplane_state(vpn_state.dp, st);
        ravend_cluster_state(st);
        ravend_alarm_state(st);
    }
    if (arg && sel->others)
        ravend_arena_state(((struct ravend_apis *)arg)->daemon, st);
    if (arg && sel->others && mgmt_state(((struct ravend_apis *)arg)->mgmt, st)) {
        lyd_free_tree(st);
        return -ENOMEM;
    }
    if (!*data)
        *data = st;
    else if (lyd_insert_sibling(*data, st, data)) {
        lyd_free_tree(st);
        return -ENOMEM;
    }
    return 0;
}

/* rpc client-profile: the file is built from a copy of running (daemon/cprof). */
static int ravend_client_profile(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs,
                                 void *arg)
{
    /* only what a client file is made of: no users or RADIUS secrets copied;
     * the authorization and attribute lists and the access lists say where DNS
     * and split tunnels come from */
    static const char *const subtrees[] = {"/raven-vpn:ikev2",
                                           "/raven-vpn:ipsec",
                                           "/raven-vpn:pki",
                                           "/raven-vpn:aaa/authorization-list",
                                           "/raven-vpn:aaa/attribute-list",
                                           "/raven-vpn:access-lists",
                                           NULL};
    struct ravend_apis *apis = arg;
    struct cprof_req req = {0};
    struct cprof_out out = {0};
    struct lyd_node *tree = NULL;
    const struct lyd_node *n;
    char err[512] = "";
    int rc;

    LY_LIST_FOR(lyd_child(rpc), n) {
        const char *k = n->schema->name;

        if (!strcmp(k, "profile"))
            req.profile = lyd_get_value(n);
        else if (!strcmp(k, "user"))
            req.user = lyd_get_value(n);
        else if (!strcmp(k, "platform"))
            req.platform = lyd_get_value(n);
        else if (!strcmp(k, "authentication"))
            req.auth = lyd_get_value(n);
    }
    if (!req.profile || !req.user || !req.platform) {
        cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                    "client-profile needs profile, user and platform");
        return -EINVAL;
    }
    if (!apis || !apis->cfg) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "no configuration");
        return -EINVAL;
    }
    rc = cfg_get(apis->cfg, CFG_DS_RUNNING, subtrees, false, &tree, errs);
    if (rc)
        return rc;
    rc = cprof_make(tree, &req, &out, err, sizeof(err));
    lyd_free_siblings(tree);
    if (rc) {
        cfg_err_add(errs, rc == -ENOMEM ? CFG_ERR_RESOURCE_DENIED : CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION,
                    NULL, "client-profile: %s", err);
        return rc;
    }
    log_info("ravend", "client-profile: %s for %s, profile %s", out.file_name, req.platform, req.profile);
    if (lyd_new_term(output, NULL, "content", out.content, 1, NULL) ||
        lyd_new_term(output, NULL, "file-name", out.file_name, 1, NULL) ||
        lyd_new_term(output, NULL, "content-type", out.content_type, 1, NULL))
        rc = -ENOMEM;
    cprof_out_fini(&out);
    return rc;
}

int ravend_vpn_rpc(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg)
{
    struct ike_engine *ike = vpn_state.ike;
    const char *name = rpc->schema->name;

    (void)arg;
    struct lyd_node *n;

    if (!strcmp(name, "clear-session")) {
        uint64_t id = 0;
        const char *peer = NULL, *identity = NULL;
        bool all = false;
        char buf[16];
        uint32_t cleared;

        LY_LIST_FOR(lyd_child(rpc), n) {
            if (!strcmp(n->schema->name, "session-id"))
                id = strtoull(lyd_get_value(n), NULL, 10);
            else if (!strcmp(n->schema->name, "peer-address"))
                peer = lyd_get_value(n);
            else if (!strcmp(n->schema->name, "identity"))
                identity = lyd_get_value(n);
            else if (!strcmp(n->schema->name, "all"))
                all = true;
        }
        if (!id && !peer && !identity && !all) {
            cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                        "clear-session needs one of session-id, peer-address, identity or all");
            return -EINVAL;
        }
        cleared = ike_engine_clear(ike, id, peer, identity, all);
        log_info("ravend", "clear-session: %u session(s) cleared", cleared);
        snprintf(buf, sizeof(buf), "%u", cleared);
        return lyd_new_term(output, NULL, "cleared", buf, 1, NULL) ? -ENOMEM : 0;
    }
    if (!strcmp(name, "client-profile"))
        return ravend_client_profile(rpc, output, errs, arg);
    if (!strcmp(name, "redirect-sessions"))
        return ravend_redirect_rpc(ike, rpc, output, errs);
    if (!strcmp(name, "clear-counters")) {
        const char *scope = "all";

        LY_LIST_FOR(lyd_child(rpc), n) {
            if (!strcmp(n->schema->name, "scope"))
                scope = lyd_get_value(n);
        }
        if (!strcmp(scope, "all") || !strcmp(scope, "ike"))
            ike_engine_clear_counters(ike);
        if (!strcmp(scope, "all") || !strcmp(scope, "dataplane"))
            dp_clear_counters(vpn_state.dp);
        return 0;
    }
    cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL, "operation %s is not supported", name);
    return -EOPNOTSUPP;
}

void ravend_vpn_event(struct lyd_node *notif, void *arg)
{
    struct ravend_apis *apis = arg;

    /* sessions' events change the operational state too */
    mgmt_notify(apis->mgmt, notif);
    mgmt_state_changed(apis->mgmt);
}

bool ravend_vpn_event_wanted(const char *name, void *arg)
{
    struct ravend_apis *apis = arg;

    mgmt_state_changed(apis->mgmt);
    /* the cluster publishes every session */
    return mgmt_wants(apis->mgmt, name) || ravend_cluster_session_wanted(name);
}

void ravend_vpn_event_xml(const char *name, const char *xml, size_t len, void *arg)
{
    struct ravend_apis *apis = arg;

    ravend_cluster_session_event(name, xml, len);
    mgmt_notify_xml(apis->mgmt, "raven-vpn", name, xml, len);
    mgmt_state_changed(apis->mgmt);
}

void ravend_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg)
{
    struct ravend_apis *apis = arg;

    mgmt_config_changed(actor, chg, n, apis->mgmt);
    /* the arena says under which configuration its records were written */
    if (apis->daemon && apis->daemon->arena && apis->cfg)
        sess_arena_set_generation(apis->daemon->arena, cfg_running_digest(apis->cfg));
}
