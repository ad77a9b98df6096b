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
 * as well), the cluster subtree to the cluster member (ravend_cluster.c). */
#include <libyang/libyang.h>

#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

int ravend_handlers_register(struct cfg *cfg, struct mgmt *mgmt)
{
    (void)cfg;
    return mgmt_register(mgmt);
}
