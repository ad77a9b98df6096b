/* ike_load: an IKEv2 load generator for the establishment-rate benchmark
 * (bench_ike.py). Keeps @concurrency initiators busy against one responder, each
 * from its own UDP source port: IKE_SA_INIT (answering a COOKIE or
 * INVALID_KE_PAYLOAD if asked), IKE_AUTH with a pre-shared key, a configuration
 * request and a child SA, then an INFORMATIONAL DELETE of the IKE SA, and again.
 * Prints established SAs, failures and the rate as one JSON line.
 *
 *   ike_load TARGET SOURCE SECONDS CONCURRENCY PSK ID
 *   ike_load --hold TARGET SOURCE SECONDS N PSK ID [SOCKETS [WINDOW]]
 *                                 N sessions established once and kept (no DELETE)
 *                                 for SECONDS; a "%d" in ID becomes the slot number.
 *                                 The sessions share SOCKETS UDP sockets (default
 *                                 min(N, 1000): N may exceed the ports of one
 *                                 address), answers told apart by the initiator's
 *                                 SPI, with at most WINDOW (default 256) being set
 *                                 up at a time; "held N" lines report progress
 *   ike_load --crypto N [ecdsa]   the responder's raw crypto per SA, in microseconds
 *                                 of CPU time (with ecdsa: its AUTH is a P-256 signature)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ike/ike_auth.h"
#include "daemon/ike/ike_crypto.h"
#include "daemon/pki/pki.h"
#include "tests/support/ike_client.h"

enum { S_INIT, S_AUTH, S_DEL, S_HELD };

struct slot {
    int fd;
    int idx;
    int state;
    double deadline;
    struct ike_client c;
    struct ike_buf last;
    char id[128];
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: the crypto baseline is compared with the
 * responders' CPU time, and a busy machine stretches wall time only */
static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in target;
static const char *psk, *id;
static long established, failures, timeouts, cookies;
static bool hold;

/* --hold: slots by the initiator SPI of their current attempt (open addressing;
 * an entry whose slot has moved on to another SPI is skipped and left behind) */
static struct slot *slots;
static int nslots;
static uint32_t *spi_tab; /* slot index + 1, 0 = empty */
static size_t spi_cap, spi_used;

static size_t spi_hash(const uint8_t *spi)
{
    uint64_t v;

    memcpy(&v, spi, 8);
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return (size_t)v & (spi_cap - 1);
}

static void spi_put(struct slot *s)
{
    if (!spi_cap)
        return;
    if ((spi_used + 1) * 4 > spi_cap * 3) { /* full of stale entries: rebuild */
        memset(spi_tab, 0, spi_cap * sizeof(*spi_tab));
        spi_used = 0;
        for (int i = 0; i < nslots; i++)
            if (slots[i].c.dh && &slots[i] != s)
                spi_put(&slots[i]);
    }
    for (size_t h = spi_hash(s->c.st.spi_i);; h = (h + 1) & (spi_cap - 1))
        if (!spi_tab[h]) {
            spi_tab[h] = (uint32_t)s->idx + 1;
            spi_used++;
            return;
        }
}

static struct slot *spi_get(const uint8_t *spi)
{
    for (size_t h = spi_hash(spi); spi_tab[h]; h = (h + 1) & (spi_cap - 1)) {
        struct slot *s = &slots[spi_tab[h] - 1];

        if (!memcmp(s->c.st.spi_i, spi, 8))
            return s;
    }
    return NULL;
}

static void sendbuf(struct slot *s)
{
    if (send(s->fd, s->last.data, s->last.len, 0) < 0 && errno != EAGAIN)
        perror("send");
    s->deadline = now() + 2.0;
}

static void start(struct slot *s)
{
    ike_buf_fini(&s->last);
    ike_client_fini(&s->c);
    ike_client_init(&s->c, IKE_DH_CURVE25519);
    if (!ike_client_sa_init(&s->c, &s->last))
        exit(2);
    spi_put(s);
    s->state = S_INIT;
    sendbuf(s);
}

/* Re-sends IKE_SA_INIT with the responder's COOKIE in front (RFC 7296 2.6). */
static void with_cookie(struct slot *s, const uint8_t *cookie, size_t len)
{
    struct ike_builder bd;
    struct ike_hdr h;
    uint8_t *old = s->c.msg1;
    size_t ol = s->c.msg1_len;
    struct ike_msg m;

    if (ike_msg_parse(old, ol, &m) != IKE_PARSE_OK)
        return;
    h = m.hdr;
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = 16390, .data = cookie, .len = len});
    for (size_t i = 0; i < m.npld; i++)
        ike_build_raw(&bd, m.pld[i].type, m.pld[i].critical, m.pld[i].body, m.pld[i].len);
    if (!ike_build_finish(&bd))
        return;
    free(s->c.msg1);
    s->c.msg1 = malloc(bd.buf.len);
    memcpy(s->c.msg1, bd.buf.data, bd.buf.len);
    s->c.msg1_len = bd.buf.len;
    ike_buf_fini(&s->last);
    s->last = bd.buf;
    cookies++;
    sendbuf(s);
}

