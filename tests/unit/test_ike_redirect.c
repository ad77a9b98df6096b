/* Unit tests of IKEv2 redirect (RFC 5685): the REDIRECT / REDIRECTED_FROM
 * notify data both ways and its refusals; on the engine's test seam, driven
 * by the test initiator: REDIRECT at IKE_SA_INIT (static gateway, above-
 * sessions, at the SA limits, the init hook, REDIRECTED_FROM never sent on, a client without
 * support served), REDIRECT to established sessions (selectors, gateways,
 * the other hook, not-supported, the client's answer, the record's flag,
 * the session deleted when its client does not follow, the REDIRECT taken
 * over by a new process), and a client's
 * REDIRECT ignored. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "dataplane/dp.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/session/sess_arena.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

/* A notify of @type with @data as it arrives in a message. */
static struct ike_notify_pld nt(uint16_t type, const uint8_t *data, size_t len)
{
    return (struct ike_notify_pld){.type = type, .data = data, .len = len};
}

static void test_codec(void **state)
{
    uint8_t b[2 + IKE_GW_MAX + 64], nonce[32];
    struct ike_redirect_pld r;
    struct ike_notify_pld n;
    char text[300], name[300];
    size_t len;

    (void)state;
    memset(nonce, 0xa5, sizeof(nonce));
    len = ike_redirect_gw("192.0.2.7", b);
    assert_int_equal(len, 6);
    assert_int_equal(b[0], IKE_GW_IPV4);
    assert_int_equal(b[1], 4);
    n = nt(N_REDIRECT, b, len);
    assert_true(ike_redirect_parse(&n, false, &r));
    assert_null(r.nonce);
    ike_redirect_gw_text(&r, text, sizeof(text));
    assert_string_equal(text, "192.0.2.7");

    len = ike_redirect_gw("2001:db8::1", b);
    assert_int_equal(len, 18);
    assert_int_equal(b[0], IKE_GW_IPV6);
    memcpy(b + len, nonce, sizeof(nonce));
    n = nt(N_REDIRECT, b, len + sizeof(nonce));
    assert_true(ike_redirect_parse(&n, true, &r));
    assert_int_equal(r.nonce_len, 32);
    assert_memory_equal(r.nonce, nonce, 32);
    ike_redirect_gw_text(&r, text, sizeof(text));
    assert_string_equal(text, "2001:db8::1");
    /* a nonce where none may be (INFORMATIONAL, REDIRECTED_FROM) */
    assert_false(ike_redirect_parse(&n, false, &r));

    len = ike_redirect_gw("gw-b.example.net", b);
    assert_int_equal(len, 2 + 16);
    assert_int_equal(b[0], IKE_GW_FQDN);
    assert_memory_equal(b + 2, "gw-b.example.net", 16);
    n = nt(N_REDIRECT, b, len);
    assert_true(ike_redirect_parse(&n, true, &r));
    ike_redirect_gw_text(&r, text, sizeof(text));
    assert_string_equal(text, "gw-b.example.net");
    /* a nonce shorter than RFC 7296 allows */
    memcpy(b + len, nonce, 15);
    n = nt(N_REDIRECT, b, len + 15);
    assert_false(ike_redirect_parse(&n, true, &r));

    /* names a REDIRECT cannot carry */
    memset(name, 'a', 256);
    name[256] = 0;
    assert_int_equal(ike_redirect_gw(name, b), 0);
    name[255] = 0;
    assert_int_equal(ike_redirect_gw(name, b), 2 + 255);
    assert_int_equal(ike_redirect_gw("", b), 0);
    assert_int_equal(ike_redirect_gw("a b", b), 0);
    assert_int_equal(ike_redirect_gw(NULL, b), 0);

    /* malformed data: every length checked before it is read */
    {
        static const uint8_t v4_5[] = {1, 5, 192, 0, 2, 1, 9}, v6_4[] = {2, 4, 1, 2, 3, 4}, t4[] = {4, 1, 'a'},
                             fq0[] = {3, 0}, fq_sp[] = {3, 3, 'a', ' ', 'b'}, fq_nul[] = {3, 2, 'a', 0},
                             over[] = {3, 9, 'a', 'b'}, one[] = {1};

        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = v4_5, .len = 7}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = v6_4, .len = 6}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = t4, .len = 3}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = fq0, .len = 2}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = fq_sp, .len = 5}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = fq_nul, .len = 4}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = over, .len = 4}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .data = one, .len = 1}, true, &r));
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .len = 0}, true, &r));
        /* an SPI: Protocol ID and SPI Size are 0 in both notifies */
        len = ike_redirect_gw("192.0.2.7", b);
        assert_false(ike_redirect_parse(&(struct ike_notify_pld){.type = N_REDIRECT, .spi_len = 4, .spi = b,
                                                                 .data = b, .len = len}, true, &r));
    }
}

