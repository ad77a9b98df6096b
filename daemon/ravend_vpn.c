/* ravend's glue between the datastore, the NETCONF front end and the IKEv2 engine:
 * the configuration handler of the VPN subtrees, the operational state of <get>,
 * the raven-vpn RPCs and the session notifications. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ravend.h"
#include "daemon/base/poison.h"

/* The subtrees the IKEv2 engine compiles into one configuration (it reads the
 * authorization method lists of aaa too). */
static const char *const vpn_paths[] = {"/raven-vpn:ikev2", "/raven-vpn:ipsec", "/raven-vpn:pools",
                                        "/raven-vpn:access-lists", "/raven-vpn:pki", "/raven-vpn:aaa"};

struct vpn {
    struct ike_engine *ike;
    const struct cfg_txn *prepared; /* one prepare per transaction, whichever subtree changed */
    bool applied;
};

static struct vpn vpn_state;

static void add_err(void *arg, const char *path, const char *msg)
{
    cfg_err_add(arg, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, path, "%s", msg);
}

static int vpn_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct vpn *v = arg;
    int rc;

    if (v->prepared == txn)
        return 0;
    rc = ike_engine_prepare(v->ike, cfg_txn_new(txn), add_err, errs);
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
    v->prepared = NULL;
}

static void vpn_apply(struct cfg_txn *txn, void *arg)
{
    struct vpn *v = arg;

    if (v->prepared != txn || v->applied)
        return;
    ike_engine_apply(v->ike);
    v->applied = true;
    v->prepared = NULL;
}

int ravend_vpn_register(struct cfg *cfg, struct ike_engine *ike)
{
    int rc = 0;

    vpn_state.ike = ike;
    for (size_t i = 0; !rc && i < sizeof(vpn_paths) / sizeof(vpn_paths[0]); i++) {
        struct cfg_handler h = {.name = "ike", .path = vpn_paths[i], .prepare = vpn_prepare, .abort = vpn_abort,
                                .apply = vpn_apply, .arg = &vpn_state};
        rc = cfg_handler_register(cfg, &h);
    }
    return rc;
}

int ravend_vpn_state(struct ly_ctx *ctx, struct lyd_node **data, void *arg)
{
    struct lyd_node *st = NULL;

    if (lyd_new_inner(NULL, ly_ctx_get_module_implemented(ctx, "raven-vpn"), "vpn-state", 0, &st))
        return -ENOMEM;
    ike_engine_state(arg, st);
    if (!*data)
        *data = st;
    else if (lyd_insert_sibling(*data, st, data)) {
        lyd_free_tree(st);
        return -ENOMEM;
    }
    return 0;
}

int ravend_vpn_rpc(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg)
{
    struct ike_engine *ike = arg;
    const char *name = rpc->schema->name;
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
    if (!strcmp(name, "clear-counters")) {
        const char *scope = "all";

        LY_LIST_FOR(lyd_child(rpc), n) {
            if (!strcmp(n->schema->name, "scope"))
                scope = lyd_get_value(n);
        }
        if (!strcmp(scope, "all") || !strcmp(scope, "ike"))
            ike_engine_clear_counters(ike);
        return 0;
    }
    cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL, "operation %s is not supported", name);
    return -EOPNOTSUPP;
}

void ravend_vpn_event(struct lyd_node *notif, void *arg)
{
    nc_api_notify(arg, notif);
}
