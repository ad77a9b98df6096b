/* dp_tool: the dataplane on its own, with static SAs, for the raw-ESP integration
 * test and the dataplane benchmark. It runs the same library ravend runs
 * (dataplane/dp.h), without IKE: SAs come from the command line.
 *
 *   dp_tool --if NAME:outside|inside[:generic|native|auto[:QUEUES]] ...
 *           --sa 'in|out spi=N cipher=gcm128|gcm256|chacha|cbc128|cbc256|null key=HEX
 *                 [integ=sha1|sha256 ikey=HEX] local=IP peer=IP [lport=N pport=N udp]
 *                 sel=CIDR[,CIDR...] [esn] [window=N] [session=N]' ...
 *           [--seconds N] [--crypto-backend auto|openssl|ipsec-mb]
 *
 * --crypto-backend picks ESP's crypto backend for the SAs (dp_set_crypto_backend;
 * auto by default, as ravend); ipsec-mb where it is not usable is an error. The
 * JSON's "crypto" says which one the SAs got.
 *
 * Prints "ready" once the interfaces are up, runs until SIGINT/SIGTERM or the
 * given time, then prints one JSON object: per-SA, per-interface and per-worker
 * counters and the CPU seconds of each worker thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dataplane/dp.h"

static volatile sig_atomic_t done;

static void on_sig(int sig)
{
    (void)sig;
    done = 1;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "dp_tool: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static size_t hex(const char *s, uint8_t *out, size_t max)
{
    size_t n = strlen(s) / 2;

    if (strlen(s) % 2 || n > max)
        die("bad hex key %s", s);
    for (size_t i = 0; i < n; i++)
        if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
            die("bad hex key %s", s);
    return n;
}

static void addr(const char *s, uint16_t port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in = (void *)ss;

    memset(ss, 0, sizeof(*ss));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, s, &in->sin_addr) != 1)
        die("bad IPv4 address %s", s);
}

static void cidr(const char *s, struct dp_range *r)
{
    char buf[64];
    char *slash;
    unsigned plen;
    uint32_t a, mask;

    snprintf(buf, sizeof(buf), "%s", s);
    slash = strchr(buf, '/');
    plen = slash ? (unsigned)atoi(slash + 1) : 32;
    if (slash)
        *slash = 0;
    if (inet_pton(AF_INET, buf, &a) != 1 || plen > 32)
        die("bad selector %s", s);
    mask = plen ? htonl(~0u << (32 - plen)) : 0;
    r->family = AF_INET;
    a &= mask;
    memcpy(r->start, &a, 4);
    a |= ~mask;
    memcpy(r->end, &a, 4);
}

static void parse_sa(char *spec, struct dp_sa *sa)
{
    char *save = NULL, *tok;
    const char *local = NULL, *peer = NULL;
    uint16_t lport = 0, pport = 0;

    memset(sa, 0, sizeof(*sa));
    sa->session_id = 1;
    sa->replay_window = 64;
    for (tok = strtok_r(spec, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *v = strchr(tok, '=');
        if (v)
            *v++ = 0;
        if (!strcmp(tok, "in"))
            sa->inbound = true;
        else if (!strcmp(tok, "out"))
            sa->inbound = false;
        else if (!strcmp(tok, "spi") && v)
            sa->spi = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(tok, "session") && v)
            sa->session_id = strtoull(v, NULL, 0);
        else if (!strcmp(tok, "cipher") && v)
            sa->cipher = !strcmp(v, "chacha") ? DP_CIPHER_CHACHA20_POLY1305
                         : !strncmp(v, "cbc", 3) ? DP_CIPHER_AES_CBC
                         : !strcmp(v, "null") ? DP_CIPHER_NULL : DP_CIPHER_AES_GCM_16;
        else if (!strcmp(tok, "key") && v)
            sa->key_len = hex(v, sa->key, sizeof(sa->key));
        else if (!strcmp(tok, "integ") && v)
            sa->integ = !strcmp(v, "sha1") ? DP_INTEG_HMAC_SHA1_96 : DP_INTEG_HMAC_SHA2_256_128;
        else if (!strcmp(tok, "ikey") && v)
            sa->integ_key_len = hex(v, sa->integ_key, sizeof(sa->integ_key));
        else if (!strcmp(tok, "local") && v)
            local = v;
        else if (!strcmp(tok, "peer") && v)
            peer = v;
        else if (!strcmp(tok, "lport") && v)
            lport = (uint16_t)atoi(v);
        else if (!strcmp(tok, "pport") && v)
            pport = (uint16_t)atoi(v);
        else if (!strcmp(tok, "udp"))
            sa->udp_encap = true;
        else if (!strcmp(tok, "esn"))
            sa->esn = true;
        else if (!strcmp(tok, "window") && v)
            sa->replay_window = (uint32_t)atoi(v);
        else if (!strcmp(tok, "sel") && v) {
            char *s2 = NULL;
            for (char *c = strtok_r(v, ",", &s2); c && sa->nsel < DP_MAX_SELECTORS; c = strtok_r(NULL, ",", &s2))
                cidr(c, &sa->sel[sa->nsel++]);
        } else
            die("unknown SA field %s", tok);
    }
    if (!local || !peer)
        die("an SA needs local= and peer=");
    addr(local, lport, &sa->local);
    addr(peer, pport, &sa->peer);
}

/* CPU seconds of each dataplane worker thread ("raven-dp-N"), from /proc. */
static void print_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    long hz = sysconf(_SC_CLK_TCK);
    bool first = true;

    printf("\"threads\":[");
    while (d && (de = readdir(d))) {
        char path[300], comm[64] = "", buf[1024];
        unsigned long ut = 0, st = 0;
        FILE *f;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = 0;
            fclose(f);
        }
        if (strncmp(comm, "raven-dp-", 9))
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(buf, sizeof(buf), f)) {
                char *p = strrchr(buf, ')');
                if (p)
                    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
            }
            fclose(f);
        }
        printf("%s{\"name\":\"%s\",\"cpu_s\":%.3f}", first ? "" : ",", comm, (double)(ut + st) / hz);
        first = false;
    }
    if (d)
        closedir(d);
    printf("]");
}

