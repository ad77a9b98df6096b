/* DHCP as an address source (SPEC S4, S7 "dhcp", S9 ipsec:group-dhcp-server,
 * ipsec:dhcp-giaddr, ipsec:dhcp-timeout): Raven acts as a DHCP relay agent
 * (RFC 2131 4.1, RFC 1542) on behalf of a client that has no DHCP of its own.
 * From the relay address (giaddr) port 67 it sends DISCOVER and REQUEST to the
 * server, which answers to giaddr:67; the lease is renewed at T1 and released
 * when the session ends. On the control thread's libevent loop; every answer
 * comes through a callback. The packet codec is exposed for tests and fuzzing. */
#ifndef RAVEN_POOL_DHCP_H
#define RAVEN_POOL_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dhcp_client;
struct dhcp_req;

/* Addresses in host byte order. */
struct dhcp_lease {
    uint32_t addr, netmask, server, giaddr, router;
    uint32_t dns[2];
    int ndns;
    uint32_t lease_s; /* lease time in seconds */
    uint8_t chaddr[6];
    char client_id[64];
};

/* @err: 0 with @l, or -ETIMEDOUT (no answer in time), -ECONNREFUSED (NAK),
 * -EADDRNOTAVAIL (giaddr cannot be bound), -ENOMEM. @l is valid during the call. */
typedef void (*dhcp_done_fn)(int err, const struct dhcp_lease *l, void *arg);

struct dhcp_client *dhcp_client_new(struct event_base *base);
/* Cancels what is under way (no callbacks) and closes every socket. */
void dhcp_client_free(struct dhcp_client *c);
/* DISCOVER, OFFER, REQUEST, ACK for the client named @client_id (also the key of
 * the hardware address Raven makes up for it), relayed from @giaddr to @server,
 * given up after @timeout_s. */
struct dhcp_req *dhcp_acquire(struct dhcp_client *c, uint32_t server, uint32_t giaddr, unsigned timeout_s,
                              const char *client_id, dhcp_done_fn done, void *arg);
/* Renews @l (REQUEST with ciaddr to its server); the answer updates the lease. */
struct dhcp_req *dhcp_renew(struct dhcp_client *c, const struct dhcp_lease *l, unsigned timeout_s, dhcp_done_fn done,
                            void *arg);
void dhcp_cancel(struct dhcp_req *r);
/* DHCPRELEASE of @l (fire and forget). */
void dhcp_release(struct dhcp_client *c, const struct dhcp_lease *l);

/* ---- codec ---- */
enum { DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_ACK = 5, DHCP_NAK = 6, DHCP_RELEASE = 7 };
#define DHCP_MAX_LEN 1500

struct dhcp_msg {
    uint8_t op, type;
    uint32_t xid, ciaddr, yiaddr, giaddr;
    uint8_t chaddr[6];
    uint32_t netmask, server_id, router, lease_s;
    uint32_t dns[2];
    int ndns;
    bool has_netmask, has_server_id;
};

/* Builds a relayed request of @type into @buf; returns its length. */
size_t dhcp_build(uint8_t *buf, size_t cap, int type, uint32_t xid, uint32_t giaddr, uint32_t ciaddr,
                  const uint8_t chaddr[6], const char *client_id, uint32_t requested, uint32_t server_id);
/* Parses a server's reply; false when it is not a well-formed BOOTREPLY with a
 * message type. */
bool dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m);

#endif
