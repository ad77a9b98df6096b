/* The XDP program (dataplane/bpf/raven_xdp.bpf.c) under BPF_PROG_TEST_RUN
 * (libxdp's xdp_program__test_run): which packets go to the AF_XDP socket and which
 * pass to the kernel, on the outside (IPv4 and IPv6, fragments) and the inside role, what is dropped when
 * the queue has no socket (ravend down with its programs kept), and its counters.
 * Then the programs on a veth pair (dataplane/dp_xsk.c): kept attached across
 * dp_free() with dp_keep_programs(), replaced atomically by the next dataplane's
 * (never none in between), detached at dp_free() without.
 *
 * Needs root: it runs in a network namespace of its own, with an AF_XDP socket on
 * that namespace's loopback in the XSKMAP so that a redirect is seen as one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
#include <cmocka.h>
#include "dataplane/bpf/raven_xdp.h"
#include "dataplane/dp.h"

static struct xdp_program *prog;
static int conf_fd, local_fd, c4_fd, c6_fd, natt_fd, xsks_fd, stats_fd, xsk_fd;

static int quiet(enum libxdp_print_level l, const char *f, va_list ap)
{
    (void)l, (void)f, (void)ap;
    return 0;
}

/* Builds Ethernet + IPv4 + proto-specific bytes into buf; returns the length. */
static size_t ip4(uint8_t *buf, const char *dst, uint8_t proto, uint16_t frag, const uint8_t *l4, size_t l4len)
{
    memset(buf, 0, 14 + 20);
    buf[12] = 0x08;
    buf[14] = 0x45;
    buf[16] = (uint8_t)((20 + l4len) >> 8);
    buf[17] = (uint8_t)(20 + l4len);
    buf[20] = frag >> 8;
    buf[21] = frag & 0xff;
    buf[22] = 64;
    buf[23] = proto;
    inet_pton(AF_INET, "192.0.2.7", buf + 26);
    inet_pton(AF_INET, dst, buf + 30);
    memcpy(buf + 34, l4, l4len);
    return 34 + l4len;
}

static size_t udp(uint8_t *buf, const char *dst, uint16_t dport, const uint8_t *payload, size_t plen, uint16_t frag)
{
    uint8_t l4[64] = {0};

    l4[0] = 0x11;
    l4[1] = 0x94;
    l4[2] = dport >> 8;
    l4[3] = dport & 0xff;
    l4[4] = (uint8_t)((8 + plen) >> 8);
    l4[5] = (uint8_t)(8 + plen);
    memcpy(l4 + 8, payload, plen);
    return ip4(buf, dst, 17, frag, l4, 8 + plen);
}

static int run(const uint8_t *pkt, size_t len)
{
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
                .data_size_out = sizeof(out), .repeat = 1);
    int rc = xdp_program__test_run(prog, &o, 0);

    assert_int_equal(rc, 0);
    return (int)o.retval;
}

static void set_role(uint32_t role)
{
    uint32_t k = RAVEN_XDP_CONF_ROLE;

    assert_int_equal(bpf_map_update_elem(conf_fd, &k, &role, BPF_ANY), 0);
}

static uint64_t stat(uint32_t slot)
{
    int n = libbpf_num_possible_cpus();
    uint64_t v[n], sum = 0;

    assert_int_equal(bpf_map_lookup_elem(stats_fd, &slot, v), 0);
    for (int i = 0; i < n; i++)
        sum += v[i];
    return sum;
}

static const uint8_t esp_body[16] = {0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xaa, 0xbb};

