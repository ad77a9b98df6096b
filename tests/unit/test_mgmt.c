/* Unit tests of ravend's side of the management socket (daemon/mgmt): the frame
 * and request decoder (oversized, truncated, not an object, duplicate keys,
 * unknown op, wrong member types) and the roles it enforces (a user must have
 * authenticated on the connection; read-only users cannot edit), the `interest`
 * request (no notification is sent until a front end wants its class), the
 * replay log and its request
 * and the coalesced `changed` events. No socket: the connection's replies are
 * captured. Runs without root. */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/mgmt/mgmt_nacm.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

struct fx {
    char dir[64];
    struct ly_ctx *ctx;
    struct cfg *cfg;
    struct mgmt *m;
    struct mconn *c;
};

static const char *const tops[] = {"/raven-vpn:ikev2", "/raven-vpn:ipsec", "/raven-vpn:pools",
                                   "/raven-vpn:aaa", "/raven-vpn:pki", "/raven-vpn:access-lists",
                                   "/raven-vpn:dataplane", "/raven-vpn:management"};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Users "admin" and "viewer" (read-only), both with password "pw". */
static void set_users(struct fx *f)
{
    struct crypt_data cd = {0};
    const char *h = crypt_r("pw", "$5$abcdefgh", &cd);
    char xml[1024];
    struct lyd_node *t = NULL;
    struct mauth_user *u;
    int err;

    assert_non_null(h);
    snprintf(xml, sizeof(xml),
             "<management xmlns=\"" NS "\"><user><name>admin</name><password-hash>%s</password-hash>"
             "<role>admin</role></user><user><name>viewer</name><password-hash>%s</password-hash>"
             "<role>read-only</role></user></management>",
             h, h);
    assert_int_equal(lyd_parse_data_mem(f->ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &t), 0);
    u = mauth_users_build(t, &err);
    assert_int_equal(err, 0);
    assert_true(mauth_set_users(f->m->auth, u));
    /* the roles are NACM groups too (ravend's handler loads both from running) */
    assert_int_equal(nacm_load(f->m->nacm, t), 0);
    lyd_free_all(t);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cfg_opts o = {.default_xml = "<pools xmlns=\"" NS "\"/>"};
    struct cfg_errs errs = {0};

    log_set_level(LOG_LVL_ERR);
    ly_log_options(LY_LOSTORE);
    snprintf(f->dir, sizeof(f->dir), "/tmp/raven-test-mgmt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->ctx = cfg_yang_ctx(RAVEN_YANG_DIR, RAVEN_IETF_YANG_DIR);
    assert_non_null(f->ctx);
    o.state_dir = f->dir;
    f->cfg = cfg_new(f->ctx, &o);
    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
        struct cfg_handler h = {.name = tops[i], .path = tops[i]};
        assert_int_equal(cfg_handler_register(f->cfg, &h), 0);
    }
    assert_int_equal(cfg_start(f->cfg, &errs), 0);
    f->m = mgmt_new(NULL, f->cfg, &(struct mgmt_opts){.state_dir = f->dir}, NULL);
    assert_non_null(f->m);
    set_users(f);
    f->c = mconn_new(f->m, -1, -1);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    mgmt_free(f->m);
    cfg_free(f->cfg);
    ly_ctx_destroy(f->ctx);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Feeds one frame of header @hdr (its length @hlen, or strlen) and data @data. */
static int feed_frame(struct fx *f, const char *hdr, const char *data)
{
    size_t hl = strlen(hdr), dl = data ? strlen(data) : 0;
    unsigned char *b = malloc(8 + hl + dl);
    uint32_t p[2] = {htonl((uint32_t)hl), htonl((uint32_t)dl)};
    int rc;

    memcpy(b, p, 8);
    memcpy(b + 8, hdr, hl);
    if (dl)
        memcpy(b + 8 + hl, data, dl);
    rc = mconn_feed(f->c, b, 8 + hl + dl);
    free(b);
    return rc;
}

static json_t *last(struct fx *f)
{
    json_t *j;

    assert_non_null(f->c->last_hdr);
    j = json_loads(f->c->last_hdr, 0, NULL);
    assert_non_null(j);
    return j;
}

/* The connection closed with an error frame. */
static void assert_closed(struct fx *f, int rc)
{
    json_t *j;

    assert_int_equal(rc, -1);
    j = last(f);
    assert_non_null(json_string_value(json_object_get(j, "error")));
    json_decref(j);
}

static void hello(struct fx *f)
{
    json_t *j;

    assert_int_equal(feed_frame(f, "{\"id\":1,\"op\":\"hello\",\"kind\":\"rest\",\"version\":1}", NULL), 0);
    j = last(f); /* the listen event follows the reply */
    assert_string_equal(json_string_value(json_object_get(j, "ev")), "listen");
    json_decref(j);
    assert_int_equal(f->c->kind, MGMT_KIND_REST);
}

static int request_rc(struct fx *f, const char *hdr, const char *data, const char **tag)
{
    static char t[64];
    json_t *j, *e;
    int rc;

    assert_int_equal(feed_frame(f, hdr, data), 0);
    j = last(f);
    rc = (int)json_integer_value(json_object_get(j, "rc"));
    e = json_array_get(json_object_get(j, "errors"), 0);
    snprintf(t, sizeof(t), "%s", e ? json_string_value(json_object_get(e, "tag")) : "");
    if (tag)
        *tag = t;
    json_decref(j);
    return rc;
}

static void test_oversized_prefix(void **state)
{
    struct fx *f = *state;
    const unsigned char b[8] = {0, 0x10, 0, 1, 0, 0, 0, 0}; /* header of 1 MiB */

    assert_closed(f, mconn_feed(f->c, b, sizeof(b)));
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    const unsigned char b[10] = {0, 0, 0, 20, 0, 0, 0, 0, '{', '"'};

    /* a partial frame waits for the rest */
    assert_int_equal(mconn_feed(f->c, b, sizeof(b)), 0);
    assert_null(f->c->last_hdr);
    /* a header cut short is not JSON */
    mwire_rx_clear(&f->c->rx);
    mwire_rx_init(&f->c->rx);
    assert_closed(f, feed_frame(f, "{\"id\":1,\"op\":", NULL));
}

static void test_not_object(void **state)
{
    struct fx *f = *state;

    assert_closed(f, feed_frame(f, "[1,2]", NULL));
}

static void test_duplicate_keys(void **state)
{
    struct fx *f = *state;

    assert_closed(f, feed_frame(f, "{\"id\":1,\"id\":2,\"op\":\"hello\",\"kind\":\"rest\",\"version\":1}", NULL));
}

static void test_unknown_op(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"format-disk\"}", NULL));
}

