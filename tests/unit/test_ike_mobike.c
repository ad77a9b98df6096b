/* Unit tests of MOBIKE (RFC 4555) and of NAT mapping changes (RFC 7296 2.23)
 * on the engine's test seam, driven by the test initiator: what a real client
 * does not send (NO_NATS_ALLOWED with a NAT in between, NAT detection of the
 * wrong size, a return routability check left unanswered) changes nothing;
 * an UPDATE_SA_ADDRESSES moves the IKE SA and its child SAs in the dataplane
 * and is answered with NAT detection and COOKIE2; with MOBIKE a request from
 * elsewhere is answered there and moves nothing; without it the session
 * follows IKE and the dataplane's reports of ESP from a new port; the moves
 * survive the session's record. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "dataplane/dp_int.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ike/ike_persist.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

/* What the engine sent, and where. */
struct sent {
    uint8_t d[8][4096];
    size_t len[8], n;
    struct sockaddr_storage to[8];
};

static void keep(const struct sockaddr_storage *to, const uint8_t *buf, size_t len, void *arg)
{
    struct sent *o = arg;

    if (o->n < 8 && len <= sizeof(o->d[0])) {
        memcpy(o->d[o->n], buf, len);
        o->to[o->n] = *to;
        o->len[o->n++] = len;
    }
}

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
    struct sockaddr_storage a = {0};
    struct sockaddr_in *s = (struct sockaddr_in *)&a;

    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    inet_pton(AF_INET, ip, &s->sin_addr);
    return a;
}

/* The notifies of a message of the engine, opened with the client's keys. */
struct notes {
    struct ike_notify_pld n[16];
    size_t count;
    struct ike_msg m, inner;
    uint8_t plain[4096];
};

static void open_notes(struct ike_client *c, const uint8_t *buf, size_t len, struct notes *o)
{
    struct ike_sk_keys k;

    memset(o, 0, sizeof(*o));
    ike_init_sk_keys(&c->st, false, &k);
    assert_int_equal(ike_msg_parse(buf, len, &o->m), IKE_PARSE_OK);
    assert_true(len <= sizeof(o->plain));
    assert_int_equal(ike_sk_open(&k, buf, len, &o->m, o->plain, &o->inner), IKE_SK_OK);
    for (size_t i = 0; i < o->inner.npld && o->count < 16; i++)
        if (o->inner.pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&o->inner.pld[i], &o->n[o->count]))
            o->count++;
}

static const struct ike_notify_pld *note(const struct notes *o, uint16_t type)
{
    for (size_t i = 0; i < o->count; i++)
        if (o->n[i].type == type)
            return &o->n[i];
    return NULL;
}

/* A chain of notifies (type, data, len) for a request. */
static void chain(struct ike_builder *bd, const struct ike_notify_pld *n, size_t count)
{
    struct ike_hdr h = {0};

    ike_build_begin(bd, &h);
    for (size_t i = 0; i < count; i++)
        ike_notify_build(bd, &n[i]);
    assert_true(ike_build_finish(bd));
}

/* Client @c's INFORMATIONAL with @n from @from (to the NAT-T port): the engine's
 * datagrams in @o. */
static void inform(struct ike_engine *eng, struct ike_client *c, const struct sockaddr_storage *from,
                   const struct ike_notify_pld *n, size_t count, struct sent *o)
{
    struct ike_builder bd;
    struct ike_buf b = {0};
    struct sockaddr_storage l = addr("192.0.2.1", 4500);

    chain(&bd, n, count);
    assert_true(ike_client_request(c, IKE_EXCH_INFORMATIONAL, count ? IKE_PLD_NOTIFY : IKE_PLD_NONE,
                                   bd.buf.data + IKE_HDR_LEN, bd.buf.len - IKE_HDR_LEN, &b));
    ike_buf_fini(&bd.buf);
    memset(o, 0, sizeof(*o));
    ike_engine_set_output(eng, keep, o);
    ike_engine_input(eng, &l, from, true, b.data, b.len);
    ike_buf_fini(&b);
}

