/* Unit tests of the dataplane's netlink view (dataplane/dp_nl.c) against the real
 * kernel, in a network namespace the test creates for itself at start (root
 * needed; skipped otherwise, exit code 77). Topology, set up with ip(8):
 *
 *   v0 02:00:00:00:00:01 ========= veth ========= v1 (no addresses)
 *      10.9.0.1/24, 2001:db8:9::1/64
 *      static neighbours on v0:  10.9.0.2       02:00:00:00:00:02  (gateway A)
 *                                10.9.0.4       02:00:00:00:00:04  (gateway B, added by a test)
 *                                2001:db8:9::2  02:00:00:00:00:06
 *                                fe80::2        02:00:00:00:00:07  (added by a test)
 *      routes: 10.20.0.0/16 via 10.9.0.2; tests add and remove more
 *
 * Results are polled (5 ms steps, at most 2 s): resolution runs on the netlink
 * thread after a worker's first lookup. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "dataplane/dp_nl.h"

#define POLL_MS 5
#define POLL_MAX_MS 2000

static struct dp_nl *nl;
static int v0;

struct hook_ev {
    int ifindex, family;
    uint8_t addr[16];
    bool added;
};

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hook_ev hook_evs[1024];
static size_t hook_n;

/* test_lost_events holds the netlink thread in the hook while it floods events. */
static pthread_cond_t hook_cond = PTHREAD_COND_INITIALIZER;
static bool hook_block, hook_blocked;

static void on_addr(void *arg, int ifindex, int family, const void *addr, bool added)
{
    struct hook_ev *ev;

    (void)arg;
    pthread_mutex_lock(&hook_lock);
    if (hook_block && family == AF_INET && !memcmp(addr, "\x0a\x09\x03\x01", 4)) {
        hook_blocked = true;
        pthread_cond_broadcast(&hook_cond);
        while (hook_block)
            pthread_cond_wait(&hook_cond, &hook_lock);
    }
    if (hook_n < sizeof(hook_evs) / sizeof(hook_evs[0])) {
        ev = &hook_evs[hook_n++];
        memset(ev, 0, sizeof(*ev));
        ev->ifindex = ifindex;
        ev->family = family;
        memcpy(ev->addr, addr, family == AF_INET ? 4 : 16);
        ev->added = added;
    }
    pthread_mutex_unlock(&hook_lock);
}

/* Offline while the test waits, as a QSBR reader must be (grace periods would
 * stall otherwise). */
static void nap(void)
{
    rcu_thread_offline();
    usleep(POLL_MS * 1000);
    rcu_thread_online();
}

static void __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    rcu_thread_offline();
    rc = system(cmd);
    rcu_thread_online();
    if (rc != 0)
        fail_msg("%s: exit status %d", cmd, rc);
}

static void addr_of(const char *s, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    *family = strchr(s, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(*family, s, addr), 1);
}

static void mac_of(const char *s, uint8_t mac[6])
{
    unsigned m[6];

    assert_int_equal(sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]), 6);
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)m[i];
}

/* Polls until dp_nl_next_hop(@dst) returns @want (and, for 0, the next hop's
 * destination MAC is @mac when given); returns the last result. */
static int wait_nh(const char *dst, int want, const char *mac, struct dp_nh *nh)
{
    uint8_t a[16], m[6];
    int family, rc = 0;

    addr_of(dst, &family, a);
    if (mac)
        mac_of(mac, m);
    for (int t = 0; t <= POLL_MAX_MS; t += POLL_MS) {
        memset(nh, 0, sizeof(*nh));
        rc = dp_nl_next_hop(nl, family, a, nh);
        if (rc == want && (rc || !mac || !memcmp(nh->dst_mac, m, 6)))
            return rc;
        nap();
    }
    return rc;
}

static void assert_nh(const char *dst, const char *dst_mac, const char *src_mac, int ifindex)
{
    struct dp_nh nh;
    uint8_t m[6];

    assert_int_equal(wait_nh(dst, 0, dst_mac, &nh), 0);
    mac_of(dst_mac, m);
    assert_memory_equal(nh.dst_mac, m, 6);
    mac_of(src_mac, m);
    assert_memory_equal(nh.src_mac, m, 6);
    assert_int_equal(nh.ifindex, ifindex);
}

