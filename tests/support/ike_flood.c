/* ike_flood: a spoofed IKE_SA_INIT flood, for the flood test and benchmark
 * (tests/integration/test_ike_flood.py, tests/bench/bench_ike_flood.py). Sends
 * RATE well-formed IKE_SA_INIT requests a second for SECONDS from random
 * source addresses of PREFIX (raw IPv4 with IP_HDRINCL: the sources are not
 * ours, so nothing comes back to us), each with a fresh initiator SPI and a
 * valid KE payload (one X25519 key of the test initiator, or GROUP), so that a
 * responder that computed for every one of them would do a Diffie-Hellman
 * each time. Prints {"sent": N, "seconds": S, "rate": R} as one JSON line.
 * Run it only in a network namespace of its own.
 *
 *   ike_flood TARGET PREFIX/LEN RATE SECONDS [GROUP]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ike/ike_crypto.h"
#include "tests/support/ike_client.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(500)};
    struct in_addr net;
    struct ike_client c;
    struct ike_buf m = {0};
    uint8_t pkt[2048];
    unsigned plen;
    uint32_t mask, host;
    double rate, secs, t0, end;
    long sent = 0, batch;
    int fd, one = 1;
    char pfx[64], *slash;

    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: ike_flood TARGET PREFIX/LEN RATE SECONDS [GROUP]\n");
        return 2;
    }
    snprintf(pfx, sizeof(pfx), "%s", argv[2]);
    slash = strchr(pfx, '/');
    if (!slash || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1)
        return 2;
    *slash = 0;
    plen = (unsigned)atoi(slash + 1);
    if (inet_pton(AF_INET, pfx, &net) != 1 || plen < 8 || plen > 30)
        return 2;
    rate = atof(argv[3]);
    secs = atof(argv[4]);
    mask = plen ? ~0u << (32 - plen) : 0;
    ike_client_init(&c, argc == 6 ? (enum ike_dh_group)atoi(argv[5]) : IKE_DH_CURVE25519);
    if (!ike_client_sa_init(&c, &m) || m.len + 28 > sizeof(pkt)) {
        fprintf(stderr, "ike_flood: cannot build the request\n");
        return 1;
    }
    fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
        perror("ike_flood: raw socket");
        return 1;
    }
    memset(pkt, 0, 28);
    {
        struct iphdr *ip = (struct iphdr *)pkt;
        struct udphdr *udp = (struct udphdr *)(pkt + 20);

        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->tot_len = htons((uint16_t)(28 + m.len));
        ip->daddr = to.sin_addr.s_addr;
        udp->source = htons(500);
        udp->dest = htons(500);
        udp->len = htons((uint16_t)(8 + m.len)); /* checksum 0: none (IPv4) */
    }
    memcpy(pkt + 28, m.data, m.len);
    t0 = now();
    end = t0 + secs;
    batch = rate / 1000 > 1 ? (long)(rate / 1000) : 1;
    while (now() < end) {
        for (long i = 0; i < batch; i++) {
            struct iphdr *ip = (struct iphdr *)pkt;
            uint8_t r[12];

            if (RAND_bytes(r, sizeof(r)) != 1)
                return 1;
            memcpy(&host, r, 4);
            host = (ntohl(net.s_addr) & mask) | (ntohl(host) & ~mask);
            if ((host & ~mask) == 0 || (host & ~mask) == ~mask)
                host ^= 1;
            ip->saddr = htonl(host);
            memcpy(pkt + 28, r + 4, 8); /* a new initiator SPI */
            if (sendto(fd, pkt, 28 + m.len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != ENOBUFS) {
                perror("ike_flood: sendto");
                return 1;
            }
            sent++;
        }
        /* pace: the packets due by now */
        {
            double due = t0 + (double)sent / rate;
            double wait = due - now();

            if (wait > 0)
                nanosleep(&(struct timespec){.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)},
                          NULL);
        }
    }
    printf("{\"sent\": %ld, \"seconds\": %.3f, \"rate\": %.1f}\n", sent, now() - t0, (double)sent / (now() - t0));
    ike_buf_fini(&m);
    ike_client_fini(&c);
    close(fd);
    return 0;
}