static void test_first_is_hello(void **state)
{
    struct fx *f = *state;

    assert_closed(f, feed_frame(f, "{\"id\":1,\"op\":\"token-check\",\"token\":\"x\"}", NULL));
}

static void test_wrong_types(void **state)
{
    struct fx *f = *state;

    assert_closed(f, feed_frame(f, "{\"id\":1,\"op\":\"hello\",\"kind\":\"rest\",\"version\":\"1\"}", NULL));
}

static void test_wrong_types_get(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\",\"xpaths\":[1],\"state\":false}", NULL));
}

static void test_rest_sid_only(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"get\",\"user\":\"admin\",\"sid\":5,\"ds\":\"running\"}", NULL));
}

static void test_not_authenticated(void **state)
{
    struct fx *f = *state;
    const char *tag;

    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\",\"xpaths\":null,\"state\":false}", NULL, &tag), -EACCES);
    assert_string_equal(tag, "access-denied");
    /* a wrong password does not authenticate either */
    assert_int_equal(request_rc(f, "{\"id\":3,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"no\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), -EACCES);
    assert_int_equal(request_rc(f, "{\"id\":4,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\"}", NULL, &tag), -EACCES);
    /* the right one does, until the user is removed */
    assert_int_equal(request_rc(f, "{\"id\":5,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"pw\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), 0);
    assert_int_equal(request_rc(f, "{\"id\":6,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\"}", NULL, NULL), 0);
    assert_true(mauth_set_users(f->m->auth, NULL));
    assert_int_equal(request_rc(f, "{\"id\":7,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\"}", NULL, &tag), -EACCES);
}

