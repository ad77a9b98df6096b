/* radius_tool: one authentication against a RADIUS server with Raven's codec
 * (daemon/aaa/radius.c), for the interop test with FreeRADIUS. Never part of the
 * product: the asynchronous client of daemon/aaa is.
 *
 *   radius_tool ADDR PORT SECRET pap USER PASSWORD
 *   radius_tool ADDR PORT SECRET eap-md5 USER PASSWORD
 *   radius_tool client ADDR PORT1,PORT2,... SECRET USER PASSWORD COUNT
 *       COUNT PAP requests at once through the asynchronous client to a group of
 *       servers in that order (300 ms timeout, one retransmission); prints
 *       "done accepts A rejects R failed F" and "stats NAME requests N
 *       retransmits T timeouts X accepts A dead D" per server.
 *
 * Prints every packet received, verified, as "code N" then one line per attribute:
 * "attr TYPE HEX", "vsa VENDOR TYPE TEXT", "framed-ip A.B.C.D", "eap CODE TYPE".
 * Exit 0 on Access-Accept, 1 on Access-Reject, 2 on any other failure. */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <errno.h>

#include "daemon/aaa/radius.h"
#include "daemon/aaa/radius_client.h"

static const char *secret;

/* Sends @p (finished) and returns the verified reply in @v (@buf its storage). */
static int exchange(int fd, struct rad_pkt *p, uint8_t *buf, struct rad_view *v)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (send(fd, p->buf, p->len, 0) < 0)
            return -1;
        while (poll(&pfd, 1, 2000) > 0) {
            n = recv(fd, buf, RAD_MAX_LEN, 0);
            if (n <= 0 || rad_parse(buf, (size_t)n, v) || v->id != p->buf[1])
                continue;
            if (rad_verify_reply(v, p->buf + 4, secret, strlen(secret))) {
                printf("bad-authenticator\n");
                continue;
            }
            return 0;
        }
    }
    printf("timeout\n");
    return -1;
}

static void dump(const struct rad_view *v)
{
    struct rad_attr a;
    size_t pos = 0;

    printf("code %u\n", v->code);
    while (rad_next(v, &pos, &a)) {
        uint32_t vendor;
        uint8_t vtype;
        const uint8_t *val;
        size_t vl;

        if (rad_vsa(&a, &vendor, &vtype, &val, &vl)) {
            printf("vsa %u %u %.*s\n", vendor, vtype, (int)vl, (const char *)val);
        } else if (a.type == RAD_FRAMED_IP_ADDRESS && a.len == 4) {
            printf("framed-ip %u.%u.%u.%u\n", a.val[0], a.val[1], a.val[2], a.val[3]);
        } else if (a.type == RAD_REPLY_MESSAGE) {
            printf("reply-message %.*s\n", (int)a.len, (const char *)a.val);
        } else {
            printf("attr %u ", a.type);
            for (size_t i = 0; i < a.len; i++)
                printf("%02x", a.val[i]);
            printf("\n");
        }
    }
}

static void request(struct rad_pkt *p, uint8_t id, const char *user)
{
    uint8_t auth[16];

    RAND_bytes(auth, sizeof(auth));
    rad_init(p, RAD_ACCESS_REQUEST, id, auth);
    rad_add_str(p, RAD_USER_NAME, user);
    rad_add_str(p, RAD_NAS_IDENTIFIER, "raven-test");
}

struct flood {
    struct event_base *base;
    const char *user, *pw;
    int outstanding, accepts, rejects, failed;
};

static void build_pap(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *sec, void *arg)
{
    struct flood *f = arg;

    rad_init(p, RAD_ACCESS_REQUEST, id, auth);
    rad_add_str(p, RAD_USER_NAME, f->user);
    rad_add_password(p, sec, strlen(sec), f->pw);
    rad_add_msg_auth(p);
}

static void done_pap(const struct rad_view *v, int err, const char *server, const uint8_t req_auth[16],
                     const char *sec, void *arg)
{
    struct flood *f = arg;

    (void)server;
    (void)req_auth;
    (void)sec;
    if (!v)
        f->failed++;
    else if (v->code == RAD_ACCESS_ACCEPT)
        f->accepts++;
    else
        f->rejects++;
    (void)err;
    if (--f->outstanding == 0)
        event_base_loopbreak(f->base);
}