/* A session through the NAT-T port: @mobike announced by the client. */
static struct ike_sess *session(struct env *e, struct ike_engine *eng, struct ike_client *c, bool mobike,
                                bool *announced)
{
    struct ike_buf b = {0};
    struct sockaddr_storage l = addr("192.0.2.1", 4500), p = addr("198.51.100.9", 4500);
    struct ike_sess *s;
    struct notes o;

    ike_client_init(c, IKE_DH_ECP256);
    c->mobike = mobike;
    assert_true(ike_client_sa_init(c, &b));
    assert_true(ask(e, eng, &b));
    assert_true(ike_client_sa_init_done(c, e->out, e->out_len));
    assert_true(ike_client_auth(c, "alice.example.org", "k1", &b));
    e->out_len = 0;
    ike_engine_input(eng, &l, &p, true, b.data, b.len);
    ike_buf_fini(&b);
    assert_true(ike_client_auth_done(c, e->out, e->out_len));
    open_notes(c, e->out, e->out_len, &o);
    *announced = note(&o, N_MOBIKE_SUPPORTED) != NULL;
    s = eng->by_id;
    assert_non_null(s);
    assert_true(ike_sa_up(s));
    assert_true(ike_sa_equal(&s->peer, &p));
    return s;
}

/* Every SA of the dataplane has @peer as its peer. */
static void dp_peer_is(struct env *e, const struct sockaddr_storage *want)
{
    struct dp_entry *x, *tmp;
    size_t n = 0;

    HASH_ITER(hh, e->dp->sas, x, tmp) {
        assert_true(ike_sa_equal(&x->rsa->conf.peer, want));
        n++;
    }
    assert_true(n >= 2);
}

/* Every SA of the dataplane (at least @atleast) has UDP encapsulation @on. */
static void dp_encap_is(struct env *e, bool on, size_t atleast)
{
    struct dp_entry *x, *tmp;
    size_t n = 0;

    HASH_ITER(hh, e->dp->sas, x, tmp) {
        assert_int_equal(x->rsa->conf.udp_encap, on);
        n++;
    }
    assert_true(n >= atleast);
}

static struct ike_engine *mobike_engine(struct env *e, struct lyd_node **tree, const char *leaf, const char *v)
{
    struct lyd_node *n = NULL;
    char path[128];

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, tree), 0);
    if (leaf) {
        snprintf(path, sizeof(path), "/raven-vpn:ikev2/profile[name='rw']/mobike/%s", leaf);
        assert_int_equal(lyd_new_path(*tree, NULL, path, v, 0, &n), 0);
    }
    return engine(e, *tree);
}

/* RFC 4555 3.5: UPDATE_SA_ADDRESSES from a new address moves the IKE SA and the
 * child SAs; the answer carries our NAT detection for the new addresses and
 * the COOKIE2 echoed; the additional addresses are kept. */