static void test_read_only_edit(void **state)
{
    struct fx *f = *state;
    const char *edit = "<pools xmlns=\"" NS "\"><ipv4-pool><name>p</name><range><start>10.0.0.1</start>"
                       "<end>10.0.0.9</end></range></ipv4-pool></pools>";
    const char *tag;
    json_t *j;

    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"auth-password\",\"user\":\"viewer\",\"password\":\"pw\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), 0);
    j = last(f);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "read-only");
    json_decref(j);
    assert_int_equal(request_rc(f, "{\"id\":3,\"op\":\"edit\",\"user\":\"viewer\",\"sid\":4294967280,"
                                   "\"ds\":\"candidate\",\"default-operation\":\"merge\",\"test-option\":"
                                   "\"test-then-set\",\"error-option\":\"stop-on-error\"}", edit, &tag), -EACCES);
    assert_string_equal(tag, "access-denied");
    /* validate is any role's */
    assert_int_equal(request_rc(f, "{\"id\":4,\"op\":\"validate\",\"user\":\"viewer\",\"sid\":4294967280,"
                                   "\"source\":\"inline\"}", edit, NULL), 0);
    /* the admin may edit */
    assert_int_equal(request_rc(f, "{\"id\":5,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"pw\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), 0);
    assert_int_equal(request_rc(f, "{\"id\":6,\"op\":\"edit\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"candidate\",\"default-operation\":\"merge\",\"test-option\":"
                                   "\"test-then-set\",\"error-option\":\"stop-on-error\"}", edit, NULL), 0);
    assert_true(cfg_candidate_dirty(f->cfg));
}

/* An edit that depends on an earlier check (REST's entity tags) runs only while
 * running is at the generation checked, and changes nothing otherwise. */
static void test_conditional_edit(void **state)
{
    struct fx *f = *state;
    const char *edit = "<pools xmlns=\"" NS "\"><ipv4-pool><name>p</name><range><start>10.0.0.1</start>"
                       "<end>10.0.0.9</end></range></ipv4-pool></pools>";
    unsigned long long gen = (unsigned long long)cfg_running_gen(f->cfg, NULL);
    char req[512];
    const char *tag;

    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"pw\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), 0);
    snprintf(req, sizeof(req), "{\"id\":3,\"op\":\"edit\",\"user\":\"admin\",\"sid\":4294967280,\"ds\":"
             "\"candidate\",\"default-operation\":\"merge\",\"test-option\":\"test-then-set\",\"error-option\":"
             "\"stop-on-error\",\"if-gen\":%llu}", gen + 1);
    assert_int_equal(request_rc(f, req, edit, &tag), -ESTALE);
    assert_string_equal(tag, "operation-failed");
    assert_false(cfg_candidate_dirty(f->cfg));
    snprintf(req, sizeof(req), "{\"id\":4,\"op\":\"edit\",\"user\":\"admin\",\"sid\":4294967280,\"ds\":"
             "\"candidate\",\"default-operation\":\"merge\",\"test-option\":\"test-then-set\",\"error-option\":"
             "\"stop-on-error\",\"if-gen\":%llu}", gen);
    assert_int_equal(request_rc(f, req, edit, NULL), 0);
    assert_true(cfg_candidate_dirty(f->cfg));
}

static void test_tokens(void **state)
{
    struct fx *f = *state;
    char tok[80], hdr[256];
    json_t *j;

    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"token-new\",\"user\":\"admin\"}", NULL, NULL), -EACCES);
    assert_int_equal(request_rc(f, "{\"id\":3,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"pw\","
                                   "\"from\":\"::1\"}", NULL, NULL), 0);
    assert_int_equal(request_rc(f, "{\"id\":4,\"op\":\"token-new\",\"user\":\"admin\"}", NULL, NULL), 0);
    j = last(f);
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    assert_int_equal(strlen(tok), 64);
    snprintf(hdr, sizeof(hdr), "{\"id\":5,\"op\":\"token-check\",\"token\":\"%s\"}", tok);
    assert_int_equal(request_rc(f, hdr, NULL, NULL), 0);
    snprintf(hdr, sizeof(hdr), "{\"id\":6,\"op\":\"token-revoke\",\"token\":\"%s\"}", tok);
    assert_int_equal(request_rc(f, hdr, NULL, NULL), 0);
    snprintf(hdr, sizeof(hdr), "{\"id\":7,\"op\":\"token-check\",\"token\":\"%s\"}", tok);
    assert_int_equal(request_rc(f, hdr, NULL, NULL), -EACCES);
}