static void test_outside(void **state)
{
    uint8_t p[128], zero[12] = {0}, ka[1] = {0xff};
    uint64_t r0 = stat(RAVEN_XDP_REDIRECT), p0 = stat(RAVEN_XDP_PASS);

    (void)state;
    set_role(RAVEN_XDP_ROLE_OUTSIDE);
    /* ESP and ESP in UDP to our address: the socket */
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 50, 0, esp_body, sizeof(esp_body))), XDP_REDIRECT);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, esp_body, sizeof(esp_body), 0)), XDP_REDIRECT);
    /* fragmented ESP goes to the dataplane too (it counts and drops it) */
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 50, 0x2000, esp_body, sizeof(esp_body))), XDP_REDIRECT);
    /* UDP fragments to us too: the workers reassemble (only the first has ports) */
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, esp_body, sizeof(esp_body), 0x2000)), XDP_REDIRECT);
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 17, 0x00b9, esp_body, sizeof(esp_body))), XDP_REDIRECT);
    /* not ours, IKE, keepalive, other protocols, UDP fragments to others: the kernel */
    assert_int_equal(run(p, ip4(p, "198.51.100.9", 50, 0, esp_body, sizeof(esp_body))), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, zero, sizeof(zero), 0)), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, ka, 1, 0)), XDP_PASS);
    /* the same keepalive in a frame padded to 60 bytes with non-zero bytes */
    memset(p + 43, 0xee, 17);
    assert_int_equal(run(p, 60), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 500, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.9", 4500, esp_body, sizeof(esp_body), 0x2000)), XDP_PASS);
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 6, 0, esp_body, sizeof(esp_body))), XDP_PASS);
    /* truncated headers and other Ethernet types */
    assert_int_equal(run(p, 20), XDP_PASS);
    assert_int_equal(run(p, 14 + 12), XDP_PASS);
    p[12] = 0x08;
    p[13] = 0x06;
    assert_int_equal(run(p, 60), XDP_PASS);
    assert_int_equal(stat(RAVEN_XDP_REDIRECT) - r0, 5);
    assert_int_equal(stat(RAVEN_XDP_PASS) - p0, 10);
}

/* Ethernet + IPv6 to @dst with @next (after @ext, extension headers of 8 bytes
 * each, and a fragment header when @frag) and @l4. */
static size_t ip6(uint8_t *buf, const char *dst, uint8_t next, int ext, bool frag, const uint8_t *l4, size_t l4len)
{
    size_t off = 54, plen;
    uint8_t *nh = buf + 20;

    memset(buf, 0, 54 + 8 * (size_t)ext + 8);
    buf[12] = 0x86;
    buf[13] = 0xdd;
    buf[14] = 0x60;
    buf[21] = 64;
    inet_pton(AF_INET6, "2001:db8:1::7", buf + 22);
    inet_pton(AF_INET6, dst, buf + 38);
    for (int i = 0; i < ext; i++, off += 8) {
        *nh = i ? 60 : 0; /* hop-by-hop first, then destination options */
        nh = buf + off;
    }
    if (frag) {
        *nh = 44;
        nh = buf + off;
        buf[off + 3] = 1; /* M: a first fragment */
        off += 8;
    }
    *nh = next;
    memcpy(buf + off, l4, l4len);
    plen = off - 54 + l4len;
    buf[18] = (uint8_t)(plen >> 8);
    buf[19] = (uint8_t)plen;
    return off + l4len;
}

static void test_outside6(void **state)
{
    uint8_t p[160], u[24] = {0x11, 0x94, 0x11, 0x94, 0, 24}, ike[24] = {0x11, 0x94, 0x11, 0x94, 0, 24};
    uint64_t r0 = stat(RAVEN_XDP_REDIRECT), p0 = stat(RAVEN_XDP_PASS);

    (void)state;
    memcpy(u + 8, esp_body, 16);
    set_role(RAVEN_XDP_ROLE_OUTSIDE);
    /* ESP and ESP in UDP to our IPv6 address, also past extension headers */
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 50, 0, false, esp_body, 16)), XDP_REDIRECT);
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 17, 0, false, u, 24)), XDP_REDIRECT);
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 50, 2, false, esp_body, 16)), XDP_REDIRECT);
    /* fragments of ESP and of UDP to us */
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 17, 1, true, u, 24)), XDP_REDIRECT);
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 50, 0, true, esp_body, 16)), XDP_REDIRECT);
    /* IKE on 4500, not ours, other protocols, too many extension headers: the kernel */
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 17, 0, false, ike, 24)), XDP_PASS);
    assert_int_equal(run(p, ip6(p, "2001:db8::9", 50, 0, false, esp_body, 16)), XDP_PASS);
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 6, 0, true, esp_body, 16)), XDP_PASS);
    assert_int_equal(run(p, ip6(p, "2001:db8::1", 50, 5, false, esp_body, 16)), XDP_PASS);
    /* truncated */
    assert_int_equal(run(p, 14 + 30), XDP_PASS);
    assert_int_equal(stat(RAVEN_XDP_REDIRECT) - r0, 5);
    assert_int_equal(stat(RAVEN_XDP_PASS) - p0, 5);
}

