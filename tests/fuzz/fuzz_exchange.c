/* libFuzzer target for the IKEv2 engine's exchanges (daemon/ike): the fuzzed bytes
 * reach the handlers of authenticated messages, not only the codec. A test
 * initiator (tests/support/ike_client.c) completes IKE_SA_INIT with a fresh engine
 * and then sends, sealed with the right keys:
 *   mode 0: the input as a raw datagram (no SA; an IKE_SA_INIT announcing
 *           REDIRECT_SUPPORTED is redirected to the static gateway, RFC 5685);
 *   mode 1: an IKE_AUTH request whose payload chain is the input (USE_PPK was
 *           announced and the profile's PPK policy is optional: RFC 8784's
 *           notifies are read);
 *   mode 2: a valid IKE_AUTH, then a CREATE_CHILD_SA request with the input;
 *   mode 3: a valid IKE_AUTH, then an INFORMATIONAL request with the input,
 *           from another address (the client announced MOBIKE; a REDIRECT
 *           in it is read and ignored).
 * Input: mode byte, first payload type, payload chain. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "tests/support/ike_client.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

static const char config[] =
    "<ikev2 xmlns=\"" NS "\"><authorization-policy><name>g</name><pool>p</pool>"
    "<dns><primary>10.9.0.53</primary></dns><route><set><remote><ipv4>10.9.0.0/16</ipv4></remote></set></route>"
    "<ipsec-flow-limit>3</ipsec-flow-limit></authorization-policy>"
    "<profile><name>rw</name><match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote>"
    "</identity></match><identity><local><fqdn>vpn.example.org</fqdn></local></identity>"
    "<authentication><local><pre-share><key>k1</key></pre-share></local><remote><pre-share><key>k1</key>"
    "</pre-share></remote></authentication><aaa><authorization><group><psk><method-list>l</method-list>"
    "<username>g</username></psk></group></authorization></aaa><ppk><policy>optional</policy></ppk></profile>"
    "<ppk><ppk-id>pq</ppk-id><key>0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f</key></ppk>"
    "<global><redirect><gateway>gw.example.net</gateway></redirect></global>"
    "</ikev2>"
    "<pools xmlns=\"" NS "\"><ipv4-pool><name>p</name><range><start>10.8.0.1</start><end>10.8.0.3</end></range>"
    "</ipv4-pool></pools>"
    "<aaa xmlns=\"" NS "\"><authorization-list><name>l</name><method><sequence>1</sequence><local/></method>"
    "</authorization-list></aaa>";

static struct ly_ctx *ctx;
static struct lyd_node *tree;
static struct event_base *base;
static struct dp *dp;

struct capture {
    uint8_t buf[65536];
    size_t len;
};

static void out(const struct sockaddr_storage *peer, const uint8_t *buf, size_t len, void *arg)
{
    struct capture *c = arg;

    if (len <= sizeof(c->buf)) {
        memcpy(c->buf, buf, len);
        c->len = len;
    }
}

static void setup(void)
{
    if (ctx)
        return;
    log_set_level(LOG_LVL_ERR);
    ly_log_options(LY_LOSTORE);
    if (ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &ctx) ||
        !ly_ctx_load_module(ctx, "raven-types", NULL, NULL) || !ly_ctx_load_module(ctx, "raven-vpn", NULL, NULL) ||
        lyd_parse_data_mem(ctx, config, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree))
        abort();
    base = event_base_new();
    dp = dp_new();
    if (!base || !dp)
        abort();
}

static void addr(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
    struct sockaddr_in *s = (struct sockaddr_in *)ss;

    memset(ss, 0, sizeof(*ss));
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    inet_pton(AF_INET, a, &s->sin_addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct capture cap;
    struct sockaddr_storage local, peer;
    struct ike_engine *e;
    struct ike_client c;
    struct ike_buf b = {0};
    uint8_t mode;

    if (size < 2)
        return 0;
    setup();
    mode = data[0] % 4;
    e = ike_engine_new(base, ctx, dp);
    if (!e || ike_engine_prepare(e, tree, false, NULL, NULL))
        abort();
    ike_engine_apply(e);
    ike_engine_set_output(e, out, &cap);
    addr(&local, "192.0.2.1", 500);
    addr(&peer, "198.51.100.7", 500);
    if (mode == 0) {
        ike_engine_input(e, &local, &peer, false, data + 1, size - 1);
        goto done;
    }
    ike_client_init(&c, IKE_DH_CURVE25519);
    c.use_ppk = true; /* PPK_IDENTITY and NO_PPK_AUTH of a fuzzed IKE_AUTH are read */
    c.mobike = true; /* MOBIKE in use: an INFORMATIONAL's MOBIKE notifies are read */
    cap.len = 0;
    if (!ike_client_sa_init(&c, &b))
        abort();
    ike_engine_input(e, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    if (!cap.len || !ike_client_sa_init_done(&c, cap.buf, cap.len))
        abort(); /* a well-formed IKE_SA_INIT must be answered */
    if (mode >= 2) {
        cap.len = 0;
        if (!ike_client_auth(&c, "alice.example.org", "k1", &b))
            abort();
        ike_engine_input(e, &local, &peer, false, b.data, b.len);
        ike_buf_fini(&b);
        if (!cap.len || !ike_client_auth_done(&c, cap.buf, cap.len))
            abort(); /* a valid IKE_AUTH must establish the session */
    }
    if (mode == 3)
        addr(&peer, "203.0.113.9", 4500); /* from another address: a MOBIKE update could move it */
    if (ike_client_request(&c, mode == 1 ? 35 : mode == 2 ? 36 : 37, data[1], data + 2, size - 2, &b))
        ike_engine_input(e, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    ike_client_fini(&c);
done:
    ike_engine_free(e);
    if (dp_sa_count(dp))
        abort(); /* every child SA goes with its session */
    return 0;
}
