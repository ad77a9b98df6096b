/* The UDP ports of IKE as the dataplane knows them (dp_set_udp_ports): the NAT
 * traversal ports in the XDP programs' shared "natt_ports" map (which ESP in UDP
 * they steer to the workers), both sets published to the workers (which
 * fragmented UDP they reassemble for the IKE socket). */
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "dataplane/bpf/raven_xdp.h"
#include "dataplane/dp_int.h"
#include "daemon/base/log.h"

const struct dp_ports dp_ports_default = {.nnatt = 1, .natt = {4500}, .nike = 1, .ike = {500}};

enum dp_port_kind dp_port_kind(const struct dp_ports *p, uint16_t port)
{
    p = p ? p : &dp_ports_default;
    for (size_t i = 0; i < p->nnatt; i++)
        if (p->natt[i] == port)
            return DP_PORT_NATT;
    for (size_t i = 0; i < p->nike; i++)
        if (p->ike[i] == port)
            return DP_PORT_IKE;
    return DP_PORT_OTHER;
}

static void ports_free_rcu(struct rcu_head *h)
{
    free(caa_container_of(h, struct dp_ports, rcu));
}

int dp_set_udp_ports(struct dp *dp, const uint16_t *natt, size_t nnatt, const uint16_t *ike, size_t nike)
{
    struct dp_ports *p, *old;

    if (nnatt > DP_MAX_UDP_PORTS || nike > DP_MAX_UDP_PORTS || (nnatt && !natt) || (nike && !ike))
        return -EINVAL;
    for (size_t i = 0; i < nnatt; i++)
        if (!natt[i])
            return -EINVAL;
    for (size_t i = 0; i < nike; i++)
        if (!ike[i])
            return -EINVAL;
    if (!(p = calloc(1, sizeof(*p))))
        return -ENOMEM;
    if (!nnatt && !nike) {
        *p = dp_ports_default;
    } else {
        /* distinct ports; one that is both is a NAT traversal port (the marker
         * tells IKE from ESP there) */
        for (size_t i = 0; i < nnatt; i++)
            if (dp_port_kind(p, natt[i]) == DP_PORT_OTHER)
                p->natt[p->nnatt++] = natt[i];
        for (size_t i = 0; i < nike; i++)
            if (dp_port_kind(p, ike[i]) == DP_PORT_OTHER)
                p->ike[p->nike++] = ike[i];
    }
    /* the XDP programs first: a port dropped from the set stops being steered
     * to workers before they stop taking it */
    dp_ports_map_sync(dp, p, dp->ports);
    dp_rcu_enter();
    old = rcu_xchg_pointer(&dp->ports, p);
    if (old)
        call_rcu(&old->rcu, ports_free_rcu);
    dp_rcu_leave();
    return 0;
}

_Static_assert(2 * DP_MAX_UDP_PORTS <= RAVEN_XDP_MAX_NATT_PORTS, "natt_ports holds two sets");

void dp_ports_map_sync(struct dp *dp, const struct dp_ports *p, const struct dp_ports *old)
{
    uint32_t one = 1;

    if (dp->natt_fd < 0)
        return;
    p = p ? p : &dp_ports_default;
    old = old ? old : &dp_ports_default;
    /* the new ports first: a port in both sets is never missing in between */
    for (size_t i = 0; i < p->nnatt; i++) {
        __u16 k = htons(p->natt[i]);

        /* the XDP program would not steer this port's ESP in UDP to the workers,
         * which expect it: said, as nothing else would show it */
        if (bpf_map_update_elem(dp->natt_fd, &k, &one, BPF_ANY))
            log_warn("dataplane", "NAT-T port %u not given to the XDP program: %s", p->natt[i], strerror(errno));
    }
    for (size_t i = 0; i < old->nnatt; i++) {
        __u16 k = htons(old->natt[i]);
        if (dp_port_kind(p, old->natt[i]) != DP_PORT_NATT && bpf_map_delete_elem(dp->natt_fd, &k) && errno != ENOENT)
            log_warn("dataplane", "NAT-T port %u not taken from the XDP program: %s", old->natt[i], strerror(errno));
    }
}
