/* The XDP program (dataplane/bpf/raven_xdp.bpf.c) under BPF_PROG_TEST_RUN
 * (libxdp's xdp_program__test_run): which packets go to the AF_XDP socket and which
 * pass to the kernel, on the outside and the inside role, and its counters.
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
#include <sched.h>
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

static struct xdp_program *prog;
static int conf_fd, local_fd, c4_fd, c6_fd, xsks_fd, stats_fd;

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
    /* not ours, IKE, keepalive, other protocols, UDP fragments: the kernel */
    assert_int_equal(run(p, ip4(p, "198.51.100.9", 50, 0, esp_body, sizeof(esp_body))), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, zero, sizeof(zero), 0)), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, ka, 1, 0)), XDP_PASS);
    /* the same keepalive in a frame padded to 60 bytes with non-zero bytes */
    memset(p + 43, 0xee, 17);
    assert_int_equal(run(p, 60), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 500, esp_body, sizeof(esp_body), 0)), XDP_PASS);
    assert_int_equal(run(p, udp(p, "198.51.100.1", 4500, esp_body, sizeof(esp_body), 0x2000)), XDP_PASS);
    assert_int_equal(run(p, ip4(p, "198.51.100.1", 6, 0, esp_body, sizeof(esp_body))), XDP_PASS);
    /* truncated headers and other Ethernet types */
    assert_int_equal(run(p, 20), XDP_PASS);
    assert_int_equal(run(p, 14 + 12), XDP_PASS);
    p[12] = 0x08;
    p[13] = 0x06;
    assert_int_equal(run(p, 60), XDP_PASS);
    assert_int_equal(stat(RAVEN_XDP_REDIRECT) - r0, 3);
    assert_int_equal(stat(RAVEN_XDP_PASS) - p0, 10);
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

static int reuse(const char *name, int fd)
{
    return bpf_map__reuse_fd(bpf_object__find_map_by_name(xdp_program__bpf_obj(prog), name), fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_outside), cmocka_unit_test(test_inside)};
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
    if (unshare(CLONE_NEWNET) || system("ip link set lo up")) {
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
    if (conf_fd < 0 || local_fd < 0 || c4_fd < 0 || c6_fd < 0 || xsks_fd < 0 || reuse("conf", conf_fd) ||
        reuse("local", local_fd) || reuse("clients4", c4_fd) || reuse("clients6", c6_fd) || reuse("xsks", xsks_fd)) {
        fprintf(stderr, "test_xdp: maps: %s\n", strerror(errno));
        return 1;
    }
    l.addr[10] = l.addr[11] = 0xff;
    inet_pton(AF_INET, "198.51.100.1", &l.addr[12]);
    bpf_map_update_elem(local_fd, &l, &one, BPF_ANY);
    bpf_map_update_elem(c4_fd, &k4, &one, BPF_ANY);
    inet_pton(AF_INET6, "2001:db8:77::", k6.addr);
    bpf_map_update_elem(c6_fd, &k6, &one, BPF_ANY);
    /* a socket in the XSKMAP so that bpf_redirect_map() says XDP_REDIRECT */
    area = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || xsk_umem__create(&umem, area, 64 * 4096, &fq, &cq, NULL) ||
        xsk_socket__create(&xsk, "lo", 0, umem, &rx, &tx, &xc)) {
        fprintf(stderr, "test_xdp: AF_XDP socket on lo: %s\n", strerror(errno));
        return 1;
    }
    fd = xsk_socket__fd(xsk);
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
