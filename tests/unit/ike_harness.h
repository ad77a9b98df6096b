/* The IKEv2 engine in-process for unit tests, on its test seam
 * (ike_engine_input / ike_engine_set_output), driven by the test initiator
 * (tests/support/ike_client.h): a YANG context with a configuration of one
 * PSK profile and pool, a dataplane without interfaces, and helpers. */
#ifndef RAVEN_TESTS_IKE_HARNESS_H
#define RAVEN_TESTS_IKE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/ike/ike_msg.h"
#include "tests/support/ike_client.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

struct dp;
struct ike_engine;
struct lyd_node;
struct ly_ctx;
struct event_base;

/* one profile "rw" (PSK k1, identities under example.org), policy "g" with
 * pool "p" (10.8.0.1-3) */
extern const char ike_harness_config[];

struct env {
    struct ly_ctx *ctx;
    struct lyd_node *tree;
    struct event_base *base;
    struct dp *dp;
    uint8_t out[65536];
    size_t out_len;
};

/* The engine's output: the last datagram it sent, in e->out. */
void out(const struct sockaddr_storage *to, const uint8_t *buf, size_t len, void *arg);
/* cmocka group setup/teardown: *state is the struct env. */
int setup(void **state);
int teardown(void **state);
/* Where the engine sees the client's datagrams arrive, and from. */
extern struct sockaddr_storage local, peer;
/* An engine with @tree applied, on the test seam. */
struct ike_engine *engine(struct env *e, const struct lyd_node *tree);
/* Sends @b to the engine and returns its answer's length (in e->out). */
size_t ask(struct env *e, struct ike_engine *eng, struct ike_buf *b);
/* Client @c's IKE_SA_INIT and IKE_AUTH with identity @id and key @key, both
 * answered and accepted. */
void establish(struct env *e, struct ike_engine *eng, struct ike_client *c, const char *id, const char *key,
               struct ike_buf *b);
/* The child SAs vpn-state shows. */
size_t children(struct env *e, struct ike_engine *eng);
/* A copy of @b. */
struct ike_buf copy(const struct ike_buf *b);
/* The counter at @path under vpn-state/ike-counters. */
uint64_t counter(struct env *e, struct ike_engine *eng, const char *path);

#endif
