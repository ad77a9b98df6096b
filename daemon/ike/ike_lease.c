/* The session's addresses (S4): INITIAL_CONTACT first (a reconnecting client
 * keeps its address), the per-user session limit, then the address from AAA,
 * else the pool the merged authorization names, else DHCP; IPv6 from AAA or a
 * pool. Every address is held in the pools' one address book: one another
 * session holds refuses the client. The dhcp and lease steps of IKE_AUTH
 * (ike_auth_steps.h): what is asked of DHCP, and the configuration payload's
 * addresses; the leases themselves are the session's
 * (daemon/session/sess_lease.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_cp.h"
#include "daemon/base/poison.h"

/* ---- the dhcp step: an address from DHCP ---- */

/* Whether the session's address is to come from DHCP (S4: the client asks for
 * an IPv4 address, and neither AAA nor a pool gives one): the server, relay
 * address and timeout to ask with. */
static bool wants_dhcp(struct ike_sess *s, uint32_t *server, uint32_t *giaddr, unsigned *timeout)
{
    struct ike_pend *pd = s->pend;
    const struct ike_pld *idi_p = ike_msg_find(&pd->req, IKE_PLD_IDI, 0), *cp_p = ike_msg_find(&pd->req, IKE_PLD_CP, 0);
    struct ike_id_pld idi;
    struct ike_cp_pld cp;
    struct sess_attrs at;
    char user[256], group[256];
    struct in_addr a;

    if (!s->prof->cfg_request || !idi_p || !ike_id_parse(idi_p, &idi) || !cp_p || !ike_cp_parse(cp_p, &cp) ||
        cp.cfg_type != 1 || !ike_cp_requests(&cp, CFG_INTERNAL_IP4_ADDRESS))
        return false;
    ike_auth_authorize(s, s->prof, &idi, &at, user, group, sizeof(user));
    /* S4: AAA's address first, then the pool; DHCP only without a pool */
    if (at.has_addr4 || at.pool || !at.dhcp_server)
        return false;
    if (inet_pton(AF_INET, at.dhcp_server, &a) != 1) {
        log_warn("ike", "session %" PRIu64 ": the DHCP server %s is not an IPv4 address", s->ss.id, at.dhcp_server);
        return false;
    }
    *server = ntohl(a.s_addr);
    if (at.dhcp_giaddr && inet_pton(AF_INET, at.dhcp_giaddr, &a) == 1)
        *giaddr = ntohl(a.s_addr);
    else if (s->local.ss_family == AF_INET) /* without giaddr: the address the client came to */
        *giaddr = ntohl(((const struct sockaddr_in *)&s->local)->sin_addr.s_addr);
    else
        return false;
    *timeout = at.dhcp_timeout ? at.dhcp_timeout : 5;
    return true;
}

static void dhcp_answer(int err, const struct dhcp_lease *l, void *arg)
{
    struct ike_sess *s = arg;
    struct ike_pend *pd = s->pend;

    pd->dhcp_op = NULL;
    if (err) {
        log_warn("ike", "session %" PRIu64 ": no address from DHCP: %s", s->ss.id,
                 err == -ETIMEDOUT ? "the server did not answer in time" : err == -ECONNREFUSED ? "the server said NAK"
                                                                                               : strerror(-err));
    } else {
        pd->lease = *l;
        pd->have_lease = true;
    }
    ike_auth_next(s); /* without a lease the client hears INTERNAL_ADDRESS_FAILURE */
}

enum ike_auth_rc ike_lease_dhcp_step(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    uint32_t server, giaddr;
    unsigned timeout;
    char cid[64];

    (void)w;
    if (!s->e->dhcp || !wants_dhcp(s, &server, &giaddr, &timeout))
        return IKE_AUTH_NEXT;
    /* the client's name and the session: two sessions of one identity (two
     * devices, a reconnect before the old session is gone) never share a
     * binding, and one's release never frees the other's */
    snprintf(cid, sizeof(cid), "%.40s/%" PRIu64, s->ss.eap_identity ? s->ss.eap_identity : s->ss.remote_id, s->ss.id);
    pd->dhcp_op = dhcp_acquire(s->e->dhcp, server, giaddr, timeout, cid, dhcp_answer, s);
    if (!pd->dhcp_op)
        return IKE_AUTH_NEXT;
    ike_sa_set_state(s, IKE_SA_LEASING, "an address is asked of DHCP");
    evtimer_del(s->ev_live);
    return IKE_AUTH_WAIT;
}

/* ---- the lease step: the configuration payload's addresses ---- */

/* The client's IPv4 address: from AAA (Framed-IP-Address), else the pool the
 * authorization names, else DHCP's lease; with its netmask. False when AAA's
 * address is held by another session (w->msg says why). */