/* An engine with ikev2/global/redirect @gateway and @above (NULL: none). */
static struct ike_engine *redirect_engine(struct env *e, struct lyd_node **tree, const char *gateway,
                                          const char *above)
{
    struct lyd_node *n = NULL;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, tree), 0);
    if (gateway)
        assert_int_equal(lyd_new_path(*tree, NULL, "/raven-vpn:ikev2/global/redirect/gateway", gateway, 0, &n), 0);
    if (above)
        assert_int_equal(lyd_new_path(*tree, NULL, "/raven-vpn:ikev2/global/redirect/above-sessions", above, 0, &n),
                         0);
    return engine(e, *tree);
}

/* Client @c's IKE_SA_INIT, from @port: the REDIRECT it got (true) or a
 * normal answer (false, taken by the client). */
static bool sa_init(struct env *e, struct ike_engine *eng, struct ike_client *c, uint16_t port,
                    struct ike_redirect_pld *r, uint8_t gw_text[IKE_GW_MAX + 1])
{
    static struct ike_msg m;
    static uint8_t keep[4096];
    struct ike_notify_pld n;
    struct ike_buf b = {0};
    static const uint8_t zero[8];

    ((struct sockaddr_in *)&peer)->sin_port = htons(port);
    assert_true(ike_client_sa_init(c, &b));
    assert_true(ask(e, eng, &b));
    assert_true(e->out_len <= sizeof(keep));
    memcpy(keep, e->out, e->out_len);
    assert_int_equal(ike_msg_parse(keep, e->out_len, &m), IKE_PARSE_OK);
    if (!ike_notify_find(&m, N_REDIRECT, &n)) {
        assert_true(ike_client_sa_init_done(c, e->out, e->out_len));
        return false;
    }
    /* RFC 5685 4.3: HDR(SPIi, 0), N(REDIRECT) alone, Ni as Nonce Data */
    assert_int_equal(m.hdr.exchange, IKE_EXCH_SA_INIT);
    assert_true(m.hdr.flags & IKE_FLAG_RESPONSE);
    assert_memory_equal(m.hdr.spi_i, c->st.spi_i, 8);
    assert_memory_equal(m.hdr.spi_r, zero, 8);
    assert_int_equal(m.npld, 1);
    assert_true(ike_redirect_parse(&n, true, r));
    assert_int_equal(r->nonce_len, c->st.n->ni_len);
    assert_memory_equal(r->nonce, c->st.n->ni, c->st.n->ni_len);
    ike_redirect_gw_text(r, (char *)gw_text, IKE_GW_MAX + 1);
    return true;
}

