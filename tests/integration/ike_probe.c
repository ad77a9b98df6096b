/* ike_probe: Raven's IKEv2 responder code for IKE_SA_INIT (daemon/ike) facing a real
 * client, for the interop test test_ike_strongswan.py. It answers the client's
 * IKE_SA_INIT with ike_init_respond(), then receives the client's IKE_AUTH and
 * decrypts it with the keys Raven derived. If the client could not use our
 * response, or our keys differed from its keys, the decryption fails.
 * It then checks the client's pre-shared key AUTH with ike_auth_psk() and answers
 * with Raven's own IDr and AUTH sealed in SK (no child SA: NO_PROPOSAL_CHOSEN),
 * which the client must accept to consider the IKE SA established.
 * With "frag" it announces IKE fragmentation and reassembles an IKE_AUTH sent in
 * Encrypted Fragment payloads (RFC 7383).
 * Usage: ike_probe ADDRESS EXPECTED_IDI PSK [frag]  (exit 0 when IDi and AUTH match)
 *
 * In client mode it is Raven's test initiator (tests/support/ike_client.c)
 * facing a headend instead, for the configuration reply a client cannot show
 * (test_ike_split_dns.py): IKE_SA_INIT and IKE_AUTH with a pre-shared key, a
 * configuration request of INTERNAL_IP4_ADDRESS and the attribute types
 * given (attr=N, empty, or attr=N:TEXT), the Unity or FlexVPN vendor ID when
 * asked; it prints each attribute of the reply as "attr TYPE VALUE" (an
 * address, else text when printable, else hex), then deletes the IKE SA.
 * Usage: ike_probe client HEADEND_ADDRESS IDI PSK [unity] [flexvpn] [attr=N[:TEXT]]...
 * (exit 0 when the session was established)
 * RFC 5685 (test_ike_redirect.py): "redirect-supported" announces
 * REDIRECT_SUPPORTED and prints a REDIRECT answer as "redirect TYPE GATEWAY
 * nonce=ok|bad" (exit 3); "send-redirect=GW" sends, once established, an
 * INFORMATIONAL request carrying REDIRECT to GW, as no client may, and prints
 * "redirect-answered NOTIFY" (0: none) before the delete. "stay-redirected"
 * (or "stay-redirected=NOTIFY", answering with that error notify) is a client
 * that answers the gateway's REDIRECT and does not move: once established it
 * answers every request of the gateway for up to 90 s, printing "redirect-
 * received GATEWAY", and exits 0 with "deleted-by-gateway after N s" when
 * the gateway deletes the IKE SA (1 when it does not). */
#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ike/ike_auth.h"
#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_sk.h"
#include "tests/support/ike_client.h"

static int udp(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    memset(ss, 0, sizeof(*ss));
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (fd < 0 || inet_pton(AF_INET, addr, &a->sin_addr) != 1 || bind(fd, (struct sockaddr *)a, sizeof(*a))) {
        perror("bind");
        exit(2);
    }
    return fd;
}

/* Receives one IKE message on either socket (4500 carries a zero non-ESP marker). */
static ssize_t recv_ike(int fds[2], uint8_t *buf, size_t cap, struct sockaddr_storage *from, int *which)
{
    struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    socklen_t fl = sizeof(*from);
    ssize_t n;

    if (poll(p, 2, 20000) <= 0)
        return -1;
    *which = (p[0].revents & POLLIN) ? 0 : 1;
    n = recvfrom(fds[*which], buf, cap, 0, (struct sockaddr *)from, &fl);
    if (n >= 4 && *which == 1) {
        if (memcmp(buf, "\0\0\0\0", 4))
            return -1; /* ESP, not IKE */
        memmove(buf, buf + 4, (size_t)n - 4);
        n -= 4;
    }
    return n;
}

