/* The one interface from the control plane to the ESP dataplane (DESIGN.md
 * "Dataplane"). The IKE engine installs and removes child SAs and the routes to
 * clients' addresses through these calls only, and reads the counters back.
 *
 * All calls are made on the control thread. An SA or route is visible to packet
 * processing only once complete (the table publishes whole entries), and removing
 * one returns its final counters. */
#ifndef RAVEN_DATAPLANE_DP_H
#define RAVEN_DATAPLANE_DP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dp;

/* ESP transforms (IANA numbers of IKEv2 transform types 1 and 3). */
enum dp_cipher {
    DP_CIPHER_AES_CBC = 12,
    DP_CIPHER_AES_GCM_16 = 20,
    DP_CIPHER_CHACHA20_POLY1305 = 28,
};

enum dp_integ {
    DP_INTEG_NONE = 0,
    DP_INTEG_HMAC_SHA1_96 = 2,
    DP_INTEG_HMAC_SHA2_256_128 = 12,
    DP_INTEG_HMAC_SHA2_384_192 = 13,
    DP_INTEG_HMAC_SHA2_512_256 = 14,
};

#define DP_MAX_KEY 36   /* AES-256 or ChaCha20 key + 4-byte salt */
#define DP_MAX_INTEG_KEY 64

/* An inner address range (a traffic selector without ports/protocol). */
struct dp_range {
    sa_family_t family;
    uint8_t start[16], end[16];
};

#define DP_MAX_SELECTORS 16

/* An SA is named by (session, direction, SPI): inbound SPIs are chosen by the
 * headend and unique; outbound ones are the peers' choice and may repeat across
 * sessions (RFC 4301 4.1), so the session is part of their name. */
struct dp_sa {
    uint32_t spi;    /* host order */
    bool inbound;    /* decrypt (peer -> headend), else encrypt */
    uint64_t session_id;
    enum dp_cipher cipher;
    uint8_t key[DP_MAX_KEY];
    size_t key_len;  /* AEAD: cipher key + 4-byte salt */
    enum dp_integ integ;
    uint8_t integ_key[DP_MAX_INTEG_KEY];
    size_t integ_key_len;
    bool esn;
    uint32_t replay_window; /* inbound; 0 = anti-replay off */
    /* outer header: our address/port and the peer's; UDP encapsulation (RFC 3948)
     * when NAT was detected or the peer uses port 4500 */
    struct sockaddr_storage local, peer;
    bool udp_encap;
    /* inbound: the inner source must fall in one of these (the client's
     * traffic selectors); outbound: the destinations routed to this SA */
    size_t nsel;
    struct dp_range sel[DP_MAX_SELECTORS];
    /* report when this many bytes/packets have passed (0 = no limit), so that
     * the control plane rekeys */
    uint64_t soft_bytes, soft_packets;
};

struct dp_sa_stats {
    uint64_t packets, bytes;
    uint64_t replay_drops, auth_failures, selector_drops;
};

/* A dataplane instance (its tables; packet workers attach to it). */
struct dp *dp_new(void);
void dp_free(struct dp *dp);

/* Adds an SA; -EEXIST when its name is in use, -EINVAL for a key or selector the
 * transform cannot take, -ENOMEM. */
int dp_sa_add(struct dp *dp, const struct dp_sa *sa);
/* The peer's outer address changed (NAT mapping, float to 4500): takes effect for
 * every SA of the session in both directions. Returns the number of SAs changed. */
size_t dp_session_move(struct dp *dp, uint64_t session_id, const struct sockaddr_storage *local,
                       const struct sockaddr_storage *peer, bool udp_encap);
/* Removes an SA; its final counters go to @last if not NULL. -ENOENT if absent. */
int dp_sa_del(struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *last);
int dp_sa_stats(const struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *out);
/* Whether an inbound SPI is taken (the IKE engine picks unused ones). */
bool dp_spi_in_use(const struct dp *dp, uint32_t spi);
size_t dp_sa_count(const struct dp *dp);

#endif