static void test_at_init_static(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree;
    struct ike_engine *eng = redirect_engine(e, &tree, "192.0.2.77", NULL);
    struct ike_redirect_pld r;
    uint8_t gw[IKE_GW_MAX + 1], from[6];
    struct ike_client c;

    ike_client_init(&c, IKE_DH_ECP256);
    c.redirect_supported = true;
    assert_true(sa_init(e, eng, &c, 500, &r, gw));
    assert_int_equal(r.gw_type, IKE_GW_IPV4);
    assert_string_equal((char *)gw, "192.0.2.77");
    assert_int_equal(counter(e, eng, "redirect/at-init"), 1);
    /* nothing kept: no half-open SA, no crypto job */
    assert_int_equal(counter(e, eng, "sa/half-open"), 0);
    assert_null(eng->by_i);
    ike_client_fini(&c);

    /* a client that did not announce support is served */
    ike_client_init(&c, IKE_DH_ECP256);
    assert_false(sa_init(e, eng, &c, 501, &r, gw));
    assert_int_equal(counter(e, eng, "sa/half-open"), 1);
    ike_client_fini(&c);

    /* nor is one sent here by another gateway sent on: it is served, counted */
    ike_client_init(&c, IKE_DH_ECP256);
    c.redirect_supported = true;
    c.redirected_from = from;
    c.redirected_from_len = ike_redirect_gw("198.51.100.1", from);
    assert_false(sa_init(e, eng, &c, 502, &r, gw));
    assert_int_equal(counter(e, eng, "redirect/redirected-from"), 1);
    assert_int_equal(counter(e, eng, "redirect/at-init"), 1);
    ike_client_fini(&c);
    ike_engine_clear_counters(eng);
    assert_int_equal(counter(e, eng, "redirect/redirected-from"), 0);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* RFC 5685's main use: a gateway at max-sa (or max-in-negotiation-sa) still
 * redirects new clients, with above-sessions at or over max-sa too; only a
 * client it cannot redirect is dropped by the limit. */
static void test_at_init_over_limits(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree, *n = NULL;
    struct ike_engine *eng;
    struct ike_redirect_pld r;
    uint8_t gw[IKE_GW_MAX + 1];
    struct ike_client c, d, f;
    struct ike_buf b = {0};

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/limit/max-sa", "1", 0, &n), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/redirect/gateway", "192.0.2.88", 0, &n), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/redirect/above-sessions", "1", 0, &n), 0);
    eng = engine(e, tree);
    ike_client_init(&c, IKE_DH_ECP256);
    ((struct sockaddr_in *)&peer)->sin_port = htons(800);
    establish(e, eng, &c, "alice.example.org", "k1", &b); /* below above-sessions: served */
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    /* at max-sa, and at above-sessions: redirected, not dropped */
    ike_client_init(&d, IKE_DH_ECP256);
    d.redirect_supported = true;
    assert_true(sa_init(e, eng, &d, 801, &r, gw));
    assert_string_equal((char *)gw, "192.0.2.88");
    assert_int_equal(counter(e, eng, "redirect/at-init"), 1);
    assert_int_equal(counter(e, eng, "rejected-by-reason/sa-limit"), 0);
    /* a client without support meets the limit: dropped, no answer */
    ike_client_init(&f, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&f, &b));
    assert_int_equal(ask(e, eng, &b), 0);
    assert_int_equal(counter(e, eng, "rejected-by-reason/sa-limit"), 1);
    ike_client_fini(&f);
    ike_client_fini(&d);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);

    /* max-in-negotiation-sa reached by a half-open SA: the hook's gateway still */
    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/limit/max-in-negotiation-sa", "1", 0, &n),
                     0);
    assert_int_equal(lyd_new_path(tree, NULL, "/raven-vpn:ikev2/global/redirect/gateway", "gw.example.net", 0, &n),
                     0);
    eng = engine(e, tree);
    ike_client_init(&c, IKE_DH_ECP256);
    assert_false(sa_init(e, eng, &c, 810, &r, gw)); /* no support: served, half-open */
    assert_int_equal(counter(e, eng, "sa/half-open"), 1);
    ike_client_init(&d, IKE_DH_ECP256);
    d.redirect_supported = true;
    assert_true(sa_init(e, eng, &d, 811, &r, gw));
    assert_string_equal((char *)gw, "gw.example.net");
    assert_int_equal(counter(e, eng, "rejected-by-reason/in-negotiation-limit"), 0);
    ike_client_fini(&d);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

static struct sockaddr_storage hook_local;
static const char *hook_gw;
static int hook_calls;

