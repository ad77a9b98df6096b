/* A session's leases (sess.h), each held in the one address book of the
 * manager's pools: IPv4 and IPv6 addresses from a pool, or from AAA or DHCP
 * and claimed there, so that no two sessions hold the same address whatever
 * gave it. INITIAL_CONTACT ends the client's older sessions first so that
 * their addresses are free again; a DHCP lease is renewed at half its time
 * and released to its server at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/base/log.h"
#include "daemon/pool/pool.h"
#include "daemon/session/sess.h"
#include "daemon/base/poison.h"

void sess_initial_contact(struct sess *ss)
{
    struct sess *o, *tmp;

    /* ending @o takes it off the list: HASH_ITER's @tmp keeps the walk going */
    HASH_ITER(hh, ss->m->by_id, o, tmp) {
        if (o != ss && ss->m->ops->up(o) && o->remote_id && ss->remote_id && !strcmp(o->remote_id, ss->remote_id) &&
            o->profile && ss->profile && !strcmp(o->profile, ss->profile))
            ss->m->ops->end(o, "replaced", false);
    }
}

/* Whose session @ss is, for the per-user limit: the authorized user (the
 * name-mangler's AAA name, so that identities mangled to one name share the
 * limit), else the EAP identity, else the IKE identity. Compared without
 * regard to ASCII case, as RADIUS servers and directories usually compare
 * user names: Alice is alice's second session, not a user of her own. */
static const char *user_of(const struct sess *ss)
{
    return ss->user ? ss->user : ss->eap_identity ? ss->eap_identity : ss->remote_id;
}

/* Whether @o is the session @ss replaces by make-before-break re-authentication
 * (RFC 7296 2.8.3: the client authenticates a new IKE SA while the old one
 * is up, without INITIAL_CONTACT, and deletes the old one after): the same
 * IKE identity and profile from the same address. */
static bool same_client(const struct sess *ss, const struct sess *o, const char *peer)
{
    char op[INET6_ADDRSTRLEN + 8];

    if (!peer || !o->remote_id || !ss->remote_id || strcmp(o->remote_id, ss->remote_id) || !o->profile ||
        !ss->profile || strcmp(o->profile, ss->profile))
        return false;
    ss->m->ops->peer(o, op, sizeof(op));
    return !strcmp(op, peer);
}

bool sess_user_limit(struct sess *ss, uint32_t max, bool replace, char *why, size_t cap)
{
    const char *u = user_of(ss);
    char peer[INET6_ADDRSTRLEN + 8];
    struct sess *o, *tmp, *oldest, *twin;
    uint32_t n;

    if (!max || !u)
        return true;
    if (ss->m->ops->peer)
        ss->m->ops->peer(ss, peer, sizeof(peer));
    for (;;) {
        n = 0;
        oldest = twin = NULL;
        HASH_ITER(hh, ss->m->by_id, o, tmp) {
            const char *ou = o != ss && ss->m->ops->up(o) ? user_of(o) : NULL;

            if (!ou || strcasecmp(ou, u))
                continue;
            n++;
            if (!oldest || o->established < oldest->established ||
                (o->established == oldest->established && o->id < oldest->id))
                oldest = o;
            /* the newest of the client's own sessions, if several */
            if (same_client(ss, o, ss->m->ops->peer ? peer : NULL) &&
                (!twin || o->established > twin->established ||
                 (o->established == twin->established && o->id > twin->id)))
                twin = o;
        }
        /* the session being replaced is not another one of the user's:
         * refuse-newest does not count it, replace-oldest ends it first */
        if (twin && !replace)
            n--;
        if (n < max)
            return true;
        if (!replace) {
            snprintf(why, cap, "user %s has %" PRIu32 " sessions, the most max-sessions-per-user allows", u, n);
            return false;
        }
        if (twin)
            oldest = twin;
        log_info("ike", "session %" PRIu64 " replaces session %" PRIu64 " of user %s (max-sessions-per-user %" PRIu32
                 ")", ss->id, oldest->id, u, max);
        ss->m->ops->end(oldest, "replaced", true); /* frees it: the walk starts again */
    }
}

/* Whether claiming an address (@rc from pool_claim) failed; the reason goes to
 * the log and, when @why is given, into it for the refusal. */
