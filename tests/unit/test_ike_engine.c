/* Unit tests of the IKEv2 engine's decisions that real clients cannot show: the
 * Unity and FlexVPN configuration attributes go only to clients that announced
 * the matching vendor ID (SPEC S4); a client cannot grow its child SAs without
 * bound by rekeying; cookies cannot be forged; unprotected errors (RFC 7296
 * 2.5) answer unknown critical payloads and later major versions, within a
 * rate limit, counted; a child SA the dataplane reports past its hard lifetime
 * is deleted and the client told. The engine runs in-process on its
 * test seam (ike_engine_input / ike_engine_set_output), driven by the test
 * initiator; a dry run leaves the live sockets as they were (in a network
 * namespace of its own, where the kernel has VRF devices). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/dp_int.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

static const uint8_t unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
static const char flexvpn[] = "FLEXVPN-SUPPORTED";

static bool has_attr(const struct ike_cp_pld *cp, uint16_t type, const char *value)
{
    for (size_t i = 0; i < cp->nattr; i++) {
        if (cp->attr[i].type == type &&
            (!value || (cp->attr[i].len == strlen(value) && !memcmp(cp->attr[i].value, value, cp->attr[i].len))))
            return true;
    }
    return false;
}

/* One session with the given vendor IDs; returns the configuration reply. */
static void session(struct env *e, const uint8_t *const *vids, const size_t *lens, size_t n, struct ike_cp_pld *cp)
{
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0};

    ike_client_init(&c, IKE_DH_ECP256);
    for (size_t i = 0; i < n; i++) {
        c.vid[i] = vids[i];
        c.vid_len[i] = lens[i];
    }
    c.nvid = n;
    assert_true(ike_client_sa_init(&c, &b));
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    *cp = c.cp_reply;
    assert_true(has_attr(cp, 1, NULL)); /* INTERNAL_IP4_ADDRESS in every case */
    ike_client_fini(&c);
    ike_engine_free(eng);
}

static void test_vendor_attributes(void **state)
{
    struct env *e = *state;
    const uint8_t *v[2] = {unity, (const uint8_t *)flexvpn};
    size_t l[2] = {sizeof(unity), sizeof(flexvpn) - 1};
    struct ike_cp_pld cp;

    /* no vendor ID: no Unity (28672 banner, 28674 domain), no FlexVPN (28689/28690) */
    session(e, NULL, NULL, 0, &cp);
    assert_false(has_attr(&cp, 28672, NULL));
    assert_false(has_attr(&cp, 28674, NULL));
    assert_false(has_attr(&cp, 28689, NULL));
    /* Unity only */
    session(e, v, l, 1, &cp);
    assert_true(has_attr(&cp, 28672, "Authorized use only"));
    assert_true(has_attr(&cp, 28674, "corp.example.org"));
    assert_false(has_attr(&cp, 28689, NULL));
    /* both */
    session(e, v, l, 2, &cp);
    assert_true(has_attr(&cp, 28672, "Authorized use only"));
    assert_true(has_attr(&cp, 28689, "http://cfg.example.org/x"));
    assert_true(has_attr(&cp, 28690, "7"));
}

/* The number of child-sa entries in the engine's operational state. */
static const char *state_leaf(struct env *e, struct ike_engine *eng, const char *path, char *buf, size_t len)
{
    struct lyd_node *st = NULL;
    struct ly_set *set = NULL;

    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(e->ctx, "raven-vpn"), "vpn-state", 0, &st),
                     0);
    ike_engine_state(eng, st, NULL);
    snprintf(buf, len, "(none)");
    if (!lyd_find_xpath(st, path, &set) && set->count == 1)
        snprintf(buf, len, "%s", lyd_get_value(set->dnodes[0]));
    ly_set_free(set, NULL);
    lyd_free_tree(st);
    return buf;
}

/* The IKE SA's state as the engine moves it (daemon/ike/ike_sa.h): half-open
 * after IKE_SA_INIT, through IKE_AUTH to established (vpn-state says so),
 * rekeying while our IKE SA rekey is under way, deleting when the session is
 * cleared before its answer; a move the table does not allow leaves the state
 * and the engine's counts as they were. */
