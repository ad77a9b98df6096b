/* The records cluster members publish in etcd, read and checked, and the
 * choice of the member that takes a new client. Pure functions (no etcd, no
 * event loop), so that every rule is unit-tested.
 *
 * PREFIX members/NAME  {"name":NAME,"address":IP,"sessions":N,"capacity":N,
 *                       "health":"up"|"draining","partition":N}
 *                      (partition absent without pools/partition)
 * PREFIX sessions/NAME/ID  {"user":USER,"addresses":[IP, ...]}
 *
 * A record that does not follow this (not JSON, a field missing, of the wrong
 * type or out of range, an address that is not an IP address or of a family
 * the reader does not have) is refused with the reason, never half-read. */
#ifndef RAVEN_CLUSTER_REC_H
#define RAVEN_CLUSTER_REC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_NAME_MAX 64 /* rt:name, with its NUL */
#define CLUSTER_USER_MAX 256
#define CLUSTER_SESS_ADDRS 4

struct cluster_member {
    char name[CLUSTER_NAME_MAX];
    char address[INET6_ADDRSTRLEN];
    int family; /* AF_INET or AF_INET6 of address */
    uint32_t sessions, capacity;
    bool draining;
    int partition; /* -1: none */
};

struct cluster_session {
    char user[CLUSTER_USER_MAX];
    char addr[CLUSTER_SESS_ADDRS][INET6_ADDRSTRLEN];
    size_t naddr;
};

/* The address family of the IP address literal @s, 0 when it is none. */
int cluster_addr_family(const char *s);

/* Reads the member record @val (@vlen bytes) stored under members/@key_name.
 * @family: the reader's own address family (a member of another family cannot
 * take its clients). 0, or -1 with @why saying what is wrong. */
int cluster_member_parse(const char *key_name, const char *val, size_t vlen, int family, struct cluster_member *m,
                         char *why, size_t whylen);
/* The record of @m as JSON (NUL-terminated, @len bytes; the caller frees); NULL
 * when out of memory. */
char *cluster_member_json(const struct cluster_member *m, size_t *len);

/* Reads a session record (@val, @vlen bytes). 0, or -1 with @why set. */
int cluster_session_parse(const char *val, size_t vlen, struct cluster_session *s, char *why, size_t whylen);
char *cluster_session_json(const struct cluster_session *s, size_t *len);

/* Splits the part of a key after the prefix: "members/NAME" (@id NULL then) or
 * "sessions/NAME/ID". Returns 'm' or 's' with @name (and @id) filled, 0 for a
 * key of neither form. */
int cluster_key_split(const char *rest, char *name, size_t namelen, uint64_t *id);

/* The member that should take a new client among @n members: healthy ones
 * only (up), the lowest share of capacity in use (sessions / capacity), ties
 * by name; @exclude (a name, or NULL) is never chosen. Its index, or -1 when
 * there is none. */
long cluster_pick(const struct cluster_member *m, size_t n, const char *exclude);

#endif
