/* The IKEv2 engine in-process for unit tests (ike_harness.h). */
#include <arpa/inet.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dataplane/dp.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "tests/unit/ike_harness.h"

const char ike_harness_config[] =
    "<ikev2 xmlns=\"" NS "\"><authorization-policy><name>g</name><pool>p</pool>"
    "<banner>Authorized use only</banner><configuration><url>http://cfg.example.org/x</url>"
    "<version>7</version></configuration><def-domain>corp.example.org</def-domain>"
    "</authorization-policy>"
    "<profile><name>rw</name><match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote>"
    "</identity></match><identity><local><fqdn>vpn.example.org</fqdn></local></identity>"
    "<authentication><local><pre-share><key>k1</key></pre-share></local><remote><pre-share><key>k1</key>"
    "</pre-share></remote></authentication><aaa><authorization><group><psk><method-list>l</method-list>"
    "<username>g</username></psk></group></authorization></aaa></profile></ikev2>"
    "<pools xmlns=\"" NS "\"><ipv4-pool><name>p</name><range><start>10.8.0.1</start><end>10.8.0.3</end></range>"
    "</ipv4-pool></pools>"
    "<aaa xmlns=\"" NS "\"><authorization-list><name>l</name><method><sequence>1</sequence><local/></method>"
    "</authorization-list></aaa>";

void out(const struct sockaddr_storage *to, const uint8_t *buf, size_t len, void *arg)
{
    struct env *e = arg;

    assert_true(len <= sizeof(e->out));
    memcpy(e->out, buf, len);
    e->out_len = len;
}

int setup(void **state)
{
    static struct env e;

    log_set_level(LOG_LVL_ERR);
    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    assert_int_equal(lyd_parse_data_mem(e.ctx, ike_harness_config, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &e.tree), 0);
    e.base = event_base_new();
    e.dp = dp_new();
    *state = &e;
    return 0;
}

int teardown(void **state)
{
    struct env *e = *state;

    lyd_free_all(e->tree);
    ly_ctx_destroy(e->ctx);
    event_base_free(e->base);
    dp_free(e->dp);
    return 0;
}

struct sockaddr_storage local, peer;


struct ike_engine *engine(struct env *e, const struct lyd_node *tree)
{
    struct ike_engine *eng = ike_engine_new(e->base, e->ctx, e->dp);

    assert_non_null(eng);
    assert_int_equal(ike_engine_prepare(eng, tree, false, NULL, NULL), 0);
    ike_engine_apply(eng);
    ike_engine_set_output(eng, out, e);
    ((struct sockaddr_in *)&local)->sin_family = AF_INET;
    ((struct sockaddr_in *)&local)->sin_port = htons(500);
    inet_pton(AF_INET, "192.0.2.1", &((struct sockaddr_in *)&local)->sin_addr);
    ((struct sockaddr_in *)&peer)->sin_family = AF_INET;
    ((struct sockaddr_in *)&peer)->sin_port = htons(500);
    inet_pton(AF_INET, "198.51.100.9", &((struct sockaddr_in *)&peer)->sin_addr);
    return eng;
}

/* Sends @b to the engine and returns its answer's length (in e->out). */
size_t ask(struct env *e, struct ike_engine *eng, struct ike_buf *b)
{
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, b->data, b->len);
    ike_buf_fini(b);
    return e->out_len;
}

/* Client @c's IKE_SA_INIT and IKE_AUTH with identity @id and pre-shared key
 * @key through @eng, both answered and accepted; @b is the client's buffer. */
void establish(struct env *e, struct ike_engine *eng, struct ike_client *c, const char *id, const char *key,
                      struct ike_buf *b)
{
    assert_true(ike_client_sa_init(c, b));
    assert_true(ask(e, eng, b));
    assert_true(ike_client_sa_init_done(c, e->out, e->out_len));
    assert_true(ike_client_auth(c, id, key, b));
    assert_true(ask(e, eng, b));
    assert_true(ike_client_auth_done(c, e->out, e->out_len));
}

size_t children(struct env *e, struct ike_engine *eng)
{
    struct lyd_node *st = NULL;
    struct ly_set *set = NULL;
    size_t n;

    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(e->ctx, "raven-vpn"), "vpn-state", 0, &st),
                     0);
    ike_engine_state(eng, st, NULL);
    assert_int_equal(lyd_find_xpath(st, "session/child-sa", &set), 0);
    n = set->count;
    ly_set_free(set, NULL);
    lyd_free_tree(st);
    return n;
}

/* The value of the vpn-state leaf at @path, "(none)" when there is none. */
struct ike_buf copy(const struct ike_buf *b)
{
    struct ike_buf c = {.data = malloc(b->len), .len = b->len};

    assert_non_null(c.data);
    memcpy(c.data, b->data, b->len);
    return c;
}

/* The counter at @path under vpn-state/ike-counters. */
uint64_t counter(struct env *e, struct ike_engine *eng, const char *path)
{
    struct lyd_node *st = NULL;
    struct ly_set *set = NULL;
    char xp[200];
    uint64_t v = 0;

    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(e->ctx, "raven-vpn"), "vpn-state", 0, &st),
                     0);
    ike_engine_state(eng, st, NULL);
    snprintf(xp, sizeof(xp), "ike-counters/%s", path);
    assert_int_equal(lyd_find_xpath(st, xp, &set), 0);
    if (set->count)
        v = strtoull(lyd_get_value(set->dnodes[0]), NULL, 10);
    ly_set_free(set, NULL);
    lyd_free_tree(st);
    return v;
}

