/* Unit tests of the cookie answer that needs no full parse (ike_cookie_fast,
 * RFC 7296 2.6): while cookies are demanded, an IKE_SA_INIT without a good
 * cookie is answered with exactly the bytes the full path gives; a cookie of
 * the previous secret is accepted, an older one refused; malformed requests,
 * retransmissions and requests with a good cookie are left to the full path,
 * which drops or answers them as before; counted; the COOKIEs of a batch of
 * received datagrams go out together. The engine runs in-process
 * on its test seam (ike_harness.h), driven by the test initiator. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libyang/libyang.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

enum { WITH_NONCE = 1, TRUNCATE = 2, TRAILING = 4, CRITICAL = 8, RESPONSE = 16, SHORT_NONCE = 32 };

/* The client's IKE_SA_INIT, rebuilt: @cookie (NULL: none) in front, the Nonce
 * kept or not, and made malformed as @how says. */
static struct ike_buf request(const struct ike_client *c, const uint8_t *cookie, size_t cookie_len, int how)
{
    struct ike_msg m;
    struct ike_builder bd;

    assert_int_equal(ike_msg_parse(c->msg1, c->msg1_len, &m), IKE_PARSE_OK);
    if (how & RESPONSE)
        m.hdr.flags |= IKE_FLAG_RESPONSE;
    ike_build_begin(&bd, &m.hdr);
    if (cookie)
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_COOKIE, .data = cookie, .len = cookie_len});
    for (size_t i = 0; i < m.npld; i++) {
        if (m.pld[i].type == IKE_PLD_NONCE && !(how & WITH_NONCE))
            continue;
        ike_build_raw(&bd, m.pld[i].type, m.pld[i].critical, m.pld[i].body,
                      m.pld[i].type == IKE_PLD_NONCE && (how & SHORT_NONCE) ? 8 : m.pld[i].len);
    }
    if (how & CRITICAL)
        ike_build_raw(&bd, 200, true, (const uint8_t *)"x", 1);
    assert_true(ike_build_finish(&bd));
    if (how & TRUNCATE)
        bd.buf.len--;
    if (how & TRAILING)
        ike_buf_u8(&bd.buf, 0);
    return bd.buf;
}

/* The notify type of the engine's unencrypted answer (0: none), its data. */
static uint16_t answer(struct env *e, uint8_t data[36])
{
    struct ike_msg m;
    struct ike_notify_pld n;

    assert_int_equal(ike_msg_parse(e->out, e->out_len, &m), IKE_PARSE_OK);
    if (!m.npld || m.pld[0].type != IKE_PLD_NOTIFY || !ike_notify_parse(&m.pld[0], &n))
        return 0;
    if (n.type == N_COOKIE) {
        assert_int_equal(n.len, 36);
        memcpy(data, n.data, 36);
    }
    return n.type;
}

static struct ike_engine *cookie_engine(struct env *e, struct lyd_node **tree)
{
    struct lyd_node *n = NULL;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, tree), 0);
    assert_int_equal(lyd_new_path(*tree, NULL, "/raven-vpn:ikev2/global/cookie-threshold", "0", 0, &n), 0);
    return engine(e, *tree);
}

/* The answer without a full parse, the full path's answer to the same
 * request, and the answer the message builder makes: the same bytes. */