static int client_mode(char **argv)
{
    struct flood f = {.user = argv[5], .pw = argv[6]};
    struct rad_server_conf sc[8];
    char names[8][16], *ports = strdup(argv[3]), *tok, *save = NULL;
    struct rad_client *c;
    size_t n = 0;
    int count = atoi(argv[7]);

    f.base = event_base_new();
    c = rad_client_new(f.base);
    for (tok = strtok_r(ports, ",", &save); tok && n < 8; tok = strtok_r(NULL, ",", &save), n++) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&sc[n].addr;

        memset(&sc[n], 0, sizeof(sc[n]));
        snprintf(names[n], sizeof(names[n]), "s%zu", n + 1);
        sc[n].name = names[n];
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)atoi(tok));
        inet_pton(AF_INET, argv[2], &sin->sin_addr);
        sc[n].secret = argv[4];
        sc[n].timeout_ms = 300;
        sc[n].retransmits = 1;
        sc[n].deadtime_s = 10;
    }
    if (rad_client_set_group(c, "g", sc, n))
        return 2;
    for (int i = 0; i < count; i++) {
        f.outstanding++;
        if (!rad_client_send(c, "g", build_pap, done_pap, &f)) {
            f.outstanding--;
            f.failed++;
        }
    }
    if (f.outstanding)
        event_base_dispatch(f.base);
    printf("done accepts %d rejects %d failed %d\n", f.accepts, f.rejects, f.failed);
    for (size_t i = 0; i < n; i++) {
        struct rad_server_stats st;

        if (rad_client_stats(c, "g", names[i], &st))
            printf("stats %s requests %llu retransmits %llu timeouts %llu accepts %llu dead %d\n", names[i],
                   (unsigned long long)st.requests, (unsigned long long)st.retransmits,
                   (unsigned long long)st.timeouts, (unsigned long long)st.accepts, st.dead);
    }
    rad_client_free(c);
    event_base_free(f.base);
    free(ports);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    uint8_t buf[RAD_MAX_LEN], eap[RAD_MAX_LEN];
    struct rad_view v;
    struct rad_pkt p;
    int fd;

    if (argc == 8 && !strcmp(argv[1], "client"))
        return client_mode(argv);
    if (argc != 7 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "usage: radius_tool ADDR PORT SECRET pap|eap-md5 USER PASSWORD\n");
        return 2;
    }
    sa.sin_port = htons((uint16_t)atoi(argv[2]));
    secret = argv[3];
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
        return 2;
    if (!strcmp(argv[4], "pap")) {
        request(&p, 1, argv[5]);
        rad_add_password(&p, secret, strlen(secret), argv[6]);
        rad_add_msg_auth(&p);
        if (!rad_finish(&p, secret, strlen(secret)) || exchange(fd, &p, buf, &v))
            return 2;
        dump(&v);
        return v.code == RAD_ACCESS_ACCEPT ? 0 : v.code == RAD_ACCESS_REJECT ? 1 : 2;
    }
    if (!strcmp(argv[4], "eap-md5")) {
        size_t ul = strlen(argv[5]), n;
        struct rad_attr state;
        uint8_t resp[64];
        uint8_t id = 0;

        /* EAP-Response/Identity */
        eap[0] = 2;
        eap[1] = 0;
        eap[2] = (uint8_t)((5 + ul) >> 8);
        eap[3] = (uint8_t)(5 + ul);
        eap[4] = 1;
        memcpy(eap + 5, argv[5], ul);
        request(&p, ++id, argv[5]);
        rad_add_eap(&p, eap, 5 + ul);
        if (!rad_finish(&p, secret, strlen(secret)) || exchange(fd, &p, buf, &v))
            return 2;
        dump(&v);
        n = rad_eap(&v, eap, sizeof(eap));
        if (v.code != RAD_ACCESS_CHALLENGE || n < 6 || eap[0] != 1 || eap[4] != 4 || n < 6u + eap[5])
            return 2;
        printf("eap %u %u\n", eap[0], eap[4]);
        {
            /* MD5-Challenge (RFC 3748 5.4): MD5(id, password, challenge) */
            EVP_MD_CTX *x = EVP_MD_CTX_new();
            unsigned int ml = 16;

            EVP_DigestInit_ex(x, EVP_md5(), NULL);
            EVP_DigestUpdate(x, &eap[1], 1);
            EVP_DigestUpdate(x, argv[6], strlen(argv[6]));
            EVP_DigestUpdate(x, eap + 6, eap[5]);
            EVP_DigestFinal_ex(x, resp + 6, &ml);
            EVP_MD_CTX_free(x);
        }
        resp[0] = 2;
        resp[1] = eap[1];
        resp[2] = 0;
        resp[3] = 22;
        resp[4] = 4;
        resp[5] = 16;
        request(&p, ++id, argv[5]);
        rad_add_eap(&p, resp, 22);
        if (rad_find(&v, RAD_STATE, &state))
            rad_add(&p, RAD_STATE, state.val, state.len);
        if (!rad_finish(&p, secret, strlen(secret)) || exchange(fd, &p, buf, &v))
            return 2;
        dump(&v);
        n = rad_eap(&v, eap, sizeof(eap));
        if (n >= 4)
            printf("eap %u\n", eap[0]);
        return v.code == RAD_ACCESS_ACCEPT && n >= 4 && eap[0] == 3 ? 0 : v.code == RAD_ACCESS_REJECT ? 1 : 2;
    }
    fprintf(stderr, "radius_tool: unknown method %s\n", argv[4]);
    return 2;
}
