/* The asynchronous RADIUS client, on the control thread's libevent loop: server
 * groups tried in order, per-server timeout and retransmissions (the same packet,
 * RFC 5080 2.2.1), dead-server marking for a dead time, and identifier tables that a
 * flood cannot exhaust (a bounded queue waits for a free identifier, beyond it a
 * request fails at once). Never blocks: every answer comes through a callback. */
#ifndef RAVEN_AAA_RADIUS_CLIENT_H
#define RAVEN_AAA_RADIUS_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/aaa/radius.h"

struct event_base;
struct rad_client;
struct rad_req;

struct rad_server_conf {
    const char *name;
    struct sockaddr_storage addr; /* with the port (authentication or accounting) */
    struct sockaddr_storage source; /* the address to send from; AF_UNSPEC: the kernel's choice */
    const char *secret;
    unsigned int timeout_ms;  /* per attempt; 0 = 3000 */
    unsigned int retransmits; /* after the first attempt; 0 = none */
    unsigned int deadtime_s;  /* how long a server that did not answer is skipped; 0: never skipped */
    bool require_ma;          /* every Access-* answer must carry a Message-Authenticator */
};

struct rad_server_stats {
    uint64_t requests, retransmits, timeouts, accepts, rejects, challenges, responses, bad_authenticators,
        unknown_ids, malformed;
    uint64_t rtt_us; /* smoothed round-trip time */
    bool dead;
};

/* Builds the request for one server: rad_init/rad_add… on @p with @id (the code and
 * attributes; rad_finish is done by the client with the server's secret). */
typedef void (*rad_build_fn)(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *secret, void *arg);
/* The verified reply (@v, valid during the call) from @server, or @v NULL with
 * -ETIMEDOUT when every server of the group failed, -ENOBUFS when the queue was
 * full. @req_auth and @secret are those of the request, for decrypting attributes
 * (MS-MPPE keys, Tunnel-Password). The request is over when this returns. */
typedef void (*rad_done_fn)(const struct rad_view *v, int err, const char *server, const uint8_t req_auth[16],
                            const char *secret, void *arg);

struct rad_client *rad_client_new(struct event_base *base);
void rad_client_free(struct rad_client *c);
/* Makes the servers of group @group exactly @srv, in order (kept: servers with the
 * same name keep their state and statistics). 0 or -errno. */
int rad_client_set_group(struct rad_client *c, const char *group, const struct rad_server_conf *srv, size_t n);
/* Sends a request to @group. NULL if the group does not exist (nothing is called). */
struct rad_req *rad_client_send(struct rad_client *c, const char *group, rad_build_fn build, rad_done_fn done,
                                void *arg);
/* Forgets a request (its session went away); @done is not called. */
void rad_client_cancel(struct rad_req *r);
/* Statistics of server @name of @group; false if there is none. */
bool rad_client_stats(const struct rad_client *c, const char *group, const char *name, struct rad_server_stats *st);

#endif
