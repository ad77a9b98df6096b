/* The record of an established session in the session arena (ike_persist.c):
 * its encoding, and its adoption by a new process (ike_adopt.c). Internal to the
 * engine; the fuzz target of the records uses the codec. */
#ifndef RAVEN_IKE_PERSIST_H
#define RAVEN_IKE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ike_sess;
struct sockaddr_storage;

/* An address with its port as records hold it: family (4 or 6), 16 bytes of
 * address (IPv4 in the first 4), the port little-endian. */
#define IKE_PERSIST_ADDR_LEN 19
void ike_persist_addr_put(uint8_t b[IKE_PERSIST_ADDR_LEN], const struct sockaddr_storage *a);
/* false when the family is neither */
bool ike_persist_addr_get(const uint8_t b[IKE_PERSIST_ADDR_LEN], struct sockaddr_storage *a);

/* What a record holds besides the session's own fields. */
struct ike_persist_extra {
    bool natt;          /* the session's socket: the NAT-T port's */
    char vrf[16];       /* and its front-door VRF ("" the default table) */
    uint32_t *del[2];   /* its child DELETE queues (del_q, del_sent) */
    size_t ndel[2];
    uint16_t bad_tag;   /* decoding failed at this field (0xffff: fields missing) */
};

/* Encodes the established session @s: *out (malloc'd, the caller wipes and frees
 * it) of *len bytes. False when memory is short (errno ENOMEM) or a field's
 * value is over 65535 bytes (errno EMSGSIZE: the last response, say). */
bool ike_persist_encode(const struct ike_sess *s, uint8_t **out, size_t *len);
/* Decodes record @rec into @s, a session zeroed but for what sess_new sets
 * (its child tables may grow); strict: false for anything that is not a record
 * Raven wrote (what was decoded stays in @s for its owner to free). */
bool ike_persist_decode(const uint8_t *rec, size_t len, struct ike_sess *s, struct ike_persist_extra *x);
void ike_persist_extra_fini(struct ike_persist_extra *x);
/* TESTS (the fuzz target): frees what decoding allocated in @s (a session in no
 * table, without events). */
void ike_persist_clear(struct ike_sess *s);

/* ike_adopt.c */
/* Writes the session's record now (before a message of it goes out), or soon
 * (at the end of this turn of the event loop: ike_persist_mark). Sessions that
 * are not established are not written; a session that ends is forgotten. */
void ike_persist_save(struct ike_sess *s);
void ike_persist_mark(struct ike_sess *s);
void ike_persist_forget(struct ike_sess *s);

#endif
