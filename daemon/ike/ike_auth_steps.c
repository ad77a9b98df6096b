/* IKE_AUTH as an ordered list of steps (see ike_auth_steps.h): the exchange
 * under way (struct ike_pend), the runner that takes it from step to step and
 * resumes it after an asynchronous answer, and the steps that turn the
 * authorization into the session's settings and bring the session up. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_cp.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/ike/ike_ppk.h"
#include "daemon/base/poison.h"

/* ---- the exchange under way ---- */

/* A copy of @in whose payload bodies point into *@buf (owned). */
static bool msg_copy(const struct ike_msg *in, uint8_t **buf, struct ike_msg *out)
{
    size_t total = 0, off = 0;

    for (size_t i = 0; i < in->npld; i++)
        total += in->pld[i].len;
    if (!(*buf = malloc(total ? total : 1)))
        return false;
    *out = *in;
    for (size_t i = 0; i < in->npld; i++) {
        memcpy(*buf + off, in->pld[i].body, in->pld[i].len);
        out->pld[i].body = *buf + off;
        off += in->pld[i].len;
    }
    return true;
}

struct ike_pend *ike_pend_new(const struct ike_msg *in, uint32_t msg_id)
{
    struct ike_pend *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    if (!msg_copy(in, &p->req_buf, &p->req)) {
        free(p);
        return NULL;
    }
    p->msg_id = msg_id;
    aaa_attrs_init(&p->cached);
    aaa_attrs_init(&p->user_at);
    aaa_attrs_init(&p->group_at);
    return p;
}

bool ike_pend_keep_fin(struct ike_pend *p, const struct ike_msg *in)
{
    if (p->have_fin)
        return true;
    return p->have_fin = msg_copy(in, &p->fin_buf, &p->fin);
}