static void test_inside(void **state)
{
    uint8_t p[128], v6[14 + 40] = {0};

    (void)state;
    set_role(RAVEN_XDP_ROLE_INSIDE);
    assert_int_equal(run(p, udp(p, "10.201.0.77", 53, esp_body, 4, 0)), XDP_REDIRECT);
    assert_int_equal(run(p, udp(p, "10.202.0.1", 53, esp_body, 4, 0)), XDP_PASS);
    /* ESP to our own address is not special inside */
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 50, 0, esp_body, sizeof(esp_body))), XDP_PASS);
    v6[12] = 0x86;
    v6[13] = 0xdd;
    v6[14] = 0x60;
    inet_pton(AF_INET6, "2001:db8:77::5", v6 + 14 + 24);
    assert_int_equal(run(v6, sizeof(v6)), XDP_REDIRECT);
    inet_pton(AF_INET6, "2001:db8:78::5", v6 + 14 + 24);
    assert_int_equal(run(v6, sizeof(v6)), XDP_PASS);
    assert_int_equal(run(v6, 14 + 20), XDP_PASS); /* truncated */
}

/* No socket on the queue (ravend down, its program kept; or a queue not served):
 * what is the dataplane's is dropped and counted, never passed to the kernel,
 * which would route clear traffic to a client past the tunnel; the rest passes. */
static void test_no_socket(void **state)
{
    uint8_t p[128], v6[14 + 40] = {0};
    uint32_t q = 0;
    uint64_t d0 = stat(RAVEN_XDP_NO_SOCKET), p0 = stat(RAVEN_XDP_PASS);

    (void)state;
    assert_int_equal(bpf_map_delete_elem(xsks_fd, &q), 0);
    set_role(RAVEN_XDP_ROLE_INSIDE);
    assert_int_equal(run(p, udp(p, "10.201.0.77", 53, esp_body, 4, 0)), XDP_DROP); /* a client's */
    assert_int_equal(run(p, udp(p, "10.202.0.1", 53, esp_body, 4, 0)), XDP_PASS);
    v6[12] = 0x86;
    v6[13] = 0xdd;
    v6[14] = 0x60;
    inet_pton(AF_INET6, "2001:db8:77::5", v6 + 14 + 24);
    assert_int_equal(run(v6, sizeof(v6)), XDP_DROP);
    set_role(RAVEN_XDP_ROLE_OUTSIDE);
    /* ESP to us: nobody to decrypt it; the kernel would answer ESP in UDP with
     * ICMP port unreachable while ravend is down */
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 50, 0, esp_body, sizeof(esp_body))), XDP_DROP);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, esp_body, sizeof(esp_body), 0)), XDP_DROP);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 500, esp_body, sizeof(esp_body), 0)), XDP_PASS); /* IKE */
    assert_int_equal(stat(RAVEN_XDP_NO_SOCKET) - d0, 4);
    assert_int_equal(stat(RAVEN_XDP_PASS) - p0, 2);
    assert_int_equal(bpf_map_update_elem(xsks_fd, &q, &xsk_fd, BPF_ANY), 0);
    set_role(RAVEN_XDP_ROLE_INSIDE);
    assert_int_equal(run(p, udp(p, "10.201.0.77", 53, esp_body, 4, 0)), XDP_REDIRECT);
}