static bool hook_seen(int ifindex, const char *addr, bool added)
{
    uint8_t a[16];
    int family;

    addr_of(addr, &family, a);
    for (int t = 0; t <= POLL_MAX_MS; t += POLL_MS) {
        bool found = false;

        pthread_mutex_lock(&hook_lock);
        for (size_t i = 0; i < hook_n && !found; i++)
            found = hook_evs[i].ifindex == ifindex && hook_evs[i].family == family && hook_evs[i].added == added &&
                    !memcmp(hook_evs[i].addr, a, 16);
        pthread_mutex_unlock(&hook_lock);
        if (found)
            return true;
        nap();
    }
    return false;
}

/* The static neighbours every test may rely on (a MAC change flushes them all). */
static void base_neighbours(void)
{
    sh("ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent");
    sh("ip -6 neigh replace 2001:db8:9::2 lladdr 02:00:00:00:00:06 dev v0 nud permanent");
}

static int setup(void **st)
{
    struct dp_nl_hooks hooks = {.addr = on_addr};

    sh("ip link add v0 type veth peer name v1");
    sh("ip link set v0 address 02:00:00:00:00:01");
    sh("ip link set v0 up && ip link set v1 up");
    sh("ip addr add 10.9.0.1/24 dev v0");
    sh("ip -6 addr add 2001:db8:9::1/64 dev v0 nodad");
    base_neighbours();
    sh("ip route add 10.20.0.0/16 via 10.9.0.2");
    v0 = (int)if_nametoindex("v0");
    assert_true(v0 > 0);
    nl = dp_nl_new(&hooks);
    assert_non_null(nl);
    return 0;
}

static int teardown(void **st)
{
    dp_nl_free(nl);
    nl = NULL;
    return 0;
}

static void test_start(void **st)
{
    struct dp_link l;
    uint8_t a[16];
    int family;

    assert_int_equal(dp_nl_link(nl, v0, &l), 0);
    assert_int_equal(l.ifindex, v0);
    assert_int_equal(l.mtu, 1500);
    assert_memory_equal(l.mac, "\x02\0\0\0\0\x01", 6);
    assert_true(l.has_addr4);
    addr_of("10.9.0.1", &family, a);
    assert_memory_equal(&l.addr4, a, 4);
    assert_true(l.has_addr6); /* the global one, not the link-local address */
    addr_of("2001:db8:9::1", &family, a);
    assert_memory_equal(&l.addr6, a, 16);
    assert_int_equal(dp_nl_link(nl, 9999, &l), -ENODEV);
    /* addresses present at start were reported during dp_nl_new */
    assert_true(hook_seen(v0, "10.9.0.1", true));
    assert_true(hook_seen(v0, "2001:db8:9::1", true));
}