static bool init_hook(void *arg, const struct sockaddr *l, const struct sockaddr *remote, char *gw, size_t len)
{
    (void)arg;
    (void)remote;
    hook_calls++;
    memcpy(&hook_local, l, sizeof(struct sockaddr_in));
    if (!hook_gw)
        return false;
    snprintf(gw, len, "%s", hook_gw);
    return true;
}

static bool other_hook(void *arg, char *gw, size_t len)
{
    (void)arg;
    if (!hook_gw)
        return false;
    snprintf(gw, len, "%s", hook_gw);
    return true;
}

/* above-sessions: the static gateway only from that many sessions on; below
 * it, and without a static gateway, the init hook decides. */
static void test_above_sessions_and_hook(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree;
    struct ike_engine *eng = redirect_engine(e, &tree, "gw.example.net", "1");
    struct ike_redirect_pld r;
    uint8_t gw[IKE_GW_MAX + 1];
    struct ike_client c, d;
    struct ike_buf b = {0};

    ike_engine_set_redirect_hooks(eng, init_hook, NULL, NULL);
    hook_gw = NULL;
    hook_calls = 0;
    ike_client_init(&c, IKE_DH_ECP256);
    c.redirect_supported = true;
    assert_false(sa_init(e, eng, &c, 500, &r, gw)); /* no session yet; the hook said no */
    assert_int_equal(hook_calls, 1);
    assert_int_equal(((struct sockaddr_in *)&hook_local)->sin_addr.s_addr,
                     ((struct sockaddr_in *)&local)->sin_addr.s_addr);
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    ike_client_init(&d, IKE_DH_ECP256);
    d.redirect_supported = true;
    assert_true(sa_init(e, eng, &d, 501, &r, gw)); /* one session: the static gateway */
    assert_int_equal(r.gw_type, IKE_GW_FQDN);
    assert_string_equal((char *)gw, "gw.example.net");
    assert_int_equal(hook_calls, 1);
    ike_client_fini(&d);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);

    /* no static gateway: the hook's */
    eng = redirect_engine(e, &tree, NULL, NULL);
    ike_engine_set_redirect_hooks(eng, init_hook, NULL, NULL);
    hook_gw = "2001:db8::5";
    ike_client_init(&c, IKE_DH_ECP256);
    c.redirect_supported = true;
    assert_true(sa_init(e, eng, &c, 500, &r, gw));
    assert_int_equal(r.gw_type, IKE_GW_IPV6);
    assert_string_equal((char *)gw, "2001:db8::5");
    ike_client_fini(&c);
    /* one it cannot carry: served here */
    hook_gw = "not a name";
    ike_client_init(&c, IKE_DH_ECP256);
    c.redirect_supported = true;
    assert_false(sa_init(e, eng, &c, 501, &r, gw));
    ike_client_fini(&c);
    assert_int_equal(counter(e, eng, "redirect/at-init"), 1);
    hook_gw = NULL;
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* Our REDIRECT to the client: its gateway, as the client opens it. */
static void opened_redirect(struct ike_client *c, const uint8_t *buf, size_t len, char *gw, uint32_t *msg_id)
{
    static struct ike_msg m, inner;
    static uint8_t plain[4096];
    struct ike_sk_keys k;
    struct ike_notify_pld n;
    struct ike_redirect_pld r;

    ike_init_sk_keys(&c->st, false, &k);
    assert_int_equal(ike_msg_parse(buf, len, &m), IKE_PARSE_OK);
    assert_int_equal(m.hdr.exchange, IKE_EXCH_INFORMATIONAL);
    assert_false(m.hdr.flags & IKE_FLAG_RESPONSE);
    assert_int_equal(ike_sk_open(&k, buf, len, &m, plain, &inner), IKE_SK_OK);
    assert_true(ike_notify_find(&inner, N_REDIRECT, &n));
    assert_true(ike_redirect_parse(&n, false, &r)); /* RFC 5685 6: no nonce */
    ike_redirect_gw_text(&r, gw, IKE_GW_MAX + 1);
    *msg_id = m.hdr.msg_id;
}