static void test_update_moves_the_session(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, NULL, NULL);
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500), to = addr("203.0.113.7", 4500),
                            l = addr("192.0.2.1", 4500);
    static const uint8_t cookie[12] = "cookie2-abcd", extra[4] = {198, 51, 100, 10};
    uint8_t src[20], dst[20];
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct sent o;
    struct notes r;
    uint8_t want[20];
    uint64_t id = s->ss.id;

    assert_true(announced && s->mob.on);
    /* neither a history, other addresses nor a move under way yet: no memory
     * for them */
    assert_null(s->mob.hist);
    assert_null(s->mob.add);
    assert_null(s->mob.mv);
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &to, src);
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &l, dst);
    inform(eng, &c, &to,
           (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES},
                                     {.type = N_MOB_NAT_DETECTION_SOURCE_IP, .data = src, .len = 20},
                                     {.type = N_MOB_NAT_DETECTION_DESTINATION_IP, .data = dst, .len = 20},
                                     {.type = N_MOB_COOKIE2, .data = cookie, .len = sizeof(cookie)},
                                     {.type = N_MOB_ADDITIONAL_IP4_ADDRESS, .data = extra, .len = 4}},
           5, &o);
    assert_int_equal(o.n, 1);
    assert_true(ike_sa_equal(&o.to[0], &to)); /* answered at the new address */
    open_notes(&c, o.d[0], o.len[0], &r);
    assert_non_null(note(&r, N_MOB_COOKIE2));
    assert_memory_equal(note(&r, N_MOB_COOKIE2)->data, cookie, sizeof(cookie));
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &l, want);
    assert_memory_equal(note(&r, N_MOB_NAT_DETECTION_SOURCE_IP)->data, want, 20);
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &to, want);
    assert_memory_equal(note(&r, N_MOB_NAT_DETECTION_DESTINATION_IP)->data, want, 20);
    /* moved, same session: history, additional address, the dataplane */
    HASH_FIND(hh_id, eng->by_id, &id, sizeof(id), s);
    assert_non_null(s);
    assert_non_null(s->mob.mv);
    assert_false(s->mob.upd_now);
    assert_true(ike_sa_equal(&s->peer, &to));
    assert_int_equal(s->mob.moves, 1);
    assert_int_equal(s->mob.nhist, 1);
    assert_true(ike_sa_equal(&s->mob.hist[0].peer, &old));
    assert_int_equal(s->mob.nadd, 1);
    assert_false(s->in.nat_peer); /* its NAT detection says no NAT now */
    dp_peer_is(e, &to);
    /* RFC 4555 3.5: no NAT found, UDP encapsulation off, though on the NAT-T port */
    assert_int_equal(s->mob.encap, IKE_ENCAP_OFF);
    dp_encap_is(e, false, 2);
    /* a child SA made after it has it the same way (ike_child_dp_conf) */
    {
        struct ike_buf b = {0};

        assert_true(ike_client_create_child(&c, 0, 0x30000000, &b));
        memset(&o, 0, sizeof(o));
        ike_engine_set_output(eng, keep, &o);
        ike_engine_input(eng, &l, &to, true, b.data, b.len);
        ike_buf_fini(&b);
        assert_int_equal(o.n, 1);
        dp_encap_is(e, false, 4);
    }
    /* the record keeps it */
    {
        uint8_t *rec;
        size_t len;
        struct ike_sess *d = calloc(1, sizeof(*d));
        struct ike_persist_extra x;

        assert_true(ike_persist_encode(s, &rec, &len));
        assert_true(ike_persist_decode(rec, len, d, &x));
        assert_true(d->mob.on);
        assert_int_equal(d->mob.moves, 1);
        assert_int_equal(d->mob.nhist, 1);
        assert_true(ike_sa_equal(&d->mob.hist[0].peer, &old));
        assert_int_equal(d->mob.hist[0].at, s->mob.hist[0].at);
        assert_int_equal(d->mob.nadd, 1);
        assert_true(ike_sa_equal(&d->mob.add[0], &s->mob.add[0]));
        assert_int_equal(d->mob.encap, IKE_ENCAP_OFF);
        ike_persist_extra_fini(&x);
        ike_persist_clear(d);
        free(d);
        OPENSSL_cleanse(rec, len);
        free(rec);
    }
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* RFC 4555 3.5, 3.9: NO_NATS_ALLOWED and a NAT in between (its NAT detection
 * does not match the addresses that arrived), or NAT detection of the wrong
 * size: refused, nothing moves. An UPDATE_SA_ADDRESSES in a session without
 * MOBIKE moves nothing either. */
