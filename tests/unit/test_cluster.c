/* Unit tests of the cluster's records and pick (daemon/cluster/cluster_rec.h):
 * a valid member record read whole; every kind of bad record refused with its
 * reason (not JSON, not an object, each field missing, of the wrong type or
 * out of range, a name that is not the key's, an address that is not an IP
 * address or of the other family); the JSON written read back the same;
 * session records; keys split; the pick by share of capacity, ties by name,
 * draining members and the excluded one never chosen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "daemon/cluster/cluster_rec.h"

static int parse(const char *key, const char *json, int family, struct cluster_member *m, char *why)
{
    return cluster_member_parse(key, json, strlen(json), family, m, why, 200);
}

static void test_member_valid(void **st)
{
    struct cluster_member m;
    char why[200] = "";

    (void)st;
    assert_int_equal(parse("a", "{\"name\":\"a\",\"address\":\"192.0.2.1\",\"sessions\":3,\"capacity\":100,"
                                "\"health\":\"up\",\"partition\":2}",
                           AF_INET, &m, why),
                     0);
    assert_string_equal(m.name, "a");
    assert_string_equal(m.address, "192.0.2.1");
    assert_int_equal(m.family, AF_INET);
    assert_int_equal(m.sessions, 3);
    assert_int_equal(m.capacity, 100);
    assert_false(m.draining);
    assert_int_equal(m.partition, 2);
    assert_int_equal(parse("b", "{\"name\":\"b\",\"address\":\"2001:db8::1\",\"sessions\":0,\"capacity\":1,"
                                "\"health\":\"draining\"}",
                           AF_INET6, &m, why),
                     0);
    assert_true(m.draining);
    assert_int_equal(m.partition, -1);
    assert_int_equal(m.family, AF_INET6);
    /* the largest values */
    assert_int_equal(parse("c", "{\"name\":\"c\",\"address\":\"10.0.0.1\",\"sessions\":4294967295,"
                                "\"capacity\":4294967295,\"health\":\"up\",\"partition\":255}",
                           AF_INET, &m, why),
                     0);
    assert_int_equal(m.sessions, UINT32_MAX);
}

static void test_member_invalid(void **st)
{
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"not json", "not JSON"},
        {"", "not JSON"},
        {"[1,2]", "not a JSON object"},
        {"\"a\"", "not JSON"},
        {"{\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}", "\"name\" missing"},
        {"{\"name\":\"a\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}", "\"address\" missing"},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"capacity\":1,\"health\":\"up\"}", "\"sessions\" missing"},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"health\":\"up\"}", "\"capacity\" missing"},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1}", "\"health\" missing"},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":-5,\"health\":\"up\"}", "\"capacity\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":0,\"health\":\"up\"}", "\"capacity\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":4294967296,\"health\":\"up\"}",
         "\"capacity\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":\"5\",\"health\":\"up\"}",
         "\"capacity\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":-1,\"capacity\":1,\"health\":\"up\"}", "\"sessions\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1.5,\"capacity\":1,\"health\":\"up\"}", "\"sessions\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":4294967296,\"capacity\":1,\"health\":\"up\"}",
         "\"sessions\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"sick\"}", "\"health\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\",\"partition\":256}",
         "\"partition\""},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\",\"partition\":-1}",
         "\"partition\""},
        {"{\"name\":\"a\",\"address\":\"vpn.example\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}",
         "not an IP address"},
        {"{\"name\":\"a\",\"address\":\"10.0.0.1/24\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}",
         "not an IP address"},
        {"{\"name\":\"a\",\"address\":\"2001:db8::1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}",
         "another family"},
        {"{\"name\":\"a\",\"address\":7,\"sessions\":1,\"capacity\":1,\"health\":\"up\"}", "\"address\""},
        {"{\"name\":\"other\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}",
         "not the key's"},
        {"{\"name\":\"a\",\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}",
         "not JSON"},
    };
    struct cluster_member m;

    (void)st;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[200] = "";

        if (parse("a", bad[i].json, AF_INET, &m, why) != -1 || !strstr(why, bad[i].why))
            fail_msg("record %zu (%s): got \"%s\", wanted \"%s\"", i, bad[i].json, why, bad[i].why);
    }
    /* not NUL-terminated: only vlen bytes are read */
    {
        const char rec[] =
            "{\"name\":\"a\",\"address\":\"10.0.0.1\",\"sessions\":1,\"capacity\":1,\"health\":\"up\"}XX";
        char why[200] = "";

        assert_int_equal(cluster_member_parse("a", rec, sizeof(rec) - 3, AF_INET, &m, why, sizeof(why)), 0);
        assert_int_equal(cluster_member_parse("a", rec, sizeof(rec) - 4, AF_INET, &m, why, sizeof(why)), -1);
    }
}