/* What a read of the state builds, from its XPaths (mgmt_sel.c). */
static void test_state_sel(void **state)
{
    struct mgmt_state_sel s;
    const char *const all_state[] = {"/raven-vpn:vpn-state", NULL};
    const char *const key_rest[] = {"/raven-vpn:vpn-state/session[id='42']", NULL};
    const char *const key_nc[] = {"/raven-vpn:vpn-state/raven-vpn:session[raven-vpn:id=\"42\"]/raven-vpn:ike-sa",
                                  "/raven-vpn:vpn-state/session[id='42']/statistics", NULL};
    const char *const two_keys[] = {"/raven-vpn:vpn-state/session[id='42']", "/raven-vpn:vpn-state/session[id='43']",
                                    NULL};
    const char *const other_pred[] = {"/raven-vpn:vpn-state/session[profile='rw']", NULL};
    const char *const fields[] = {"/raven-vpn:vpn-state/session/id", NULL};
    const char *const counters[] = {"/raven-vpn:vpn-state/ike-counters", "/raven-vpn:vpn-state/pool", NULL};
    const char *const config[] = {"/raven-vpn:pools", "/raven-vpn:ikev2/profile[name='a']", NULL};
    const char *const unknown[] = {"//session", NULL};
    const char *const partial_key[] = {"/raven-vpn:vpn-state/session[id='42'][profile='a']", NULL};

    (void)state;
    mgmt_sel_from_xpaths(&s, NULL);
    assert_true(s.config && s.others && s.sessions && !s.one);
    mgmt_sel_from_xpaths(&s, all_state);
    assert_true(!s.config && s.others && s.sessions && !s.one);
    mgmt_sel_from_xpaths(&s, key_rest);
    assert_true(!s.config && !s.others && s.sessions && s.one);
    assert_int_equal(s.id, 42);
    mgmt_sel_from_xpaths(&s, key_nc);
    assert_true(!s.config && !s.others && s.sessions && s.one);
    assert_int_equal(s.id, 42);
    mgmt_sel_from_xpaths(&s, two_keys);
    assert_true(s.sessions && !s.one);
    mgmt_sel_from_xpaths(&s, other_pred);
    assert_true(s.sessions && !s.one);
    mgmt_sel_from_xpaths(&s, partial_key);
    assert_true(s.sessions && !s.one);
    mgmt_sel_from_xpaths(&s, fields);
    assert_true(!s.config && !s.others && s.sessions && !s.one);
    mgmt_sel_from_xpaths(&s, counters);
    assert_true(!s.config && s.others && !s.sessions);
    mgmt_sel_from_xpaths(&s, config);
    assert_true(s.config && !s.others && !s.sessions);
    mgmt_sel_from_xpaths(&s, unknown);
    assert_true(s.config && s.others && s.sessions && !s.one);
}

/* XPaths outside the plain grammar mgmt_sel.c recognises select everything:
 * they may reach sessions, other state or configuration from any step. */
static void test_state_sel_unrecognised(void **state)
{
    static const char *const all[] = {
        "/raven-vpn:vpn-state//session",
        "/raven-vpn:vpn-state/*",
        "/raven-vpn:vpn-state/child::raven-vpn:session",
        "/raven-vpn:vpn-state/pool | /raven-vpn:vpn-state/session",
        "/raven-vpn:vpn-state/pool/../session",
        "/raven-vpn:ikev2/../raven-vpn:vpn-state",
        "/raven-vpn:vpn-state/session[id='7']/..",
        "/raven-vpn:vpn-state/session[id='7']/following-sibling::raven-vpn:session",
        "/raven-vpn:vpn-state/session[id='7'] | /raven-vpn:vpn-state/pool",
        "/raven-vpn:vpn-state/session[profile=/raven-vpn:ikev2/profile/name]",
        "/raven-vpn:vpn-state/pool[../session]",
        "/raven-vpn:vpn-state/session[id = '7']",
        "/raven-vpn:vpn-state/session[position()=1]",
        "(/raven-vpn:vpn-state/session)[1]",
        "/raven-vpn:vpn-state[session]/pool",
        "/raven-vpn:ikev2/profile[name=/raven-vpn:vpn-state/session/profile]",
        "/vpn-state/session",
        "/raven-vpn:vpn-state/",
        "/raven-vpn:vpn-state/session[id='7'",
    };
    struct mgmt_state_sel s;

    (void)state;
    for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++) {
        const char *const xp[] = {all[i], NULL};

        mgmt_sel_from_xpaths(&s, xp);
        if (!(s.config && s.others && s.sessions && !s.one && s.filtered))
            fail_msg("%s: config %d others %d sessions %d one %d filtered %d", all[i], s.config, s.others,
                     s.sessions, s.one, s.filtered);
    }
}