static bool claim_refused(const struct sess *ss, int rc, uint64_t holder, const char *what, const char *addr,
                          char *why, size_t cap)
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
    log_warn("ike", "session %" PRIu64 ": %s", ss->id, b);
    if (why && cap)
        snprintf(why, cap, "%s", b);
    return true;
}

int sess_lease4_claim(struct sess *ss, uint32_t addr, const struct dhcp_lease *dhcp, uint64_t *holder, char *why,
                      size_t cap)
{
    struct in_addr ia = {.s_addr = htonl(addr)};
    char abuf[INET_ADDRSTRLEN];
    uint64_t h = 0;
    int rc;

    inet_ntop(AF_INET, &ia, abuf, sizeof(abuf));
    rc = ss->m->pools ? pool_claim(ss->m->pools, addr, ss->id, &h) : -ENOENT;
    if (holder)
        *holder = h;
    if (claim_refused(ss, rc, h, dhcp ? "the DHCP lease" : "Framed-IP-Address", abuf, why, cap))
        return rc;
    if (dhcp) {
        if (!(ss->dhcp = malloc(sizeof(*ss->dhcp)))) {
            pool_unclaim(ss->m->pools, addr, ss->id);
            return -ENOMEM;
        }
        *ss->dhcp = *dhcp;
    }
    ss->addr4 = addr;
    ss->have_addr4 = true;
    ss->addr4_aaa = !dhcp;
    return 0;
}

int sess_lease4_pool(struct sess *ss, const char *pool)
{
    uint32_t a;
    int rc;

    if (!ss->m->pools)
        return -ENOENT;
    if ((rc = pool_alloc(ss->m->pools, pool, ss->id, &a)))
        return rc;
    if (!(ss->pool = strdup(pool))) {
        pool_release(ss->m->pools, pool, a);
        return -ENOMEM;
    }
    ss->addr4 = a;
    ss->have_addr4 = true;
    return 0;
}

uint32_t sess_lease4_netmask(const struct sess *ss)
{
    if (ss->dhcp)
        return ss->dhcp->netmask;
    if (ss->pool && ss->m->pools)
        return pool_netmask(ss->m->pools, ss->pool);
    return 0;
}

int sess_lease6_claim(struct sess *ss, const uint8_t addr[16], unsigned plen, uint64_t *holder, char *why,
                      size_t cap)
{
    char a6[INET6_ADDRSTRLEN + 4];
    uint64_t h = 0;
    int rc;

    inet_ntop(AF_INET6, addr, a6, INET6_ADDRSTRLEN);
    snprintf(a6 + strlen(a6), 5, "/%u", plen);
    rc = ss->m->pools6 ? pool_claim6(ss->m->pools6, addr, plen, ss->id, &h) : -ENOENT;
    if (holder)
        *holder = h;
    if (claim_refused(ss, rc, h, "the IPv6 address from AAA", a6, why, cap))
        return rc;
    memcpy(ss->addr6, addr, 16);
    ss->alen6 = plen;
    ss->have_addr6 = ss->addr6_aaa = true;
    return 0;
}

int sess_lease6_pool(struct sess *ss, const char *pool6)
{
    uint32_t idx;
    int rc;

    if (!ss->m->pools6)
        return -ENOENT;
    if ((rc = pool_alloc(ss->m->pools6, pool6, ss->id, &idx)))
        return rc;
    if (!pool6_addr(ss->m->pools6, pool6, idx, ss->addr6, &ss->alen6) || !(ss->pool6 = strdup(pool6))) {
        pool_release(ss->m->pools6, pool6, idx);
        return -ENOMEM;
    }
    ss->index6 = idx;
    ss->have_addr6 = true;
    return 0;
}

const char *sess_lease_take(struct sess *ss, bool v4, bool v6)
{
    struct pool_set *ps = ss->m->pools, *ps6 = ss->m->pools6;

    if (v4 && !ss->addr4_aaa && !ss->dhcp) {
        if (!ss->pool || !ps || pool_take(ps, ss->pool, false, ss->addr4, ss->id))
            return "its IPv4 pool or address is no longer configured";
    } else if (v4 && (!ps || pool_claim(ps, ss->addr4, ss->id, NULL))) {
        return "its IPv4 address is held by another session";
    }
    ss->have_addr4 = v4;
    if (v6 && !ss->addr6_aaa) {
        if (!ss->pool6 || !ps6 || pool_take(ps6, ss->pool6, true, ss->index6, ss->id))
            return "its IPv6 pool or prefix is no longer configured";
    } else if (v6 && (!ps6 || pool_claim6(ps6, ss->addr6, ss->alen6, ss->id, NULL))) {
        return "its IPv6 address is held by another session";
    }
    ss->have_addr6 = v6;
    return NULL;
}