static void test_fast_same_as_full(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = cookie_engine(e, &tree);
    struct ike_client c;
    struct ike_buf b;
    struct ike_msg m;
    struct ike_builder bd;
    uint8_t cookie[36], fast[128];
    size_t fast_len;

    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    ike_buf_fini(&b);
    b = request(&c, NULL, 0, WITH_NONCE);
    assert_true(ask(e, eng, &b));
    assert_int_equal(answer(e, cookie), N_COOKIE);
    assert_int_equal(eng->c.cookie_fast, 1);
    assert_int_equal(eng->c.cookie_sent, 1);
    assert_int_equal(eng->c.cookie_missing, 1);
    assert_int_equal(eng->c.received, 1);
    assert_true(e->out_len <= sizeof(fast));
    memcpy(fast, e->out, e->out_len);
    fast_len = e->out_len;

    /* the full path (parsed, then ike_initx_handle) */
    assert_int_equal(ike_msg_parse(c.msg1, c.msg1_len, &m), IKE_PARSE_OK);
    e->out_len = 0;
    ike_initx_handle(eng, &eng->detached[0], &local, &peer, c.msg1, c.msg1_len, &m);
    assert_int_equal(eng->c.cookie_fast, 1);
    assert_int_equal(eng->c.cookie_sent, 2);
    assert_int_equal(e->out_len, fast_len);
    assert_memory_equal(e->out, fast, fast_len);

    /* the builder's COOKIE answer (the full path before the cookie had a path of its own) */
    m.hdr.flags = IKE_FLAG_RESPONSE;
    m.hdr.version = 0x20;
    memset(m.hdr.spi_r, 0, 8);
    ike_build_begin(&bd, &m.hdr);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_COOKIE, .data = cookie, .len = 36});
    assert_true(ike_build_finish(&bd));
    assert_int_equal(bd.buf.len, fast_len);
    assert_memory_equal(bd.buf.data, fast, fast_len);
    ike_buf_fini(&bd.buf);

    /* the client's cookie is served in full, and its retransmission answered again */
    b = request(&c, cookie, 36, WITH_NONCE);
    {
        struct ike_buf again = copy(&b);

        assert_true(ask(e, eng, &b));
        assert_int_equal(answer(e, cookie), 0);
        assert_int_equal(eng->c.cookie_accepted, 1);
        memcpy(fast, e->out, e->out_len < sizeof(fast) ? e->out_len : sizeof(fast));
        e->out_len = 0;
        assert_true(ask(e, eng, &again));
        assert_int_equal(eng->c.retransmissions, 1);
        assert_int_equal(eng->c.cookie_fast, 1);
    }
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* A cookie made with the previous secret is accepted; one two secrets old is
 * refused with a new cookie, without a full parse. */
static void test_fast_rotation(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = cookie_engine(e, &tree);
    struct ike_client c, d;
    struct ike_buf b;
    uint8_t cookie[36], old[36];
    uint32_t ver = eng->cookie_ver;

    ike_client_init(&c, IKE_DH_ECP256);
    ike_client_init(&d, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    assert_true(ask(e, eng, &b));
    assert_int_equal(answer(e, cookie), N_COOKIE);
    assert_true(ike_client_sa_init(&d, &b));
    assert_true(ask(e, eng, &b));
    assert_int_equal(answer(e, old), N_COOKIE);

    eng->cookie_rotated -= 301; /* the next check rotates */
    b = request(&c, cookie, 36, WITH_NONCE);
    assert_true(ask(e, eng, &b));
    assert_int_equal(eng->cookie_ver, ver + 1);
    assert_int_equal(answer(e, cookie), 0); /* the previous secret's cookie: served */
    assert_int_equal(eng->c.cookie_accepted, 1);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));

    eng->cookie_rotated -= 301;
    ike_cookie_rotate(eng);
    assert_int_equal(eng->cookie_ver, ver + 2);
    b = request(&d, old, 36, WITH_NONCE);
    assert_true(ask(e, eng, &b));
    assert_int_equal(answer(e, cookie), N_COOKIE); /* two secrets old: a new cookie */
    assert_int_equal(eng->c.cookie_rejected, 1);
    assert_int_equal(eng->c.cookie_fast, 3);
    assert_int_equal(eng->c.cookie_sent, 3);
    assert_memory_not_equal(cookie, old, 36);
    /* and the new one is good */
    b = request(&d, cookie, 36, WITH_NONCE);
    assert_true(ask(e, eng, &b));
    assert_int_equal(answer(e, old), 0);
    assert_int_equal(eng->c.cookie_accepted, 2);
    ike_client_fini(&c);
    ike_client_fini(&d);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* Malformed requests get no cookie: the full path drops them (or answers an
 * unknown critical payload with its error) as it did. */