/* Which reads filter the session list (paging and counting refused). */
static void test_state_sel_filtered(void **state)
{
    const char *const plain[] = {"/raven-vpn:vpn-state/session/id", "/raven-vpn:vpn-state/pool[name='p']", NULL};
    const char *const key[] = {"/raven-vpn:vpn-state/session[id='7']/ike-sa", NULL};
    const char *const deep[] = {"/raven-vpn:vpn-state/session/child-sa[name='x']", NULL};
    const char *const keydeep[] = {"/raven-vpn:vpn-state/session[id='7']/child-sa[name='x']", NULL};
    const char *const big[] = {"/raven-vpn:vpn-state/session[id='99999999999999999999']", NULL};
    struct mgmt_state_sel s;

    (void)state;
    mgmt_sel_from_xpaths(&s, plain);
    assert_true(!s.config && s.others && s.sessions && !s.one && !s.filtered);
    mgmt_sel_from_xpaths(&s, key);
    assert_true(!s.others && s.sessions && s.one && s.filtered);
    assert_int_equal(s.id, 7);
    mgmt_sel_from_xpaths(&s, deep);
    assert_true(!s.others && s.sessions && !s.one && s.filtered);
    mgmt_sel_from_xpaths(&s, keydeep);
    assert_true(!s.others && s.sessions && !s.one && s.filtered);
    mgmt_sel_from_xpaths(&s, big);
    assert_true(s.sessions && !s.one && s.filtered);
}

/* Paging members out of range or of the wrong type close the connection like
 * every malformed member; paging a read that selects no session is refused. */
static void test_get_paging_members(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\",\"xpaths\":null,\"state\":true,\"limit\":-1}", NULL));
}

static void test_get_paging_needs_sessions(void **state)
{
    struct fx *f = *state;
    const char *tag;

    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":1,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"pw\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), 0);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\",\"xpaths\":[\"/raven-vpn:pools\"],\"state\":true,"
                                   "\"limit\":5}", NULL, &tag), -EINVAL);
    assert_string_equal(tag, "invalid-value");
}

/* Paging or counting a read that filters the session list, and paging a read
 * of a configuration datastore, are refused. */
static void test_get_paging_filtered(void **state)
{
    static const char *const bad[] = {
        "\"xpaths\":[\"/raven-vpn:vpn-state/session[profile='rw']/id\"],\"state\":true,\"limit\":5",
        "\"xpaths\":[\"/raven-vpn:vpn-state/session[id='7']\"],\"state\":true,\"limit\":5",
        "\"xpaths\":[\"/raven-vpn:vpn-state/session[id='7']\"],\"state\":true,\"count-only\":true",
        "\"xpaths\":[\"//session[profile='rw']\"],\"state\":true,\"cursor\":3",
        "\"xpaths\":null,\"state\":false,\"limit\":5",
        "\"xpaths\":null,\"state\":false,\"offset\":1",
    };
    struct fx *f = *state;
    char hdr[512];
    const char *tag;

    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":1,\"op\":\"auth-password\",\"user\":\"admin\",\"password\":\"pw\","
                                   "\"from\":\"192.0.2.1\"}", NULL, NULL), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        snprintf(hdr, sizeof(hdr), "{\"id\":%zu,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                 "\"ds\":\"running\",%s}", i + 2, bad[i]);
        assert_int_equal(request_rc(f, hdr, NULL, &tag), -EINVAL);
        assert_string_equal(tag, "invalid-value");
    }
    /* without a filter on the list, paged */
    assert_int_equal(request_rc(f, "{\"id\":20,\"op\":\"get\",\"user\":\"admin\",\"sid\":4294967280,"
                                   "\"ds\":\"running\",\"xpaths\":[\"/raven-vpn:vpn-state/session/id\"],"
                                   "\"state\":true,\"limit\":5}", NULL, NULL), 0);
}

/* A raven-vpn notification @name with a session-id. */
static struct lyd_node *notif(struct fx *f, const char *name)
{
    const struct lys_module *mod = ly_ctx_get_module_implemented(f->ctx, "raven-vpn");
    struct lyd_node *n = NULL;

    assert_non_null(mod);
    assert_int_equal(lyd_new_inner(NULL, mod, name, 0, &n), 0);
    if (strcmp(name, "authentication-failure"))
        assert_int_equal(lyd_new_term(n, NULL, "session-id", "7", 0, NULL), 0);
    assert_int_equal(lyd_new_term(n, NULL, "peer-address", "192.0.2.7", 0, NULL), 0);
    return n;
}