/* The client's empty answer to our request @msg_id. */
static void answer(struct env *e, struct ike_engine *eng, struct ike_client *c, uint32_t msg_id)
{
    struct ike_hdr h = {.version = 0x20, .exchange = IKE_EXCH_INFORMATIONAL,
                        .flags = IKE_FLAG_INITIATOR | IKE_FLAG_RESPONSE, .msg_id = msg_id};
    struct ike_sk_keys k;
    struct ike_builder bd;

    memcpy(h.spi_i, c->st.spi_i, 8);
    memcpy(h.spi_r, c->st.spi_r, 8);
    ike_init_sk_keys(&c->st, true, &k);
    ike_build_begin(&bd, &h);
    assert_true(ike_sk_seal(&k, &bd, IKE_PLD_NONE, NULL, 0));
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, bd.buf.data, bd.buf.len);
    ike_buf_fini(&bd.buf);
}

static struct ike_sess *by_port(struct ike_engine *eng, uint16_t port)
{
    struct ike_sess *s, *tmp;

    HASH_ITER(hh_id, eng->by_id, s, tmp) {
        if (ike_port_of(&s->peer) == port)
            return s;
    }
    return NULL;
}

static void test_established(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree;
    struct ike_engine *eng = redirect_engine(e, &tree, NULL, NULL);
    struct ike_client c[3];
    struct ike_buf b = {0};
    struct ike_redirect_sel sel = {0};
    uint32_t moved, unsupported, id;
    char gw[IKE_GW_MAX + 1];
    static const char *const ids[3] = {"alice.example.org", "bob.example.org", "carol.example.org"};

    /* three sessions, oldest first: alice (support), bob (none), carol (support) */
    for (int i = 0; i < 3; i++) {
        ike_client_init(&c[i], IKE_DH_ECP256);
        c[i].redirect_supported = i != 1;
        ((struct sockaddr_in *)&peer)->sin_port = htons((uint16_t)(600 + i));
        establish(e, eng, &c[i], ids[i], "k1", &b);
        by_port(eng, (uint16_t)(600 + i))->ss.established -= 10 - i;
    }
    assert_true(by_port(eng, 600)->redirect_ok);
    assert_false(by_port(eng, 601)->redirect_ok);

    /* no gateway and no other hook: nowhere to go, nothing sent */
    sel.all = true;
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), -ENOENT);
    sel.gateway = "bad gateway";
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), -EINVAL);
    assert_int_equal(counter(e, eng, "redirect/established"), 0);

    /* the oldest two: alice asked, bob counted */
    sel = (struct ike_redirect_sel){.count = 2, .gateway = "192.0.2.200"};
    ((struct sockaddr_in *)&peer)->sin_port = htons(600);
    e->out_len = 0;
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(unsupported, 1);
    opened_redirect(&c[0], e->out, e->out_len, gw, &id);
    assert_string_equal(gw, "192.0.2.200");
    assert_true(by_port(eng, 600)->redirect_sent);
    answer(e, eng, &c[0], id);
    assert_string_equal(by_port(eng, 600)->redirect_to, "192.0.2.200"); /* kept: the follow-up */
    assert_int_equal(counter(e, eng, "redirect/established"), 1);
    /* the session stays until its client deletes it */
    assert_int_equal(counter(e, eng, "sa/active"), 3);

    /* by user, without regard to case, through the other hook */
    ike_engine_set_redirect_hooks(eng, NULL, other_hook, NULL);
    hook_gw = "gw-c.example.net";
    sel = (struct ike_redirect_sel){.user = "CAROL.example.ORG"};
    ((struct sockaddr_in *)&peer)->sin_port = htons(602);
    e->out_len = 0;
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(unsupported, 0);
    opened_redirect(&c[2], e->out, e->out_len, gw, &id);
    assert_string_equal(gw, "gw-c.example.net");
    /* asked again while unanswered: not sent twice */
    e->out_len = 0;
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(e->out_len, 0);
    answer(e, eng, &c[2], id);
    /* the hook has nowhere left: an error, nothing sent */
    hook_gw = NULL;
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), -ENOENT);
    assert_int_equal(counter(e, eng, "redirect/established"), 3);

    /* the record keeps the flag (tag 142), written only when set, and the
     * gateway of our REDIRECT (tag 143) */
    for (uint16_t port = 600; port <= 601; port++) {
        struct ike_sess *s = by_port(eng, port), *d = calloc(1, sizeof(*d));
        struct ike_persist_extra x;
        uint8_t *rec;
        size_t len;

        assert_non_null(d);
        assert_true(ike_persist_encode(s, &rec, &len));
        assert_true(ike_persist_decode(rec, len, d, &x));
        assert_int_equal(d->redirect_ok, port == 600);
        if (port == 600)
            assert_string_equal(d->redirect_to, "192.0.2.200");
        else
            assert_null(d->redirect_to);
        ike_persist_extra_fini(&x);
        ike_persist_clear(d);
        free(d);
        OPENSSL_cleanse(rec, len);
        free(rec);
    }
    for (int i = 0; i < 3; i++)
        ike_client_fini(&c[i]);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* The client's answer to our request @msg_id with an error notify of @type. */