/* ---- programs on an interface across dataplanes (dp_xsk.c) ---- */

static int kv0;
static uint8_t kv0_mac[6];

/* The XDP program on kv0: its id (0: none), and whether it is Raven's and native. */
static uint32_t prog_on(bool *native)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    struct bpf_prog_info info = {0};
    uint32_t len = sizeof(info), id;
    int fd;

    assert_int_equal(bpf_xdp_query(kv0, 0, &q), 0);
    id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
    if (native)
        *native = q.drv_prog_id != 0;
    if (!id)
        return 0;
    fd = bpf_prog_get_fd_by_id(id);
    assert_true(fd >= 0);
    assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
    close(fd);
    assert_string_equal(info.name, "raven_xdp");
    return id;
}

/* Sends UDP to 10.77.0.1 (kv0's own address, in a client prefix of the dataplane
 * under test) into kv1 as fast as it can, and counts what the kernel delivers to
 * a socket on that address: only what no XDP program took (clear traffic to a
 * client left to the kernel). */
struct blaster {
    atomic_bool stop;
    int tx, rx;
    unsigned long sent, leaked;
};

static void *blast(void *arg)
{
    struct blaster *b = arg;
    uint8_t f[14 + 28 + 4] = {0}, buf[64];
    uint32_t sum = 0;

    memcpy(f, kv0_mac, 6);
    memcpy(f + 6, "\x02\0\0\0\x77\x02", 6);
    f[12] = 0x08;
    f[14] = 0x45;
    f[17] = 28 + 4;
    f[22] = 64;
    f[23] = 17;
    inet_pton(AF_INET, "10.77.0.2", f + 26);
    inet_pton(AF_INET, "10.77.0.1", f + 30);
    for (int i = 14; i < 34; i += 2)
        sum += (uint32_t)(f[i] << 8 | f[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    f[24] = (uint8_t)(~sum >> 8);
    f[25] = (uint8_t)~sum;
    f[34] = 0x30; /* 12345 -> 9999, no checksum */
    f[35] = 0x39;
    f[36] = 0x27;
    f[37] = 0x0f;
    f[39] = 8 + 4;
    while (!atomic_load(&b->stop)) {
        if (send(b->tx, f, sizeof(f), 0) == (ssize_t)sizeof(f))
            b->sent++;
        while (recv(b->rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            b->leaked++;
    }
    usleep(100000);
    while (recv(b->rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        b->leaked++;
    return NULL;
}

static void blaster_start(struct blaster *b, pthread_t *th)
{
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("kv1")};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9999)};

    memset(b, 0, sizeof(*b));
    inet_pton(AF_INET, "10.77.0.1", &sin.sin_addr);
    b->tx = socket(AF_PACKET, SOCK_RAW, 0);
    b->rx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(b->tx >= 0 && b->rx >= 0);
    assert_int_equal(bind(b->tx, (struct sockaddr *)&ll, sizeof(ll)), 0);
    assert_int_equal(bind(b->rx, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(pthread_create(th, NULL, blast, b), 0);
}

static void blaster_stop(struct blaster *b, pthread_t th)
{
    atomic_store(&b->stop, true);
    pthread_join(th, NULL);
    close(b->tx);
    close(b->rx);
}

/* A dataplane serving kv0 as inside, with a client prefix 10.77.0.0/24. */
static struct dp *dp_on(enum dp_xdp_mode mode)
{
    struct dp_if_conf c = {.name = "kv0", .role = DP_ROLE_INSIDE, .mode = mode};
    struct dp_sa sa = {.spi = 0x700, .session_id = 1, .cipher = DP_CIPHER_AES_GCM_16, .key_len = 20, .nsel = 1};
    struct dp *dp = dp_new();
    char err[256] = "";

    assert_non_null(dp);
    sa.sel[0].family = AF_INET;
    inet_pton(AF_INET, "10.77.0.0", sa.sel[0].start);
    inet_pton(AF_INET, "10.77.0.255", sa.sel[0].end);
    assert_int_equal(dp_sa_add(dp, &sa), 0); /* before the interfaces, as a restart adds them */
    if (dp_set_interfaces(dp, &c, 1, err, sizeof(err)))
        fail_msg("dp_set_interfaces: %s", err);
    return dp;
}

static void test_kept_programs(void **state)
{
    struct blaster bl;
    struct dp_if_stats st;
    pthread_t th;
    uint32_t id1, id2, id3;
    bool native;
    struct dp *dp = dp_on(DP_XDP_GENERIC);

    (void)state;
    assert_true((id1 = prog_on(&native)) != 0);
    assert_false(native);
    /* clear traffic to a client from before the first dataplane goes until the
     * second one serves: none of it may reach the kernel */
    blaster_start(&bl, &th);
    /* kept: dp_free() leaves the program (and its maps) attached */
    dp_keep_programs(dp, true);
    dp_free(dp);
    assert_int_equal(prog_on(NULL), id1);
    usleep(20000); /* a moment with no dataplane at all */
    /* the next dataplane replaces it atomically, in the mode it is in (auto
     * would take native on veth): the interface never has none */
    dp = dp_on(DP_XDP_AUTO);
    id2 = prog_on(&native);
    blaster_stop(&bl, th);
    assert_true(id2 != 0 && id2 != id1);
    assert_false(native);
    assert_int_equal(dp_if_stats(dp, 0, &st), 0);
    assert_int_equal(st.mode, DP_MODE_GENERIC);
    assert_true(bl.sent > 100);
    assert_int_equal(bl.leaked, 0);
    /* kept: an empty set leaves it too (the shutdown of ravend) */
    dp_keep_programs(dp, true);
    assert_int_equal(dp_set_interfaces(dp, NULL, 0, NULL, 0), 0);
    assert_int_equal(prog_on(NULL), id2);
    dp_free(dp);
    assert_int_equal(prog_on(NULL), id2);
    /* not kept: dp_free() detaches */
    dp = dp_on(DP_XDP_GENERIC);
    assert_true((id3 = prog_on(NULL)) != 0 && id3 != id2);
    dp_free(dp);
    assert_int_equal(prog_on(NULL), 0);
}

/* A kept program in another mode than the one asked for cannot be replaced: it is
 * detached and the new one attached in the mode asked for. */
static void test_replace_other_mode(void **state)
{
    struct dp_if_stats st;
    uint32_t id1, id2;
    bool native;
    struct dp *dp = dp_on(DP_XDP_GENERIC);

    (void)state;
    id1 = prog_on(NULL);
    dp_keep_programs(dp, true);
    dp_free(dp);
    dp = dp_on(DP_XDP_NATIVE);
    id2 = prog_on(&native);
    assert_true(id2 != 0 && id2 != id1);
    assert_true(native);
    assert_int_equal(dp_if_stats(dp, 0, &st), 0);
    assert_int_equal(st.mode, DP_MODE_NATIVE);
    dp_free(dp);
    assert_int_equal(prog_on(NULL), 0);
}

/* Runs the program attached to kv0 (BPF_PROG_TEST_RUN on the program itself,
 * with the maps its dataplane keeps) on @pkt. */
static int run_attached(const uint8_t *pkt, size_t len)
{
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
                .data_size_out = sizeof(out), .repeat = 1);
    int fd = bpf_prog_get_fd_by_id(prog_on(NULL));

    assert_true(fd >= 0);
    assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
    close(fd);
    return (int)o.retval;
}

/* An outside dataplane on kv0 (its address 10.77.0.1 is ours) whose IKE ports
 * are @natt (NAT traversal) and 1500, set before its interfaces as ravend does. */
static struct dp *dp_outside(uint16_t natt)
{
    struct dp_if_conf c = {.name = "kv0", .role = DP_ROLE_OUTSIDE, .mode = DP_XDP_GENERIC};
    struct dp *dp = dp_new();
    uint16_t ike = 1500;
    char err[256] = "";

    assert_non_null(dp);
    assert_int_equal(dp_set_udp_ports(dp, &natt, 1, &ike, 1), 0);
    if (dp_set_interfaces(dp, &c, 1, err, sizeof(err)))
        fail_msg("dp_set_interfaces: %s", err);
    return dp;
}

/* The NAT traversal ports come from the dataplane (dp_set_udp_ports): ESP in UDP
 * to a configured port goes to the socket, to 4500 not when 4500 is not
 * configured; IKE (the zero marker) passes on both; set before the program is
 * attached, changed while it runs, back to the defaults, and refilled by the next
 * dataplane when the program was kept. */
static void test_natt_ports(void **state)
{
    uint8_t p[128], zero[12] = {0};
    uint16_t many[DP_MAX_UDP_PORTS + 1] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, bad[2] = {14500, 0}, ike = 500;
    struct dp *dp = dp_outside(14500);

    (void)state;
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 14500, esp_body, sizeof(esp_body), 0)), XDP_REDIRECT);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 4500, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 1500, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 14500, zero, sizeof(zero), 0)), XDP_PASS);
    /* bad sets change nothing */
    assert_int_equal(dp_set_udp_ports(dp, many, DP_MAX_UDP_PORTS + 1, &ike, 1), -EINVAL);
    assert_int_equal(dp_set_udp_ports(dp, bad, 2, &ike, 1), -EINVAL);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 14500, esp_body, sizeof(esp_body), 0)), XDP_REDIRECT);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 1, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    /* nothing configured: the defaults */
    assert_int_equal(dp_set_udp_ports(dp, NULL, 0, NULL, 0), 0);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 4500, esp_body, sizeof(esp_body), 0)), XDP_REDIRECT);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 14500, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    /* kept across a restart: the next dataplane's program has the next ports */
    dp_keep_programs(dp, true);
    dp_free(dp);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 4500, esp_body, sizeof(esp_body), 0)), XDP_DROP);
    dp = dp_outside(24500);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 24500, esp_body, sizeof(esp_body), 0)), XDP_REDIRECT);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 4500, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    assert_int_equal(run_attached(p, udp(p, "10.77.0.1", 24500, zero, sizeof(zero), 0)), XDP_PASS);
    dp_free(dp);
    assert_int_equal(prog_on(NULL), 0);
}

