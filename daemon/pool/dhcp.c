/* DHCP relay client: see dhcp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/pool/dhcp.h"
#include "daemon/base/poison.h"

#define BOOTP_LEN 236
#define COOKIE 0x63825363u
#define RETRY_S 2

struct relay_sock { /* one socket per relay address, bound to giaddr:67 */
    uint32_t giaddr;
    int fd;
    struct event *ev;
    struct relay_sock *next;
    struct dhcp_client *c;
};

struct dhcp_req {
    struct dhcp_client *c;
    struct dhcp_req *next, **pprev;
    struct relay_sock *rs;
    uint32_t xid, server;
    int state; /* DHCP_DISCOVER: waiting for an offer; DHCP_REQUEST: for an ack */
    bool renew;
    struct dhcp_lease l;
    time_t deadline;
    struct event *timer;
    dhcp_done_fn done;
    void *arg;
};

struct dhcp_client {
    struct event_base *base;
    struct relay_sock *socks;
    struct dhcp_req *reqs;
};

/* ---- codec ---- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t dhcp_build(uint8_t *buf, size_t cap, int type, uint32_t xid, uint32_t giaddr, uint32_t ciaddr,
                  const uint8_t chaddr[6], const char *client_id, uint32_t requested, uint32_t server_id)
{
    size_t n = BOOTP_LEN, idl = client_id ? strlen(client_id) : 0;

    if (cap < BOOTP_LEN + 4 + 3 + 3 + idl + 6 + 6 + 6 + 1 || idl > 250)
        return 0;
    memset(buf, 0, BOOTP_LEN);
    buf[0] = 1; /* BOOTREQUEST */
    buf[1] = 1; /* Ethernet */
    buf[2] = 6;
    buf[3] = 1; /* one relay hop: ours */
    put32(buf + 4, xid);
    put32(buf + 12, ciaddr);
    put32(buf + 24, giaddr);
    memcpy(buf + 28, chaddr, 6);
    put32(buf + n, COOKIE);
    n += 4;
    buf[n++] = 53;
    buf[n++] = 1;
    buf[n++] = (uint8_t)type;
    if (idl) {
        buf[n++] = 61;
        buf[n++] = (uint8_t)(idl + 1);
        buf[n++] = 0; /* a name, not a hardware address (RFC 2132 9.14) */
        memcpy(buf + n, client_id, idl);
        n += idl;
    }
    if (requested) {
        buf[n++] = 50;
        buf[n++] = 4;
        put32(buf + n, requested);
        n += 4;
    }
    if (server_id) {
        buf[n++] = 54;
        buf[n++] = 4;
        put32(buf + n, server_id);
        n += 4;
    }
    if (type != DHCP_RELEASE) {
        static const uint8_t prl[] = {55, 4, 1, 3, 6, 51};

        memcpy(buf + n, prl, sizeof(prl));
        n += sizeof(prl);
    }
    buf[n++] = 255;
    /* BOOTP's minimum (RFC 1542 2.1): some servers drop shorter messages */
    while (n < 300)
        buf[n++] = 0;
    return n;
}

bool dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
    size_t i;

    memset(m, 0, sizeof(*m));
    if (len < BOOTP_LEN + 4 || buf[0] != 2 || buf[1] != 1 || buf[2] != 6 || get32(buf + BOOTP_LEN) != COOKIE)
        return false;
    m->op = buf[0];
    m->xid = get32(buf + 4);
    m->ciaddr = get32(buf + 12);
    m->yiaddr = get32(buf + 16);
    m->giaddr = get32(buf + 24);
    memcpy(m->chaddr, buf + 28, 6);
    for (i = BOOTP_LEN + 4; i < len;) {
        uint8_t code = buf[i], l;
        const uint8_t *v;

        if (code == 255)
            break;
        if (code == 0) {
            i++;
            continue;
        }
        if (i + 2 > len || i + 2 + buf[i + 1] > len)
            return false;
        l = buf[i + 1];
        v = buf + i + 2;
        switch (code) {
        case 53:
            if (l == 1)
                m->type = v[0];
            break;
        case 1:
            if (l == 4) {
                m->netmask = get32(v);
                m->has_netmask = true;
            }
            break;
        case 3:
            if (l >= 4)
                m->router = get32(v);
            break;
        case 6:
            for (uint8_t k = 0; k + 4 <= l && m->ndns < 2; k += 4)
                m->dns[m->ndns++] = get32(v + k);
            break;
        case 51:
            if (l == 4)
                m->lease_s = get32(v);
            break;
        case 54:
            if (l == 4) {
                m->server_id = get32(v);
                m->has_server_id = true;
            }
            break;
        default:
            break;
        }
        i += 2u + l;
    }
    return m->type != 0;
}

