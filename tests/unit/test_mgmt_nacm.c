/* Unit tests of the NACM rule engine (daemon/mgmt/mgmt_nacm.c): each rule kind
 * (module, protocol operation, data node, notification), the order of rule
 * lists and rules (the first match decides), the default policies and the
 * extensions default-deny-all/-write, enable-nacm false, the recovery user,
 * the built-in rule lists of the roles, read pruning, create/update/delete
 * checks of a write, and the lock-out guard. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/config/cfg.h"
#include "daemon/mgmt/mgmt_nacm.h"

#define RV "urn:raven:params:xml:ns:yang:raven-vpn"
#define ACM "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"

static struct ly_ctx *ctx;

static struct lyd_node *parse(const char *xml)
{
    struct lyd_node *t = NULL;

    assert_int_equal(lyd_parse_data_mem(ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_NO_STATE, 0, &t), 0);
    return t;
}

#define USERS                                                                                                        \
    "<management xmlns='" RV "'>"                                                                                    \
    "<user><name>root</name><password-hash>$5$s$h</password-hash><role>admin</role></user>"                        \
    "<user><name>ro</name><role>read-only</role></user>"                                                             \
    "<user><name>pooler</name><role>read-only</role></user></management>"

#define RULE(name, extra, access, action)                                                                            \
    "<rule><name>" name "</name>" extra "<access-operations>" access "</access-operations><action>" action          \
    "</action></rule>"

/* pooler: writes pools, reads sessions, runs edit-config and commit; nothing else */
#define POOLER_NACM                                                                                                  \
    "<nacm xmlns='" ACM "'><groups><group><name>pool-admins</name><user-name>pooler</user-name></group></groups>"    \
    "<rule-list><name>pools</name><group>pool-admins</group>"                                                        \
    RULE("no-lock", "<module-name>ietf-netconf</module-name><rpc-name>lock</rpc-name>", "exec", "deny")              \
    RULE("ops", "<module-name>ietf-netconf</module-name><rpc-name>*</rpc-name>", "exec", "permit")                   \
    RULE("pools", "<module-name>raven-vpn</module-name><path xmlns:rv='" RV "'>/rv:pools</path>", "*", "permit")     \
    RULE("sessions", "<path xmlns:rv='" RV "'>/rv:vpn-state/rv:session</path>", "read", "permit")                   \
    RULE("no-range-delete", "<path xmlns:rv='" RV "'>/rv:pools/rv:ipv4-pool/rv:range</path>", "delete", "deny")   \
    RULE("cc", "<module-name>ietf-netconf-notifications</module-name>"                                               \
               "<notification-name>netconf-config-change</notification-name>", "read", "permit")                    \
    RULE("no-raven", "<module-name>raven-vpn</module-name>", "*", "deny")                                            \
    RULE("rest", "", "*", "deny") "</rule-list></nacm>"

static struct nacm *engine(const char *xml)
{
    struct nacm *n = nacm_new(ctx);
    struct lyd_node *t = parse(xml);

    assert_non_null(n);
    assert_int_equal(nacm_load(n, t), 0);
    lyd_free_all(t);
    return n;
}

static void test_roles_builtin(void **state)
{
    struct nacm *n = engine(USERS);
    const char *why;

    (void)state;
    assert_true(nacm_unrestricted(n, "root"));
    assert_false(nacm_unrestricted(n, "ro"));
    assert_true(nacm_exec(n, "root", "raven-vpn", "clear-counters"));
    assert_false(nacm_exec(n, "ro", "raven-vpn", "clear-counters"));
    /* moving sessions away changes them, as clearing does: not read-only's */
    assert_false(nacm_exec(n, "ro", "raven-vpn", "redirect-sessions"));
    assert_false(nacm_exec(n, "ro", "raven-vpn", "clear-session"));
    assert_true(nacm_exec(n, "root", "raven-vpn", "redirect-sessions"));
    assert_false(nacm_exec(n, "ro", "ietf-netconf", "edit-config"));
    assert_false(nacm_exec(n, "ro", "ietf-netconf", "lock"));
    assert_true(nacm_exec(n, "ro", "ietf-netconf", "get-config"));
    assert_true(nacm_exec(n, "ro", "ietf-netconf", "validate"));
    assert_true(nacm_exec(n, "ro", "ietf-netconf", "close-session"));
    assert_true(nacm_read_path(n, "ro", "/raven-vpn:vpn-state"));
    assert_true(nacm_read_path(n, "ro", "/ietf-netconf-acm:nacm"));
    assert_true(nacm_notif(n, "ro", "raven-vpn", "session-up", NULL, 0));
    /* an unknown user has no group: RFC defaults (exec permit, read permit) and
     * default-deny-all on /nacm */
    assert_false(nacm_read_path(n, "nobody", "/ietf-netconf-acm:nacm"));
    assert_true(nacm_admin_left(n, &why));
    nacm_free(n);
}