static void test_bad_updates_change_nothing(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, NULL, NULL);
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500), to = addr("203.0.113.7", 4500),
                            l = addr("192.0.2.1", 4500), claimed = addr("10.0.0.5", 4500);
    /* as sent: from 10.0.0.5:4500 to 192.0.2.1:4500 */
    static const uint8_t no_nats[12] = {10, 0, 0, 5, 192, 0, 2, 1, 0x11, 0x94, 0x11, 0x94};
    uint8_t src[20], dst[20];
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct sent o;
    struct notes r;

    ike_nat_hash(c.st.spi_i, c.st.spi_r, &claimed, src); /* what it sent from: a NAT changed it */
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &l, dst);
    inform(eng, &c, &to,
           (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES},
                                     {.type = N_MOB_NO_NATS_ALLOWED, .data = no_nats, .len = sizeof(no_nats)},
                                     {.type = N_MOB_NAT_DETECTION_SOURCE_IP, .data = src, .len = 20},
                                     {.type = N_MOB_NAT_DETECTION_DESTINATION_IP, .data = dst, .len = 20}},
           4, &o);
    assert_int_equal(o.n, 1);
    open_notes(&c, o.d[0], o.len[0], &r);
    assert_non_null(note(&r, N_MOB_UNEXPECTED_NAT_DETECTED));
    assert_true(ike_sa_equal(&s->peer, &old));
    assert_int_equal(s->mob.moves, 0);
    dp_peer_is(e, &old);
    /* NAT detection of the wrong size */
    inform(eng, &c, &to,
           (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES},
                                     {.type = N_MOB_NAT_DETECTION_SOURCE_IP, .data = src, .len = 19}},
           2, &o);
    assert_int_equal(o.n, 1);
    open_notes(&c, o.d[0], o.len[0], &r);
    assert_non_null(note(&r, 7)); /* INVALID_SYNTAX */
    assert_true(ike_sa_equal(&s->peer, &old));
    dp_peer_is(e, &old);
    /* a liveness check from elsewhere: answered there, nothing moves (3.5) */
    inform(eng, &c, &to, NULL, 0, &o);
    assert_int_equal(o.n, 1);
    assert_true(ike_sa_equal(&o.to[0], &to));
    assert_true(ike_sa_equal(&s->peer, &old));
    assert_int_equal(s->mob.moves, 0);
    dp_peer_is(e, &old);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* ESP from @ip4:@port, as a worker reports it (dp_fwd.c float_check) */
static void report_float(struct dp_rsa *r, uint32_t ip4, uint16_t port)
{
    uint32_t a = htonl(ip4);

    pthread_spin_lock(&r->replay_lock);
    memset(r->float_addr, 0, sizeof(r->float_addr));
    memcpy(r->float_addr, &a, 4);
    r->float_port = htons(port);
    r->float_family = AF_INET;
    atomic_store(&r->floated, 1);
    pthread_spin_unlock(&r->replay_lock);
}

/* mobike/enabled false: not announced; the session follows a NAT mapping change
 * of IKE, and the dataplane's report of ESP from a new port (RFC 7296 2.23),
 * but not an UPDATE_SA_ADDRESSES' addresses. */
static void test_without_mobike_nat_changes_are_followed(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, "enabled", "false");
    struct ike_client c;
    struct sockaddr_storage p2 = addr("198.51.100.9", 31000), p3 = addr("198.51.100.9", 32000);
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct dp_entry *x, *tmp;
    struct sent o;

    assert_false(announced);
    assert_false(s->mob.on);
    inform(eng, &c, &p2, NULL, 0, &o); /* a NAT mapping change seen on IKE */
    assert_true(ike_sa_equal(&s->peer, &p2));
    assert_int_equal(s->mob.moves, 1);
    dp_peer_is(e, &p2);
    /* ESP from another port, as a worker reports it (dp_fwd.c float_check) */
    HASH_ITER(hh, e->dp->sas, x, tmp) {
        if (x->rsa->conf.inbound)
            report_float(x->rsa, 0xc6336409, 32000);
    }
    ike_mobike_dp_poll(eng);
    assert_true(ike_sa_equal(&s->peer, &p3));
    assert_int_equal(s->mob.moves, 2);
    dp_peer_is(e, &p3);
    dp_encap_is(e, true, 2); /* without MOBIKE: the NAT-T port's rule (RFC 7296 2.23) */
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* With MOBIKE the dataplane's report moves nothing (RFC 4555 3.5). */
static void test_with_mobike_esp_from_elsewhere_moves_nothing(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, NULL, NULL);
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500);
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct dp_entry *x, *tmp;

    HASH_ITER(hh, e->dp->sas, x, tmp) {
        if (x->rsa->conf.inbound)
            report_float(x->rsa, 0xc6336409, 32000);
    }
    ike_mobike_dp_poll(eng);
    assert_true(ike_sa_equal(&s->peer, &old));
    assert_int_equal(s->mob.moves, 0);
    dp_peer_is(e, &old);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* Our response to the engine's request @req (the client echoes COOKIE2 if asked). */