static void answer_error(struct env *e, struct ike_engine *eng, struct ike_client *c, uint32_t msg_id,
                         uint16_t type)
{
    struct ike_hdr h = {.version = 0x20, .exchange = IKE_EXCH_INFORMATIONAL,
                        .flags = IKE_FLAG_INITIATOR | IKE_FLAG_RESPONSE, .msg_id = msg_id};
    struct ike_builder nb, bd;
    struct ike_sk_keys k;

    ike_build_begin(&nb, &(struct ike_hdr){0});
    ike_notify_build(&nb, &(struct ike_notify_pld){.type = type});
    assert_true(ike_build_finish(&nb));
    memcpy(h.spi_i, c->st.spi_i, 8);
    memcpy(h.spi_r, c->st.spi_r, 8);
    ike_init_sk_keys(&c->st, true, &k);
    ike_build_begin(&bd, &h);
    assert_true(ike_sk_seal(&k, &bd, IKE_PLD_NOTIFY, nb.buf.data + IKE_HDR_LEN, nb.buf.len - IKE_HDR_LEN));
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, bd.buf.data, bd.buf.len);
    ike_buf_fini(&bd.buf);
    ike_buf_fini(&nb.buf);
}

/* What the follow-up saw: the session-down events' reasons, the DELETEs. */
struct downs {
    char reasons[4][32];
    int n;
};

static void on_event(struct lyd_node *notif, void *arg)
{
    struct downs *d = arg;
    struct lyd_node *r = NULL;

    if (!strcmp(LYD_NAME(notif), "session-down") && d->n < 4 &&
        !lyd_find_path(notif, "reason", 0, &r))
        snprintf(d->reasons[d->n++], sizeof(d->reasons[0]), "%s", lyd_get_value(r));
    lyd_free_all(notif);
}

/* Whether @buf is our INFORMATIONAL request with a DELETE of the IKE SA. */
static bool deletes_ike_sa(struct ike_client *c, const uint8_t *buf, size_t len)
{
    static struct ike_msg m, inner;
    static uint8_t plain[4096];
    const struct ike_pld *p;
    struct ike_delete_pld d;
    struct ike_sk_keys k;

    ike_init_sk_keys(&c->st, false, &k);
    if (ike_msg_parse(buf, len, &m) != IKE_PARSE_OK || m.hdr.exchange != IKE_EXCH_INFORMATIONAL ||
        ike_sk_open(&k, buf, len, &m, plain, &inner) != IKE_SK_OK)
        return false;
    p = ike_msg_find(&inner, IKE_PLD_DELETE, 0);
    return p && ike_delete_parse(p, &d) && d.protocol == 1;
}

/* RFC 5685 6 leaves it to the client to delete the old session: one that
 * answered our REDIRECT (plainly or with an error) and is still here after the
 * grace is deleted by the gateway (DELETE, reason redirected, counted
 * not-followed); one that deletes its session in time is not counted. */