static bool lease4(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    const struct sess_attrs *at = &w->at;
    uint64_t holder = 0;
    uint32_t nm;

    if (at->has_addr4) {
        /* one address book (daemon/pool): an address another session
         * holds, from AAA or a pool, is refused, never shared */
        if (sess_lease4_claim(&s->ss, at->addr4, NULL, &holder, w->msg, sizeof(w->msg)))
            return false;
    } else if (at->pool) {
        sess_lease4_pool(&s->ss, at->pool);
    } else if (pd->have_lease && !sess_lease4_claim(&s->ss, pd->lease.addr, &pd->lease, &holder, NULL, 0)) {
        pd->have_lease = false; /* the session's now */
    }
    if (s->ss.have_addr4) {
        ike_cp_add4(w->cpo, CFG_INTERNAL_IP4_ADDRESS, s->ss.addr4);
        /* S4: the netmask of DHCP's lease for its address, else authorization's */
        nm = sess_lease4_netmask(&s->ss);
        if (s->ss.dhcp && nm)
            ike_cp_add4(w->cpo, CFG_INTERNAL_IP4_NETMASK, nm);
        else if (at->has_netmask || nm)
            ike_cp_add4(w->cpo, CFG_INTERNAL_IP4_NETMASK, at->has_netmask ? at->netmask : nm);
    }
    return true;
}

/* The client's IPv6 address: from AAA, else the pool the authorization names.
 * False when AAA's is held by another session (w->msg says why). */
static bool lease6(struct ike_sess *s, struct ike_auth_run *w)
{
    const struct sess_attrs *at = &w->at;
    uint64_t holder = 0;

    if (at->has_addr6) {
        if (sess_lease6_claim(&s->ss, at->addr6, at->plen6, &holder, w->msg, sizeof(w->msg)))
            return false;
    } else if (at->pool6) {
        sess_lease6_pool(&s->ss, at->pool6);
    }
    if (s->ss.have_addr6)
        ike_cp_add6(w->cpo, CFG_INTERNAL_IP6_ADDRESS, s->ss.addr6, (int)s->ss.alen6);
    return true;
}

enum ike_auth_rc ike_lease_step(struct ike_sess *s, struct ike_auth_run *w)
{
    const struct ike_pld *cp_p = ike_msg_find(&s->pend->req, IKE_PLD_CP, 0);
    struct ike_cp_pld cpreq = {0};
    bool want_addr;
    uint64_t holder;

    w->cpo = calloc(1, sizeof(*w->cpo));
    w->sa = calloc(1, sizeof(*w->sa));
    if (!w->cpo || !w->sa)
        return ike_auth_refuse(s, NULL, "out of memory");
    /* the client is authenticated and says it keeps no other state: its older
     * sessions go before addresses are handed out, so that their addresses
     * are free again for it */
    if (s->pend->initial)
        sess_initial_contact(&s->ss);
    /* then the user's other sessions beyond max-sessions-per-user */
    if (!sess_user_limit(&s->ss, s->e->conf->max_per_user, s->e->conf->per_user_replace, w->msg, sizeof(w->msg)))
        return ike_auth_refuse(s, "too-many-sessions", w->msg);
    /* configuration mode (S4); the address from AAA, else the pool */
    if (cp_p && ike_cp_parse(cp_p, &cpreq) && cpreq.cfg_type == 1 && w->prof->cfg_request) {
        want_addr = ike_cp_requests(&cpreq, CFG_INTERNAL_IP4_ADDRESS);
        w->cpo->cp.cfg_type = 2;
        if (want_addr && !lease4(s, w))
            return ike_auth_refuse(s, "address-in-use", w->msg);
        if (ike_cp_requests(&cpreq, CFG_INTERNAL_IP6_ADDRESS)) {
            want_addr = true;
            if (!lease6(s, w))
                return ike_auth_refuse(s, "address-in-use", w->msg);
        }
        /* one family is enough; none when the client asked is a failure (S4) */
        w->addr_failed = want_addr && !s->ss.have_addr4 && !s->ss.have_addr6;
        ike_cp_attributes(s, &w->at, &cpreq, w->cpo);
    }
    /* an address inside a subnet another client routes (route accept) would
     * share its traffic: refused like an address another session holds */
    if ((holder = ike_route_subnet_holder(s))) {
        snprintf(w->msg, sizeof(w->msg),
                 "the client's address lies in a subnet that session %" PRIu64 " accepted from its client (route "
                 "accept); keep pools and AAA addresses apart from client subnets",
                 holder);
        return ike_auth_refuse(s, "address-in-use", w->msg);
    }
    return IKE_AUTH_NEXT;
}
