/* Unit tests of the IKE SA state machine (daemon/ike/ike_sa.h): every move
 * of the table is made and logged, every other move is refused with the state
 * kept, the states' names in vpn-state, and the log prefix with SPIs and
 * peer. The engine's own use of it is in test_ike_engine.c. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_sa.h"

/* The moves the IKE SA may make, as ike_sa.h draws them. */
static const struct {
    enum ike_sa_state from, to;
} moves[] = {
    {IKE_SA_NEW, IKE_SA_HALF_OPEN},
    {IKE_SA_NEW, IKE_SA_REKEYED},
    {IKE_SA_NEW, IKE_SA_ESTABLISHED}, /* taken over from the session arena */
    {IKE_SA_HALF_OPEN, IKE_SA_AUTHENTICATING},
    {IKE_SA_AUTHENTICATING, IKE_SA_EAP},
    {IKE_SA_AUTHENTICATING, IKE_SA_CRL_WAIT},
    {IKE_SA_AUTHENTICATING, IKE_SA_AUTHORIZING},
    {IKE_SA_EAP, IKE_SA_EAP_SUCCESS},
    {IKE_SA_EAP_SUCCESS, IKE_SA_AUTHORIZING},
    {IKE_SA_CRL_WAIT, IKE_SA_AUTHORIZING},
    {IKE_SA_AUTHORIZING, IKE_SA_LEASING},
    {IKE_SA_AUTHORIZING, IKE_SA_ESTABLISHED},
    {IKE_SA_LEASING, IKE_SA_ESTABLISHED},
    {IKE_SA_ESTABLISHED, IKE_SA_REKEYING},
    {IKE_SA_ESTABLISHED, IKE_SA_DELETING},
    {IKE_SA_REKEYING, IKE_SA_ESTABLISHED},
    {IKE_SA_REKEYING, IKE_SA_DELETING},
};

static bool listed(enum ike_sa_state from, enum ike_sa_state to)
{
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
        if (moves[i].from == from && moves[i].to == to)
            return true;
    return false;
}

static struct ike_sess *sess(enum ike_sa_state st)
{
    struct ike_sess *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    s->ss.id = 7;
    s->state = st;
    memcpy(s->in.spi_i, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
    memcpy(s->in.spi_r, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
    ((struct sockaddr_in *)&s->peer)->sin_family = AF_INET;
    ((struct sockaddr_in *)&s->peer)->sin_port = htons(4500);
    inet_pton(AF_INET, "198.51.100.9", &((struct sockaddr_in *)&s->peer)->sin_addr);
    return s;
}

static void test_every_pair(void **state)
{
    (void)state;
    log_set_level(LOG_LVL_DEBUG); /* the lines are made, not only checked */
    for (int from = 0; from < IKE_SA_NSTATES; from++) {
        for (int to = 0; to < IKE_SA_NSTATES; to++) {
            struct ike_sess *s = sess((enum ike_sa_state)from);
            bool ok = from == to || listed((enum ike_sa_state)from, (enum ike_sa_state)to);

            assert_int_equal(ike_sa_move_allowed((enum ike_sa_state)from, (enum ike_sa_state)to), ok);
            assert_int_equal(ike_sa_set_state(s, (enum ike_sa_state)to, "test"), ok);
            /* refused: the state stays */
            assert_int_equal(s->state, ok ? to : from);
            free(s);
        }
    }
    log_set_level(LOG_LVL_ERR);
}

/* No way back into a half-open state, none out of DELETING and REKEYED. */
static void test_no_way_back(void **state)
{
    struct ike_sess *s = sess(IKE_SA_ESTABLISHED);

    (void)state;
    assert_false(ike_sa_set_state(s, IKE_SA_HALF_OPEN, "test"));
    assert_false(ike_sa_set_state(s, IKE_SA_AUTHORIZING, "test"));
    assert_int_equal(s->state, IKE_SA_ESTABLISHED);
    assert_true(ike_sa_set_state(s, IKE_SA_DELETING, "test"));
    assert_false(ike_sa_set_state(s, IKE_SA_ESTABLISHED, "test"));
    assert_int_equal(s->state, IKE_SA_DELETING);
    assert_false(ike_sa_move_allowed(IKE_SA_NSTATES, IKE_SA_NEW));
    assert_false(ike_sa_move_allowed(IKE_SA_NEW, IKE_SA_NSTATES));
    free(s);
}

static void test_predicates_and_names(void **state)
{
    static const char *const yang[IKE_SA_NSTATES] = {
        [IKE_SA_NEW] = "authenticating",         [IKE_SA_HALF_OPEN] = "authenticating",
        [IKE_SA_AUTHENTICATING] = "authenticating", [IKE_SA_EAP] = "authenticating",
        [IKE_SA_EAP_SUCCESS] = "authenticating", [IKE_SA_CRL_WAIT] = "authenticating",
        [IKE_SA_AUTHORIZING] = "authenticating", [IKE_SA_LEASING] = "authenticating",
        [IKE_SA_ESTABLISHED] = "established",    [IKE_SA_REKEYING] = "rekeying",
        [IKE_SA_DELETING] = "deleting",          [IKE_SA_REKEYED] = "deleting",
    };

    (void)state;
    for (int st = 0; st < IKE_SA_NSTATES; st++) {
        struct ike_sess *s = sess((enum ike_sa_state)st);

        assert_int_equal(ike_sa_half_open(s), st >= IKE_SA_HALF_OPEN && st <= IKE_SA_LEASING);
        assert_int_equal(ike_sa_up(s), st == IKE_SA_ESTABLISHED || st == IKE_SA_REKEYING);
        assert_string_equal(ike_sa_state_yang((enum ike_sa_state)st), yang[st]);
        assert_string_not_equal(ike_sa_state_name((enum ike_sa_state)st), "?");
        free(s);
    }
    assert_string_equal(ike_sa_state_name(IKE_SA_NSTATES), "?");
}

static void test_tag(void **state)
{
    struct ike_sess *s = sess(IKE_SA_ESTABLISHED);
    char buf[IKE_SA_TAG_LEN];

    (void)state;
    assert_string_equal(ike_sa_tag(s, buf, sizeof(buf)),
                        "session 7 0123456789abcdef/fedcba9876543210 198.51.100.9:4500");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_no_way_back),
        cmocka_unit_test(test_predicates_and_names),
        cmocka_unit_test(test_tag),
    };
    log_set_level(LOG_LVL_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
