/* The configuration handler table of ravend: which subsystem acts on which subtree
 * of raven-vpn. cfg_handlers_check() refuses to start when a configuration node has
 * no handler, so adding a YANG node without deciding who owns it fails loudly.
 *
 * The management subtree is live: users, NETCONF and REST endpoints and the REST
 * certificate change on commit; daemon/mgmt binds the endpoints in prepare (a
 * commit naming one that cannot listen is refused; a dry run only probes) and
 * hands them to the front ends at apply. The IKEv2, IPsec, pools, access-list,
 * PKI and AAA subtrees belong to the IKEv2 engine (ravend_vpn.c; the RADIUS client
 * will register on AAA too), the dataplane subtree to the dataplane (ravend_vpn.c
 * as well). */
#include <libyang/libyang.h>

#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

/* /cluster is refused until the cluster member is built in. */
static int cluster_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct lyd_node *top = NULL;

    (void)arg;
    if (cfg_txn_new(txn) && !lyd_find_path(cfg_txn_new(txn), "/raven-vpn:cluster", 0, &top) && top) {
        cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_APPLICATION, "/raven-vpn:cluster", "%s",
                    "this ravend is not built with cluster membership");
        return -1;
    }
    return 0;
}

int ravend_handlers_register(struct cfg *cfg, struct mgmt *mgmt)
{
    struct cfg_handler ch = {.name = "cluster", .path = "/raven-vpn:cluster", .prepare = cluster_prepare};

    return mgmt_register(mgmt) || cfg_handler_register(cfg, &ch);
}
