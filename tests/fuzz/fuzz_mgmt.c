/* Fuzzes ravend's side of the management socket: the bytes a front end sends
 * (frames, JSON headers, XML data) go through the frame receiver, the request
 * decoder and the operations on a real datastore, on a connection that said hello
 * and authenticated a user. The first input byte picks the front end (NETCONF or
 * REST) and the user (admin or read-only). The connection ends with the input, as
 * it would when a front end dies: its sessions end, and the candidate must come
 * back clean. */
#include <stdlib.h>
#include <string.h>

#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/mgmt/mgmt_nacm.h"
#include "tests/fuzz/fuzz_common.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mgmt *mgmt_get(struct fuzz_env *env)
{
    static struct mgmt *m;
    static const char users[] =
        "<management xmlns=\"" NS "\"><user><name>admin</name>"
        "<password-hash>$5$fuzzsalt$OmefWKGMLDeZBKj5jzd7SmUJ1AXG3k.f/0y1x5nkYY9</password-hash>" /* "pw" */
        "<role>admin</role></user>"
        "<user><name>viewer</name><role>read-only</role></user></management>"
        /* NACM: viewer may also write the pools, and read no other configuration */
        "<nacm xmlns=\"urn:ietf:params:xml:ns:yang:ietf-netconf-acm\"><rule-list><name>v</name>"
        "<group>read-only</group><rule><name>pools</name><path xmlns:rv=\"" NS "\">/rv:pools</path>"
        "<access-operations>*</access-operations><action>permit</action></rule>"
        "<rule><name>ops</name><module-name>ietf-netconf</module-name><rpc-name>edit-config</rpc-name>"
        "<access-operations>exec</access-operations><action>permit</action></rule>"
        "<rule><name>config</name><module-name>raven-vpn</module-name><access-operations>read</access-operations>"
        "<action>deny</action></rule></rule-list></nacm>";
    struct lyd_node *t = NULL;
    int err;

    if (m)
        return m;
    m = mgmt_new(NULL, env->cfg, &(struct mgmt_opts){.state_dir = "/nonexistent"},
                 NULL);
    if (!m || lyd_parse_data_mem(env->ctx, users, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &t))
        abort();
    mauth_set_users(m->auth, mauth_users_build(t, &err));
    if (nacm_load(m->nacm, t))
        abort();
    lyd_free_all(t);
    if (err)
        abort();
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env_get();
    struct mgmt *m = mgmt_get(env);
    struct cfg_errs errs = {0};
    struct mconn *c;

    if (size < 1)
        return 0;
    c = mconn_new(m, -1, -1);
    if (!c)
        abort();
    /* as after hello; a NETCONF hello would hand over a host key the fuzzer has not */
    c->kind = data[0] & 1 ? MGMT_KIND_NETCONF : MGMT_KIND_REST;
    mconn_user_add(c, data[0] & 2 ? "viewer" : "admin");
    mconn_feed(c, data + 1, size - 1);
    mconn_free(c);
    ly_err_clean(env->ctx, NULL);
    /* every session of the connection ended: no lock is left */
    for (int ds = 0; ds < CFG_DS_COUNT; ds++) {
        if (cfg_lock_holder(env->cfg, (enum cfg_ds)ds))
            abort();
    }
    cfg_discard(env->cfg, &(struct cfg_actor){.sid = 0}, &errs);
    cfg_errs_clear(&errs);
    return 0;
}
