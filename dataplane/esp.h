/* ESP (RFC 4303) packet transforms for the dataplane workers: sealing an inner
 * packet into an ESP payload and opening one, in place, and the anti-replay
 * window with extended sequence numbers (RFC 4303 3.4.3, Appendix A).
 *
 * Crypto goes through a small backend interface (esp_crypto.h): OpenSSL EVP or
 * intel-ipsec-mb, each with one pre-keyed context per SA, direction and worker;
 * a transform keeps the backend it was made with. An esp_xform is used by one
 * thread at a time. */
#ifndef RAVEN_DATAPLANE_ESP_H
#define RAVEN_DATAPLANE_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dataplane/dp.h"

/* Room an ESP packet needs around its inner packet: header (SPI, sequence) and
 * IV before it; padding, pad length, next header and ICV after it. */
#define ESP_HEAD_MAX 24
#define ESP_TAIL_MAX 64

/* Results of esp_open(). */
enum esp_result {
    ESP_OK = 0,
    ESP_E_MALFORMED = -1, /* too short, not a whole number of blocks, bad padding */
    ESP_E_AUTH = -2,      /* ICV / AEAD tag did not verify */
    ESP_E_CRYPTO = -3,    /* the backend failed */
};

/* The crypto backend of a transform (esp_crypto.h): OpenSSL EVP or intel-ipsec-mb. */
enum esp_backend {
    ESP_BACKEND_AUTO = 0, /* esp_params: the process default (esp_backend_default) */
    ESP_BACKEND_OPENSSL,
    ESP_BACKEND_IPSEC_MB,
};

struct esp_params {
    enum dp_cipher cipher;
    const uint8_t *key;   /* AEAD: cipher key followed by the 4-byte salt */
    size_t key_len;
    enum dp_integ integ;  /* DP_INTEG_NONE with AEAD ciphers */
    const uint8_t *integ_key;
    size_t integ_key_len;
    bool esn;
    enum esp_backend backend; /* AUTO: esp_backend_default() when the transform is made */
};

struct esp_xform;

/* The backend that transforms made without one get from now on (process-wide):
 * AUTO chooses intel-ipsec-mb where esp_crypto_mb_probe() finds it faster here
 * and its self-test passed, else OpenSSL. Returns 0, or -ENOTSUP (nothing
 * changed) for IPSEC_MB when ipsec-mb is not usable here. Before the first call
 * the default is AUTO's choice. Transforms already made keep theirs. */
int esp_set_backend(enum esp_backend b);
/* The backend new transforms get: OPENSSL or IPSEC_MB, never AUTO. */
enum esp_backend esp_backend_default(void);
const char *esp_backend_name(enum esp_backend b); /* "openssl", "ipsec-mb", "auto" */
enum esp_backend esp_xform_backend(const struct esp_xform *x);
/* How many transforms of backend @b (OPENSSL or IPSEC_MB) exist in the process. */
long esp_xform_count(enum esp_backend b);

/* A keyed transform for one direction; NULL (and errno EINVAL) for a cipher,
 * key length or integrity algorithm the dataplane cannot take. */
struct esp_xform *esp_xform_new(const struct esp_params *p, bool encrypt);
void esp_xform_free(struct esp_xform *x);
/* Bytes before the inner packet (header + IV) and the most after it for an
 * inner packet of @inner_len bytes. */
size_t esp_head_len(const struct esp_xform *x);
size_t esp_tail_len(const struct esp_xform *x, size_t inner_len);
/* Largest inner packet that keeps the ESP payload within @esp_max bytes. */
size_t esp_inner_max(const struct esp_xform *x, size_t esp_max);

/* Seals the inner packet at inner[0..len) whose protocol is @next_header (4 IPv4,
 * 41 IPv6): writes the ESP header and IV in the esp_head_len() bytes before it and
 * padding, trailer and ICV after it. @seq is the full 64-bit sequence number (its
 * low 32 bits go on the wire; the high 32 take part in the ICV/AAD with ESN).
 * Returns the ESP payload length (starting at inner - esp_head_len()), or a
 * negative esp_result. */
int esp_seal(struct esp_xform *x, uint32_t spi, uint64_t seq, uint8_t next_header, uint8_t *inner, size_t len);

/* Verifies and decrypts in place the ESP payload esp[0..len) (from the SPI on),
 * @seq being its full sequence number as inferred by esp_replay_check(). On
 * ESP_OK, *inner and *inner_len are the inner packet and *next_header its protocol. */
int esp_open(struct esp_xform *x, uint64_t seq, uint8_t *esp, size_t len, uint8_t **inner, size_t *inner_len,
             uint8_t *next_header);

/* Bursts: the same transforms for up to ESP_BURST_MAX packets at once, so that a
 * backend with a multi-buffer engine (esp_crypto.h's *_burst) keeps its lanes
 * full. Each job is one esp_seal()/esp_open() call with its result in rc; jobs
 * may name different transforms (the worker's SAs) in any order. A transform
 * appears in a burst in the order its packets must be processed. */
#define ESP_BURST_MAX 64

struct esp_seal_job {
    struct esp_xform *x;
    uint32_t spi;
    uint64_t seq;
    uint8_t next_header;
    uint8_t *inner; /* with esp_head_len() bytes before it and room after it */
    size_t len;
    int rc;         /* out: esp_seal()'s result */
};

struct esp_open_job {
    struct esp_xform *x;
    uint64_t seq;
    uint8_t *esp;
    size_t len;
    uint8_t *inner;      /* out, on ESP_OK */
    size_t inner_len;    /* out */
    uint8_t next_header; /* out */
    int rc;              /* out: esp_open()'s result */
};

void esp_seal_burst(struct esp_seal_job *jobs, unsigned n);
void esp_open_burst(struct esp_open_job *jobs, unsigned n);

#define ESP_REPLAY_MAX 4096
#define ESP_REPLAY_WORDS (ESP_REPLAY_MAX / 64)

/* An anti-replay window (RFC 4303 3.4.3): its configuration here; its state (top,
 * the highest sequence number received and verified, and bits, a ring of size
 * bits where number s is bit s % size) where the caller keeps it: the dataplane
 * keeps it in struct dp_sa_live, which may outlive the process. A state of all
 * zeroes is a window that has seen nothing. Size 0 turns the check off (sequence
 * numbers are still inferred for ESN, and top still follows them). */
struct esp_replay {
    uint32_t size; /* window in packets, a multiple of 64 */
    bool esn;
};

/* @size is rounded up to a multiple of 64, at most ESP_REPLAY_MAX. */
void esp_replay_init(struct esp_replay *r, uint32_t size, bool esn);
/* Infers the full sequence number of a packet whose header carries @seq_lo
 * (RFC 4303 Appendix A2 with ESN) and checks it against the window (@top,
 * @bits[ESP_REPLAY_WORDS]) without changing it: 0 with *seq set, or -1 for a
 * replayed, too old or zero number. */
int esp_replay_check(const struct esp_replay *r, uint64_t top, const uint64_t *bits, uint32_t seq_lo, uint64_t *seq);
/* Records @seq once its ICV verified, sliding the window (*top, @bits); -1 if it
 * was recorded meanwhile (a duplicate that raced the check). *top is written
 * before the bits it frees: a process killed in between leaves a window that
 * refuses too much (numbers above the old top), never one that takes a number
 * it has seen. */
int esp_replay_update(const struct esp_replay *r, uint64_t *top, uint64_t *bits, uint64_t seq);

#endif
