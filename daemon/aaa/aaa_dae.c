/* The dynamic authorization server (RFC 5176): Disconnect-Request and
 * CoA-Request on UDP `dynamic-author-port`, only from configured clients with
 * their secret, replays (Event-Timestamp) dropped; each request is read into a
 * struct aaa_dae, handed to the handler ravend set (aaa_set_dae_handler) and
 * answered with ACK or NAK and an Error-Cause. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/aaa/aaa_int.h"
#include "daemon/aaa/radius.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

int aaa_dae_open(uint16_t port)
{
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT};
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), off = 0, on = 1;

    if (fd >= 0) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (!bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)))
            return fd;
        close(fd);
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sa4, sizeof(sa4))) {
        int e = -errno;

        close(fd);
        return e;
    }
    return fd;
}

/* The same address, IPv4-mapped IPv6 taken as IPv4. */
static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    uint8_t x[16], y[16];
    const struct sockaddr_storage *s[2] = {a, b};
    uint8_t *o[2] = {x, y};

    for (int i = 0; i < 2; i++) {
        memset(o[i], 0, 16);
        if (s[i]->ss_family == AF_INET) {
            o[i][10] = o[i][11] = 0xff;
            memcpy(o[i] + 12, &((const struct sockaddr_in *)s[i])->sin_addr, 4);
        } else {
            memcpy(o[i], &((const struct sockaddr_in6 *)s[i])->sin6_addr, 16);
        }
    }
    return !memcmp(x, y, 16);
}

static void dae_reply(struct aaa *a, int fd, const struct sockaddr_storage *to, socklen_t tolen,
                      const struct rad_view *v, const char *secret, uint8_t code, int cause)
{
    struct rad_pkt *p = calloc(1, sizeof(*p));
    size_t len;

    if (!p)
        return;
    rad_init(p, code, v->id, NULL);
    if (cause)
        rad_add_u32(p, RAD_ERROR_CAUSE, (uint32_t)cause);
    if (rad_find(v, RAD_MESSAGE_AUTHENTICATOR, &(struct rad_attr){0}))
        rad_add_msg_auth(p);
    len = rad_finish_reply(p, v->buf + 4, secret, strlen(secret));
    if (len && sendto(fd, p->buf, len, 0, (const struct sockaddr *)to, tolen) < 0)
        log_debug("radius", "dynamic authorization reply: %s", strerror(errno));
    if (cause)
        a->dae_naks++;
    else
        a->dae_acks++;
    free(p);
}

int aaa_dae_read(const struct rad_view *v, struct aaa_dae *req, char sid[254], char user[254])
{
    struct rad_attr at;
    size_t pos = 0;
    int cause = 0;

    memset(req, 0, sizeof(*req));
    req->coa = v->code == RAD_COA_REQUEST;
    aaa_attrs_init(&req->attrs);
    while (rad_next(v, &pos, &at)) {
        switch (at.type) {
        case RAD_ACCT_SESSION_ID:
            snprintf(sid, 254, "%.*s", (int)at.len, (const char *)at.val);
            req->session_id = sid;
            break;
        case RAD_USER_NAME:
            snprintf(user, 254, "%.*s", (int)at.len, (const char *)at.val);
            req->user = user;
            break;
        case RAD_FRAMED_IP_ADDRESS:
            if (at.len == 4) {
                req->has_addr = true;
                req->addr = (uint32_t)at.val[0] << 24 | (uint32_t)at.val[1] << 16 | (uint32_t)at.val[2] << 8 |
                           at.val[3];
            }
            break;
        case RAD_MESSAGE_AUTHENTICATOR:
            break;
        case RAD_SERVICE_TYPE:
            /* Authorize-Only (17) would need a re-authorization round trip */
            if (at.len == 4 && at.val[3] == 17)
                cause = AAA_EC_UNSUPPORTED_SERVICE;
            break;
        case RAD_NAS_IP_ADDRESS:
        case RAD_NAS_IDENTIFIER:
        case RAD_CALLING_STATION_ID:
        case RAD_EVENT_TIMESTAMP:
        case RAD_STATE:
        case RAD_CLASS:
            break;
        case RAD_VENDOR_SPECIFIC:
            if (!req->coa)
                break; /* a Disconnect ignores authorization attributes */
            /* fall through */
        case RAD_SESSION_TIMEOUT:
        case RAD_FRAMED_IP_NETMASK:
            break;
        default:
            if (!cause)
                cause = AAA_EC_UNSUPPORTED_ATTRIBUTE;
            break;
        }
    }
    if (req->coa && !cause && aaa_attrs_parse(v, NULL, NULL, &req->attrs)) {
        cause = AAA_EC_RESOURCES_UNAVAILABLE;
    } else if (req->coa && !cause && req->attrs.unknown) {
        cause = AAA_EC_UNSUPPORTED_ATTRIBUTE;
    }
    if (!cause && !req->session_id && !req->user && !req->has_addr)
        cause = AAA_EC_MISSING_ATTRIBUTE;
    return cause;
}