/* Sends @b to the headend and waits for its answer (three tries, 3 s each). */
static ssize_t ask(int fd, const struct ike_buf *b, uint8_t *buf, size_t cap)
{
    for (int i = 0; i < 3; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (send(fd, b->data, b->len, 0) < 0)
            return -1;
        if (poll(&p, 1, 3000) == 1)
            return recv(fd, buf, cap, 0);
    }
    return -1;
}

/* stay-redirected: answers the headend's requests (REDIRECT: with error
 * notify @error unless 0) until it deletes the IKE SA. */
static int stay(int fd, struct ike_client *c, uint16_t error)
{
    static uint8_t buf[65536], plain[65536];
    static struct ike_msg m, inner;
    struct ike_sk_keys theirs, ours;
    struct timespec t0, t1;

    ike_init_sk_keys(&c->st, false, &theirs);
    ike_init_sk_keys(&c->st, true, &ours);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        struct ike_hdr h = {.version = 0x20, .flags = IKE_FLAG_INITIATOR | IKE_FLAG_RESPONSE};
        struct ike_notify_pld n;
        struct ike_builder nb, bd;
        const struct ike_pld *d;
        bool redirect, deleted;
        ssize_t len;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 90 || poll(&p, 1, 1000) < 0) {
            printf("not deleted by the gateway\n");
            return 1;
        }
        if (!p.revents || (len = recv(fd, buf, sizeof(buf), 0)) <= 0 ||
            ike_msg_parse(buf, (size_t)len, &m) != IKE_PARSE_OK || (m.hdr.flags & IKE_FLAG_RESPONSE) ||
            ike_sk_open(&theirs, buf, (size_t)len, &m, plain, &inner) != IKE_SK_OK)
            continue;
        redirect = ike_notify_find(&inner, 16407 /* REDIRECT */, &n);
        if (redirect) {
            struct ike_redirect_pld r;
            char gw[IKE_GW_MAX + 1] = "?";

            if (ike_redirect_parse(&n, false, &r))
                ike_redirect_gw_text(&r, gw, sizeof(gw));
            printf("redirect-received %s\n", gw);
            fflush(stdout);
        }
        d = ike_msg_find(&inner, IKE_PLD_DELETE, 0);
        deleted = d && d->len >= 1 && d->body[0] == 1; /* the IKE SA */
        ike_build_begin(&nb, &(struct ike_hdr){0});
        if (redirect && error)
            ike_notify_build(&nb, &(struct ike_notify_pld){.type = error});
        if (!ike_build_finish(&nb))
            return 2;
        h.exchange = m.hdr.exchange;
        h.msg_id = m.hdr.msg_id;
        memcpy(h.spi_i, c->st.spi_i, 8);
        memcpy(h.spi_r, c->st.spi_r, 8);
        ike_build_begin(&bd, &h);
        if (ike_sk_seal(&ours, &bd, redirect && error ? IKE_PLD_NOTIFY : IKE_PLD_NONE, nb.buf.data + IKE_HDR_LEN,
                        nb.buf.len - IKE_HDR_LEN))
            (void)!send(fd, bd.buf.data, bd.buf.len, 0);
        ike_buf_fini(&bd.buf);
        ike_buf_fini(&nb.buf);
        if (deleted) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            printf("deleted-by-gateway after %ld s\n", (long)(t1.tv_sec - t0.tv_sec));
            return 0;
        }
    }
}

static void print_attr(const struct ike_cp_attr *a)
{
    char text[INET6_ADDRSTRLEN];
    bool printable = a->len > 0;

    printf("attr %u ", a->type);
    /* INTERNAL_IP4_ADDRESS, _NETMASK, _DNS, _NBNS; INTERNAL_IP6_DNS (RFC 7296 3.15.1) */
    if (a->type >= 1 && a->type <= 4 && a->len == 4) {
        printf("%s\n", inet_ntop(AF_INET, a->value, text, sizeof(text)));
        return;
    }
    if (a->type == 10 && a->len == 16) {
        printf("%s\n", inet_ntop(AF_INET6, a->value, text, sizeof(text)));
        return;
    }
    for (size_t i = 0; i < a->len; i++)
        printable = printable && a->value[i] >= 0x20 && a->value[i] < 0x7f;
    if (printable)
        printf("%.*s\n", (int)a->len, (const char *)a->value);
    else {
        for (size_t i = 0; i < a->len; i++)
            printf("%02x", a->value[i]);
        printf("\n");
    }
}