static void test_on_link(void **st)
{
    struct dp_nh nh;
    uint8_t a[16];
    int family;

    addr_of("10.9.0.2", &family, a);
    dp_nl_flush(nl);
    assert_int_equal(dp_nl_next_hop(nl, AF_INET, a, &nh), -EAGAIN); /* first lookup queues the request */
    assert_nh("10.9.0.2", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    assert_int_equal(dp_nl_next_hop(nl, AF_INET, a, &nh), 0); /* and stays */
    assert_int_equal(dp_nl_next_hop(nl, AF_PACKET, a, &nh), -EAFNOSUPPORT);
}

static void test_gateway(void **st)
{
    assert_nh("10.20.3.4", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
}

static void test_neighbour_lifecycle(void **st)
{
    struct dp_nh nh;

    /* No neighbour yet: pending, however long the netlink thread has had. */
    assert_int_equal(wait_nh("10.9.0.3", -EAGAIN, NULL, &nh), -EAGAIN);
    for (int i = 0; i < 20; i++)
        nap();
    assert_int_equal(wait_nh("10.9.0.3", -EAGAIN, NULL, &nh), -EAGAIN);

    sh("ip neigh replace 10.9.0.3 lladdr 02:00:00:00:00:03 dev v0 nud permanent");
    assert_nh("10.9.0.3", "02:00:00:00:00:03", "02:00:00:00:00:01", v0);

    sh("ip neigh replace 10.9.0.3 lladdr 02:00:00:00:00:33 dev v0 nud permanent");
    assert_nh("10.9.0.3", "02:00:00:00:00:33", "02:00:00:00:00:01", v0);

    sh("ip neigh del 10.9.0.3 dev v0");
    assert_int_equal(wait_nh("10.9.0.3", -EAGAIN, NULL, &nh), -EAGAIN);

    /* A failed neighbour is no next hop either. */
    sh("ip neigh replace 10.9.0.3 lladdr 02:00:00:00:00:03 dev v0 nud permanent");
    assert_nh("10.9.0.3", "02:00:00:00:00:03", "02:00:00:00:00:01", v0);
    sh("ip neigh replace 10.9.0.3 dev v0 nud failed");
    assert_int_equal(wait_nh("10.9.0.3", -EAGAIN, NULL, &nh), -EAGAIN);
    sh("ip neigh del 10.9.0.3 dev v0");
}

static void test_unreachable(void **st)
{
    struct dp_nh nh;

    assert_int_equal(wait_nh("10.99.0.1", -ENETUNREACH, NULL, &nh), -ENETUNREACH); /* no route at all */
    assert_int_equal(wait_nh("10.9.0.1", -ENETUNREACH, NULL, &nh), -ENETUNREACH);  /* our own address */
    assert_int_equal(wait_nh("10.9.0.255", -ENETUNREACH, NULL, &nh), -ENETUNREACH); /* broadcast */
    sh("ip route add blackhole 10.50.0.0/16");
    sh("ip route add unreachable 10.51.0.0/16");
    sh("ip route add prohibit 10.52.0.0/16");
    assert_int_equal(wait_nh("10.50.0.1", -ENETUNREACH, NULL, &nh), -ENETUNREACH);
    assert_int_equal(wait_nh("10.51.0.1", -ENETUNREACH, NULL, &nh), -ENETUNREACH);
    assert_int_equal(wait_nh("10.52.0.1", -ENETUNREACH, NULL, &nh), -ENETUNREACH);

    /* A route appears: the unreachable entry goes with the flush. */
    sh("ip route add 10.99.0.0/16 via 10.9.0.2");
    assert_nh("10.99.0.1", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    sh("ip route del 10.99.0.0/16 via 10.9.0.2");
    assert_int_equal(wait_nh("10.99.0.1", -ENETUNREACH, NULL, &nh), -ENETUNREACH);
    sh("ip route del blackhole 10.50.0.0/16 && ip route del unreachable 10.51.0.0/16 && "
       "ip route del prohibit 10.52.0.0/16");
}

/* A lookup out of a VRF device (dp_nl_next_hop_vrf) asks the kernel with that
 * device as RTA_OIF and is cached apart from the main table's answer for the
 * same destination. Without VRF devices in every kernel, a plain interface
 * stands in for the device: out of it the kernel takes the destination as on-link
 * there, where the main table routes it via gateway A on v0. */
static void test_vrf_lookup(void **st)
{
    struct dp_nh nh;
    uint8_t a[16], m[6];
    int family, w0, rc = -1;

    sh("ip link add w0 type veth peer name w1 && ip link set w0 address 02:00:00:00:00:11 && "
       "ip link set w0 up && ip link set w1 up");
    sh("ip route add 10.30.0.0/16 via 10.9.0.2");
    sh("ip neigh replace 10.30.1.1 lladdr 02:00:00:00:00:12 dev w0 nud permanent");
    w0 = (int)if_nametoindex("w0");
    assert_true(w0 > 0);
    addr_of("10.30.1.1", &family, a);
    mac_of("02:00:00:00:00:12", m);
    assert_nh("10.30.1.1", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    for (int t = 0; t <= POLL_MAX_MS && rc; t += POLL_MS) {
        memset(&nh, 0, sizeof(nh));
        rc = dp_nl_next_hop_vrf(nl, AF_INET, a, w0, &nh);
        if (rc || memcmp(nh.dst_mac, m, 6))
            rc = -1;
        if (rc)
            nap();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(nh.ifindex, w0);
    mac_of("02:00:00:00:00:11", m);
    assert_memory_equal(nh.src_mac, m, 6);
    /* the main table's entry is its own */
    assert_nh("10.30.1.1", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    sh("ip link del w0 && ip route del 10.30.0.0/16 via 10.9.0.2");
}

static void test_route_change(void **st)
{
    assert_nh("10.20.1.5", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    sh("ip neigh replace 10.9.0.4 lladdr 02:00:00:00:00:04 dev v0 nud permanent");
    sh("ip route add 10.20.1.0/24 via 10.9.0.4");
    assert_nh("10.20.1.5", "02:00:00:00:00:04", "02:00:00:00:00:01", v0);
    assert_nh("10.20.2.5", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    sh("ip route del 10.20.1.0/24");
    assert_nh("10.20.1.5", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
}

static void test_link_changes(void **st)
{
    struct dp_link l;
    int t;

    sh("ip link set v0 mtu 1400");
    for (t = 0; t <= POLL_MAX_MS && (dp_nl_link(nl, v0, &l) || l.mtu != 1400); t += POLL_MS)
        nap();
    assert_int_equal(l.mtu, 1400);
    sh("ip link set v0 mtu 1500");

    /* A new MAC flushes the cache: next hops carry it as their source. (The
     * kernel flushes the interface's neighbours too, even permanent ones.) */
    assert_nh("10.9.0.2", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    sh("ip link set v0 address 02:00:00:00:00:11");
    for (t = 0; t <= POLL_MAX_MS && (dp_nl_link(nl, v0, &l) || l.mac[5] != 0x11); t += POLL_MS)
        nap();
    assert_int_equal(l.mac[5], 0x11);
    base_neighbours();
    assert_nh("10.9.0.2", "02:00:00:00:00:02", "02:00:00:00:00:11", v0);
    sh("ip link set v0 address 02:00:00:00:00:01");
    base_neighbours();
    assert_nh("10.9.0.2", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
}

static void test_address_hook(void **st)
{
    struct dp_link l;
    uint8_t a[16];
    int family;

    sh("ip addr add 10.9.1.1/24 dev v0");
    assert_true(hook_seen(v0, "10.9.1.1", true));
    assert_int_equal(dp_nl_link(nl, v0, &l), 0);
    addr_of("10.9.0.1", &family, a);
    assert_memory_equal(&l.addr4, a, 4); /* still the first one */
    sh("ip addr del 10.9.1.1/24 dev v0");
    assert_true(hook_seen(v0, "10.9.1.1", false));

    sh("ip -6 addr add 2001:db8:a::1/64 dev v0 nodad");
    assert_true(hook_seen(v0, "2001:db8:a::1", true));
    sh("ip -6 addr del 2001:db8:a::1/64 dev v0");
    assert_true(hook_seen(v0, "2001:db8:a::1", false));

    /* The first address goes: the next one takes its place. */
    sh("ip addr add 10.9.2.1/24 dev v0");
    assert_true(hook_seen(v0, "10.9.2.1", true));
    sh("ip addr del 10.9.0.1/24 dev v0");
    assert_true(hook_seen(v0, "10.9.0.1", false));
    assert_int_equal(dp_nl_link(nl, v0, &l), 0);
    addr_of("10.9.2.1", &family, a);
    assert_true(l.has_addr4);
    assert_memory_equal(&l.addr4, a, 4);
    sh("ip addr add 10.9.0.1/24 dev v0 && ip addr del 10.9.2.1/24 dev v0");
    sh("ip route replace 10.20.0.0/16 via 10.9.0.2"); /* went with 10.9.0.0/24 */
    assert_true(hook_seen(v0, "10.9.2.1", false));
}

static void test_ipv6(void **st)
{
    struct dp_nh nh;

    assert_nh("2001:db8:9::2", "02:00:00:00:00:06", "02:00:00:00:00:01", v0);
    /* A link-local gateway is a neighbour of its interface. */
    sh("ip -6 neigh replace fe80::2 lladdr 02:00:00:00:00:07 dev v0 nud permanent");
    sh("ip -6 route add 2001:db8:77::/48 via fe80::2 dev v0");
    assert_nh("2001:db8:77::1", "02:00:00:00:00:07", "02:00:00:00:00:01", v0);
    assert_int_equal(wait_nh("2001:db8:99::1", -ENETUNREACH, NULL, &nh), -ENETUNREACH);
    assert_int_equal(wait_nh("2001:db8:9::1", -ENETUNREACH, NULL, &nh), -ENETUNREACH); /* ours */
    sh("ip -6 neigh del fe80::2 dev v0");
    assert_int_equal(wait_nh("2001:db8:77::1", -EAGAIN, NULL, &nh), -EAGAIN);
}

static void test_flush(void **st)
{
    struct dp_nh nh;
    uint8_t a[16];
    int family;

    assert_nh("10.20.7.7", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    dp_nl_flush(nl);
    addr_of("10.20.7.7", &family, a);
    assert_int_equal(dp_nl_next_hop(nl, AF_INET, a, &nh), -EAGAIN);
    assert_nh("10.20.7.7", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
}

/* A new IPv6 link-local address (and its local route) changes no lookup: the
 * cache stays; a route to a global prefix flushes it. */
static void test_link_local_route_keeps_cache(void **st)
{
    struct dp_nh nh;
    uint8_t a[16];
    int family;

    (void)st;
    assert_nh("10.20.8.8", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    addr_of("10.20.8.8", &family, a);
    sh("ip -6 addr add fe80::1:99/64 dev v0 nodad");
    for (int i = 0; i < 20; i++) { /* give the events time to arrive */
        nap();
        assert_int_equal(dp_nl_next_hop(nl, AF_INET, a, &nh), 0);
    }
    sh("ip -6 addr del fe80::1:99/64 dev v0");
    sh("ip route add 10.21.0.0/16 via 10.9.0.2");
    assert_int_equal(wait_nh("10.20.8.8", -EAGAIN, NULL, &nh), -EAGAIN);
    sh("ip route del 10.21.0.0/16");
}

/* Sessions' blackhole routes (protocol 245, one per client address) keep the
 * cache; the same route of another protocol flushes it. */
static void test_session_route_keeps_cache(void **st)
{
    struct dp_nh nh;
    uint8_t a[16];
    int family;

    (void)st;
    assert_nh("10.20.9.9", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
    addr_of("10.20.9.9", &family, a);
    sh("ip route add blackhole 10.23.0.5/32 proto 245");
    sh("ip -6 route add blackhole 2001:db8:23::5/128 proto 245");
    for (int i = 0; i < 20; i++) { /* give the events time to arrive */
        nap();
        assert_int_equal(dp_nl_next_hop(nl, AF_INET, a, &nh), 0);
    }
    sh("ip route del blackhole 10.23.0.5/32 proto 245");
    sh("ip -6 route del blackhole 2001:db8:23::5/128 proto 245");
    for (int i = 0; i < 20; i++) {
        nap();
        assert_int_equal(dp_nl_next_hop(nl, AF_INET, a, &nh), 0);
    }
    sh("ip route add blackhole 10.23.0.5/32 proto static");
    assert_int_equal(wait_nh("10.20.9.9", -EAGAIN, NULL, &nh), -EAGAIN);
    sh("ip route del blackhole 10.23.0.5/32 proto static");
}

/* Workers racing on the same new destinations while entries are flushed,
 * replaced and removed under them: ASan catches a use after free. */
static atomic_bool race_stop;

static void *race_worker(void *arg)
{
    long bad = 0;

    (void)arg;
    rcu_register_thread();
    for (unsigned i = 0; !atomic_load(&race_stop); i++) {
        uint8_t a[4] = {10, 20, (uint8_t)(i >> 8 & 3), (uint8_t)i};
        struct dp_nh nh;
        int rc = dp_nl_next_hop(nl, AF_INET, a, &nh);

        if (rc != 0 && rc != -EAGAIN)
            bad++;
        else if (rc == 0 && nh.ifindex != v0)
            bad++;
        if (i % 64 == 0)
            rcu_quiescent_state();
    }
    rcu_unregister_thread();
    return (void *)bad;
}

static void test_race(void **st)
{
    pthread_t th[4];
    void *bad;

    atomic_store(&race_stop, false);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_worker, NULL), 0);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 10; i++)
            nap();
        dp_nl_flush(nl);
        sh("ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:%02x dev v0 nud permanent", 0x20 + round);
        sh("ip route add 10.20.%d.0/24 via 10.9.0.2 && ip route del 10.20.%d.0/24", round, round);
    }
    sh("ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent");
    atomic_store(&race_stop, true);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_int_equal((long)bad, 0);
    }
    assert_nh("10.20.3.200", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
}

/* Drops counted on this namespace's rtnetlink sockets that listen to groups. */
static unsigned long netlink_drops(void)
{
    FILE *f = fopen("/proc/net/netlink", "r");
    unsigned long drops = 0, d;
    unsigned proto, groups;
    char line[256];

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%*x %u %*u %x %*u %*u %*u %*u %lu", &proto, &groups, &d) == 3 && proto == 0 && groups)
            drops += d;
    fclose(f);
    return drops;
}

/* Events lost to a full socket buffer: the thread reloads links, addresses and
 * neighbours. The thread is held in the address hook while a burst of route
 * events overflows its socket; a neighbour and an address added then are known
 * only through the reload. */
static void test_lost_events(void **st)
{
    char path[] = "/tmp/test_dp_nl.XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    for (int i = 0; i < 30000; i++)
        fprintf(f, "route add 10.100.%d.%d/32 via 10.9.0.2\n", i / 250, i % 250 + 1);
    fclose(f);

    pthread_mutex_lock(&hook_lock);
    hook_block = true;
    pthread_mutex_unlock(&hook_lock);
    sh("ip addr add 10.9.3.1/32 dev v0");
    rcu_thread_offline();
    pthread_mutex_lock(&hook_lock);
    while (!hook_blocked)
        pthread_cond_wait(&hook_cond, &hook_lock);
    pthread_mutex_unlock(&hook_lock);
    rcu_thread_online();

    sh("ip -batch %s", path);
    unlink(path);
    sh("ip neigh replace 10.9.0.5 lladdr 02:00:00:00:00:05 dev v0 nud permanent");
    sh("ip addr add 10.9.4.1/32 dev v0");
    assert_true(netlink_drops() > 0);

    pthread_mutex_lock(&hook_lock);
    hook_block = false;
    pthread_cond_broadcast(&hook_cond);
    pthread_mutex_unlock(&hook_lock);
    assert_nh("10.9.0.5", "02:00:00:00:00:05", "02:00:00:00:00:01", v0);
    assert_true(hook_seen(v0, "10.9.4.1", true));
    assert_nh("10.100.3.4", "02:00:00:00:00:02", "02:00:00:00:00:01", v0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start),
        cmocka_unit_test(test_on_link),
        cmocka_unit_test(test_gateway),
        cmocka_unit_test(test_neighbour_lifecycle),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_route_change),
        cmocka_unit_test(test_vrf_lookup),
        cmocka_unit_test(test_link_local_route_keeps_cache),
        cmocka_unit_test(test_session_route_keeps_cache),
        cmocka_unit_test(test_link_changes),
        cmocka_unit_test(test_address_hook),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_race),
        cmocka_unit_test(test_lost_events),
    };
    int rc;

    /* A namespace of our own: the host's network is never touched, and everything
     * created here goes with it when the process exits. */
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "test_dp_nl: skipped: needs root to create a network namespace\n");
        return 77;
    }
    rcu_register_thread();
    rc = cmocka_run_group_tests(tests, setup, teardown);
    rcu_unregister_thread();
    return rc;
}