static void test_sa_states(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_sess *s;
    char v[64];

    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    assert_true(ask(e, eng, &b));
    s = eng->by_id;
    assert_non_null(s);
    assert_int_equal(s->state, IKE_SA_HALF_OPEN);
    assert_int_equal(eng->half_open, 1);
    assert_string_equal(state_leaf(e, eng, "session/ike-sa/state", v, sizeof(v)), "(none)");
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    assert_int_equal(s->state, IKE_SA_ESTABLISHED);
    assert_int_equal(eng->half_open, 0);
    assert_int_equal(eng->established, 1);
    assert_string_equal(state_leaf(e, eng, "session/ike-sa/state", v, sizeof(v)), "established");
    /* an illegal move is refused: state and counts stay */
    assert_false(ike_sa_set_state(s, IKE_SA_HALF_OPEN, "test"));
    ike_sess_established(s);
    assert_int_equal(s->state, IKE_SA_ESTABLISHED);
    assert_int_equal(eng->established, 1);
    assert_true(ike_ike_rekey_start(s));
    assert_int_equal(s->state, IKE_SA_REKEYING);
    assert_string_equal(state_leaf(e, eng, "session/ike-sa/state", v, sizeof(v)), "rekeying");
    /* cleared while our request is under way: its DELETE waits for the answer */
    assert_int_equal(ike_engine_clear(eng, s->ss.id, NULL, NULL, false), 1);
    assert_int_equal(s->state, IKE_SA_DELETING);
    assert_int_equal(eng->established, 0);
    assert_string_equal(state_leaf(e, eng, "session/ike-sa/state", v, sizeof(v)), "(none)");
    ike_client_fini(&c);
    ike_engine_free(eng);
}

static void test_rekeys_do_not_grow_children(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0};

    ike_client_init(&c, IKE_DH_ECP256);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    assert_int_equal(children(e, eng), 1);
    /* the first rekey of the first child works; rekeying it again is refused */
    assert_true(ike_client_create_child(&c, 0x12345678, 0x20000000, &b));
    assert_true(ask(e, eng, &b));
    assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    assert_int_equal(children(e, eng), 2);
    for (uint32_t i = 1; i < 20; i++) {
        assert_true(ike_client_create_child(&c, 0x12345678, 0x20000000 + i, &b));
        assert_true(ask(e, eng, &b));
        assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 43); /* TEMPORARY_FAILURE */
    }
    /* without a flow limit, new child SAs are not capped by a fixed table: the
     * session's table grows (40 more here) */
    for (uint32_t i = 0; i < 40; i++) {
        assert_true(ike_client_create_child(&c, 0, 0x30000000 + i, &b));
        assert_true(ask(e, eng, &b));
        assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    }
    assert_int_equal(children(e, eng), 42); /* 41 live, 1 rekeyed and waiting for its DELETE */
    assert_int_equal(dp_sa_count(e->dp), 2 * 42);
    ike_client_fini(&c);
    ike_engine_free(eng);
    assert_int_equal(dp_sa_count(e->dp), 0); /* every SA goes with its session */
}

/* The authorization's flow limit holds as configured, past the 8 child SAs
 * that a fixed table once allowed; a refused one installs nothing. */
static void test_flow_limit(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL, *n = NULL;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/ipsec-flow-limit",
                                  "25", 0, &n),
                     0);
    eng = engine(e, tree);
    ike_client_init(&c, IKE_DH_ECP256);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    for (uint32_t i = 0; i < 24; i++) {
        assert_true(ike_client_create_child(&c, 0, 0x30000000 + i, &b));
        assert_true(ask(e, eng, &b));
        assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    }
    assert_int_equal(children(e, eng), 25);
    for (uint32_t i = 24; i < 30; i++) {
        assert_true(ike_client_create_child(&c, 0, 0x30000000 + i, &b));
        assert_true(ask(e, eng, &b));
        assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 35); /* NO_ADDITIONAL_SAS */
    }
    assert_int_equal(children(e, eng), 25);
    assert_int_equal(dp_sa_count(e->dp), 2 * 25);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
    assert_int_equal(dp_sa_count(e->dp), 0);
}

/* The notify type of an unencrypted IKE_SA_INIT answer (0 if none). */
static uint16_t init_notify(struct env *e, const uint8_t **data, size_t *len)
{
    struct ike_msg m;
    struct ike_notify_pld n;

    assert_int_equal(ike_msg_parse(e->out, e->out_len, &m), IKE_PARSE_OK);
    if (!m.npld || m.pld[0].type != IKE_PLD_NOTIFY || !ike_notify_parse(&m.pld[0], &n))
        return 0;
    *data = n.data;
    *len = n.len;
    return n.type;
}