/* ---- the client ---- */

static void req_free(struct dhcp_req *r)
{
    if (r->pprev) {
        *r->pprev = r->next;
        if (r->next)
            r->next->pprev = r->pprev;
    }
    if (r->timer)
        event_free(r->timer);
    free(r);
}

static void finish(struct dhcp_req *r, int err)
{
    dhcp_done_fn done = r->done;
    void *arg = r->arg;
    struct dhcp_lease l = r->l;

    req_free(r);
    done(err, err ? NULL : &l, arg);
}

static void send_to_server(struct relay_sock *rs, uint32_t server, const uint8_t *buf, size_t len)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(server)};

    if (sendto(rs->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        log_debug("dhcp", "send: %s", strerror(errno));
}

static void transmit(struct dhcp_req *r)
{
    uint8_t buf[DHCP_MAX_LEN];
    size_t n;

    if (r->state == DHCP_DISCOVER)
        n = dhcp_build(buf, sizeof(buf), DHCP_DISCOVER, r->xid, r->l.giaddr, 0, r->l.chaddr, r->l.client_id, 0, 0);
    else if (r->renew)
        n = dhcp_build(buf, sizeof(buf), DHCP_REQUEST, r->xid, r->l.giaddr, r->l.addr, r->l.chaddr, r->l.client_id,
                       0, 0);
    else
        n = dhcp_build(buf, sizeof(buf), DHCP_REQUEST, r->xid, r->l.giaddr, 0, r->l.chaddr, r->l.client_id,
                       r->l.addr, r->l.server);
    if (n)
        send_to_server(r->rs, r->server, buf, n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct dhcp_req *r = arg;

    if (time(NULL) >= r->deadline) {
        finish(r, -ETIMEDOUT);
        return;
    }
    transmit(r);
    evtimer_add(r->timer, &(struct timeval){.tv_sec = RETRY_S});
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct relay_sock *rs = arg;
    uint8_t buf[DHCP_MAX_LEN];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    struct dhcp_msg m;
    struct dhcp_req *r;

    if (n <= 0 || !dhcp_parse(buf, (size_t)n, &m))
        return;
    for (r = rs->c->reqs; r; r = r->next)
        if (r->rs == rs && r->xid == m.xid && !memcmp(r->l.chaddr, m.chaddr, 6))
            break;
    if (!r)
        return;
    if (m.type == DHCP_NAK) {
        finish(r, -ECONNREFUSED);
        return;
    }
    if (r->state == DHCP_DISCOVER && m.type == DHCP_OFFER && m.yiaddr && m.has_server_id) {
        r->l.addr = m.yiaddr;
        r->l.server = m.server_id;
        r->state = DHCP_REQUEST;
        transmit(r);
        evtimer_add(r->timer, &(struct timeval){.tv_sec = RETRY_S});
        return;
    }
    if (r->state == DHCP_REQUEST && m.type == DHCP_ACK && m.yiaddr == r->l.addr) {
        r->l.netmask = m.has_netmask ? m.netmask : 0;
        r->l.router = m.router;
        r->l.ndns = m.ndns;
        memcpy(r->l.dns, m.dns, sizeof(m.dns));
        r->l.lease_s = m.lease_s ? m.lease_s : 3600;
        if (m.has_server_id)
            r->l.server = m.server_id;
        finish(r, 0);
    }
}

static struct relay_sock *relay(struct dhcp_client *c, uint32_t giaddr)
{
    struct relay_sock *rs;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(giaddr)};
    int on = 1;

    for (rs = c->socks; rs; rs = rs->next)
        if (rs->giaddr == giaddr)
            return rs;
    rs = calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    rs->c = c;
    rs->giaddr = giaddr;
    rs->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rs->fd >= 0)
        setsockopt(rs->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (rs->fd < 0 || bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        !(rs->ev = event_new(c->base, rs->fd, EV_READ | EV_PERSIST, on_read, rs)) || event_add(rs->ev, NULL)) {
        char a[INET_ADDRSTRLEN];
        struct in_addr ia = {.s_addr = htonl(giaddr)};

        log_warn("dhcp", "cannot relay from %s port 67: %s", inet_ntop(AF_INET, &ia, a, sizeof(a)), strerror(errno));
        if (rs->ev)
            event_free(rs->ev);
        if (rs->fd >= 0)
            close(rs->fd);
        free(rs);
        return NULL;
    }
    rs->next = c->socks;
    c->socks = rs;
    return rs;
}

struct dhcp_client *dhcp_client_new(struct event_base *base)
{
    struct dhcp_client *c = calloc(1, sizeof(*c));

    if (c)
        c->base = base;
    return c;
}

void dhcp_client_free(struct dhcp_client *c)
{
    if (!c)
        return;
    while (c->reqs)
        req_free(c->reqs);
    while (c->socks) {
        struct relay_sock *rs = c->socks;

        c->socks = rs->next;
        event_free(rs->ev);
        close(rs->fd);
        free(rs);
    }
    free(c);
}

static struct dhcp_req *start(struct dhcp_client *c, uint32_t server, uint32_t giaddr, unsigned timeout_s,
                              dhcp_done_fn done, void *arg)
{
    struct dhcp_req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->c = c;
    r->server = server;
    r->rs = relay(c, giaddr);
    r->timer = evtimer_new(c->base, on_timer, r);
    if (!r->rs || !r->timer || RAND_bytes((uint8_t *)&r->xid, sizeof(r->xid)) != 1) {
        if (r->timer)
            event_free(r->timer);
        free(r);
        return NULL;
    }
    r->done = done;
    r->arg = arg;
    r->deadline = time(NULL) + (timeout_s ? timeout_s : 5);
    r->l.giaddr = giaddr;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->pprev = &r->next;
    c->reqs = r;
    r->pprev = &c->reqs;
    return r;
}

struct dhcp_req *dhcp_acquire(struct dhcp_client *c, uint32_t server, uint32_t giaddr, unsigned timeout_s,
                              const char *client_id, dhcp_done_fn done, void *arg)
{
    struct dhcp_req *r = start(c, server, giaddr, timeout_s, done, arg);
    uint8_t md[32];
    unsigned int ml = sizeof(md);

    if (!r)
        return NULL;
    snprintf(r->l.client_id, sizeof(r->l.client_id), "%s", client_id);
    /* a locally administered hardware address derived from the client's name, so
     * that the same client gets the same binding */
    EVP_Digest(client_id, strlen(client_id), md, &ml, EVP_sha256(), NULL);
    memcpy(r->l.chaddr, md, 6);
    r->l.chaddr[0] = (uint8_t)((r->l.chaddr[0] & 0xfc) | 0x02);
    r->state = DHCP_DISCOVER;
    transmit(r);
    evtimer_add(r->timer, &(struct timeval){.tv_sec = RETRY_S});
    return r;
}

struct dhcp_req *dhcp_renew(struct dhcp_client *c, const struct dhcp_lease *l, unsigned timeout_s, dhcp_done_fn done,
                            void *arg)
{
    struct dhcp_req *r = start(c, l->server, l->giaddr, timeout_s, done, arg);

    if (!r)
        return NULL;
    r->l = *l;
    r->state = DHCP_REQUEST;
    r->renew = true;
    transmit(r);
    evtimer_add(r->timer, &(struct timeval){.tv_sec = RETRY_S});
    return r;
}

void dhcp_cancel(struct dhcp_req *r)
{
    if (r)
        req_free(r);
}

void dhcp_release(struct dhcp_client *c, const struct dhcp_lease *l)
{
    struct relay_sock *rs = relay(c, l->giaddr);
    uint8_t buf[DHCP_MAX_LEN];
    uint32_t xid = 0;
    size_t n;

    if (!rs)
        return;
    RAND_bytes((uint8_t *)&xid, sizeof(xid));
    n = dhcp_build(buf, sizeof(buf), DHCP_RELEASE, xid, l->giaddr, l->addr, l->chaddr, l->client_id, 0, l->server);
    if (n)
        send_to_server(rs, l->server, buf, n);
}