void aaa_dae_recv(evutil_socket_t fd, short what, void *arg)
{
    struct aaa *a = arg;
    uint8_t buf[RAD_MAX_LEN];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
    const struct aaa_dae_client *cl = NULL;
    struct rad_view v;
    struct aaa_dae req;
    char sid[254] = "", user[254] = "", host[INET6_ADDRSTRLEN] = "?";
    int cause;

    if (n <= 0)
        return;
    a->dae_requests++;
    for (size_t i = 0; a->conf && i < a->conf->ndae && !cl; i++)
        if (same_host(&a->conf->dae[i].addr, &from))
            cl = &a->conf->dae[i];
    if (from.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, host, sizeof(host));
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, host, sizeof(host));
    if (!cl) {
        a->dae_dropped++;
        log_warn("radius", "dynamic authorization request from %s, which is not a configured client: dropped", host);
        return;
    }
    if (rad_parse(buf, (size_t)n, &v) ||
        (v.code != RAD_DISCONNECT_REQUEST && v.code != RAD_COA_REQUEST) ||
        rad_verify_request(&v, cl->secret, strlen(cl->secret))) {
        a->dae_dropped++;
        log_warn("radius", "dynamic authorization request from %s (%s): malformed or wrong authenticator, dropped",
                 cl->name, host);
        return;
    }
    /* RFC 5176 3.5: a request whose Event-Timestamp is more than 300 s off is a
     * replay, dropped */
    {
        struct rad_attr ts;

        if (rad_find(&v, RAD_EVENT_TIMESTAMP, &ts) && ts.len == 4) {
            int64_t t = (int64_t)((uint32_t)ts.val[0] << 24 | (uint32_t)ts.val[1] << 16 | (uint32_t)ts.val[2] << 8 |
                                  ts.val[3]);

            if (llabs(t - (int64_t)time(NULL)) > 300) {
                a->dae_dropped++;
                log_warn("radius", "dynamic authorization request from %s (%s) with an Event-Timestamp %" PRId64
                         " s off: dropped as a replay", cl->name, host, t - (int64_t)time(NULL));
                return;
            }
        }
    }
    cause = aaa_dae_read(&v, &req, sid, user);
    if (!cause)
        cause = a->dae_fn ? a->dae_fn(&req, a->dae_arg) : AAA_EC_SESSION_NOT_FOUND;
    log_info("radius", "%s-Request from %s (%s)%s%s%s%s: %s %d", req.coa ? "CoA" : "Disconnect", cl->name, host,
             req.session_id ? " session " : "", req.session_id ? req.session_id : "", req.user ? " user " : "",
             req.user ? req.user : "", cause ? "NAK, Error-Cause" : "ACK", cause);
    dae_reply(a, fd, &from, flen, &v, cl->secret,
              cause ? (req.coa ? RAD_COA_NAK : RAD_DISCONNECT_NAK) : (req.coa ? RAD_COA_ACK : RAD_DISCONNECT_ACK),
              cause);
    aaa_attrs_free(&req.attrs);
}
