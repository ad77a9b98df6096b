/* The session's addresses (S4): INITIAL_CONTACT first (a reconnecting client
 * keeps its address), then the address from AAA, else the pool the merged
 * authorization names, else DHCP; IPv6 from AAA or a pool. Every address is
 * held in the pools' one address book: one another session holds refuses the
 * client. The dhcp and lease steps of IKE_AUTH (ike_auth_steps.h), and a DHCP
 * lease's renewal and release. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_cp.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/pool/pool.h"
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
    struct ike_attrs at;
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

/* INITIAL_CONTACT (RFC 7296 2.4): the client lost its state; its older sessions go. */
static void initial_contact(struct ike_sess *s)
{
    struct ike_sess *o, *tmp;

    HASH_ITER(hh_id, s->e->by_id, o, tmp) {
        if (o != s && ike_sa_up(o) && o->ss.remote_id && !strcmp(o->ss.remote_id, s->ss.remote_id) &&
            o->ss.profile && s->ss.profile && !strcmp(o->ss.profile, s->ss.profile))
            ike_sess_end(o, "replaced", false);
    }
}

static const char *ike_addr4_str(uint32_t a, char *buf, size_t len)
{
    struct in_addr ia = {.s_addr = htonl(a)};

    return inet_ntop(AF_INET, &ia, buf, (socklen_t)len);
}

/* Whether claiming an address (@rc from pool_claim) failed; the reason goes to
 * the log and, when @msg is given, into it for the refusal. */
static bool claim_refused(const struct ike_sess *s, int rc, uint64_t holder, const char *what, const char *addr,
                          char *msg, size_t cap)
{
    char b[300];

    if (!rc)
        return false;
    if (rc == -EADDRINUSE)
        snprintf(b, sizeof(b), "%s %s is held by session %" PRIu64 "; give each client its own address", what,
                 addr, holder);
    else if (rc == -ERANGE)
        snprintf(b, sizeof(b), "%s %s spans prefixes an IPv6 pool hands out to other sessions; give AAA prefixes "
                 "outside the pools or no shorter than their assigned length", what, addr);
    else
        snprintf(b, sizeof(b), "%s %s cannot be recorded: %s", what, addr, strerror(-rc));
    log_warn("ike", "session %" PRIu64 ": %s", s->ss.id, b);
    if (msg)
        snprintf(msg, cap, "%s", b);
    return true;
}

/* The client's IPv4 address: from AAA (Framed-IP-Address), else the pool the
 * authorization names, else DHCP's lease; with its netmask. False when AAA's
 * address is held by another session (w->msg says why). */
static bool lease4(struct ike_sess *s, struct ike_auth_run *w)
{
    const struct ike_conf *c = s->e->conf;
    struct ike_pend *pd = s->pend;
    const struct ike_attrs *at = &w->at;
    char abuf[INET_ADDRSTRLEN];
    uint64_t holder = 0;
    uint32_t a;

    if (at->has_addr4) {
        /* one address book (daemon/pool): an address another session
         * holds, from AAA or a pool, is refused, never shared */
        if (claim_refused(s, pool_claim(c->pools, at->addr4, s->ss.id, &holder), holder, "Framed-IP-Address",
                          ike_addr4_str(at->addr4, abuf, sizeof(abuf)), w->msg, sizeof(w->msg)))
            return false;
        s->ss.addr4 = at->addr4;
        s->ss.have_addr4 = s->ss.addr4_aaa = true;
    } else if (at->pool && !pool_alloc(c->pools, at->pool, s->ss.id, &a)) {
        s->ss.pool = strdup(at->pool);
        s->ss.addr4 = a;
        s->ss.have_addr4 = true;
    } else if (!at->pool && pd->have_lease &&
               !claim_refused(s, pool_claim(c->pools, pd->lease.addr, s->ss.id, &holder), holder, "the DHCP lease",
                              ike_addr4_str(pd->lease.addr, abuf, sizeof(abuf)), NULL, 0)) {
        if ((s->ss.dhcp = malloc(sizeof(*s->ss.dhcp)))) {
            *s->ss.dhcp = pd->lease;
            pd->have_lease = false; /* the session's now */
            s->ss.addr4 = pd->lease.addr;
            s->ss.have_addr4 = true;
        } else {
            pool_unclaim(c->pools, pd->lease.addr, s->ss.id);
        }
    }
    if (s->ss.have_addr4) {
        ike_cp_add4(w->cpo, CFG_INTERNAL_IP4_ADDRESS, s->ss.addr4);
        /* S4: the netmask of DHCP's lease for its address, else authorization's */
        if (s->ss.dhcp && s->ss.dhcp->netmask)
            ike_cp_add4(w->cpo, CFG_INTERNAL_IP4_NETMASK, s->ss.dhcp->netmask);
        else if (at->has_netmask || (s->ss.pool && pool_netmask(c->pools, s->ss.pool)))
            ike_cp_add4(w->cpo, CFG_INTERNAL_IP4_NETMASK,
                        at->has_netmask ? at->netmask : pool_netmask(c->pools, s->ss.pool));
    }
    return true;
}