void ike_pend_free(struct ike_pend *p)
{
    if (!p)
        return;
    aaa_cancel(p->op);
    dhcp_cancel(p->dhcp_op);
    ike_auth_sign_forget(p);
    ike_authq_forget(p);
    if (p->psk_local)
        OPENSSL_cleanse(p->psk_local, strlen(p->psk_local));
    free(p->psk_local);
    ike_ppk_forget(p);
    free(p->fin_buf);
    free(p->req_buf);
    free(p->idr);
    X509_NAME_free(p->dn);
    X509_free(p->crl_cert);
    sk_X509_pop_free(p->crl_chain, X509_free);
    aaa_attrs_free(&p->cached);
    aaa_attrs_free(&p->user_at);
    aaa_attrs_free(&p->group_at);
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

bool ike_auth_waiting(const struct ike_sess *s)
{
    return s->pend && (s->pend->op || s->pend->dhcp_op || s->pend->sign_job || s->pend->verify_job ||
                       s->pend->seal_job || s->state == IKE_SA_CRL_WAIT);
}

/* ---- the runner ---- */

static const struct {
    const char *name;
    enum ike_auth_rc (*run)(struct ike_sess *s, struct ike_auth_run *w);
} steps[] = {
    {"authenticate", ike_auth_step_authenticate},
    {"eap", ike_eap_step},
    {"authorize", ike_authz_step},
    {"dhcp", ike_lease_dhcp_step},
    {"sign", ike_auth_step_sign},
    {"ours", ike_auth_step_ours},
    {"settings", ike_auth_step_settings},
    {"lease", ike_lease_step},
    {"child", ike_childx_step},
    {"respond", ike_auth_step_respond},
    {"up", ike_auth_step_up},
};

#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

void ike_auth_run(struct ike_sess *s)
{
    struct ike_pend *pd = s->pend;
    struct ike_auth_run w;
    enum ike_auth_rc rc = IKE_AUTH_NEXT;
    char tag[IKE_SA_TAG_LEN];

    if (pd->run) { /* resumed after the response was sealed: what the steps found */
        w = *pd->run;
        OPENSSL_cleanse(pd->run, sizeof(*pd->run));
        free(pd->run);
        pd->run = NULL;
    } else {
        memset(&w, 0, sizeof(w));
    }
    while (rc == IKE_AUTH_NEXT && pd->step < NSTEPS) {
        rc = steps[pd->step].run(s, &w);
        if (rc == IKE_AUTH_NEXT)
            pd->step++;
        else if (rc == IKE_AUTH_WAIT)
            log_debug("ike", "%s: IKE_AUTH waits in its %s step", ike_sa_tag(s, tag, sizeof(tag)),
                      steps[pd->step].name);
    }
    if (rc == IKE_AUTH_WAIT && pd->run) { /* the respond step's seal job has them */
        OPENSSL_cleanse(&w, sizeof(w));
        return;
    }
    free(w.cpo);
    free(w.sa);
    OPENSSL_cleanse(&w.child, sizeof(w.child));
    if (rc == IKE_AUTH_NEXT) {
        /* the session is up; what the steps shared pointed into the RADIUS
         * answers, which go only now */
        s->pend = NULL;
        ike_pend_free(pd);
    }
}

void ike_auth_next(struct ike_sess *s)
{
    s->pend->step++;
    ike_auth_run(s);
}

enum ike_auth_rc ike_auth_refuse(struct ike_sess *s, const char *reason, const char *why)
{
    ike_auth_fail(s, s->pend->msg_id, reason, why);
    return IKE_AUTH_GONE;
}

/* ---- settings: the merged authorization and the session's settings ---- */

void ike_auth_authorize(struct ike_sess *s, const struct ike_prof *prof, const struct ike_id_pld *idi,
                        struct sess_attrs *at, char *user, char *group, size_t cap)
{
    struct ike_pend *pd = s->pend;
    struct ike_authz_in rad = {.user = pd->have_user ? &pd->user_at : NULL,
                               .group = pd->have_group ? &pd->group_at : NULL,
                               .cached = pd->have_cached ? &pd->cached : NULL};

    ike_authorize(s->gen, prof, pd->method, pd->eap && s->ss.eap_identity ? ID_EAP : idi->type,
                  pd->eap && s->ss.eap_identity ? s->ss.eap_identity : s->ss.remote_id, pd->dn, &rad, at, user, group,
                  cap);
}

enum ike_auth_rc ike_auth_step_settings(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    const struct ike_prof *prof = w->prof;
    char user[256], group[256];

    ike_auth_authorize(s, prof, &w->idi, &w->at, user, group, sizeof(user));
    s->ss.user = user[0] ? strdup(user) : NULL;
    s->ss.group = group[0] ? strdup(group) : NULL;
    s->ss.authz_sources = w->at.sources[0] ? strdup(w->at.sources) : NULL;
    ike_route_set_iface(s->e->dp, &w->at);
    if (pd->have_cached && pd->cached.class_)
        s->ss.acct_class = strdup(pd->cached.class_);
    ike_childx_settings(s, prof);
    if (w->at.flow_limit != UINT32_MAX)
        s->flow_limit = w->at.flow_limit; /* AAA/authorization wins over the IPsec profile (S8) */
    s->ss.session_lifetime = w->at.session_lifetime;
    s->tcp_mss = w->at.tcp_mss;
    s->mtu = w->at.mtu;
    s->ss.rate = w->at.rate; /* in the dataplane before the first child SA (child step) */
    sess_rate_apply(&s->ss);
    if (prof->dpd_interval) {
        s->dpd_interval = prof->dpd_interval;
        s->dpd_retry = prof->dpd_retry;
        s->dpd_periodic = prof->dpd_periodic;
    }
    s->ike_lifetime = prof->lifetime;
    return IKE_AUTH_NEXT;
}

/* ---- up: the response went, the session is up ---- */

enum ike_auth_rc ike_auth_step_up(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    enum ike_method m = ike_method_index(pd->method);
    char a[INET6_ADDRSTRLEN], va[INET_ADDRSTRLEN] = "none";
    struct in_addr ia = {.s_addr = htonl(s->ss.addr4)};

    ike_sess_established(s);
    ike_route_install(s);
    if (s->ss.have_addr4)
        inet_ntop(AF_INET, &ia, va, sizeof(va));
    log_info("ike", "session %" PRIu64 " up: %s%s%s from %s, profile %s, address %s%s, %zu child SA(s)", s->ss.id,
             s->ss.remote_id, s->ss.eap_identity ? ", EAP identity " : "", s->ss.eap_identity ? s->ss.eap_identity : "",
             ike_addr_str(&s->peer, a, sizeof(a)), s->ss.profile, va, s->ss.addr4_aaa ? " (from RADIUS)" : "",
             s->nchild);
    if (m < IKE_M_N && w->prof->acct_list[m])
        s->ss.acct_list = strdup(w->prof->acct_list[m]);
    ike_sess_notify_event(s, "session-up", NULL, NULL);
    ike_sess_arm_timers(s);
    sess_acct_start(&s->ss);
    sess_dhcp_arm(&s->ss);
    /* the session's first record, then the IKE_AUTH response the respond step
     * held (before any request of ours, such as the CFG_SET below) */
    ike_persist_save(s);
    if (s->hold_resp) {
        s->hold_resp = false;
        ike_xmit_out(s, &s->last_resp);
    }
    /* push (S4 "config-exchange set send"): a client that asked for nothing gets
     * the attributes in a CFG_SET, if there are any */
    if (!ike_msg_find(&pd->req, IKE_PLD_CP, 0) && w->prof->cfg_set_send)
        ike_cp_push(s, &w->at);
    s->cfg_set_accept = w->prof->cfg_set_accept;
    ike_persist_mark(s); /* with cfg_set_accept */
    return IKE_AUTH_NEXT;
}