static void on_packet(struct slot *s, const uint8_t *buf, size_t len)
{
    struct ike_msg m;
    struct ike_notify_pld n;

    /* only the answer to this slot's current request counts: a late answer to an
     * attempt given up on carries another SPI or message ID */
    if (ike_msg_parse(buf, len, &m) != IKE_PARSE_OK || !(m.hdr.flags & 0x20) ||
        memcmp(m.hdr.spi_i, s->c.st.spi_i, 8) ||
        m.hdr.msg_id != (s->state == S_INIT ? 0u : s->c.next_id - 1))
        return;
    if (s->state == S_INIT) {
        if (m.npld && m.pld[0].type == 41 && ike_notify_parse(&m.pld[0], &n)) {
            if (n.type == 16390) {
                with_cookie(s, n.data, n.len);
                return;
            }
            failures++;
            start(s);
            return;
        }
        ike_buf_fini(&s->last);
        if (!ike_client_sa_init_done(&s->c, buf, len) || !ike_client_auth(&s->c, s->id, psk, &s->last)) {
            failures++;
            start(s);
            return;
        }
        s->state = S_AUTH;
        sendbuf(s);
    } else if (s->state == S_AUTH) {
        static const uint8_t del[] = {0, 0, 0, 8, 1, 0, 0, 0};

        if (!ike_client_auth_done(&s->c, buf, len)) {
            failures++;
            start(s);
            return;
        }
        established++;
        ike_buf_fini(&s->last);
        if (hold) {
            s->state = S_HELD;
            s->deadline = 1e18;
            if (established % 100 == 0) {
                printf("held %ld\n", established);
                fflush(stdout);
            }
            return;
        }
        /* DELETE of the IKE SA: the payload chain, whose first payload is Delete */
        if (!ike_client_request(&s->c, 37, 42, del, sizeof(del), &s->last))
            exit(2);
        s->state = S_DEL;
        sendbuf(s);
    } else {
        start(s);
    }
}

static int crypto_baseline(long n, bool ecdsa)
{
    EVP_PKEY *ec = ecdsa ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") : NULL;
    uint8_t pub[512], peer_pub[512], gir[512], mic[64], so[512] = {1};
    struct ike_dh *peer = ike_dh_new(IKE_DH_CURVE25519);
    size_t ppl = ike_dh_public(peer, peer_pub, sizeof(peer_pub));
    uint8_t ni[32] = {1}, nr[32] = {2}, spi[8] = {3};
    struct ike_keys k;
    double t0 = cpu_now();

    for (long i = 0; i < n; i++) {
        /* the responder's share of one SA: key pair, g^ir, SKEYSEED and keys,
         * the client's AUTH checked and ours computed */
        struct ike_dh *dh = ike_dh_new(IKE_DH_CURVE25519);
        size_t gl;

        ike_dh_public(dh, pub, sizeof(pub));
        gl = ike_dh_derive(dh, peer_pub, ppl, gir, sizeof(gir));
        ike_derive_keys(IKE_PRF_HMAC_SHA2_256, ni, 32, nr, 32, gir, gl, spi, spi, 0, 36, &k);
        ike_auth_psk(IKE_PRF_HMAC_SHA2_256, (const uint8_t *)"k1", 2, so, 400, mic);
        if (ec) { /* our AUTH is an ECDSA signature instead of a MIC */
            uint8_t *sig, method;
            char why[200];
            size_t sl;

            if (!pki_auth_sign(ec, &(struct pki_sign_how){.rfc7427 = true}, so, 400, &method, &sig, &sl, why,
                               sizeof(why)))
                return 1;
            free(sig);
        } else {
            ike_auth_psk(IKE_PRF_HMAC_SHA2_256, (const uint8_t *)"k1", 2, so, 400, mic);
        }
        ike_dh_free(dh);
    }
    printf("{\"crypto_us_per_sa\": %.1f}\n", (cpu_now() - t0) / (double)n * 1e6);
    ike_dh_free(peer);
    EVP_PKEY_free(ec);
    return 0;
}

static void slot_id(struct slot *s, int i)
{
    /* "%d" in the ID: the slot number */
    const char *pct = strstr(id, "%d");

    if (pct)
        snprintf(s->id, sizeof(s->id), "%.*s%d%s", (int)(pct - id), id, i, pct + 2);
    else
        snprintf(s->id, sizeof(s->id), "%s", id);
}