static void answer(struct ike_engine *eng, struct ike_client *c, const uint8_t *req, size_t len,
                   const struct sockaddr_storage *from)
{
    struct notes q;
    struct ike_hdr h = {.version = 0x20, .exchange = IKE_EXCH_INFORMATIONAL,
                        .flags = IKE_FLAG_INITIATOR | IKE_FLAG_RESPONSE};
    struct ike_sk_keys k;
    struct ike_builder bd, body;
    struct sockaddr_storage l = addr("192.0.2.1", 4500);
    const struct ike_notify_pld *c2;

    open_notes(c, req, len, &q);
    c2 = note(&q, N_MOB_COOKIE2);
    chain(&body, c2, c2 ? 1 : 0);
    h.msg_id = q.m.hdr.msg_id;
    memcpy(h.spi_i, c->st.spi_i, 8);
    memcpy(h.spi_r, c->st.spi_r, 8);
    ike_init_sk_keys(&c->st, true, &k);
    ike_build_begin(&bd, &h);
    assert_true(ike_sk_seal(&k, &bd, c2 ? IKE_PLD_NOTIFY : IKE_PLD_NONE, body.buf.data + IKE_HDR_LEN,
                            body.buf.len - IKE_HDR_LEN));
    ike_engine_input(eng, &l, from, true, bd.buf.data, bd.buf.len);
    ike_buf_fini(&bd.buf);
    ike_buf_fini(&body.buf);
}

/* RFC 4555 3.6: with the profile's check, nothing moves until the client answers
 * our COOKIE2 at the new address; unanswered, nothing moves and the request
 * goes on to the address in use. */
static void test_return_routability(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, "return-routability-check", "true");
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500), to = addr("203.0.113.7", 4500),
                            to2 = addr("203.0.113.8", 4500);
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct sent o;

    assert_true(s->mob.rr);
    inform(eng, &c, &to, (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES}}, 1, &o);
    assert_int_equal(o.n, 2); /* the answer, then our check, both to the new address */
    assert_true(ike_sa_equal(&o.to[0], &to) && ike_sa_equal(&o.to[1], &to));
    assert_true(ike_sa_equal(&s->peer, &old));
    dp_peer_is(e, &old);
    answer(eng, &c, o.d[1], o.len[1], &to);
    assert_true(ike_sa_equal(&s->peer, &to));
    assert_int_equal(s->mob.moves, 1);
    dp_peer_is(e, &to);
    /* a check that goes unanswered */
    s->dpd_retry = 1;
    inform(eng, &c, &to2, (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES}}, 1, &o);
    assert_int_equal(o.n, 2);
    assert_true(ike_sa_equal(&o.to[1], &to2));
    event_base_loopexit(e->base, &(struct timeval){.tv_sec = 6, .tv_usec = 500000});
    event_base_dispatch(e->base);
    assert_true(o.n >= 7); /* the check and its 5 retransmissions, then the same to the address in use */
    assert_true(ike_sa_equal(&o.to[o.n - 1], &to));
    assert_int_equal(s->req_kind, REQ_DPD);
    assert_true(ike_sa_equal(&s->peer, &to));
    assert_int_equal(s->mob.moves, 1);
    dp_peer_is(e, &to);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* The client answers the engine's IKE SA rekey @req (RFC 7296 1.3.2) as it came
 * in @o, with its proposal (a new SPI of ours), a nonce and a KE; the answer
 * comes from @from. The client keeps talking on the old IKE SA (c->st): only
 * the engine's side of the new one is looked at. */