/* An IKE_SA_INIT answer that is a REDIRECT (RFC 5685 4.3): printed, true. */
static bool redirected(const struct ike_client *c, const uint8_t *buf, size_t len)
{
    static struct ike_msg m;
    struct ike_notify_pld n;
    struct ike_redirect_pld r;
    char gw[IKE_GW_MAX + 1];
    static const uint8_t zero[8];

    if (ike_msg_parse(buf, len, &m) != IKE_PARSE_OK || !ike_notify_find(&m, 16407, &n))
        return false;
    if (!ike_redirect_parse(&n, true, &r)) {
        printf("redirect malformed\n");
        return true;
    }
    ike_redirect_gw_text(&r, gw, sizeof(gw));
    printf("redirect %u %s nonce=%s payloads=%zu spi_r=%s\n", r.gw_type, gw,
           r.nonce_len == c->st.n->ni_len && !memcmp(r.nonce, c->st.n->ni, r.nonce_len) ? "ok" : "bad", m.npld,
           memcmp(m.hdr.spi_r, zero, 8) ? "set" : "zero");
    fflush(stdout);
    return true;
}

static int client(int argc, char **argv)
{
    static const uint8_t unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                    0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
    static const char flexvpn[] = "FLEXVPN-SUPPORTED";
    static const uint8_t del[] = {0, 0, 0, 8, 1, 0, 0, 0}; /* Delete of the IKE SA */
    static struct ike_cp_attr extra[16];
    static uint8_t buf[65536];
    struct sockaddr_in head = {.sin_family = AF_INET, .sin_port = htons(500)};
    struct ike_client c;
    struct ike_buf b = {0};
    size_t nextra = 0;
    const char *send_redirect = NULL;
    int stay_error = -1; /* stay-redirected: the error notify (0: none) */
    ssize_t n;
    int fd;

    if (argc < 3 || inet_pton(AF_INET, argv[0], &head.sin_addr) != 1) {
        fprintf(stderr, "usage: ike_probe client HEADEND_ADDRESS IDI PSK [unity] [flexvpn] [attr=N[:TEXT]] [cert=PEM] "
                        "[redirect-supported] [send-redirect=GW] [stay-redirected[=NOTIFY]]...\n");
        return 2;
    }
    ike_client_init(&c, IKE_DH_ECP256);
    for (int i = 3; i < argc; i++) {
        char *colon;

        if (!strcmp(argv[i], "unity") && c.nvid < 4) {
            c.vid[c.nvid] = unity;
            c.vid_len[c.nvid++] = sizeof(unity);
        } else if (!strcmp(argv[i], "flexvpn") && c.nvid < 4) {
            c.vid[c.nvid] = (const uint8_t *)flexvpn;
            c.vid_len[c.nvid++] = sizeof(flexvpn) - 1;
        } else if (!strncmp(argv[i], "cert=", 5)) {
            /* a client certificate (PEM) without its key: AUTH (ECDSA, RFC
             * 7296 method 9) with a junk signature */
            static unsigned char der[8192];
            FILE *f = fopen(argv[i] + 5, "r");
            X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
            unsigned char *p = der;
            int dl = x && i2d_X509(x, NULL) <= (int)sizeof(der) ? i2d_X509(x, &p) : -1;

            if (f)
                fclose(f);
            X509_free(x);
            if (dl <= 0) {
                fprintf(stderr, "probe: cannot read the certificate %s\n", argv[i] + 5);
                return 2;
            }
            c.cert_der = der;
            c.cert_len = (size_t)dl;
            c.cert_auth_method = 9;
        } else if (!strcmp(argv[i], "redirect-supported")) {
            c.redirect_supported = true;
        } else if (!strncmp(argv[i], "send-redirect=", 14)) {
            send_redirect = argv[i] + 14;
        } else if (!strcmp(argv[i], "stay-redirected")) {
            stay_error = 0;
        } else if (!strncmp(argv[i], "stay-redirected=", 16)) {
            stay_error = atoi(argv[i] + 16);
        } else if (!strncmp(argv[i], "attr=", 5) && nextra < 16) {
            colon = strchr(argv[i], ':');
            extra[nextra] = (struct ike_cp_attr){.type = (uint16_t)atoi(argv[i] + 5)};
            if (colon)
                extra[nextra] = (struct ike_cp_attr){
                    .type = extra[nextra].type, .value = (const uint8_t *)colon + 1, .len = strlen(colon + 1)};
            nextra++;
        } else {
            fprintf(stderr, "probe: unknown client option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    c.cp_extra = extra;
    c.ncp_extra = nextra;
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&head, sizeof(head))) {
        perror("probe: socket");
        return 2;
    }
    if (!ike_client_sa_init(&c, &b) || (n = ask(fd, &b, buf, sizeof(buf))) <= 0)
        n = 0;
    if (n > 0 && redirected(&c, buf, (size_t)n)) {
        ike_buf_fini(&b);
        ike_client_fini(&c);
        close(fd);
        return 3;
    }
    if (n <= 0 || !ike_client_sa_init_done(&c, buf, (size_t)n)) {
        fprintf(stderr, "probe: no usable IKE_SA_INIT answer\n");
        return 1;
    }
    ike_buf_fini(&b);
    if (!ike_client_auth(&c, argv[1], argv[2], &b) || (n = ask(fd, &b, buf, sizeof(buf))) <= 0 ||
        !ike_client_auth_done(&c, buf, (size_t)n)) {
        fprintf(stderr, "probe: IKE_AUTH not answered with AUTH\n");
        return 1;
    }
    ike_buf_fini(&b);
    printf("probe: established, configuration reply type %u with %zu attributes\n", c.cp_reply.cfg_type,
           c.cp_reply.nattr);
    for (size_t i = 0; i < c.cp_reply.nattr; i++)
        print_attr(&c.cp_reply.attr[i]);
    fflush(stdout);
    if (send_redirect) {
        uint8_t gw[2 + IKE_GW_MAX];
        size_t gl = ike_redirect_gw(send_redirect, gw);
        struct ike_builder bd;

        ike_build_begin(&bd, &(struct ike_hdr){0});
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = 16407, .data = gw, .len = gl});
        n = gl && ike_build_finish(&bd) &&
                    ike_client_request(&c, IKE_EXCH_INFORMATIONAL, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                                       bd.buf.len - IKE_HDR_LEN, &b) ?
                ask(fd, &b, buf, sizeof(buf)) :
                -1;
        ike_buf_fini(&bd.buf);
        ike_buf_fini(&b);
        if (n <= 0) {
            fprintf(stderr, "probe: the REDIRECT was not answered\n");
            return 1;
        }
        printf("redirect-answered %u\n", ike_client_response_notify(&c, buf, (size_t)n));
        fflush(stdout);
    }
    if (stay_error >= 0) {
        int rc = stay(fd, &c, (uint16_t)stay_error);

        ike_client_fini(&c);
        close(fd);
        return rc;
    }
    if (ike_client_request(&c, IKE_EXCH_INFORMATIONAL, IKE_PLD_DELETE, del, sizeof(del), &b))
        ask(fd, &b, buf, sizeof(buf));
    ike_buf_fini(&b);
    ike_client_fini(&c);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static struct ike_msg req, auth, inner;
    static uint8_t buf[65536], plain[65536], msg1[65536], msg2[65536];
    size_t msg1_len, msg2_len;
    struct sockaddr_storage l500, l4500, from;
    struct ike_init st;
    struct ike_buf out;
    struct ike_id_pld id;
    int fds[2], which;
    ssize_t n;

    struct ike_init_opts opts = {.fragmentation = argc == 5 && !strcmp(argv[4], "frag")};
    static struct ike_frag frag;
    unsigned nfrag = 0;

    if (argc > 1 && !strcmp(argv[1], "client"))
        return client(argc - 2, argv + 2);
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: ike_probe ADDRESS EXPECTED_IDI PSK [frag]\n");
        return 2;
    }
    ike_frag_init(&frag);
    fds[0] = udp(argv[1], 500, &l500);
    fds[1] = udp(argv[1], 4500, &l4500);
    printf("probe: listening on %s ports 500 and 4500\n", argv[1]);
    fflush(stdout);

    n = recv_ike(fds, buf, sizeof(buf), &from, &which);
    if (n < 0 || ike_msg_parse(buf, (size_t)n, &req) != IKE_PARSE_OK || req.hdr.exchange != IKE_EXCH_SA_INIT) {
        fprintf(stderr, "probe: no valid IKE_SA_INIT request\n");
        return 1;
    }
    memcpy(msg1, buf, (size_t)n); /* RealMessage1, signed by the initiator's AUTH */
    msg1_len = (size_t)n;
    if (ike_init_respond(&req, which ? &l4500 : &l500, &from, &opts, &st, &out) != IKE_INIT_OK) {
        fprintf(stderr, "probe: IKE_SA_INIT refused (status %d)\n", st.status);
        ike_init_fini(&st);
        return 1;
    }
    printf("probe: IKE_SA_INIT: encr %d (%zu key bytes) integ %d prf %d group %d, NAT peer %d local %d\n", st.aead,
           st.encr_key_len, st.integ, st.prf, st.group, st.nat_peer, st.nat_local);
    sendto(fds[which], out.data, out.len, 0, (struct sockaddr *)&from, sizeof(struct sockaddr_in));
    memcpy(msg2, out.data, out.len); /* RealMessage2, signed by our AUTH */
    msg2_len = out.len;
    ike_buf_fini(&out);

    for (bool done = false; !done;) {
        struct ike_sk_keys k;

        n = recv_ike(fds, buf, sizeof(buf), &from, &which);
        if (n < 0 || ike_msg_parse(buf, (size_t)n, &auth) != IKE_PARSE_OK || auth.hdr.exchange != IKE_EXCH_AUTH ||
            memcmp(auth.hdr.spi_r, st.spi_r, 8)) {
            fprintf(stderr, "probe: no IKE_AUTH request for our SA\n");
            return 1;
        }
        ike_init_sk_keys(&st, true, &k);
        if (auth.npld && auth.pld[auth.npld - 1].type == IKE_PLD_SKF) {
            if (ike_frag_add(&frag, &k, buf, (size_t)n, &auth, &inner, &done) != IKE_SK_OK) {
                fprintf(stderr, "probe: an IKE_AUTH fragment does not decrypt with the derived keys\n");
                return 1;
            }
            nfrag++;
        } else if (ike_sk_open(&k, buf, (size_t)n, &auth, plain, &inner) != IKE_SK_OK) {
            fprintf(stderr, "probe: IKE_AUTH does not decrypt with the derived keys\n");
            return 1;
        } else {
            done = true;
        }
    }
    if (nfrag)
        printf("probe: IKE_AUTH reassembled from %u fragments\n", nfrag);
    if (!ike_msg_find(&inner, IKE_PLD_IDI, 0) || !ike_id_parse(ike_msg_find(&inner, IKE_PLD_IDI, 0), &id)) {
        fprintf(stderr, "probe: IKE_AUTH has no IDi\n");
        return 1;
    }
    printf("probe: IKE_AUTH decrypted: %zu payloads, IDi type %u \"%.*s\"\n", inner.npld, id.type, (int)id.len,
           (const char *)id.data);
    if (id.len != strlen(argv[2]) || memcmp(id.data, argv[2], id.len))
        return 1;
    {
        const struct ike_pld *idp = ike_msg_find(&inner, IKE_PLD_IDI, 0);
        struct ike_auth_pld a;
        uint8_t want[64];
        size_t so_len, wl;
        uint8_t *so;

        if (!ike_msg_find(&inner, IKE_PLD_AUTH, 0) || !ike_auth_parse(ike_msg_find(&inner, IKE_PLD_AUTH, 0), &a) ||
            a.method != 2) {
            fprintf(stderr, "probe: no shared key AUTH\n");
            return 1;
        }
        so = ike_auth_signed_octets(st.prf, msg1, msg1_len, st.n->nr, st.n->nr_len, st.keys.sk_pi, st.keys.prf_len,
                                    idp->body, idp->len, &so_len);
        wl = so ? ike_auth_psk(st.prf, (const uint8_t *)argv[3], strlen(argv[3]), so, so_len, want) : 0;
        free(so);
        if (!ike_auth_equal(a.data, a.len, want, wl)) {
            fprintf(stderr, "probe: the client's AUTH does not match the shared key\n");
            return 1;
        }
        printf("probe: AUTH verified with the shared key\n");
    }
    {
        /* our reply: IDr, AUTH over RealMessage2 | Ni | prf(SK_pr, IDr'), no child SA */
        static const uint8_t idr_data[] = "headend.example.org";
        struct ike_id_pld idr = {.type = 2, .data = idr_data, .len = sizeof(idr_data) - 1};
        struct ike_hdr h = auth.hdr;
        struct ike_builder ib, bd;
        struct ike_sk_keys k;
        uint8_t mic[64], *so;
        size_t so_len, ml;
        uint8_t frame[65536];
        size_t off = 0;

        ike_build_begin(&ib, &h); /* the inner chain, taken after the header */
        ike_id_build(&ib, IKE_PLD_IDR, &idr);
        so = ike_auth_signed_octets(st.prf, msg2, msg2_len, st.n->ni, st.n->ni_len, st.keys.sk_pr, st.keys.prf_len,
                                    ib.buf.data + IKE_HDR_LEN + IKE_PLD_HDR_LEN,
                                    ib.buf.len - IKE_HDR_LEN - IKE_PLD_HDR_LEN, &so_len);
        ml = so ? ike_auth_psk(st.prf, (const uint8_t *)argv[3], strlen(argv[3]), so, so_len, mic) : 0;
        free(so);
        if (!ml)
            return 1;
        ike_auth_build(&ib, &(struct ike_auth_pld){.method = 2, .data = mic, .len = ml});
        ike_notify_build(&ib, &(struct ike_notify_pld){.type = 14 /* NO_PROPOSAL_CHOSEN */});
        if (!ike_build_finish(&ib))
            return 1;
        h.flags = IKE_FLAG_RESPONSE;
        ike_build_begin(&bd, &h);
        ike_init_sk_keys(&st, false, &k);
        if (!ike_sk_seal(&k, &bd, IKE_PLD_IDR, ib.buf.data + IKE_HDR_LEN, ib.buf.len - IKE_HDR_LEN))
            return 1;
        if (which == 1) { /* port 4500: the non-ESP marker */
            memset(frame, 0, 4);
            off = 4;
        }
        memcpy(frame + off, bd.buf.data, bd.buf.len);
        sendto(fds[which], frame, off + bd.buf.len, 0, (struct sockaddr *)&from, sizeof(struct sockaddr_in));
        printf("probe: IKE_AUTH response sent\n");
        ike_buf_fini(&ib.buf);
        ike_buf_fini(&bd.buf);
        usleep(500 * 1000); /* let the client process it before we go */
    }
    ike_keys_wipe(&st.keys);
    ike_init_fini(&st);
    ike_frag_fini(&frag);
    return 0;
}