static void test_operations(void **state)
{
    struct nacm *n = engine(USERS POOLER_NACM);

    (void)state;
    assert_false(nacm_unrestricted(n, "pooler"));
    /* the first matching rule decides: no-lock before ops */
    assert_false(nacm_exec(n, "pooler", "ietf-netconf", "lock"));
    assert_true(nacm_exec(n, "pooler", "ietf-netconf", "commit"));
    assert_true(nacm_exec(n, "pooler", "ietf-netconf", "kill-session"));
    /* the module rule no-raven denies raven-vpn's RPCs */
    assert_false(nacm_exec(n, "pooler", "raven-vpn", "clear-session"));
    /* the catch-all denies the rest */
    assert_false(nacm_exec(n, "pooler", "notifications", "create-subscription"));
    /* close-session is always allowed */
    assert_true(nacm_exec(n, "pooler", "ietf-netconf", "close-session"));
    /* the other users keep their roles' built-in lists */
    assert_true(nacm_exec(n, "root", "ietf-netconf", "lock"));
    assert_false(nacm_exec(n, "ro", "ietf-netconf", "commit"));
    nacm_free(n);
}

static void test_reads(void **state)
{
    struct nacm *n = engine(USERS POOLER_NACM);
    struct lyd_node *t = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name><range><start>10.0.0.1</start>"
                               "<end>10.0.0.9</end></range></ipv4-pool></pools>"
                               "<aaa xmlns='" RV "'><radius-server><name>r</name><address>192.0.2.1</address>"
                               "<key>k</key></radius-server></aaa>" USERS);
    struct lyd_node *c;
    int tops = 0;

    (void)state;
    assert_true(nacm_read_path(n, "pooler", "/raven-vpn:pools"));
    assert_true(nacm_read_path(n, "pooler", "/raven-vpn:pools/ipv4-pool[name='x']/range"));
    assert_false(nacm_read_path(n, "pooler", "/raven-vpn:aaa"));
    assert_false(nacm_read_path(n, "pooler", "/raven-vpn:vpn-state"));
    assert_true(nacm_read_path(n, "pooler", "/raven-vpn:vpn-state/session[id='7']"));
    nacm_prune(n, "pooler", &t);
    LY_LIST_FOR(t, c) {
        tops++;
        assert_string_equal(c->schema->name, "pools");
    }
    assert_int_equal(tops, 1);
    lyd_free_all(t);
    /* read-default deny: the read-only role still reads (its built-in list) */
    nacm_free(n);
    n = engine(USERS "<nacm xmlns='" ACM "'><read-default>deny</read-default></nacm>");
    assert_true(nacm_read_path(n, "ro", "/raven-vpn:pools"));
    assert_false(nacm_read_path(n, "nobody", "/raven-vpn:pools"));
    nacm_free(n);
}