static void test_fast_malformed(void **state)
{
    static const struct {
        int how;
        uint16_t notify; /* 0: no answer */
    } cases[] = {
        {WITH_NONCE | TRUNCATE, 0},     {WITH_NONCE | TRAILING, 0}, {0, 0} /* no Nonce */,
        {WITH_NONCE | SHORT_NONCE, 0},  {WITH_NONCE | RESPONSE, 0},
        {WITH_NONCE | CRITICAL, 1} /* UNSUPPORTED_CRITICAL_PAYLOAD */,
    };
    struct env *e = *state;
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = cookie_engine(e, &tree);
    struct ike_client c;
    struct ike_buf b;
    uint8_t cookie[36];

    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    ike_buf_fini(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t dropped = eng->c.dropped;

        b = request(&c, NULL, 0, cases[i].how);
        e->out_len = 0;
        ike_engine_input(eng, &local, &peer, false, b.data, b.len);
        ike_buf_fini(&b);
        if (cases[i].notify)
            assert_int_equal(answer(e, cookie), cases[i].notify);
        else
            assert_int_equal(e->out_len, 0);
        if (cases[i].how & (TRUNCATE | TRAILING | RESPONSE))
            assert_int_equal(eng->c.dropped, dropped + 1);
    }
    assert_int_equal(eng->c.cookie_sent, 0);
    assert_int_equal(eng->c.received, 2); /* the two without a usable Nonce: dropped after the count */
    assert_int_equal(eng->c.cookie_fast, 2);
    ike_client_fini(&c);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* While cookies are not demanded, every request takes the full path. */
static void test_fast_off(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b;
    uint8_t cookie[36];

    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    assert_true(ask(e, eng, &b));
    assert_int_equal(answer(e, cookie), 0);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_int_equal(eng->c.cookie_fast, 0);
    assert_int_equal(eng->c.cookie_sent, 0);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* A UDP socket on 127.0.0.1, its address in @a. */
static int udp_bound(struct sockaddr_storage *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t l = sizeof(*a);

    assert_true(fd >= 0);
    memset(a, 0, sizeof(*a));
    ((struct sockaddr_in *)a)->sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)a)->sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(struct sockaddr_in)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)a, &l), 0);
    return fd;
}

/* Short answers wait for the end of the batch and then all go, from the
 * sending thread, in order, as they were given (with the non-ESP marker on the
 * NAT-T port); outside a batch they go at once; a socket may close once
 * ike_xmit_drain returns, and the thread ends with ike_xmit_stop. */
static void test_short_answers_batched(void **state)
{
    struct ike_engine *eng = calloc(1, sizeof(*eng)); /* no output seam: real sockets */
    struct sockaddr_storage to, from;
    struct ike_sock sk = {.e = eng};
    int rx = udp_bound(&to);
    uint8_t got[128], msg[3][72];

    (void)state;
    assert_non_null(eng);
    for (int natt = 0; natt < 2; natt++) {
        size_t off = natt ? 4 : 0;

        sk.fd = udp_bound(&from);
        sk.addr = from;
        sk.natt = natt;
        sk.batch = true;
        for (int i = 0; i < 3; i++) {
            memset(msg[i], 'a' + i, sizeof(msg[i]));
            ike_xmit_short(&sk, NULL, &to, msg[i], sizeof(msg[i]));
        }
        assert_int_equal(recv(rx, got, sizeof(got), MSG_DONTWAIT), -1);
        assert_int_equal(errno, EAGAIN);
        sk.batch = false;
        ike_xmit_flush();
        for (int i = 0; i < 3; i++) {
            assert_int_equal(recv(rx, got, sizeof(got), 0), (ssize_t)(sizeof(msg[i]) + off));
            if (natt)
                assert_memory_equal(got, "\0\0\0\0", 4);
            assert_memory_equal(got + off, msg[i], sizeof(msg[i]));
        }
        ike_xmit_short(&sk, NULL, &to, msg[0], sizeof(msg[0])); /* no batch: at once */
        assert_int_equal(recv(rx, got, sizeof(got), MSG_DONTWAIT), (ssize_t)(sizeof(msg[0]) + off));
        /* a batch drained before its socket closes: all of it sent by then */
        sk.batch = true;
        for (int i = 0; i < 3; i++)
            ike_xmit_short(&sk, NULL, &to, msg[i], sizeof(msg[i]));
        sk.batch = false;
        ike_xmit_drain();
        close(sk.fd);
        for (int i = 0; i < 3; i++)
            assert_int_equal(recv(rx, got, sizeof(got), MSG_DONTWAIT), (ssize_t)(sizeof(msg[i]) + off));
    }
    ike_xmit_stop();
    close(rx);
    free(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_same_as_full),
        cmocka_unit_test(test_fast_rotation),
        cmocka_unit_test(test_fast_malformed),
        cmocka_unit_test(test_fast_off),
        cmocka_unit_test(test_short_answers_batched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