/* --hold: @n sessions over @nsock sockets, at most @window being set up at once. */
static int hold_run(int n, int nsock, int window, double seconds, const struct sockaddr_in *src)
{
    struct pollfd *pfd = calloc((size_t)nsock, sizeof(*pfd));
    double t0 = now(), end = t0 + seconds, scan = 0;
    int next = 0;

    for (spi_cap = 16; spi_cap < (size_t)n * 4; spi_cap <<= 1)
        ;
    spi_tab = calloc(spi_cap, sizeof(*spi_tab));
    nslots = n;
    slots = calloc((size_t)n, sizeof(*slots));
    if (!pfd || !spi_tab || !slots)
        return 2;
    for (int i = 0; i < nsock; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        int big = 4 << 20;

        if (fd < 0 || bind(fd, (const struct sockaddr *)src, sizeof(*src)) ||
            connect(fd, (struct sockaddr *)&target, sizeof(target))) {
            perror("socket");
            return 2;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    for (int i = 0; i < n; i++) {
        slots[i].idx = i;
        slots[i].fd = pfd[i % nsock].fd;
        slot_id(&slots[i], i);
    }
    while (now() < end) {
        double t;

        while (next < n && next - established < window)
            start(&slots[next++]);
        if (poll(pfd, (nfds_t)nsock, 50) < 0)
            break;
        for (int i = 0; i < nsock; i++) {
            static uint8_t buf[65536];
            ssize_t r;

            while (pfd[i].revents & POLLIN && (r = recv(pfd[i].fd, buf, sizeof(buf), 0)) > 0) {
                struct slot *s = r >= 28 ? spi_get(buf) : NULL;

                if (s)
                    on_packet(s, buf, (size_t)r);
            }
        }
        t = now();
        if (t > scan) { /* retransmission deadlines, five times a second */
            scan = t + 0.2;
            for (int i = 0; i < next; i++)
                if (slots[i].state != S_HELD && t > slots[i].deadline) {
                    timeouts++;
                    start(&slots[i]);
                }
        }
    }
    printf("{\"seconds\": %.2f, \"established\": %ld, \"rate\": %.1f, \"failures\": %ld, \"timeouts\": %ld, "
           "\"cookies\": %ld}\n",
           now() - t0, established, (double)established / (now() - t0), failures, timeouts, cookies);
    return 0;
}

int main(int argc, char **argv)
{
    struct pollfd *pfd;
    struct sockaddr_in src = {.sin_family = AF_INET};
    double end, t0;
    int n;

    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "--crypto"))
        return crypto_baseline(atol(argv[2]), argc == 4 && !strcmp(argv[3], "ecdsa"));
    if (argc >= 8 && argc <= 10 && !strcmp(argv[1], "--hold")) {
        hold = true;
        argv++;
        argc--;
    }
    if (argc != 7 && !(hold && argc <= 9)) {
        fprintf(stderr, "usage: ike_load TARGET SOURCE SECONDS CONCURRENCY PSK ID | ike_load --hold TARGET SOURCE "
                        "SECONDS N PSK ID [SOCKETS [WINDOW]] | ike_load --crypto N\n");
        return 2;
    }
    target.sin_family = AF_INET;
    target.sin_port = htons(500);
    if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1 || inet_pton(AF_INET, argv[2], &src.sin_addr) != 1)
        return 2;
    n = atoi(argv[4]);
    psk = argv[5];
    id = argv[6];
    if (n <= 0)
        return 2;
    if (hold) {
        int nsock = argc >= 8 ? atoi(argv[7]) : n < 1000 ? n : 1000, window = argc >= 9 ? atoi(argv[8]) : 256;

        if (nsock <= 0 || nsock > n || window <= 0)
            return 2;
        return hold_run(n, nsock, window, atof(argv[3]), &src);
    }
    slots = calloc((size_t)n, sizeof(*slots));
    pfd = calloc((size_t)n, sizeof(*pfd));
    for (int i = 0; i < n; i++) {
        slots[i].idx = i;
        slots[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (slots[i].fd < 0 || bind(slots[i].fd, (struct sockaddr *)&src, sizeof(src)) ||
            connect(slots[i].fd, (struct sockaddr *)&target, sizeof(target))) {
            perror("socket");
            return 2;
        }
        pfd[i] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
        slot_id(&slots[i], i);
    }
    t0 = now();
    end = t0 + atof(argv[3]);
    for (int i = 0; i < n; i++)
        start(&slots[i]);
    while (now() < end) {
        double t;

        if (poll(pfd, (nfds_t)n, 50) < 0)
            break;
        t = now();
        for (int i = 0; i < n; i++) {
            static uint8_t buf[65536];
            ssize_t r;

            while (pfd[i].revents & POLLIN && (r = recv(pfd[i].fd, buf, sizeof(buf), 0)) > 0)
                on_packet(&slots[i], buf, (size_t)r);
            if (t > slots[i].deadline && slots[i].state != S_HELD) {
                if (slots[i].state != S_DEL)
                    timeouts++;
                start(&slots[i]);
            }
        }
    }
    printf("{\"seconds\": %.2f, \"established\": %ld, \"rate\": %.1f, \"failures\": %ld, \"timeouts\": %ld, "
           "\"cookies\": %ld}\n",
           now() - t0, established, (double)established / (now() - t0), failures, timeouts, cookies);
    return 0;
}