static void test_not_followed(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree;
    struct ike_engine *eng = redirect_engine(e, &tree, NULL, NULL);
    struct ike_redirect_sel sel = {.gateway = "192.0.2.201"};
    struct ike_client c[3];
    struct ike_buf b = {0};
    struct ike_builder bd;
    struct downs d = {0};
    uint32_t moved, unsupported, id[3];
    char gw[IKE_GW_MAX + 1];
    static const char *const ids[3] = {"alice.example.org", "bob.example.org", "carol.example.org"};

    eng->redirect_grace_ms = 300;
    ike_engine_set_event(eng, on_event, &d);
    for (int i = 0; i < 3; i++) {
        ike_client_init(&c[i], IKE_DH_ECP256);
        c[i].redirect_supported = true;
        ((struct sockaddr_in *)&peer)->sin_port = htons((uint16_t)(900 + i));
        establish(e, eng, &c[i], ids[i], "k1", &b);
        sel.user = ids[i];
        e->out_len = 0;
        assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), 0);
        assert_int_equal(moved, 1);
        opened_redirect(&c[i], e->out, e->out_len, gw, &id[i]);
    }
    /* alice answers and stays; bob answers with an error; carol answers and
     * deletes her session in time */
    ((struct sockaddr_in *)&peer)->sin_port = htons(900);
    answer(e, eng, &c[0], id[0]);
    ((struct sockaddr_in *)&peer)->sin_port = htons(901);
    answer_error(e, eng, &c[1], id[1], 24 /* AUTHENTICATION_FAILED */);
    ((struct sockaddr_in *)&peer)->sin_port = htons(902);
    answer(e, eng, &c[2], id[2]);
    ike_build_begin(&bd, &(struct ike_hdr){0});
    ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 1});
    assert_true(ike_build_finish(&bd));
    assert_true(ike_client_request(&c[2], IKE_EXCH_INFORMATIONAL, IKE_PLD_DELETE, bd.buf.data + IKE_HDR_LEN,
                                   bd.buf.len - IKE_HDR_LEN, &b));
    ike_buf_fini(&bd.buf);
    ask(e, eng, &b);
    assert_int_equal(counter(e, eng, "sa/active"), 2);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.reasons[0], "peer-delete");
    /* within the grace nothing happens */
    event_base_loopexit(e->base, &(struct timeval){.tv_usec = 150000});
    event_base_dispatch(e->base);
    assert_int_equal(counter(e, eng, "sa/active"), 2);
    assert_int_equal(counter(e, eng, "redirect/not-followed"), 0);
    /* after it both are deleted: reason redirected, a DELETE to each */
    ((struct sockaddr_in *)&peer)->sin_port = htons(901);
    e->out_len = 0;
    event_base_loopexit(e->base, &(struct timeval){.tv_usec = 300000});
    event_base_dispatch(e->base);
    assert_int_equal(counter(e, eng, "sa/active"), 0);
    assert_int_equal(counter(e, eng, "redirect/not-followed"), 2);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.reasons[1], "redirected");
    assert_string_equal(d.reasons[2], "redirected");
    assert_true(deletes_ike_sa(&c[1], e->out, e->out_len) || deletes_ike_sa(&c[0], e->out, e->out_len));
    ike_engine_clear_counters(eng);
    assert_int_equal(counter(e, eng, "redirect/not-followed"), 0);
    for (int i = 0; i < 3; i++)
        ike_client_fini(&c[i]);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

static char arena_dir[64];

static int remove_arena(void **state)
{
    char path[96];

    (void)state;
    if (arena_dir[0]) {
        snprintf(path, sizeof(path), "%s/arena", arena_dir);
        unlink(path);
        rmdir(arena_dir);
    }
    return 0;
}

/* A REDIRECT answered (or queued) is in the session's record (tag 143): a new
 * process that takes the session over sends it again, and deletes the session
 * when its client still does not move. */