static void test_interest(void **state)
{
    struct fx *f = *state;
    uint64_t sent;
    json_t *j;

    hello(f);
    /* nobody subscribes: nothing sent, but each is built for the replay log */
    assert_true(mgmt_wants(f->m, "session-up"));
    sent = f->c->nsent;
    mgmt_notify(f->m, notif(f, "session-up"));
    mgmt_config_changed(NULL, &(struct cfg_change){.path = "/raven-vpn:pools", .op = CFG_CHG_REPLACE}, 1, f->m);
    assert_int_equal(f->m->notif_built, 2);
    assert_int_equal(mreplay_count(f->m->replay), 2);
    assert_int_equal(f->c->nsent, sent + 1); /* the config `changed` only */
    f->m->notif_built = 0;
    /* sessions wanted: session-up is sent, authentication-failure only logged */
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"interest\",\"events\":[\"sessions\"]}", NULL, NULL), 0);
    assert_true(mgmt_wants(f->m, "session-up"));
    assert_true(mgmt_wants(f->m, "session-down"));
    assert_true(mgmt_wants(f->m, "authentication-failure")); /* for the log */
    sent = f->c->nsent;
    mgmt_notify(f->m, notif(f, "authentication-failure"));
    assert_int_equal(f->c->nsent, sent);
    mgmt_notify(f->m, notif(f, "session-up"));
    assert_int_equal(f->m->notif_built, 2);
    assert_int_equal(f->c->nsent, sent + 1);
    j = last(f);
    assert_string_equal(json_string_value(json_object_get(j, "ev")), "notification");
    assert_non_null(json_string_value(json_object_get(j, "time")));
    assert_int_equal(json_integer_value(json_object_get(j, "id")), mreplay_last_id(f->m->replay));
    assert_null(json_object_get(j, "replay"));
    json_decref(j);
    /* config wanted too: netconf-config-change follows a commit's `changed` */
    assert_int_equal(request_rc(f, "{\"id\":3,\"op\":\"interest\",\"events\":[\"config\",\"sessions\"]}", NULL,
                                NULL),
                     0);
    sent = f->c->nsent;
    mgmt_config_changed(NULL, &(struct cfg_change){.path = "/raven-vpn:pools", .op = CFG_CHG_REPLACE}, 1, f->m);
    assert_int_equal(f->c->nsent, sent + 2);
    assert_int_equal(f->m->notif_built, 3);
    /* an event already encoded as text goes the same way */
    sent = f->c->nsent;
    mgmt_notify_xml(f->m, "raven-vpn", "authentication-failure", "<x/>", 4);
    assert_int_equal(f->c->nsent, sent);
    mgmt_notify_xml(f->m, "raven-vpn", "session-down", "<x/>", 4);
    assert_int_equal(f->c->nsent, sent + 1);
    assert_int_equal(f->m->notif_built, 5);
    /* interest withdrawn: nothing sent any more */
    assert_int_equal(request_rc(f, "{\"id\":4,\"op\":\"interest\",\"events\":[]}", NULL, NULL), 0);
    sent = f->c->nsent;
    mgmt_notify(f->m, notif(f, "session-down"));
    mgmt_notify_xml(f->m, "raven-vpn", "session-down", "<x/>", 4);
    assert_int_equal(f->c->nsent, sent);
}

/* A clock stepping back does not take event times back: the log stays in time
 * order and what a time finds is all that came after it. */
static void test_replay_stamps_never_go_back(void **state)
{
    struct mreplay *r = mreplay_new(8, 1000, 5000000000);
    const int64_t clock[] = {100, 200, 150, 90, 300};
    int64_t prev = 0;

    (void)state;
    assert_non_null(r);
    for (size_t i = 0; i < sizeof(clock) / sizeof(clock[0]); i++) {
        int64_t ns = mreplay_stamp(r, clock[i]);

        assert_true(ns >= prev && ns >= clock[i]);
        prev = ns;
        mreplay_add(r, MGMT_EV_CONFIG, ns, "t", "<a/>", 4, NULL, NULL, NULL, 0);
    }
    assert_int_equal(mreplay_at(r, 2)->ns, 200);
    assert_int_equal(mreplay_at(r, 3)->ns, 200);
    /* from 200: the one stamped then and the two made while the clock was back */
    assert_int_equal(mreplay_from_time(r, 200), 1);
    assert_int_equal(mreplay_from_time(r, 201), 4);
    mreplay_free(r);
}

/* The replay log: bounded by count and by bytes, the oldest dropped first, ids
 * growing by one, found by id and by time. */