static void test_writes(void **state)
{
    struct nacm *n = engine(USERS POOLER_NACM);
    struct lyd_node *old = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name><range><start>10.0.0.1</start>"
                                 "<end>10.0.0.9</end></range></ipv4-pool></pools>");
    struct lyd_node *upd = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name><range><start>10.0.0.1</start>"
                                 "<end>10.0.0.8</end></range></ipv4-pool></pools>");
    struct lyd_node *add = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name><range><start>10.0.0.1</start>"
                                 "<end>10.0.0.9</end></range></ipv4-pool></pools>"
                                 "<aaa xmlns='" RV "'><radius-server><name>r</name><address>192.0.2.1</address>"
                                 "</radius-server></aaa>");
    struct lyd_node *gone = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name></ipv4-pool></pools>");
    unsigned int op;
    char *path;

    (void)state;
    assert_int_equal(nacm_check_write(n, "pooler", old, upd, &path, &op), 0);
    assert_null(path);
    assert_int_equal(nacm_check_write(n, "pooler", NULL, old, &path, &op), 0);
    assert_int_equal(nacm_check_write(n, "pooler", old, add, &path, &op), -EACCES);
    assert_int_equal(op, NACM_CREATE);
    assert_string_equal(path, "/raven-vpn:aaa");
    free(path);
    assert_int_equal(nacm_check_write(n, "pooler", add, old, &path, &op), -EACCES);
    assert_int_equal(op, NACM_DELETE);
    free(path);
    /* the later data-node rule denies deleting a range, but /rv:pools comes first */
    assert_int_equal(nacm_check_write(n, "pooler", old, gone, &path, &op), 0);
    /* the read-only role writes nothing, admin anything */
    assert_int_equal(nacm_check_write(n, "ro", old, upd, &path, &op), -EACCES);
    assert_int_equal(op, NACM_UPDATE);
    free(path);
    assert_int_equal(nacm_check_write(n, "root", old, add, &path, &op), 0);
    nacm_free(n);
    /* a leaf's new value is an update */
    {
        struct lyd_node *m1 = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name>"
                                    "<netmask>255.255.255.0</netmask></ipv4-pool></pools>");
        struct lyd_node *m2 = parse("<pools xmlns='" RV "'><ipv4-pool><name>p</name>"
                                    "<netmask>255.255.0.0</netmask></ipv4-pool></pools>");

        n = engine(USERS POOLER_NACM);
        assert_int_equal(nacm_check_write(n, "pooler", m1, m2, &path, &op), 0);
        assert_int_equal(nacm_check_write(n, "ro", m1, m2, &path, &op), -EACCES);
        assert_int_equal(op, NACM_UPDATE);
        assert_string_equal(path, "/raven-vpn:pools/ipv4-pool[name='p']/netmask");
        free(path);
        nacm_free(n);
        lyd_free_all(m1);
        lyd_free_all(m2);
    }
    /* enable-nacm false: nothing is checked */
    n = engine(USERS "<nacm xmlns='" ACM "'><enable-nacm>false</enable-nacm></nacm>");
    assert_true(nacm_unrestricted(n, "ro"));
    assert_int_equal(nacm_check_write(n, "ro", old, add, &path, &op), 0);
    nacm_free(n);
    /* write-default permit lets a user without group write; default-deny-all
     * still guards /nacm */
    n = engine(USERS "<nacm xmlns='" ACM "'><write-default>permit</write-default></nacm>");
    assert_int_equal(nacm_check_write(n, "nobody", old, add, &path, &op), 0);
    lyd_free_all(old);
    old = parse("<nacm xmlns='" ACM "'><read-default>deny</read-default></nacm>");
    assert_int_equal(nacm_check_write(n, "nobody", NULL, old, &path, &op), -EACCES);
    free(path);
    nacm_free(n);
    lyd_free_all(old);
    lyd_free_all(upd);
    lyd_free_all(add);
    lyd_free_all(gone);
}

static void test_notifications(void **state)
{
    struct nacm *n = engine(USERS POOLER_NACM);
    const char *pools[] = {"/raven-vpn:pools/ipv4-pool[name='p']"}, *aaa[] = {"/raven-vpn:aaa"};

    (void)state;
    assert_true(nacm_notif(n, "pooler", "ietf-netconf-notifications", "netconf-config-change", pools, 1));
    assert_false(nacm_notif(n, "pooler", "ietf-netconf-notifications", "netconf-config-change", aaa, 1));
    assert_false(nacm_notif(n, "pooler", "raven-vpn", "session-up", NULL, 0));
    assert_true(nacm_notif(n, "root", "ietf-netconf-notifications", "netconf-config-change", aaa, 1));
    nacm_free(n);
}

/* A session event carries the session's values: a rule hiding a leaf of the
 * sessions hides the event; a key predicate is judged on the session's id. A
 * user no longer configured gets nothing. */
static void test_notification_content(void **state)
{
#define UP RULE("up", "<module-name>raven-vpn</module-name><notification-name>session-up</notification-name>", \
                "read", "permit")