/* The DHCP lease's renewal and its timer stop; the lease itself is forgotten
 * (given back to its server before when @release). */
static void dhcp_forget(struct sess *ss, bool release)
{
    dhcp_cancel(ss->dhcp_renewal);
    ss->dhcp_renewal = NULL;
    if (ss->ev_dhcp) {
        event_free(ss->ev_dhcp);
        ss->ev_dhcp = NULL;
    }
    if (release && ss->dhcp && ss->m->dhcp)
        dhcp_release(ss->m->dhcp, ss->dhcp);
    free(ss->dhcp);
    ss->dhcp = NULL;
}

void sess_lease_release(struct sess *ss)
{
    struct pool_set *ps = ss->m ? ss->m->pools : NULL, *ps6 = ss->m ? ss->m->pools6 : NULL;

    if (ss->have_addr4 && ss->pool && ps)
        pool_release(ps, ss->pool, ss->addr4);
    if (ss->have_addr6 && ss->pool6 && ps6)
        pool_release(ps6, ss->pool6, ss->index6);
    /* addresses from AAA and DHCP are claimed in the same address book */
    if (ss->have_addr4 && (ss->addr4_aaa || ss->dhcp) && ps)
        pool_unclaim(ps, ss->addr4, ss->id);
    if (ss->have_addr6 && ss->addr6_aaa && ps6)
        pool_unclaim6(ps6, ss->addr6, ss->alen6, ss->id);
    if (ss->m)
        dhcp_forget(ss, true);
    ss->have_addr4 = ss->have_addr6 = false;
}

void sess_lease_keep(struct sess *ss)
{
    dhcp_forget(ss, false);
    ss->have_addr4 = ss->have_addr6 = false;
}

/* ---- a DHCP lease's life: renewed at half its time ---- */

static void renewed(int err, const struct dhcp_lease *l, void *arg)
{
    struct sess *ss = arg;
    time_t now = time(NULL);

    ss->dhcp_renewal = NULL;
    if (!ss->dhcp)
        return;
    if (!err) {
        ss->dhcp->lease_s = l->lease_s;
        ss->dhcp_expires = now + l->lease_s;
        ss->m->ops->changed(ss);
        sess_dhcp_arm(ss);
        return;
    }
    /* RFC 2131 4.4.5: a NAK, or a lease that runs out, takes the address away */
    if (err == -ECONNREFUSED || now >= ss->dhcp_expires - 1) {
        log_warn("ike", "session %" PRIu64 ": the DHCP server %s the address", ss->id,
                 err == -ECONNREFUSED ? "took back" : "did not renew in time");
        ss->m->ops->end(ss, "dhcp-lease-lost", true);
        return;
    }
    log_warn("ike", "session %" PRIu64 ": the DHCP lease was not renewed (%s); trying again", ss->id, strerror(-err));
    evtimer_add(ss->ev_dhcp, &(struct timeval){.tv_sec = ss->dhcp_expires - now > 60 ? 30 : 1});
}

static void on_dhcp_renew(evutil_socket_t fd, short what, void *arg)
{
    struct sess *ss = arg;

    (void)fd;
    (void)what;
    if (ss->dhcp && !ss->dhcp_renewal)
        ss->dhcp_renewal = dhcp_renew(ss->m->dhcp, ss->dhcp, 10, renewed, ss);
}

void sess_dhcp_arm(struct sess *ss)
{
    time_t left;

    if (!ss->dhcp || !ss->m->dhcp)
        return;
    if (!ss->dhcp_expires)
        ss->dhcp_expires = time(NULL) + ss->dhcp->lease_s;
    if (!ss->ev_dhcp && !(ss->ev_dhcp = evtimer_new(ss->m->base, on_dhcp_renew, ss)))
        return;
    /* T1: half the lease (RFC 2131 4.4.5), or of what is left of it (a session
     * taken over from the session arena) */
    left = ss->dhcp_expires - time(NULL);
    evtimer_add(ss->ev_dhcp, &(struct timeval){.tv_sec = left / 2 > 0 ? left / 2 : 1});
}