static void test_replay_log(void **state)
{
    struct mreplay *r = mreplay_new(4, 100, 5000000000);
    uint64_t first, id;

    (void)state;
    assert_non_null(r);
    first = mreplay_add(r, MGMT_EV_CONFIG, 10, "t10", "<a/>", 4, NULL, NULL, NULL, 0);
    assert_true(first > 5000000); /* from the creation's microseconds */
    for (int i = 1; i < 6; i++) {
        id = mreplay_add(r, MGMT_EV_SESSIONS, 10 + i, "t", "<b/>", 4, NULL, NULL, NULL, 0);
        assert_int_equal(id, first + (uint64_t)i);
    }
    /* 6 added, 4 kept: the two oldest dropped, the aged time that of the newest dropped */
    assert_int_equal(mreplay_count(r), 4);
    assert_int_equal(mreplay_at(r, 0)->id, first + 2);
    assert_int_equal(mreplay_at(r, 3)->id, first + 5);
    assert_null(mreplay_at(r, 4));
    assert_int_equal(mreplay_aged(r), 11);
    assert_int_equal(mreplay_created(r), 5000000000);
    assert_int_equal(mreplay_last_id(r), first + 5);
    /* lookups */
    assert_int_equal(mreplay_after_id(r, 0), 0);
    assert_int_equal(mreplay_after_id(r, first + 3), 2);
    assert_int_equal(mreplay_after_id(r, first + 5), 4);
    assert_int_equal(mreplay_from_time(r, 0), 0);
    assert_int_equal(mreplay_from_time(r, 14), 2);
    assert_int_equal(mreplay_from_time(r, 99), 4);
    /* bytes: one of 97 bytes leaves room for no other (4 bytes each) */
    char big[98];
    memset(big, 'x', 97);
    big[97] = '\0';
    id = mreplay_add(r, MGMT_EV_OTHER, 20, "t20", big, 97, NULL, NULL, NULL, 0);
    assert_int_equal(mreplay_count(r), 1);
    assert_int_equal(mreplay_at(r, 0)->id, id);
    assert_string_equal(mreplay_at(r, 0)->xml, big);
    /* one larger than the whole log is not kept, and drops nothing */
    char huge[102];
    memset(huge, 'y', 101);
    huge[101] = '\0';
    assert_int_equal(mreplay_add(r, MGMT_EV_OTHER, 21, "t21", huge, 101, NULL, NULL, NULL, 0), id + 1);
    assert_int_equal(mreplay_count(r), 1);
    assert_int_equal(mreplay_last_id(r), id + 1);
    mreplay_free(r);
}

/* The `replay` request: the logged events of the classes asked for, from a time
 * or after an id, then replay-end, then the reply; malformed ones close. */
static void test_replay_request(void **state)
{
    struct fx *f = *state;
    uint64_t sent, first;
    json_t *j;

    hello(f);
    mgmt_notify(f->m, notif(f, "session-up"));
    mgmt_notify(f->m, notif(f, "authentication-failure"));
    mgmt_notify(f->m, notif(f, "session-down"));
    first = mreplay_at(f->m->replay, 0)->id;
    sent = f->c->nsent;
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"replay\",\"for\":7}", NULL, NULL), 0);
    assert_int_equal(f->c->nsent, sent + 3 + 2); /* 3 events, replay-end, the reply */
    j = last(f);
    assert_int_equal(json_integer_value(json_object_get(j, "sent")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "last-id")), first + 2);
    assert_non_null(json_string_value(json_object_get(j, "created")));
    json_decref(j);
    /* only the classes asked for, only after the id */
    sent = f->c->nsent;
    char req[200];
    snprintf(req, sizeof(req), "{\"id\":3,\"op\":\"replay\",\"for\":7,\"events\":[\"sessions\"],\"after-id\":%llu}",
             (unsigned long long)first);
    assert_int_equal(request_rc(f, req, NULL, NULL), 0);
    assert_int_equal(f->c->nsent, sent + 1 + 2);
    /* "for" 0: the reply only */
    sent = f->c->nsent;
    assert_int_equal(request_rc(f, "{\"id\":4,\"op\":\"replay\",\"for\":0}", NULL, NULL), 0);
    assert_int_equal(f->c->nsent, sent + 1);
    /* a time after every event: nothing */
    sent = f->c->nsent;
    assert_int_equal(request_rc(f, "{\"id\":5,\"op\":\"replay\",\"for\":1,\"start\":9000000000000000000}",
                                NULL, NULL),
                     0);
    assert_int_equal(f->c->nsent, sent + 2);
    assert_closed(f, feed_frame(f, "{\"id\":6,\"op\":\"replay\",\"for\":-1}", NULL));
}

static void test_replay_bad_class(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"replay\",\"for\":1,\"events\":[\"nope\"]}", NULL));
}

/* Two front ends: an event goes only to the one that asked for its class, and
 * is encoded once for all. */