static void rekey_answer(struct ike_engine *eng, struct ike_client *c, const uint8_t *req, size_t len,
                         const struct sockaddr_storage *from)
{
    static const uint8_t spi[8] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};
    struct ike_hdr h = {.version = 0x20, .exchange = IKE_EXCH_CREATE_CHILD_SA,
                        .flags = IKE_FLAG_INITIATOR | IKE_FLAG_RESPONSE};
    struct sockaddr_storage l = addr("192.0.2.1", 4500);
    struct ike_sa_pld *sa = calloc(1, sizeof(*sa));
    struct ike_builder bd, body;
    struct ike_hdr bh = {0};
    struct ike_sk_keys k;
    struct ike_ke_pld ke;
    struct ike_dh *dh;
    struct notes q;
    uint8_t nr[32], pub[512];
    size_t pub_len;

    open_notes(c, req, len, &q);
    assert_int_equal(q.m.hdr.exchange, IKE_EXCH_CREATE_CHILD_SA);
    assert_non_null(sa);
    assert_true(ike_sa_parse(ike_msg_find(&q.inner, IKE_PLD_SA, 0), sa));
    assert_true(ike_ke_parse(ike_msg_find(&q.inner, IKE_PLD_KE, 0), &ke));
    sa->nprop = 1;
    sa->prop[0].spi = spi;
    assert_non_null(dh = ike_dh_new((enum ike_dh_group)ke.group));
    assert_true((pub_len = ike_dh_public(dh, pub, sizeof(pub))) > 0);
    memset(nr, 0x5a, sizeof(nr));
    ike_build_begin(&body, &bh);
    ike_sa_build(&body, sa);
    ike_build_raw(&body, IKE_PLD_NONCE, false, nr, sizeof(nr));
    ike_ke_build(&body, &(struct ike_ke_pld){.group = ke.group, .data = pub, .len = pub_len});
    assert_true(ike_build_finish(&body));
    h.msg_id = q.m.hdr.msg_id;
    memcpy(h.spi_i, c->st.spi_i, 8);
    memcpy(h.spi_r, c->st.spi_r, 8);
    ike_init_sk_keys(&c->st, true, &k);
    ike_build_begin(&bd, &h);
    assert_true(ike_sk_seal(&k, &bd, IKE_PLD_SA, body.buf.data + IKE_HDR_LEN, body.buf.len - IKE_HDR_LEN));
    ike_engine_input(eng, &l, from, true, bd.buf.data, bd.buf.len);
    ike_buf_fini(&bd.buf);
    ike_buf_fini(&body.buf);
    ike_dh_free(dh);
    free(sa);
}

/* Our IKE SA rekey of @s, answered by the client at @from: @s is on its new
 * IKE SA, the old one a stub (returned) in the engine's table. */
static struct ike_sess *rekeyed(struct ike_engine *eng, struct ike_client *c, struct ike_sess *s,
                                const struct sockaddr_storage *from, struct sent *o)
{
    uint8_t old_spi[8];
    struct ike_sess *stub;

    memcpy(old_spi, s->our_spi, 8);
    memset(o, 0, sizeof(*o));
    ike_engine_set_output(eng, keep, o);
    assert_true(ike_ike_rekey_start(s));
    assert_int_equal(o->n, 1);
    rekey_answer(eng, c, o->d[0], o->len[0], from);
    assert_int_equal(s->state, IKE_SA_ESTABLISHED);
    assert_memory_not_equal(s->our_spi, old_spi, 8);
    HASH_FIND(hh_r, eng->by_r, old_spi, 8, stub);
    assert_non_null(stub);
    assert_int_equal(stub->state, IKE_SA_REKEYED);
    return stub;
}

/* The old IKE SA of a rekeyed session (its stub, the same session ID) answers
 * an UPDATE_SA_ADDRESSES (NAT detection, COOKIE2) but moves nothing: the live
 * session's SAs stay where its IKE SA is (RFC 7296 2.18: only the new IKE SA
 * is in use). Nor does a request from elsewhere on it without MOBIKE. */
