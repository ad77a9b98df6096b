/* MOBIKE (RFC 4555) and the moves of a session to new client addresses: what a
 * session keeps of them (struct ike_mobike, a member of struct ike_sess) and
 * the notify types. The functions are declared in ike_eng.h beside the other
 * files' (they take a session). */
#ifndef RAVEN_IKE_MOBIKE_H
#define RAVEN_IKE_MOBIKE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* Notify types of RFC 4555 (and RFC 7296's NAT detection) */
enum {
    N_MOB_UNACCEPTABLE_ADDRESSES = 40,
    N_MOB_UNEXPECTED_NAT_DETECTED = 41,
    N_MOB_NAT_DETECTION_SOURCE_IP = 16388,
    N_MOB_NAT_DETECTION_DESTINATION_IP = 16389,
    N_MOB_ADDITIONAL_IP4_ADDRESS = 16397,
    N_MOB_ADDITIONAL_IP6_ADDRESS = 16398,
    N_MOB_NO_ADDITIONAL_ADDRESSES = 16399,
    N_MOB_UPDATE_SA_ADDRESSES = 16400,
    N_MOB_COOKIE2 = 16401,
    N_MOB_NO_NATS_ALLOWED = 16402,
};

#define IKE_MOBIKE_HIST 8 /* moves kept in the peer address history */
#define IKE_MOBIKE_ADDS 8 /* additional addresses kept */

struct ike_sock;

/* One move: the peer's address before it, and when. */
struct ike_mobike_move {
    struct sockaddr_storage peer;
    time_t at;
};

/* Where a move goes: the addresses and socket of the client's request, and
 * its NAT detection. */
struct ike_mobike_to {
    struct sockaddr_storage local, peer;
    struct ike_sock *sock; /* NULL: the session's (a socket that went away, or adopted) */
    bool nat_peer, nat_local;
    bool nat_seen; /* the request carried NAT detection (it decides UDP encapsulation) */
};

/* UDP encapsulation of a MOBIKE session (RFC 4555 3.5): decided by the NAT
 * detection of its latest UPDATE_SA_ADDRESSES that had one; until then by the
 * rule of RFC 7296 2.23 (the NAT-T port, or a NAT found in IKE_SA_INIT). */
enum ike_mobike_encap { IKE_ENCAP_RULE = 0, IKE_ENCAP_OFF, IKE_ENCAP_ON };

enum ike_mobike_rr { IKE_RR_NONE = 0, IKE_RR_QUEUED, IKE_RR_SENT };

/* Moves under way: allocated with a session's first UPDATE_SA_ADDRESSES (few
 * sessions move), kept until the session goes (ike_mobike_free). */
struct ike_mobike_moving {
    /* a move that waits for its return routability check (RFC 4555 3.6):
     * queued until our request under way is answered, or sent */
    struct ike_mobike_to rr_to;
    /* where the check under way went (with rr_cookie): a newer update queued
     * meanwhile changes rr_to, not the address of this check's retransmissions */
    struct ike_mobike_to rr_at;
    /* the update of the INFORMATIONAL being answered (ike_mobike_info to
     * ike_mobike_info_done) */
    struct ike_mobike_to upd;
};

struct ike_mobike {
    bool on; /* MOBIKE in use: the client announced it and the profile allows it */
    bool rr; /* the profile asks for return routability checks */
    /* the client's other addresses, as last listed */
    bool no_additional;
    uint8_t nadd;
    struct sockaddr_storage *add; /* IKE_MOBIKE_ADDS long; NULL until the first (ike_mobike_lists) */
    /* the peer address history, oldest first */
    uint8_t nhist;
    struct ike_mobike_move *hist; /* IKE_MOBIKE_HIST long; NULL until the first move */
    uint32_t moves;
    time_t last_move;
    /* where the latest request came from: its answer goes there (RFC 7296
     * 2.11), also when MOBIKE keeps the SA where it is (RFC 4555 3.5) */
    bool rx_set;
    struct ike_mobike_to rx;
    /* a move that waits for its return routability check (mv->rr_to), and
     * the check's cookie */
    enum ike_mobike_rr rr_state;
    uint8_t rr_cookie[16];
    uint8_t encap; /* enum ike_mobike_encap */
    bool upd_now;  /* mv->upd is the update of the INFORMATIONAL being answered */
    struct ike_mobike_moving *mv; /* NULL until the first update; set while rr_state or upd_now is */
};

/* The additional addresses (@add) or the history (else) of @m, allocated on
 * first use (few sessions have either): false when out of memory. */
bool ike_mobike_lists(struct ike_mobike *m, bool add);
/* Frees what ike_mobike_lists allocated. */
void ike_mobike_free(struct ike_mobike *m);

/* The session record's MOBIKE fields (ike_persist.c holds their tags): an
 * entry of the peer address history, an additional address, the move that
 * waits for its return routability check. */
enum ike_mobike_rec_kind { IKE_MOBIKE_REC_HIST, IKE_MOBIKE_REC_ADD, IKE_MOBIKE_REC_RR };
#define IKE_MOBIKE_REC_MAX 64
/* Entry @i of @kind into @out (IKE_MOBIKE_REC_MAX bytes): its length. */
size_t ike_mobike_rec(const struct ike_mobike *m, enum ike_mobike_rec_kind kind, uint8_t i, uint8_t *out);
/* Appends a decoded entry; false when it is malformed or one too many. */
bool ike_mobike_rec_take(struct ike_mobike *m, enum ike_mobike_rec_kind kind, const uint8_t *v, size_t len);

#endif