/* The client's IPv6 address: from AAA, else the pool the authorization names.
 * False when AAA's is held by another session (w->msg says why). */
static bool lease6(struct ike_sess *s, struct ike_auth_run *w)
{
    const struct ike_conf *c = s->e->conf;
    const struct ike_attrs *at = &w->at;
    uint64_t holder = 0;
    uint32_t idx;

    if (at->has_addr6) {
        char a6[INET6_ADDRSTRLEN + 4];

        inet_ntop(AF_INET6, at->addr6, a6, INET6_ADDRSTRLEN);
        snprintf(a6 + strlen(a6), 5, "/%u", at->plen6);
        if (claim_refused(s, pool_claim6(c->pools6, at->addr6, at->plen6, s->ss.id, &holder), holder,
                          "the IPv6 address from AAA", a6, w->msg, sizeof(w->msg)))
            return false;
        memcpy(s->ss.addr6, at->addr6, 16);
        s->ss.alen6 = at->plen6;
        s->ss.have_addr6 = s->ss.addr6_aaa = true;
        ike_cp_add6(w->cpo, CFG_INTERNAL_IP6_ADDRESS, s->ss.addr6, (int)s->ss.alen6);
    } else if (at->pool6 && !pool_alloc(c->pools6, at->pool6, s->ss.id, &idx)) {
        s->ss.pool6 = strdup(at->pool6);
        s->ss.index6 = idx;
        s->ss.have_addr6 = pool6_addr(c->pools6, at->pool6, idx, s->ss.addr6, &s->ss.alen6);
        if (s->ss.have_addr6)
            ike_cp_add6(w->cpo, CFG_INTERNAL_IP6_ADDRESS, s->ss.addr6, (int)s->ss.alen6);
        else
            pool_release(c->pools6, at->pool6, idx);
    }
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
        initial_contact(s);
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

/* ---- a DHCP lease's life: renewed at half its time, released at the end ---- */

static void on_dhcp_renew(evutil_socket_t fd, short what, void *arg);

static void renewed(int err, const struct dhcp_lease *l, void *arg)
{
    struct ike_sess *s = arg;
    time_t now = time(NULL);

    s->ss.dhcp_renewal = NULL;
    if (!s->ss.dhcp)
        return;
    if (!err) {
        s->ss.dhcp->lease_s = l->lease_s;
        s->ss.dhcp_expires = now + l->lease_s;
        ike_persist_mark(s);
        ike_dhcp_arm(s);
        return;
    }
    /* RFC 2131 4.4.5: a NAK, or a lease that runs out, takes the address away */
    if (err == -ECONNREFUSED || now >= s->ss.dhcp_expires - 1) {
        log_warn("ike", "session %" PRIu64 ": the DHCP server %s the address", s->ss.id,
                 err == -ECONNREFUSED ? "took back" : "did not renew in time");
        ike_sess_end(s, "dhcp-lease-lost", true);
        return;
    }
    log_warn("ike", "session %" PRIu64 ": the DHCP lease was not renewed (%s); trying again", s->ss.id, strerror(-err));
    evtimer_add(s->ss.ev_dhcp, &(struct timeval){.tv_sec = s->ss.dhcp_expires - now > 60 ? 30 : 1});
}

static void on_dhcp_renew(evutil_socket_t fd, short what, void *arg)
{
    struct ike_sess *s = arg;

    if (s->ss.dhcp && !s->ss.dhcp_renewal)
        s->ss.dhcp_renewal = dhcp_renew(s->e->dhcp, s->ss.dhcp, 10, renewed, s);
}

void ike_dhcp_arm(struct ike_sess *s)
{
    if (!s->ss.dhcp || !s->e->dhcp)
        return;
    if (!s->ss.dhcp_expires)
        s->ss.dhcp_expires = time(NULL) + s->ss.dhcp->lease_s;
    if (!s->ss.ev_dhcp && !(s->ss.ev_dhcp = evtimer_new(s->e->base, on_dhcp_renew, s)))
        return;
    /* T1: half the lease (RFC 2131 4.4.5), or of what is left of it (a session
     * taken over from the session arena) */
    {
        time_t left = s->ss.dhcp_expires - time(NULL);

        evtimer_add(s->ss.ev_dhcp, &(struct timeval){.tv_sec = left / 2 > 0 ? left / 2 : 1});
    }
}

void ike_dhcp_drop(struct ike_sess *s)
{
    dhcp_cancel(s->ss.dhcp_renewal);
    s->ss.dhcp_renewal = NULL;
    if (s->ss.ev_dhcp) {
        event_free(s->ss.ev_dhcp);
        s->ss.ev_dhcp = NULL;
    }
    if (s->ss.dhcp && s->e->dhcp)
        dhcp_release(s->e->dhcp, s->ss.dhcp);
    free(s->ss.dhcp);
    s->ss.dhcp = NULL;
    /* a lease taken for a session refused before it came up goes back too */
    if (s->pend && s->pend->have_lease && s->e->dhcp)
        dhcp_release(s->e->dhcp, &s->pend->lease);
    if (s->pend)
        s->pend->have_lease = false;
}
