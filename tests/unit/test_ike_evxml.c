/* Session events as XML text without a libyang tree (daemon/ike/ike_evxml.c): for
 * session-up, session-down and authentication-failure, with strings to escape and
 * an unknown reason (libyang refuses the leaf), the text parses as the
 * notification and equals, leaf for leaf, the tree the engine builds otherwise.
 * Strings XML cannot carry (invalid UTF-8, control characters), which a tree
 * takes and prints so that the front ends could not parse the event, are left
 * out and the event still parses. Runs without root. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_eng.h"

struct got {
    struct lyd_node *tree;
    char *xml;
};

static void on_tree(struct lyd_node *n, void *arg)
{
    struct got *g = arg;

    lyd_free_all(g->tree);
    g->tree = n;
}

static void on_xml(const char *name, const char *xml, size_t len, void *arg)
{
    struct got *g = arg;

    (void)name;
    assert_int_equal(strlen(xml), len);
    free(g->xml);
    g->xml = strdup(xml);
}

static int parse(struct ly_ctx *ctx, const char *xml, struct lyd_node **out)
{
    struct lyd_node *op = NULL;
    struct ly_in *in = NULL;
    int rc;

    assert_int_equal(ly_in_new_memory(xml, &in), 0);
    rc = lyd_parse_op(ctx, NULL, in, LYD_XML, LYD_TYPE_NOTIF_YANG, out, &op);
    ly_in_free(in, 0);
    return rc;
}

static char *print(const struct lyd_node *n)
{
    char *s = NULL;

    assert_int_equal(lyd_print_mem(&s, n, LYD_XML, LYD_PRINT_SHRINK), 0);
    return s;
}

/* The event @name of @s both ways: the text parsed back prints as the tree does. */
static void same(struct ike_engine *e, struct ike_sess *s, const char *name, const char *reason, const char *msg,
                 const char *must, const char *must_not)
{
    struct got g = {0};
    struct lyd_node *parsed = NULL;
    char *a, *b;

    ike_engine_set_event(e, on_tree, &g);
    ike_engine_set_event_xml(e, NULL);
    ike_sess_notify_event(s, name, reason, msg);
    assert_non_null(g.tree);
    ike_engine_set_event_xml(e, on_xml);
    ike_sess_notify_event(s, name, reason, msg);
    assert_non_null(g.xml);
    assert_int_equal(parse((struct ly_ctx *)e->ctx, g.xml, &parsed), 0);
    a = print(g.tree);
    b = print(parsed);
    if (strcmp(a, b))
        print_error("tree:   %s\nxml:    %s\nparsed: %s\n", a, g.xml, b);
    assert_string_equal(a, b);
    if (must)
        assert_non_null(strstr(g.xml, must));
    if (must_not)
        assert_null(strstr(a, must_not));
    free(a);
    free(b);
    free(g.xml);
    lyd_free_all(g.tree);
    lyd_free_all(parsed);
}

static void test_same_as_tree(void **state)
{
    struct event_base *base = event_base_new();
    struct ly_ctx *ctx = NULL;
    struct ike_engine *e;
    struct ike_sess *s;
    struct sockaddr_in *p;

    (void)state;
    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &ctx), 0);
    assert_non_null(ly_ctx_load_module(ctx, "raven-vpn", NULL, NULL));
    e = ike_engine_new(base, ctx, NULL);
    assert_non_null(e);
    s = ike_sess_new(e);
    assert_non_null(s);
    p = (struct sockaddr_in *)&s->peer;
    p->sin_family = AF_INET;
    p->sin_port = htons(4500);
    inet_pton(AF_INET, "198.51.100.7", &p->sin_addr);
    s->ss.remote_id = strdup("CN=a<b>&\"c\", O=Ünïcode ✓");
    s->ss.eap_identity = strdup("eap@example.org");
    s->ss.user = strdup("alice");
    s->ss.group = strdup("staff");
    s->ss.profile = strdup("");
    s->ss.have_addr4 = true;
    s->ss.addr4 = 0x0ac90005;
    s->ss.have_addr6 = true;
    inet_pton(AF_INET6, "2001:db8::5", s->ss.addr6);
    s->ss.alen6 = 128;
    same(e, s, "session-up", NULL, NULL, "&lt;b&gt;&amp;", "bad");
    same(e, s, "session-down", "peer-delete", NULL, "<reason>peer-delete</reason>", NULL);
    same(e, s, "session-down", "no-such-reason", NULL, NULL, "no-such-reason");
    same(e, s, "session-down", NULL, NULL, NULL, "<reason>");
    same(e, s, "authentication-failure", "", "wrong <key> & more", "wrong &lt;key&gt; &amp; more", "<reason>");
    same(e, s, "authentication-failure", "psk-mismatch", NULL, "<reason>psk-mismatch</reason>", NULL);
    /* what XML cannot carry: the tree prints text nobody can parse, the text
     * leaves the leaf out and parses */
    free(s->ss.eap_identity);
    s->ss.eap_identity = strdup("bad\xc3(utf8");
    free(s->ss.group);
    s->ss.group = strdup("ctl\x01char");
    {
        struct got g = {0};
        struct lyd_node *parsed = NULL;
        char *a;

        ike_engine_set_event(e, on_tree, &g);
        ike_engine_set_event_xml(e, NULL);
        ike_sess_notify_event(s, "session-up", NULL, NULL);
        a = print(g.tree);
        assert_int_not_equal(parse((struct ly_ctx *)ctx, a, &parsed), 0);
        free(a);
        ike_engine_set_event_xml(e, on_xml);
        ike_sess_notify_event(s, "session-up", NULL, NULL);
        assert_int_equal(parse(ctx, g.xml, &parsed), 0);
        assert_null(strstr(g.xml, "eap-identity"));
        assert_null(strstr(g.xml, "authorized-group"));
        assert_non_null(strstr(g.xml, "<authorized-user>alice</authorized-user>"));
        free(g.xml);
        lyd_free_all(g.tree);
        lyd_free_all(parsed);
    }
    assert_true(ike_evxml_text_ok("tab\tnl\ncr\r plain ✓ 𝄞"));
    assert_false(ike_evxml_text_ok("\xed\xa0\x80")); /* a surrogate */
    assert_false(ike_evxml_text_ok("\xc0\xaf"));     /* overlong */
    assert_false(ike_evxml_text_ok("\xef\xbf\xbf")); /* U+FFFF */
    ike_sess_release(s);
    ike_engine_free(e);
    ly_ctx_destroy(ctx);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_tree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