#define AUDIT(rules)                                                                                                 \
    USERS "<nacm xmlns='" ACM "'><groups><group><name>aud</name><user-name>ro</user-name></group></groups>"         \
          "<rule-list><name>a</name><group>aud</group>" UP rules "</rule-list></nacm>"
    const char *s3[] = {"/raven-vpn:vpn-state/session[id='3']"}, *s4[] = {"/raven-vpn:vpn-state/session[id='4']"};
    struct nacm *n = engine(AUDIT(
        RULE("no-user", "<path xmlns:rv='" RV "'>/rv:vpn-state/rv:session/rv:eap-identity</path>", "read", "deny")));

    (void)state;
    assert_false(nacm_notif(n, "ro", "raven-vpn", "session-up", s3, 1));
    assert_true(nacm_notif(n, "root", "raven-vpn", "session-up", s3, 1));
    nacm_free(n);
    n = engine(AUDIT(RULE("no-4", "<path xmlns:rv='" RV "'>/rv:vpn-state/rv:session[rv:id='4']</path>", "read",
                          "deny")));
    assert_true(nacm_notif(n, "ro", "raven-vpn", "session-up", s3, 1));
    assert_false(nacm_notif(n, "ro", "raven-vpn", "session-up", s4, 1));
    /* "gone": not (or no longer) a configured user */
    assert_false(nacm_notif(n, "gone", "raven-vpn", "session-up", s3, 1));
    assert_false(nacm_notif(n, "gone", "ietf-netconf-notifications", "netconf-config-change", NULL, 0));
    /* more config-change targets than are kept: "*", readable by no restricted user */
    {
        const char *many[] = {"/raven-vpn:pools", "*"};

        assert_false(nacm_notif(n, "ro", "ietf-netconf-notifications", "netconf-config-change", many, 2));
        assert_true(nacm_notif(n, "root", "ietf-netconf-notifications", "netconf-config-change", many, 2));
    }
    nacm_free(n);
#undef AUDIT
#undef UP
}

static void test_lockout_and_recovery(void **state)
{
    const char *deny = "<nacm xmlns='" ACM "'><rule-list><name>x</name><group>*</group>" RULE(
        "w", "", "create update delete", "deny") "</rule-list></nacm>";
    char xml[4096];
    struct nacm *n;
    const char *why;

    (void)state;
    snprintf(xml, sizeof(xml), "%s%s", USERS, deny);
    n = engine(xml);
    assert_false(nacm_admin_left(n, &why));
    assert_non_null(strstr(why, "locking every administrator out"));
    nacm_free(n);
    snprintf(xml, sizeof(xml),
             "<management xmlns='" RV "'><user><name>root</name><role>admin</role></user>"
             "<user><name>rescue</name><password-hash>$5$s$h</password-hash><nacm-recovery>true</nacm-recovery>"
             "</user></management>%s",
             deny);
    n = engine(xml);
    assert_true(nacm_admin_left(n, &why));
    assert_true(nacm_unrestricted(n, "rescue"));
    assert_false(nacm_exec(n, "root", "ietf-netconf", "edit-config") &&
                 nacm_read_path(n, "root", "/raven-vpn:pools") && nacm_unrestricted(n, "root"));
    nacm_free(n);
    /* a recovery user that cannot log in (no password, no key) does not count */
    snprintf(xml, sizeof(xml),
             "<management xmlns='" RV "'><user><name>root</name><password-hash>$5$s$h</password-hash>"
             "<role>admin</role></user><user><name>rescue</name><nacm-recovery>true</nacm-recovery></user>"
             "</management>%s",
             deny);
    n = engine(xml);
    assert_false(nacm_admin_left(n, &why));
    nacm_free(n);
    /* what recovery takes, no more: deleting the whole management subtree may
     * be denied; creating rules may not */
    snprintf(xml, sizeof(xml),
             "%s<nacm xmlns='" ACM "'><rule-list><name>x</name><group>*</group>" RULE(
                 "m", "<path xmlns:rv='" RV "'>/rv:management</path>", "delete", "deny") "</rule-list></nacm>",
             USERS);
    n = engine(xml);
    assert_true(nacm_admin_left(n, &why));
    nacm_free(n);
    snprintf(xml, sizeof(xml),
             "%s<nacm xmlns='" ACM "'><rule-list><name>x</name><group>*</group>" RULE(
                 "r", "<path xmlns:acm='" ACM "'>/acm:nacm/acm:rule-list/acm:rule</path>", "create", "deny")
             "</rule-list></nacm>",
             USERS);
    n = engine(xml);
    assert_false(nacm_admin_left(n, &why));
    nacm_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_builtin),
        cmocka_unit_test(test_operations),
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_notification_content),
        cmocka_unit_test(test_lockout_and_recovery),
    };
    int rc;

    ctx = cfg_yang_ctx(RAVEN_YANG_DIR, RAVEN_IETF_YANG_DIR);
    if (!ctx)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ly_ctx_destroy(ctx);
    return rc;
}