static int reuse(const char *name, int fd)
{
    return bpf_map__reuse_fd(bpf_object__find_map_by_name(xdp_program__bpf_obj(prog), name), fd);
}

static int if_mac(const char *name, uint8_t *mac)
{
    struct ifreq r = {0};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

    snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", name);
    rc = fd < 0 ? -1 : ioctl(fd, SIOCGIFHWADDR, &r);
    if (!rc)
        memcpy(mac, r.ifr_hwaddr.sa_data, 6);
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_outside),   cmocka_unit_test(test_outside6),
                                       cmocka_unit_test(test_inside),    cmocka_unit_test(test_no_socket), cmocka_unit_test(test_kept_programs),
                                       cmocka_unit_test(test_replace_other_mode), cmocka_unit_test(test_natt_ports)};
    LIBBPF_OPTS(bpf_map_create_opts, lpm, .map_flags = BPF_F_NO_PREALLOC);
    struct raven_local l = {0};
    struct raven_lpm4 k4 = {.plen = 24, .addr = {10, 201, 0, 0}};
    struct raven_lpm6 k6 = {.plen = 48};
    uint32_t one = 1, q = 0;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fq, tx;
    struct xsk_ring_cons cq, rx;
    struct xsk_socket_config xc = {.rx_size = 64, .tx_size = 64, .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD};
    void *area;
    int fd;

    if (geteuid()) {
        fprintf(stderr, "test_xdp: needs root (BPF, AF_XDP); skipped\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) || system("ip link set lo up") ||
        system("ip link add kv0 type veth peer name kv1 && ip addr add 10.77.0.1/24 dev kv0 && "
               "ip link set kv0 up && ip link set kv1 up") ||
        !(kv0 = (int)if_nametoindex("kv0")) || if_mac("kv0", kv0_mac)) {
        perror("test_xdp: own network namespace");
        return 1;
    }
    libxdp_set_print(quiet);
    prog = xdp_program__open_file(RAVEN_XDP_OBJECT_PATH, "xdp", NULL);
    if (libxdp_get_error(prog)) {
        fprintf(stderr, "test_xdp: cannot open %s\n", RAVEN_XDP_OBJECT_PATH);
        return 1;
    }
    conf_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "conf", 4, 4, RAVEN_XDP_CONF_N, NULL);
    local_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "local", sizeof(struct raven_local), 4, RAVEN_XDP_MAX_LOCAL, NULL);
    c4_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "clients4", sizeof(k4), 4, 1024, &lpm);
    c6_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "clients6", sizeof(k6), 4, 1024, &lpm);
    xsks_fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "xsks", 4, 4, RAVEN_XDP_MAX_QUEUES, NULL);
    natt_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "natt_ports", 2, 4, RAVEN_XDP_MAX_NATT_PORTS, NULL);
    if (conf_fd < 0 || local_fd < 0 || c4_fd < 0 || c6_fd < 0 || xsks_fd < 0 || natt_fd < 0 || reuse("conf", conf_fd) ||
        reuse("local", local_fd) || reuse("clients4", c4_fd) || reuse("clients6", c6_fd) || reuse("xsks", xsks_fd) ||
        reuse("natt_ports", natt_fd)) {
        fprintf(stderr, "test_xdp: maps: %s\n", strerror(errno));
        return 1;
    }
    l.addr[10] = l.addr[11] = 0xff;
    inet_pton(AF_INET, "198.51.100.1", &l.addr[12]);
    bpf_map_update_elem(local_fd, &l, &one, BPF_ANY);
    memset(&l, 0, sizeof(l));
    inet_pton(AF_INET6, "2001:db8::1", l.addr);
    bpf_map_update_elem(local_fd, &l, &one, BPF_ANY);
    bpf_map_update_elem(c4_fd, &k4, &one, BPF_ANY);
    {
        uint16_t natt = htons(4500); /* as the dataplane fills it by default */
        bpf_map_update_elem(natt_fd, &natt, &one, BPF_ANY);
    }
    inet_pton(AF_INET6, "2001:db8:77::", k6.addr);
    bpf_map_update_elem(c6_fd, &k6, &one, BPF_ANY);
    /* a socket in the XSKMAP so that bpf_redirect_map() says XDP_REDIRECT */
    area = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || xsk_umem__create(&umem, area, 64 * 4096, &fq, &cq, NULL) ||
        xsk_socket__create(&xsk, "lo", 0, umem, &rx, &tx, &xc)) {
        fprintf(stderr, "test_xdp: AF_XDP socket on lo: %s\n", strerror(errno));
        return 1;
    }
    fd = xsk_fd = xsk_socket__fd(xsk);
    bpf_map_update_elem(xsks_fd, &q, &fd, BPF_ANY);
    /* the program is loaded by the first test run; stats exist from then on */
    {
        uint8_t p[64] = {0};
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p, .data_size_in = sizeof(p), .repeat = 1);
        if (xdp_program__test_run(prog, &o, 0)) {
            fprintf(stderr, "test_xdp: BPF_PROG_TEST_RUN failed\n");
            return 1;
        }
        stats_fd = bpf_map__fd(bpf_object__find_map_by_name(xdp_program__bpf_obj(prog), "stats"));
    }
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xsk_socket__delete(xsk);
    xsk_umem__delete(umem);
    xdp_program__close(prog);
    return rc;
}
