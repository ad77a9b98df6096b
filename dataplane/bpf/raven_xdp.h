/* Shared between the XDP program (raven_xdp.bpf.c) and its loader (dp_xsk.c):
 * map layouts and the program's per-CPU counters. */
#ifndef RAVEN_DATAPLANE_BPF_RAVEN_XDP_H
#define RAVEN_DATAPLANE_BPF_RAVEN_XDP_H

#define RAVEN_XDP_ROLE_OUTSIDE 0
#define RAVEN_XDP_ROLE_INSIDE 1

#define RAVEN_XDP_MAX_QUEUES 256
#define RAVEN_XDP_MAX_CLIENT_PREFIXES 262144
#define RAVEN_XDP_MAX_LOCAL 256
/* NAT traversal ports (keys of the "natt_ports" hash: the port in network order):
 * room for a set and the one it replaces side by side (dp_set_udp_ports adds the
 * new ports before it removes the old) */
#define RAVEN_XDP_MAX_NATT_PORTS 16

/* LPM keys: prefix length in bits, then the address in network order. */
struct raven_lpm4 {
    __u32 plen;
    __u8 addr[4];
};

struct raven_lpm6 {
    __u32 plen;
    __u8 addr[16];
};

/* Local addresses: a 16-byte key, IPv4 as ::ffff:a.b.c.d. */
struct raven_local {
    __u8 addr[16];
};

/* Counter slots of the per-CPU "stats" array map. */
enum raven_xdp_stat {
    RAVEN_XDP_REDIRECT = 0, /* redirected to an AF_XDP socket */
    RAVEN_XDP_PASS,         /* left to the kernel */
    RAVEN_XDP_NO_SOCKET,    /* the dataplane's, but no AF_XDP socket on its queue: dropped */
    RAVEN_XDP_STATS,
};

/* Slots of the "conf" array map. */
enum raven_xdp_conf {
    RAVEN_XDP_CONF_ROLE = 0,
    RAVEN_XDP_CONF_N,
};

#endif