static void test_member_roundtrip(void **st)
{
    struct cluster_member m = {.name = "m1", .address = "198.51.100.7", .family = AF_INET, .sessions = 12,
                               .capacity = 500, .draining = true, .partition = 3},
                          back;
    char why[200] = "", *j;
    size_t len = 0;

    (void)st;
    j = cluster_member_json(&m, &len);
    assert_non_null(j);
    assert_int_equal(len, strlen(j));
    assert_int_equal(cluster_member_parse("m1", j, len, AF_INET, &back, why, sizeof(why)), 0);
    assert_string_equal(back.name, m.name);
    assert_string_equal(back.address, m.address);
    assert_int_equal(back.family, m.family);
    assert_int_equal(back.sessions, m.sessions);
    assert_int_equal(back.capacity, m.capacity);
    assert_int_equal(back.draining, m.draining);
    assert_int_equal(back.partition, m.partition);
    free(j);
    m.partition = -1;
    j = cluster_member_json(&m, &len);
    assert_null(strstr(j, "partition"));
    assert_int_equal(cluster_member_parse("m1", j, len, AF_INET, &back, why, sizeof(why)), 0);
    assert_int_equal(back.partition, -1);
    free(j);
}

static int sparse(const char *json, struct cluster_session *s, char *why)
{
    return cluster_session_parse(json, strlen(json), s, why, 200);
}

static void test_session(void **st)
{
    struct cluster_session s = {.user = "alice", .naddr = 2, .addr = {"10.1.0.5", "2001:db8::5"}}, back;
    char why[200] = "", *j;
    size_t len = 0;

    (void)st;
    j = cluster_session_json(&s, &len);
    assert_non_null(j);
    assert_int_equal(cluster_session_parse(j, len, &back, why, sizeof(why)), 0);
    assert_memory_equal(&s, &back, sizeof(s));
    free(j);
    assert_int_equal(sparse("{\"user\":\"bob\",\"addresses\":[]}", &back, why), 0);
    assert_int_equal(back.naddr, 0);
    assert_int_equal(sparse("{\"addresses\":[]}", &back, why), -1);
    assert_non_null(strstr(why, "\"user\" missing"));
    assert_int_equal(sparse("{\"user\":\"b\",\"addresses\":[\"x\"]}", &back, why), -1);
    assert_non_null(strstr(why, "not an IP address"));
    assert_int_equal(sparse("{\"user\":\"b\"}", &back, why), -1);
    assert_int_equal(sparse("{\"user\":\"b\",\"addresses\":[\"10.0.0.1\",\"10.0.0.2\",\"10.0.0.3\",\"10.0.0.4\","
                            "\"10.0.0.5\"]}",
                            &back, why),
                     -1);
    assert_int_equal(cluster_session_parse("{", 1, &back, why, sizeof(why)), -1);
}

static void test_key_split(void **st)
{
    char name[CLUSTER_NAME_MAX];
    uint64_t id = 0;

    (void)st;
    assert_int_equal(cluster_key_split("members/n1", name, sizeof(name), &id), 'm');
    assert_string_equal(name, "n1");
    assert_int_equal(cluster_key_split("sessions/n2/77", name, sizeof(name), &id), 's');
    assert_string_equal(name, "n2");
    assert_int_equal(id, 77);
    assert_int_equal(cluster_key_split("members/", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("members/a/b", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("sessions/n2", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("sessions//5", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("sessions/n2/x", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("sessions/n2/5x", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("sessions/n2/99999999999999999999999", name, sizeof(name), &id), 0);
    assert_int_equal(cluster_key_split("leases/x", name, sizeof(name), &id), 0);
}

static void test_pick(void **st)
{
    struct cluster_member m[4] = {
        {.name = "c", .sessions = 10, .capacity = 100},
        {.name = "a", .sessions = 20, .capacity = 100},
        {.name = "b", .sessions = 40, .capacity = 400},
        {.name = "d", .sessions = 0, .capacity = 100, .draining = true},
    };

    (void)st;
    /* c and b both at 10 %: c wins only by... name: b */
    assert_int_equal(cluster_pick(m, 4, NULL), 2);
    assert_int_equal(cluster_pick(m, 4, "b"), 0);
    m[2].sessions = 41;
    assert_int_equal(cluster_pick(m, 4, NULL), 0);
    /* by share, not by count: a at 20/100 loses to b at 41/400 */
    assert_int_equal(cluster_pick(m, 4, "c"), 2);
    /* the draining one is never chosen, even idle */
    assert_int_equal(cluster_pick(&m[3], 1, NULL), -1);
    assert_int_equal(cluster_pick(m, 0, NULL), -1);
    assert_int_equal(cluster_pick(m, 1, "c"), -1);
    /* large counts do not overflow */
    m[0].sessions = UINT32_MAX;
    m[0].capacity = UINT32_MAX;
    m[1].sessions = UINT32_MAX - 1;
    m[1].capacity = UINT32_MAX;
    assert_int_equal(cluster_pick(m, 2, NULL), 1);
}

static void test_addr_family(void **st)
{
    (void)st;
    assert_int_equal(cluster_addr_family("10.0.0.1"), AF_INET);
    assert_int_equal(cluster_addr_family("::1"), AF_INET6);
    assert_int_equal(cluster_addr_family("fe80::1%eth0"), 0);
    assert_int_equal(cluster_addr_family(""), 0);
    assert_int_equal(cluster_addr_family(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_valid), cmocka_unit_test(test_member_invalid),
        cmocka_unit_test(test_member_roundtrip), cmocka_unit_test(test_session),
        cmocka_unit_test(test_key_split), cmocka_unit_test(test_pick),
        cmocka_unit_test(test_addr_family),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