static void test_old_ike_sa_moves_nothing(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL, *tree2 = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, "return-routability-check", "true");
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500), to = addr("203.0.113.7", 4500),
                            l = addr("192.0.2.1", 4500);
    static const uint8_t cookie[8] = "cookie-2";
    uint8_t src[20], dst[20];
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced), *stub;
    struct sent o;
    struct notes r;

    stub = rekeyed(eng, &c, s, &old, &o);
    assert_true(stub->mob.on && stub->mob.rr); /* the profile's check too */
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &to, src);
    ike_nat_hash(c.st.spi_i, c.st.spi_r, &l, dst);
    stub->mob.rr = false; /* even where it would move at once */
    inform(eng, &c, &to,
           (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES},
                                     {.type = N_MOB_NAT_DETECTION_SOURCE_IP, .data = src, .len = 20},
                                     {.type = N_MOB_NAT_DETECTION_DESTINATION_IP, .data = dst, .len = 20},
                                     {.type = N_MOB_COOKIE2, .data = cookie, .len = sizeof(cookie)}},
           4, &o);
    assert_int_equal(o.n, 1);
    assert_true(ike_sa_equal(&o.to[0], &to)); /* answered where it came from */
    open_notes(&c, o.d[0], o.len[0], &r);
    assert_memory_equal(note(&r, N_MOB_COOKIE2)->data, cookie, sizeof(cookie));
    assert_non_null(note(&r, N_MOB_NAT_DETECTION_SOURCE_IP));
    assert_true(ike_sa_equal(&s->peer, &old));
    assert_true(ike_sa_equal(&stub->peer, &old));
    assert_int_equal(s->mob.moves, 0);
    dp_peer_is(e, &old);
    dp_encap_is(e, true, 2);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
    /* without MOBIKE: a request from a new port on the old IKE SA */
    eng = mobike_engine(e, &tree2, "enabled", "false");
    s = session(e, eng, &c, true, &announced);
    stub = rekeyed(eng, &c, s, &old, &o);
    inform(eng, &c, &to, NULL, 0, &o);
    assert_int_equal(o.n, 1);
    assert_true(ike_sa_equal(&o.to[0], &to));
    assert_true(ike_sa_equal(&s->peer, &old));
    assert_true(ike_sa_equal(&stub->peer, &old));
    dp_peer_is(e, &old);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree2);
}

/* A return routability check queued behind our IKE SA rekey is sent on the new
 * IKE SA once the rekey is done (the client had its update answered and will
 * not send it again). */
static void test_check_survives_ike_rekey(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, "return-routability-check", "true");
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500), to = addr("203.0.113.7", 4500);
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct sent o, rk;
    struct ike_msg m;
    size_t i;

    memset(&rk, 0, sizeof(rk));
    ike_engine_set_output(eng, keep, &rk);
    assert_true(ike_ike_rekey_start(s));
    inform(eng, &c, &to, (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES}}, 1, &o);
    assert_int_equal(o.n, 1); /* the answer; the check waits for our rekey */
    assert_int_equal(s->mob.rr_state, IKE_RR_QUEUED);
    memset(&o, 0, sizeof(o));
    ike_engine_set_output(eng, keep, &o);
    rekey_answer(eng, &c, rk.d[0], rk.len[0], &old);
    assert_int_equal(s->state, IKE_SA_ESTABLISHED);
    assert_int_equal(s->mob.rr_state, IKE_RR_SENT);
    assert_int_equal(s->req_kind, REQ_MOBIKE_RR);
    for (i = 0; i < o.n && !ike_sa_equal(&o.to[i], &to); i++)
        ;
    assert_true(i < o.n); /* the check, to the new address, on the new IKE SA */
    assert_int_equal(ike_msg_parse(o.d[i], o.len[i], &m), IKE_PARSE_OK);
    assert_int_equal(m.hdr.exchange, IKE_EXCH_INFORMATIONAL);
    assert_memory_equal(m.hdr.spi_i, s->in.spi_i, 8);
    assert_memory_equal(m.hdr.spi_r, s->in.spi_r, 8);
    assert_true(ike_sa_equal(&s->peer, &old));
    dp_peer_is(e, &old);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* RFC 4555 3.6: a second update while our check of the first is under way
 * waits for it; the first check's retransmissions still go to its own address,
 * and when it goes unanswered the second is checked (once the request, now a
 * liveness check, is answered) and moves the session. */