static void test_interest_per_conn(void **state)
{
    struct fx *f = *state;
    struct mconn *c1 = f->c, *c2 = mconn_new(f->m, -1, -1);
    uint64_t s1, s2;

    assert_non_null(c2);
    hello(f);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"interest\",\"events\":[\"sessions\"]}", NULL, NULL), 0);
    f->c = c2;
    hello(f); /* c2 asks for nothing */
    f->c = c1;
    s1 = c1->nsent;
    s2 = c2->nsent;
    mgmt_notify(f->m, notif(f, "session-up"));
    assert_int_equal(f->m->notif_built, 1);
    assert_int_equal(c1->nsent, s1 + 1);
    assert_int_equal(c2->nsent, s2);
    mgmt_notify_xml(f->m, "raven-vpn", "session-down", "<x/>", 4);
    assert_int_equal(c1->nsent, s1 + 2);
    assert_int_equal(c2->nsent, s2);
    /* c2 wants authentication failures, c1 not */
    f->c = c2;
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"interest\",\"events\":[\"auth\"]}", NULL, NULL), 0);
    f->c = c1;
    s2 = c2->nsent;
    mgmt_notify(f->m, notif(f, "authentication-failure"));
    mgmt_notify_xml(f->m, "raven-vpn", "authentication-failure", "<x/>", 4);
    assert_int_equal(c1->nsent, s1 + 2);
    assert_int_equal(c2->nsent, s2 + 2);
    assert_int_equal(f->m->notif_built, 4);
    /* events without a class still go to both */
    mgmt_config_changed(NULL, &(struct cfg_change){.path = "/raven-vpn:pools", .op = CFG_CHG_REPLACE}, 1, f->m);
    assert_int_equal(c1->nsent, s1 + 3);
    assert_int_equal(c2->nsent, s2 + 3);
}

static void test_interest_bad(void **state)
{
    struct fx *f = *state;

    /* before hello */
    assert_closed(f, feed_frame(f, "{\"id\":1,\"op\":\"interest\",\"events\":[\"sessions\"]}", NULL));
}

static void test_interest_bad_class(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"interest\",\"events\":[\"sessions\",\"all\"]}", NULL));
    assert_int_equal(f->c->interest, 0);
}

static void test_interest_bad_type(void **state)
{
    struct fx *f = *state;

    hello(f);
    assert_closed(f, feed_frame(f, "{\"id\":2,\"op\":\"interest\",\"events\":\"sessions\"}", NULL));
    assert_int_equal(f->c->interest, 0);
}

/* State `changed` events: one per loop iteration however many changes came, and
 * never overtaken by a reply. */
static void test_changed_coalesced(void **state)
{
    struct fx *f = *state;
    struct event_base *base = event_base_new();
    struct mgmt *m;
    struct mconn *c;
    uint64_t sent;
    json_t *j;

    assert_non_null(base);
    m = mgmt_new(base, f->cfg, &(struct mgmt_opts){.state_dir = f->dir}, NULL);
    assert_non_null(m);
    c = mconn_new(m, -1, -1);
    assert_non_null(c);
    f->c = c; /* for feed_frame and last: the fixture's connection stays with f->m */
    hello(f);
    sent = c->nsent;
    for (int i = 0; i < 5; i++)
        mgmt_state_changed(m);
    assert_int_equal(c->nsent, sent);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(c->nsent, sent + 1);
    j = last(f);
    assert_string_equal(json_string_value(json_object_get(j, "ev")), "changed");
    assert_false(json_is_true(json_object_get(j, "config")));
    json_decref(j);
    event_base_loop(base, EVLOOP_NONBLOCK); /* nothing more */
    assert_int_equal(c->nsent, sent + 1);
    /* a pending `changed` goes before the reply to the next request */
    mgmt_state_changed(m);
    assert_int_equal(request_rc(f, "{\"id\":2,\"op\":\"token-check\",\"token\":\"x\"}", NULL, NULL), -EACCES);
    assert_int_equal(c->nsent, sent + 3);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(c->nsent, sent + 3);
    /* a commit's `changed` covers a pending one */
    mgmt_state_changed(m);
    mgmt_config_changed(NULL, NULL, 0, m);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(c->nsent, sent + 4);
    mgmt_free(m);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oversized_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_is_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rest_sid_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_authenticated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interest_per_conn, setup, teardown),
        cmocka_unit_test(test_replay_log),
        cmocka_unit_test(test_replay_stamps_never_go_back),
        cmocka_unit_test_setup_teardown(test_replay_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_bad_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interest_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interest_bad_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interest_bad_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_coalesced, setup, teardown),
        cmocka_unit_test(test_state_sel),
        cmocka_unit_test(test_state_sel_unrecognised),
        cmocka_unit_test(test_state_sel_filtered),
        cmocka_unit_test_setup_teardown(test_get_paging_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_paging_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_paging_needs_sessions, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