int main(int argc, char **argv)
{
    struct dp_if_conf ifs[DP_MAX_IFACES];
    struct dp_sa sas[64];
    size_t nifs = 0, nsas = 0;
    double seconds = 0;
    char err[256];
    struct dp *dp;
    enum dp_crypto_backend cb = DP_CRYPTO_AUTO;
    struct dp_crypto_info ci;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--if") && i + 1 < argc && nifs < DP_MAX_IFACES) {
            char *save = NULL, *name = strtok_r(argv[++i], ":", &save), *role = strtok_r(NULL, ":", &save),
                 *mode = strtok_r(NULL, ":", &save), *q = strtok_r(NULL, ":", &save);
            struct dp_if_conf *c = &ifs[nifs++];
            memset(c, 0, sizeof(*c));
            snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
            c->role = role && !strcmp(role, "inside") ? DP_ROLE_INSIDE : DP_ROLE_OUTSIDE;
            c->mode = !mode ? DP_XDP_AUTO : !strcmp(mode, "native") ? DP_XDP_NATIVE
                      : !strcmp(mode, "generic") ? DP_XDP_GENERIC : DP_XDP_AUTO;
            c->queues = q ? (uint16_t)atoi(q) : 0;
        } else if (!strcmp(argv[i], "--sa") && i + 1 < argc && nsas < 64) {
            parse_sa(argv[++i], &sas[nsas++]);
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--crypto-backend") && i + 1 < argc) {
            const char *v = argv[++i];
            cb = !strcmp(v, "openssl") ? DP_CRYPTO_OPENSSL : !strcmp(v, "ipsec-mb") ? DP_CRYPTO_IPSEC_MB
                 : !strcmp(v, "auto") ? DP_CRYPTO_AUTO : (die("unknown crypto backend %s", v), DP_CRYPTO_AUTO);
        } else {
            die("unknown argument %s", argv[i]);
        }
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    if (!(dp = dp_new()))
        die("out of memory");
    if (dp_set_crypto_backend(dp, cb, err, sizeof(err)))
        die("%s", err);
    dp_crypto_info(dp, &ci);
    for (size_t i = 0; i < nsas; i++) {
        int rc = dp_sa_add(dp, &sas[i]);
        if (rc) {
            fprintf(stderr, "dp_tool: SA %zu refused: %s\n", i, strerror(-rc));
            return 2;
        }
    }
    if (dp_set_interfaces(dp, ifs, nifs, err, sizeof(err)))
        die("%s", err);
    printf("ready\n");
    fflush(stdout);
    for (double t = 0; !done && (!seconds || t < seconds); t += 0.05)
        usleep(50000);
    printf("{\"sas\":[");
    for (size_t i = 0; i < nsas; i++) {
        struct dp_sa_stats st;
        dp_sa_stats(dp, sas[i].session_id, sas[i].spi, sas[i].inbound, &st);
        printf("%s{\"spi\":%u,\"inbound\":%s,\"packets\":%lu,\"bytes\":%lu,\"replay\":%lu,\"auth\":%lu,"
               "\"selector\":%lu}", i ? "," : "", sas[i].spi, sas[i].inbound ? "true" : "false", st.packets,
               st.bytes, st.replay_drops, st.auth_failures, st.selector_drops);
    }
    printf("],\"ifaces\":[");
    for (size_t i = 0; i < dp_if_count(dp); i++) {
        struct dp_if_stats st;
        dp_if_stats(dp, i, &st);
        printf("%s{\"name\":\"%s\",\"mode\":\"%s\",\"rx\":%lu,\"tx\":%lu,\"to_kernel\":%lu,\"drops\":[", i ? "," : "",
               st.name, st.mode == DP_MODE_NATIVE ? "native" : "generic", st.rx_packets, st.tx_packets, st.to_kernel);
        for (size_t d = 0; d < DP_DROP_N; d++)
            printf("%s%lu", d ? "," : "", st.drops[d]);
        printf("]}");
    }
    printf("],\"workers\":[");
    for (size_t i = 0; i < dp_worker_count(dp); i++) {
        struct dp_worker_stats w;
        dp_worker_stats(dp, i, &w);
        printf("%s{\"id\":%u,\"busy_s\":%.4f,\"busy_polls\":%lu,\"idle_polls\":%lu}", i ? "," : "", w.id,
               w.busy_ns / 1e9, w.busy_polls, w.idle_polls);
    }
    printf("],\"crypto\":{\"backend\":\"%s\",\"ipsec_mb_arch\":\"%s\",\"ipsec_mb_status\":\"%s\"},", ci.in_use,
           ci.ipsec_mb_arch, ci.ipsec_mb_status);
    print_threads();
    printf("}\n");
    dp_free(dp);
    return 0;
}