static void test_failed_check_keeps_newer_update(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, "return-routability-check", "true");
    struct ike_client c;
    struct sockaddr_storage old = addr("198.51.100.9", 4500), to1 = addr("203.0.113.7", 4500),
                            to2 = addr("203.0.113.8", 4500);
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct sent o, o2;

    s->dpd_retry = 1;
    inform(eng, &c, &to1, (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES}}, 1, &o);
    assert_int_equal(o.n, 2);
    assert_true(ike_sa_equal(&o.to[1], &to1));
    inform(eng, &c, &to2, (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES}}, 1, &o);
    assert_int_equal(o.n, 1); /* the answer; its check waits */
    assert_int_equal(s->mob.rr_state, IKE_RR_QUEUED);
    /* the retransmissions (1 s apart), until the check is given up */
    for (int i = 0; i < 100 && s->req_kind == REQ_MOBIKE_RR; i++)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_true(o.n >= 3);
    for (size_t i = 1; i + 1 < o.n; i++)
        assert_true(ike_sa_equal(&o.to[i], &to1)); /* the first check's retransmissions */
    assert_true(ike_sa_equal(&o.to[o.n - 1], &old)); /* then the liveness check */
    assert_int_equal(s->req_kind, REQ_DPD);
    assert_int_equal(s->mob.rr_state, IKE_RR_QUEUED); /* the newer update still waits */
    memset(&o2, 0, sizeof(o2));
    ike_engine_set_output(eng, keep, &o2);
    answer(eng, &c, o.d[o.n - 1], o.len[o.n - 1], &old);
    assert_int_equal(o2.n, 1); /* now the second check */
    assert_true(ike_sa_equal(&o2.to[0], &to2));
    assert_int_equal(s->mob.rr_state, IKE_RR_SENT);
    answer(eng, &c, o2.d[0], o2.len[0], &to2);
    assert_true(ike_sa_equal(&s->peer, &to2));
    assert_int_equal(s->mob.moves, 1);
    dp_peer_is(e, &to2);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* A check pending in the record has no socket: taken over, one whose update
 * came to another local address or port than the session's is abandoned (its
 * request goes on as a liveness check to the address in use); one to the
 * session's own address and port is kept. */
static void test_adopted_check_on_another_socket(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = mobike_engine(e, &tree, "return-routability-check", "true");
    struct ike_client c;
    struct sockaddr_storage to = addr("203.0.113.7", 4500), l500 = addr("192.0.2.1", 500);
    bool announced;
    struct ike_sess *s = session(e, eng, &c, true, &announced);
    struct sent o;

    inform(eng, &c, &to, (struct ike_notify_pld[]){{.type = N_MOB_UPDATE_SA_ADDRESSES}}, 1, &o);
    assert_int_equal(s->mob.rr_state, IKE_RR_SENT);
    for (int k = 0; k < 2; k++) {
        struct ike_sess *d = calloc(1, sizeof(*d));
        struct ike_persist_extra x;
        uint8_t *rec;
        size_t len;

        if (k == 1)
            s->mob.mv->rr_to.local = l500; /* as if the update had come to port 500 */
        assert_true(ike_persist_encode(s, &rec, &len));
        assert_true(ike_persist_decode(rec, len, d, &x));
        assert_int_equal(d->mob.rr_state, IKE_RR_SENT);
        assert_null(d->mob.mv->rr_to.sock);
        assert_true(ike_sa_equal(&d->mob.mv->rr_at.peer, &to));
        d->e = eng; /* as adoption has it */
        ike_mobike_adopted(d);
        assert_int_equal(d->mob.rr_state, k ? IKE_RR_NONE : IKE_RR_SENT);
        assert_int_equal(d->req_kind, k ? REQ_DPD : REQ_MOBIKE_RR);
        ike_persist_extra_fini(&x);
        ike_persist_clear(d);
        free(d);
        OPENSSL_cleanse(rec, len);
        free(rec);
    }
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_moves_the_session),
        cmocka_unit_test(test_bad_updates_change_nothing),
        cmocka_unit_test(test_without_mobike_nat_changes_are_followed),
        cmocka_unit_test(test_with_mobike_esp_from_elsewhere_moves_nothing),
        cmocka_unit_test(test_return_routability),
        cmocka_unit_test(test_old_ike_sa_moves_nothing),
        cmocka_unit_test(test_check_survives_ike_rekey),
        cmocka_unit_test(test_failed_check_keeps_newer_update),
        cmocka_unit_test(test_adopted_check_on_another_socket),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
