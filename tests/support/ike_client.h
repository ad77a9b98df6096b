/* A minimal IKEv2 initiator for Raven's own tests and benchmarks (never part of the
 * product): IKE_SA_INIT and IKE_AUTH with a pre-shared key, a configuration
 * request and one ESP child SA, then any sealed request. Built from daemon/ike's
 * codec and crypto, with the initiator's view of the keys. Interop is judged
 * against strongSwan; this client exists to drive load and fuzzing. */
#ifndef RAVEN_TESTS_IKE_CLIENT_H
#define RAVEN_TESTS_IKE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_sk.h"

struct ike_client {
    struct ike_init st; /* spi_i/spi_r, keys, algorithms (initiator's view) */
    struct ike_nonces nonces; /* st.n: Ni and Nr */
    struct ike_dh *dh;
    enum ike_dh_group group;
    uint8_t *msg1, *msg2;
    size_t msg1_len, msg2_len;
    uint32_t next_id;
    bool established;
    /* IKE_SA_INIT says the responder's address is not what we sent to (as if a
     * NAT were in front of it) */
    bool nat_in_front_of_responder;
    /* IKE_AUTH without a configuration request */
    bool no_cp;
    /* IKE_AUTH announces MOBIKE (MOBIKE_SUPPORTED, RFC 4555) */
    bool mobike;
    /* when set, IKE_AUTH's TSi offers this selector too (a subnet of the client's) */
    const struct ike_ts *auth_tsi_extra;
    /* when set, ike_client_auth_done also checks the responder's shared key AUTH
     * with this key (else any AUTH is taken) */
    const char *responder_psk;
    /* when set, IKE_AUTH carries this DER certificate (CERT, X.509 signature)
     * and an AUTH of method cert_auth_method whose signature is junk: a client
     * that has a certificate, which is public, without its key */
    const uint8_t *cert_der;
    size_t cert_len;
    uint8_t cert_auth_method;
    /* announce USE_PPK (RFC 8784) in IKE_SA_INIT */
    bool use_ppk;
    /* announce REDIRECT_SUPPORTED (RFC 5685) in IKE_SA_INIT; with
     * redirected_from (a REDIRECTED_FROM notify's data) that instead */
    bool redirect_supported;
    const uint8_t *redirected_from;
    size_t redirected_from_len;
    /* more attributes for IKE_AUTH's configuration request (after
     * INTERNAL_IP4_ADDRESS), e.g. INTERNAL_DNS_DOMAIN of RFC 8598 */
    const struct ike_cp_attr *cp_extra;
    size_t ncp_extra;
    /* vendor ID payloads to send in IKE_SA_INIT (set before ike_client_sa_init) */
    const uint8_t *vid[4];
    size_t vid_len[4], nvid;
    /* the configuration reply of IKE_AUTH (points into a static buffer, valid
     * until the next ike_client_auth_done) */
    struct ike_cp_pld cp_reply;
};

void ike_client_init(struct ike_client *c, enum ike_dh_group group);
void ike_client_fini(struct ike_client *c);
/* IKE_SA_INIT request (AES-GCM-16-256, PRF HMAC-SHA2-256, @group) into @out. */
bool ike_client_sa_init(struct ike_client *c, struct ike_buf *out);
/* Takes the IKE_SA_INIT response: derives the keys. */
bool ike_client_sa_init_done(struct ike_client *c, const uint8_t *buf, size_t len);
/* IKE_AUTH request: IDi (FQDN @id), AUTH with @psk, CP(INTERNAL_IP4_ADDRESS), an
 * ESP proposal and any-to-any selectors. */
bool ike_client_auth(struct ike_client *c, const char *id, const char *psk, struct ike_buf *out);
/* Takes the IKE_AUTH response: true when it carries AUTH (and no failure). */
bool ike_client_auth_done(struct ike_client *c, const uint8_t *buf, size_t len);
/* CREATE_CHILD_SA request for a new child SA with our inbound SPI @spi (AES-GCM),
 * rekeying the child whose SPI we receive on, @rekey_spi, unless it is 0. */
bool ike_client_create_child(struct ike_client *c, uint32_t rekey_spi, uint32_t spi, struct ike_buf *out);
/* The notify type of a response (0 if it carries none), after any request. */
uint16_t ike_client_response_notify(struct ike_client *c, const uint8_t *buf, size_t len);

/* Opens any message of the responder and returns its configuration payload. */
bool ike_client_peer_cp(struct ike_client *c, const uint8_t *buf, size_t len, struct ike_cp_pld *cp);

/* Any request of @exchange carrying the payload chain @inner (first type @first),
 * sealed with the initiator's keys and the next message ID. */
bool ike_client_request(struct ike_client *c, uint8_t exchange, uint8_t first, const uint8_t *inner, size_t len,
                        struct ike_buf *out);

#endif