static void test_adopted(void **state)
{
    struct env *e = *state;
    char path[96], why[256], gw[IKE_GW_MAX + 1];
    struct sess_arena_opts o = {.path = path, .owner = "unit"};
    struct ike_redirect_sel sel = {.all = true, .gateway = "gw-d.example.net"};
    struct ike_adopt_result r;
    enum sess_arena_found found;
    struct sess_arena *a;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    uint32_t moved, unsupported, id;

    strcpy(arena_dir, "/dev/shm/raven-unit-XXXXXX");
    assert_non_null(mkdtemp(arena_dir));
    snprintf(path, sizeof(path), "%s/arena", arena_dir);
    assert_int_equal(sess_arena_open(&o, &a, &found, why, sizeof(why)), 0);
    eng = engine(e, e->tree);
    ike_engine_set_arena(eng, a);
    ike_client_init(&c, IKE_DH_ECP256);
    c.redirect_supported = true;
    ((struct sockaddr_in *)&peer)->sin_port = htons(950);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    e->out_len = 0;
    assert_int_equal(ike_engine_redirect(eng, &sel, &moved, &unsupported), 0);
    opened_redirect(&c, e->out, e->out_len, gw, &id);
    answer(e, eng, &c, id);
    event_base_loop(e->base, EVLOOP_NONBLOCK); /* the records written at the end of the turn */
    ike_engine_keep_sessions(eng);
    ike_engine_free(eng);
    sess_arena_close(a);
    dp_free(e->dp); /* a new process */
    e->dp = dp_new();

    assert_int_equal(sess_arena_open(&o, &a, &found, why, sizeof(why)), 0);
    assert_int_equal(found, SESS_ARENA_ADOPTED);
    eng = engine(e, e->tree);
    eng->redirect_grace_ms = 200;
    ike_engine_set_arena(eng, a);
    e->out_len = 0;
    ike_engine_adopt_begin(eng, &r);
    ike_engine_adopt(eng, false, &r);
    assert_int_equal(r.adopted, 1);
    opened_redirect(&c, e->out, e->out_len, gw, &id); /* asked again */
    assert_string_equal(gw, "gw-d.example.net");
    answer(e, eng, &c, id);
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    event_base_loopexit(e->base, &(struct timeval){.tv_usec = 400000});
    event_base_dispatch(e->base);
    assert_int_equal(counter(e, eng, "sa/active"), 0);
    assert_int_equal(counter(e, eng, "redirect/not-followed"), 1);
    event_base_loop(e->base, EVLOOP_NONBLOCK);
    assert_int_equal(sess_arena_rec_used(a), 0);
    ike_engine_free(eng);
    sess_arena_destroy(a);
    ike_client_fini(&c);
}

/* RFC 5685 6: a client may not redirect the gateway: answered, counted,
 * nothing else happens. */
static void test_client_redirect_ignored(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree;
    struct ike_engine *eng = redirect_engine(e, &tree, NULL, NULL);
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_builder bd;
    uint8_t gw[2 + IKE_GW_MAX];
    size_t gl = ike_redirect_gw("192.0.2.99", gw);

    ike_client_init(&c, IKE_DH_ECP256);
    ((struct sockaddr_in *)&peer)->sin_port = htons(700);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    ike_build_begin(&bd, &(struct ike_hdr){0});
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_REDIRECT, .data = gw, .len = gl});
    assert_true(ike_build_finish(&bd));
    assert_true(ike_client_request(&c, IKE_EXCH_INFORMATIONAL, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                                   bd.buf.len - IKE_HDR_LEN, &b));
    ike_buf_fini(&bd.buf);
    assert_true(ask(e, eng, &b));
    assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    assert_int_equal(counter(e, eng, "redirect/refused-from-client"), 1);
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    assert_false(eng->by_id->req_pending);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_at_init_static),
        cmocka_unit_test(test_at_init_over_limits),
        cmocka_unit_test(test_above_sessions_and_hook),
        cmocka_unit_test(test_established),
        cmocka_unit_test(test_not_followed),
        cmocka_unit_test_teardown(test_adopted, remove_arena),
        cmocka_unit_test(test_client_redirect_ignored),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