/* The client's IKE_SA_INIT again, with a COOKIE notify in front. */
static void with_cookie(struct ike_client *c, const uint8_t *cookie, size_t len, struct ike_buf *b)
{
    struct ike_msg m;
    struct ike_builder bd;

    assert_int_equal(ike_msg_parse(c->msg1, c->msg1_len, &m), IKE_PARSE_OK);
    ike_build_begin(&bd, &m.hdr);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = 16390, .data = cookie, .len = len});
    for (size_t i = 0; i < m.npld; i++)
        ike_build_raw(&bd, m.pld[i].type, m.pld[i].critical, m.pld[i].body, m.pld[i].len);
    assert_true(ike_build_finish(&bd));
    *b = bd.buf;
}

static void test_cookies(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL, *n = NULL;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    const uint8_t *cookie;
    size_t cl;
    uint8_t forged[36] = {0}, mac_in[32 + 4 + 8];
    unsigned int ml = 32;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/cookie-threshold", "0", 0, &n), 0);
    eng = engine(e, tree);
    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    assert_true(ask(e, eng, &b));
    assert_int_equal(init_notify(e, &cookie, &cl), 16390);
    assert_int_equal(cl, 36);
    /* a cookie of version 0 keyed with zeroes, made up by a spoofer */
    memcpy(mac_in, c.st.n->ni, 32);
    inet_pton(AF_INET, "198.51.100.9", mac_in + 32);
    memcpy(mac_in + 36, c.st.spi_i, 8);
    HMAC(EVP_sha256(), (const uint8_t[32]){0}, 32, mac_in, sizeof(mac_in), forged + 4, &ml);
    with_cookie(&c, forged, sizeof(forged), &b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(init_notify(e, &cookie, &cl), 16390); /* refused: a new COOKIE */
    /* the real one gets the IKE_SA_INIT response */
    {
        uint8_t real[36];

        memcpy(real, cookie, 36);
        with_cookie(&c, real, sizeof(real), &b);
    }
    assert_true(ask(e, eng, &b));
    assert_int_equal(init_notify(e, &cookie, &cl), 0);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

struct ka {
    struct env *e;
    int keepalives;
    struct event_base *base;
};

static void count_ka(const struct sockaddr_storage *to, const uint8_t *buf, size_t len, void *arg)
{
    struct ka *k = arg;

    if (len == 1 && buf[0] == 0xff)
        k->keepalives++;
    else
        out(to, buf, len, k->e);
}

/* RFC 3948 4: when the headend is behind a NAT (the client's NAT-D says so), it
 * sends a keepalive every nat-keepalive seconds on the NAT-T port. */
static void test_nat_keepalive(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL, *n = NULL;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    struct ka k = {.e = e};

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/nat-keepalive", "5", 0, &n), 0);
    eng = engine(e, tree);
    ike_engine_set_output(eng, count_ka, &k);
    ike_client_init(&c, IKE_DH_ECP256);
    c.nat_in_front_of_responder = true;
    assert_true(ike_client_sa_init(&c, &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    e->out_len = 0;
    ((struct sockaddr_in *)&peer)->sin_port = htons(4500);
    ((struct sockaddr_in *)&local)->sin_port = htons(4500);
    ike_engine_input(eng, &local, &peer, true, b.data, b.len); /* floated to NAT-T */
    ike_buf_fini(&b);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    assert_int_equal(k.keepalives, 0);
    event_base_loopexit(e->base, &(struct timeval){.tv_sec = 5, .tv_usec = 500000});
    event_base_dispatch(e->base);
    assert_int_equal(k.keepalives, 1);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

struct outs {
    uint8_t d[4][4096];
    size_t len[4], n;
};

static void keep_all(const struct sockaddr_storage *to, const uint8_t *buf, size_t len, void *arg)
{
    struct outs *o = arg;

    if (o->n < 4 && len <= sizeof(o->d[0])) {
        memcpy(o->d[o->n], buf, len);
        o->len[o->n++] = len;
    }
}

/* S4 push: a client that sends no CFG_REQUEST gets a CFG_SET with the attributes
 * right after IKE_AUTH; a client's CFG_SET is answered with an empty CFG_ACK. */
static void test_cfg_set(void **state)
{
    /* a CP payload (generic header, then CFG_SET carrying an empty INTERNAL_IP4_DNS) */
    static const uint8_t set_body[] = {0, 0, 0, 12, 3, 0, 0, 0, 0, 3, 0, 0};
    struct env *e = *state;
    struct lyd_node *tree = NULL, *n = NULL;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_cp_pld cp;
    struct outs o = {0};

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/dns/primary",
                                  "10.9.0.53", 0, &n), 0);
    eng = engine(e, tree);
    ike_client_init(&c, IKE_DH_ECP256);
    c.no_cp = true;
    assert_true(ike_client_sa_init(&c, &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    ike_engine_set_output(eng, keep_all, &o);
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    ike_engine_input(eng, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    assert_int_equal(o.n, 2); /* the IKE_AUTH response, then our CFG_SET request */
    assert_true(ike_client_auth_done(&c, o.d[0], o.len[0]));
    assert_true(ike_client_peer_cp(&c, o.d[1], o.len[1], &cp));
    assert_int_equal(cp.cfg_type, 3);
    assert_true(has_attr(&cp, 3, NULL));  /* INTERNAL_IP4_DNS */
    assert_false(has_attr(&cp, 1, NULL)); /* never an address unasked */
    /* the client's own CFG_SET */
    ike_engine_set_output(eng, out, e);
    assert_true(ike_client_request(&c, IKE_EXCH_INFORMATIONAL, IKE_PLD_CP, set_body, sizeof(set_body), &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_peer_cp(&c, e->out, e->out_len, &cp));
    assert_int_equal(cp.cfg_type, 4);
    assert_int_equal(cp.nattr, 0);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* RFC 7296 2.1: a retransmitted request gets the stored response again, byte for
 * byte, and is not processed twice; a retransmitted IKE_SA_INIT likewise. */
static void test_retransmission(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0}, again = {0};
    uint8_t first[4096];
    size_t first_len;

    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    again = copy(&b);
    assert_true(ask(e, eng, &b));
    first_len = e->out_len;
    memcpy(first, e->out, first_len);
    assert_int_equal(ask(e, eng, &again), first_len);
    assert_memory_equal(e->out, first, first_len);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    again = copy(&b);
    assert_true(ask(e, eng, &b));
    first_len = e->out_len;
    memcpy(first, e->out, first_len);
    assert_int_equal(ask(e, eng, &again), first_len);
    assert_memory_equal(e->out, first, first_len);
    assert_int_equal(children(e, eng), 1);     /* one session, one child */
    assert_int_equal(dp_sa_count(e->dp), 2);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* The client's IKE_SA_INIT with header version @version and, if @type, an
 * extra payload of that type (critical if @critical) at the end. */
static void init_variant(struct ike_client *c, uint8_t version, uint8_t type, bool critical, struct ike_buf *b)
{
    struct ike_msg m;
    struct ike_builder bd;

    assert_int_equal(ike_msg_parse(c->msg1, c->msg1_len, &m), IKE_PARSE_OK);
    m.hdr.version = version;
    ike_build_begin(&bd, &m.hdr);
    for (size_t i = 0; i < m.npld; i++)
        ike_build_raw(&bd, m.pld[i].type, m.pld[i].critical, m.pld[i].body, m.pld[i].len);
    if (type)
        ike_build_raw(&bd, type, critical, (const uint8_t *)"junk", 4);
    assert_true(ike_build_finish(&bd));
    *b = bd.buf;
}

/* The dataplane stops an SA at its hard byte lifetime and reports it: the engine's
 * poll deletes the child (both SAs) and sends the client a DELETE for it. */
static void test_hard_lifetime_deletes_the_child(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0};
    struct dp_entry *de, *tmp;
    struct ike_msg m;

    ike_client_init(&c, IKE_DH_ECP256);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    assert_int_equal(dp_sa_count(e->dp), 2);
    /* both SAs carry the profile's hard volume (the default 4608000 KB) */
    HASH_ITER(hh, e->dp->sas, de, tmp) {
        assert_int_equal(de->rsa->conf.hard_bytes, 4608000ULL * 1024);
        if (!de->rsa->conf.inbound)
            atomic_store(&de->rsa->live->expired, 1); /* as a worker marks it */
    }
    e->out_len = 0;
    sess_dp_poll(&eng->sm);
    assert_int_equal(children(e, eng), 0);
    assert_int_equal(dp_sa_count(e->dp), 0);
    /* an INFORMATIONAL request (encrypted: its DELETE is inside) went to the client */
    assert_true(e->out_len > 0);
    assert_int_equal(ike_msg_parse(e->out, e->out_len, &m), IKE_PARSE_OK);
    assert_int_equal(m.hdr.exchange, IKE_EXCH_INFORMATIONAL);
    assert_false(m.hdr.flags & IKE_FLAG_RESPONSE);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

static void test_unprotected_errors(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_msg m;
    const uint8_t *data;
    size_t len, answered = 0;

    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    ike_buf_fini(&b);
    /* an unknown payload (type 60) with the critical bit: its type comes back */
    init_variant(&c, 0x20, 60, true, &b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(init_notify(e, &data, &len), 1); /* UNSUPPORTED_CRITICAL_PAYLOAD */
    assert_int_equal(len, 1);
    assert_int_equal(data[0], 60);
    assert_int_equal(ike_msg_parse(e->out, e->out_len, &m), IKE_PARSE_OK);
    assert_int_equal(m.hdr.flags, IKE_FLAG_RESPONSE);
    assert_memory_equal(m.hdr.spi_i, c.st.spi_i, 8);
    /* without the critical bit the payload is skipped and the SA is made */
    init_variant(&c, 0x20, 60, false, &b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(init_notify(e, &data, &len), 0);
    /* major version 3: INVALID_MAJOR_VERSION in a version 2 header; 1.0 (IKEv1)
     * and a later minor version are not answered with it */
    init_variant(&c, 0x30, 0, false, &b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(init_notify(e, &data, &len), 5);
    assert_int_equal(ike_msg_parse(e->out, e->out_len, &m), IKE_PARSE_OK);
    assert_int_equal(m.hdr.version, 0x20);
    init_variant(&c, 0x10, 0, false, &b);
    assert_int_equal(ask(e, eng, &b), 0);
    assert_int_equal(counter(e, eng, "unprotected-errors/unsupported-critical-payload"), 1);
    assert_int_equal(counter(e, eng, "unprotected-errors/invalid-major-version"), 1);
    assert_int_equal(counter(e, eng, "unprotected-errors/rate-limited"), 0);
    /* a flood: at most the bucket (20, 2 of them used) is answered at once */
    for (int i = 0; i < 100; i++) {
        init_variant(&c, i % 2 ? 0x30 : 0x20, 61, true, &b);
        answered += ask(e, eng, &b) != 0;
    }
    assert_true(answered >= 18 && answered <= 30); /* a few tokens may come back while it runs */
    assert_int_equal(counter(e, eng, "unprotected-errors/rate-limited"), 100 - answered);
    assert_int_equal(counter(e, eng, "unprotected-errors/invalid-major-version"), 51);
    assert_int_equal(counter(e, eng, "unprotected-errors/unsupported-critical-payload"), 51);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* 0 when UDP 127.0.0.1:@port can be bound (and released at once), else -errno. */
static int udp_try(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
    close(fd);
    return rc;
}

static uint16_t free_udp_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void count_err(void *arg, const char *path, const char *msg)
{
    (void)path, (void)msg;
    (*(int *)arg)++;
}

/* A dry run checks that the listen addresses can be bound and keeps nothing; a
 * real prepare holds the new sockets (so apply cannot fail on them) until abort
 * releases them or apply serves them. */
static void test_dry_run_keeps_no_socket(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = ike_engine_new(e->base, e->ctx, e->dp);
    struct lyd_node *t = NULL;
    uint16_t p = free_udp_port(), q;
    char ps[8], qs[8];
    int errs = 0, blocker;
    struct sockaddr_in a = {.sin_family = AF_INET};

    do
        q = free_udp_port();
    while (q == p);
    snprintf(ps, sizeof(ps), "%u", p);
    snprintf(qs, sizeof(qs), "%u", q);
    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &t), 0);
    assert_int_equal(lyd_new_path(t, e->ctx, "/raven-vpn:ikev2/global/listen/address", "127.0.0.1", 0, NULL), 0);
    assert_int_equal(lyd_new_path(t, e->ctx, "/raven-vpn:ikev2/global/listen/port", ps, 0, NULL), 0);
    assert_int_equal(lyd_new_path(t, e->ctx, "/raven-vpn:ikev2/global/listen/nat-t-port", qs, 0, NULL), 0);

    assert_int_equal(ike_engine_prepare(eng, t, true, count_err, &errs), 0);
    assert_int_equal(udp_try(p), 0); /* nothing kept */
    assert_int_equal(udp_try(q), 0);
    ike_engine_abort(eng);

    assert_int_equal(ike_engine_prepare(eng, t, false, count_err, &errs), 0);
    assert_int_equal(udp_try(p), -EADDRINUSE); /* reserved for apply */
    assert_int_equal(udp_try(q), -EADDRINUSE);
    ike_engine_abort(eng);
    assert_int_equal(udp_try(p), 0);
    assert_int_equal(errs, 0);

    /* a port held by another program: the dry run refuses, naming it */
    blocker = socket(AF_INET, SOCK_DGRAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    a.sin_port = htons(p);
    assert_int_equal(bind(blocker, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(ike_engine_prepare(eng, t, true, count_err, &errs), -EADDRINUSE);
    assert_int_equal(errs, 1);
    close(blocker);

    /* applied: served, and a later dry run of the same keeps them */
    assert_int_equal(ike_engine_prepare(eng, t, false, count_err, &errs), 0);
    ike_engine_apply(eng);
    assert_int_equal(ike_engine_prepare(eng, t, true, count_err, &errs), 0);
    ike_engine_abort(eng);
    assert_int_equal(udp_try(p), -EADDRINUSE);
    ike_engine_free(eng);
    assert_int_equal(udp_try(p), 0);
    lyd_free_all(t);
}

/* 0 when UDP 127.0.0.1:@port can be bound with SO_REUSEADDR: only if whoever
 * holds it has the option too. */
static int udp_try_reuse(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, rc;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
    close(fd);
    return rc;
}

/* The check of test_dry_run_leaves_live_sockets, in a network namespace of
 * its own: 0, 77 (no VRF here: skipped) or the line that failed. */
static int dry_run_vrf_child(struct env *e)
{
    struct ike_engine *eng;
    struct lyd_node *t = NULL, *t2 = NULL;
    uint16_t p, q;
    char ps[8], qs[8];
    int errs = 0;

    if (unshare(CLONE_NEWNET) ||
        system("(ip link set lo up && ip link add rvt0 type vrf table 77 && ip link set rvt0 up) 2>/dev/null"))
        return 77;
    if (event_reinit(e->base))
        return __LINE__;
    eng = ike_engine_new(e->base, e->ctx, e->dp);
    p = free_udp_port();
    do
        q = free_udp_port();
    while (q == p);
    snprintf(ps, sizeof(ps), "%u", p);
    snprintf(qs, sizeof(qs), "%u", q);
    if (lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &t) ||
        lyd_new_path(t, e->ctx, "/raven-vpn:ikev2/global/listen/address", "127.0.0.1", 0, NULL) ||
        lyd_new_path(t, e->ctx, "/raven-vpn:ikev2/global/listen/port", ps, 0, NULL) ||
        lyd_new_path(t, e->ctx, "/raven-vpn:ikev2/global/listen/nat-t-port", qs, 0, NULL) ||
        lyd_dup_siblings(t, NULL, LYD_DUP_RECURSIVE, &t2) ||
        lyd_new_path(t2, e->ctx, "/raven-vpn:ikev2/profile[name='rw']/match/fvrf", "rvt0", 0, NULL))
        return __LINE__;
    if (ike_engine_prepare(eng, t, false, count_err, &errs))
        return __LINE__;
    ike_engine_apply(eng);
    if (udp_try_reuse(p) != -EADDRINUSE)
        return __LINE__;
    /* validate a change that adds a front-door VRF: it checks, and the live
     * socket is as it was (no other socket may share its port) */
    if (ike_engine_prepare(eng, t2, true, count_err, &errs) || errs)
        return __LINE__;
    ike_engine_abort(eng);
    if (udp_try_reuse(p) != -EADDRINUSE || udp_try_reuse(q) != -EADDRINUSE)
        return __LINE__;
    /* nor a real prepare of it that another part of the commit refused */
    if (ike_engine_prepare(eng, t2, false, count_err, &errs) || errs)
        return __LINE__;
    ike_engine_abort(eng);
    if (udp_try_reuse(p) != -EADDRINUSE)
        return __LINE__;
    /* applied, the port is shared */
    if (ike_engine_prepare(eng, t2, false, count_err, &errs) || errs)
        return __LINE__;
    ike_engine_apply(eng);
    if (udp_try_reuse(p))
        return __LINE__;
    ike_engine_free(eng);
    lyd_free_all(t);
    lyd_free_all(t2);
    return 0;
}

/* A dry run, or a prepare that is aborted, changes nothing of the live
 * sockets, not even their options: with a front-door VRF the default table's
 * socket shares its port (SO_REUSEADDR) only once that configuration is
 * applied. Run in a child with a network
 * namespace (and a VRF device) of its own. */
static void test_dry_run_leaves_live_sockets(void **state)
{
    struct env *e = *state;
    pid_t pid;
    int st = 0;

    if (geteuid()) {
        skip();
        return;
    }
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (!pid)
        _exit(dry_run_vrf_child(e));
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        skip();
        return;
    }
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A CREATE_CHILD_SA whose TSi is the IPv4 prefix @tsi/@tsi_len and TSr
 * @tsr/@tsr_len (host byte order), with the proposal the engine accepts. */
static void create_child_ts(struct ike_client *c, uint32_t spi, uint32_t tsi, unsigned tsi_len, uint32_t tsr,
                            unsigned tsr_len, struct ike_buf *out)
{
    uint8_t spi_buf[4] = {(uint8_t)(spi >> 24), (uint8_t)(spi >> 16), (uint8_t)(spi >> 8), (uint8_t)spi}, nonce[32];
    struct ike_sa_pld sa = {.nprop = 1};
    struct ike_ts_pld ti = {.nts = 1}, tr = {.nts = 1};
    struct ike_hdr h = {0};
    struct ike_builder ib;

    memset(nonce, 7, sizeof(nonce));
    ike_build_begin(&ib, &h);
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 3, .spi_len = 4, .spi = spi_buf, .ntrans = 2};
    sa.prop[0].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = IKE_AEAD_AES_GCM_16, .key_len = 128};
    sa.prop[0].trans[1] = (struct ike_transform){.type = IKE_TRANS_ESN, .id = 0};
    ike_sa_build(&ib, &sa);
    ike_build_raw(&ib, IKE_PLD_NONCE, false, nonce, sizeof(nonce));
    ike_ts_prefix4(tsi, tsi_len, &ti.ts[0]);
    ike_ts_prefix4(tsr, tsr_len, &tr.ts[0]);
    ike_ts_build(&ib, IKE_PLD_TSI, &ti);
    ike_ts_build(&ib, IKE_PLD_TSR, &tr);
    assert_true(ike_build_finish(&ib));
    assert_true(ike_client_request(c, IKE_EXCH_CREATE_CHILD_SA, IKE_PLD_SA, ib.buf.data + IKE_HDR_LEN,
                                   ib.buf.len - IKE_HDR_LEN, out));
    ike_buf_fini(&ib.buf);
}

/* route accept: a client subnet offered in a CREATE_CHILD_SA that is refused
 * (here its TSr is outside the split subnets) is not the client's: it neither
 * joins the session's selector bounds nor gets a route; offered again with a
 * child that is made, it does. */
static void test_route_accept_refused_child(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_sess *s;
    uint8_t fixed;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(
        lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/route/accept", NULL, 0, NULL), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/route/set/remote/ipv4",
                                  "192.0.2.0/24", 0, NULL),
                     0);
    eng = engine(e, tree);
    ike_client_init(&c, IKE_DH_ECP256);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    s = eng->by_id;
    assert_non_null(s);
    assert_true(s->route_accept);
    fixed = s->allow_i.nts;
    assert_int_equal(s->nroutes, 0);

    /* 10.77.0.0/24 to 198.51.100.0/24: TS_UNACCEPTABLE */
    create_child_ts(&c, 0x41000001, 0x0a4d0000, 24, 0xc6336400, 24, &b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 38);
    assert_int_equal(s->allow_i.nts, fixed);
    assert_int_equal(s->nroutes, 0);

    /* 10.77.0.0/24 to 192.0.2.0/24: made, and the subnet is the client's */
    create_child_ts(&c, 0x41000002, 0x0a4d0000, 24, 0xc0000200, 24, &b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    assert_int_equal(s->allow_i.nts, fixed + 1);
    assert_int_equal(s->nroutes, 1);
    ike_buf_fini(&b);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* The same in IKE_AUTH: a subnet offered beside the virtual address request is
 * accepted with the first child SA; with no child made (a flow limit of 0) it
 * is not, while the client's own address is still routed. */
static void test_route_accept_no_first_child(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_ts subnet;
    struct ike_sess *s;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(
        lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/route/accept", NULL, 0, NULL), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/route/redistribute[protocol='connected']",
                                  NULL, 0, NULL),
                     0);
    assert_int_equal(lyd_new_path(tree, NULL,
                                  "/raven-vpn:ikev2/authorization-policy[name='g']/ipsec-flow-limit", "0", 0, NULL),
                     0);
    eng = engine(e, tree);
    ike_ts_prefix4(0x0a4d0000, 24, &subnet);
    ike_client_init(&c, IKE_DH_ECP256);
    c.auth_tsi_extra = &subnet;
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    s = eng->by_id;
    assert_non_null(s);
    assert_int_equal(s->nchild, 0);
    assert_int_equal(s->allow_i.nts, s->route_nfixed); /* only the client's address */
    assert_int_equal(s->nroutes, 1);                    /* redistribute connected: its address */
    ike_buf_fini(&b);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

static void find_fvrf_limit(void *arg, const char *path, const char *msg)
{
    (void)path;
    if (strstr(msg, "at most 8 front-door VRFs"))
        *(bool *)arg = true;
}

/* IKE has sockets for 8 front-door VRFs: a configuration naming more is
 * refused with its own message (the VRF devices' absence is refused besides). */
static void test_too_many_fvrfs(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_conf *c;
    bool said = false;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    for (int i = 0; i < 9; i++) {
        char path[96], vrf[16];

        snprintf(path, sizeof(path), "/raven-vpn:ikev2/policy[name='v%d']/match/fvrf", i);
        snprintf(vrf, sizeof(vrf), "rvnone%d", i);
        assert_int_equal(lyd_new_path(tree, NULL, path, vrf, 0, NULL), 0);
    }
    c = ike_conf_build(e->ctx, tree, find_fvrf_limit, &said);
    assert_null(c);
    assert_true(said);
    lyd_free_all(tree);
}

/* An address inside a subnet another client routes (route accept) is refused
 * like one another session holds: here a commit adds a pool range inside
 * alice's accepted 10.77.0.0/24, and bob, given an address from it, is refused;
 * alice keeps her session. */
static void test_address_in_accepted_subnet(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL, *tree2 = NULL;
    struct ike_engine *eng;
    struct ike_client a, b2;
    struct ike_buf b = {0};
    struct ike_ts subnet;
    int errs = 0;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(
        lyd_new_path(tree, NULL, "/raven-vpn:ikev2/authorization-policy[name='g']/route/accept", NULL, 0, NULL), 0);
    eng = engine(e, tree);
    ike_ts_prefix4(0x0a4d0000, 24, &subnet);
    ike_client_init(&a, IKE_DH_ECP256);
    a.auth_tsi_extra = &subnet;
    establish(e, eng, &a, "alice.example.org", "k1", &b);
    assert_non_null(eng->by_id);
    assert_int_equal(eng->by_id->allow_i.nts, eng->by_id->route_nfixed + 1); /* 10.77.0.0/24 accepted */

    /* pool p: alice's 10.8.0.1, then 10.77.0.1-2 */
    assert_int_equal(lyd_dup_siblings(tree, NULL, LYD_DUP_RECURSIVE, &tree2), 0);
    assert_int_equal(lyd_new_path(tree2, NULL, "/raven-vpn:pools/ipv4-pool[name='p']/range[start='10.77.0.1']/end",
                                  "10.77.0.2", 0, NULL),
                     0);
    {
        struct lyd_node *end = NULL;

        assert_int_equal(lyd_find_path(tree2, "/raven-vpn:pools/ipv4-pool[name='p']/range[start='10.8.0.1']/end",
                                       0, &end),
                         0);
        assert_int_equal(lyd_change_term(end, "10.8.0.1"), 0);
    }
    assert_int_equal(ike_engine_prepare(eng, tree2, false, count_err, &errs), 0);
    ike_engine_apply(eng);

    ike_client_init(&b2, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&b2, &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_sa_init_done(&b2, e->out, e->out_len));
    assert_true(ike_client_auth(&b2, "bob.example.org", "k1", &b));
    assert_true(ask(e, eng, &b));
    assert_false(ike_client_auth_done(&b2, e->out, e->out_len));
    assert_int_equal(HASH_CNT(hh_id, eng->by_id), 1);
    ike_client_fini(&a);
    ike_client_fini(&b2);
    ike_engine_free(eng);
    lyd_free_all(tree);
    lyd_free_all(tree2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_attributes),
        cmocka_unit_test(test_sa_states),
        cmocka_unit_test(test_rekeys_do_not_grow_children),
        cmocka_unit_test(test_flow_limit),
        cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_nat_keepalive),
        cmocka_unit_test(test_cfg_set),
        cmocka_unit_test(test_retransmission),
        cmocka_unit_test(test_hard_lifetime_deletes_the_child),
        cmocka_unit_test(test_unprotected_errors),
        cmocka_unit_test(test_dry_run_keeps_no_socket),
        cmocka_unit_test(test_dry_run_leaves_live_sockets),
        cmocka_unit_test(test_route_accept_refused_child),
        cmocka_unit_test(test_route_accept_no_first_child),
        cmocka_unit_test(test_too_many_fvrfs),
        cmocka_unit_test(test_address_in_accepted_subnet),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
