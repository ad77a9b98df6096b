/* The headend's own certificates against what remote-access clients require
 * (SPEC S13, pki_server_cert_check): at prepare, for each profile that signs
 * with a certificate, the certificate of the trustpoint it signs with against
 * the profile's local identity. A commit is never refused for them; at apply
 * each warning the previous configuration did not have is logged and sent as
 * the certificate-warning notification, and vpn-state/certificate-warning
 * lists those of the configuration in force. The check runs at commit: a
 * certificate that comes within pki/expiry-warning-days of its end later is
 * found by the next commit. The certificate-expiring alarms of every
 * trustpoint's certificates are checked at commit and every hour. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_certcheck.h"
#include "daemon/base/poison.h"

#define MAX_PER_CERT 8

void ike_certcheck_build(struct ike_conf *c)
{
    time_t now = time(NULL);

    for (size_t i = 0; i < c->nprofs; i++) {
        const struct ike_prof *p = &c->profs[i];
        struct pki_tp *tp = p->local_rsa || p->local_ecdsa ? ike_auth_signing_tp(p) : NULL;
        struct pki_issue is[MAX_PER_CERT];
        struct ike_cert_warn *w;
        const uint8_t *id = NULL;
        size_t id_len = 0, n;
        uint8_t type = p->local_id_type;

        if (!tp)
            continue;
        if ((type == ID_FQDN || type == ID_RFC822) && p->local_id) {
            id = (const uint8_t *)p->local_id;
            id_len = strlen(p->local_id);
        } else if (type == ID_IPV4 || type == ID_IPV6) {
            id = p->local_id_raw;
            id_len = type == ID_IPV4 ? 4 : 16;
        } else {
            type = 0; /* our address, or the certificate's own subject */
        }
        n = pki_server_cert_check(tp->cert, type, id, id_len, now, c->cert_warn_days, is, MAX_PER_CERT);
        if (!n)
            continue;
        w = realloc(c->cert_warns, (c->ncert_warns + n) * sizeof(*w));
        if (!w)
            return; /* warnings only: a configuration without them still works */
        c->cert_warns = w;
        for (size_t j = 0; j < n; j++)
            c->cert_warns[c->ncert_warns++] = (struct ike_cert_warn){
                .profile = p->name, .trustpoint = tp->name, .issue = is[j]};
    }
}

static bool known(const struct ike_conf *c, const struct ike_cert_warn *w)
{
    for (size_t i = 0; c && i < c->ncert_warns; i++) {
        const struct ike_cert_warn *o = &c->cert_warns[i];

        if (o->issue.kind == w->issue.kind && !strcmp(o->profile, w->profile) &&
            !strcmp(o->trustpoint, w->trustpoint) && !strcmp(o->issue.msg, w->issue.msg))
            return true;
    }
    return false;
}

static void fill(struct lyd_node *n, const struct ike_cert_warn *w)
{
    ike_add_str(n, "profile", w->profile);
    ike_add_str(n, "trustpoint", w->trustpoint);
    ike_add_str(n, "kind", pki_issue_name(w->issue.kind));
    ike_add_str(n, "message", w->issue.msg);
}

void ike_certcheck_report(struct ike_engine *e, const struct ike_conf *old, const struct ike_conf *now)
{
    const struct lys_module *m = ly_ctx_get_module_implemented(e->ctx, "raven-vpn");

    for (size_t i = 0; i < now->ncert_warns; i++) {
        const struct ike_cert_warn *w = &now->cert_warns[i];
        struct lyd_node *n = NULL;

        if (known(old, w))
            continue;
        log_warn("ike", "profile %s, trustpoint %s: %s (%s)", w->profile, w->trustpoint, w->issue.msg,
                 pki_issue_name(w->issue.kind));
        if (!e->event || !m || lyd_new_inner(NULL, m, "certificate-warning", 0, &n))
            continue;
        fill(n, w);
        e->event(n, e->event_arg);
    }
}

void ike_certcheck_state(const struct ike_conf *c, struct lyd_node *state)
{
    for (size_t i = 0; c && i < c->ncert_warns; i++) {
        const struct ike_cert_warn *w = &c->cert_warns[i];
        struct lyd_node *n = NULL;

        if (lyd_new_list(state, NULL, "certificate-warning", 0, &n, w->profile, w->trustpoint,
                         pki_issue_name(w->issue.kind)))
            continue;
        ike_add_str(n, "message", w->issue.msg);
    }
}

#define TP_RES "/raven-vpn:pki/trustpoint[name='%s']/%s"

static void expiry_alarm(const char *tp, const char *leaf, X509 *cert, int days, unsigned int warn_days)
{
    char res[ALARM_RESOURCE_MAX], subj[160] = "";

    snprintf(res, sizeof(res), TP_RES, tp, leaf);
    if (!cert || days > (int)warn_days) {
        alarm_clear(ALARM_CERT_EXPIRING, res);
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
    if (days < 0)
        alarm_raise(ALARM_CERT_EXPIRING, res, ALARM_SEV_CRITICAL, "the certificate %s has expired: replace it", subj);
    else
        alarm_raise(ALARM_CERT_EXPIRING, res, days <= 7 ? ALARM_SEV_MAJOR : ALARM_SEV_WARNING,
                    "the certificate %s ends in %d days (pki/expiry-warning-days %u): renew it", subj, days,
                    warn_days);
}

static bool tp_listed(const char *resource, void *arg)
{
    const struct ike_conf *c = arg;
    char res[ALARM_RESOURCE_MAX];

    for (size_t i = 0; c && i < c->ntps; i++) {
        for (int k = 0; k < 2; k++) {
            snprintf(res, sizeof(res), TP_RES, c->tps[i]->name, k ? "ca-certificate" : "certificate");
            if (!strcmp(res, resource))
                return true;
        }
    }
    return false;
}

void ike_certcheck_alarms(const struct ike_conf *c)
{
    time_t now = time(NULL);

    for (size_t i = 0; c && i < c->ntps; i++) {
        const struct pki_tp *tp = c->tps[i];
        X509 *soonest = NULL;
        int days = 0, least = 0;

        if (tp->cert && pki_cert_days_left(tp->cert, now, &days))
            expiry_alarm(tp->name, "certificate", tp->cert, days, c->cert_warn_days);
        else
            expiry_alarm(tp->name, "certificate", NULL, 0, 0);
        /* of its CA certificates, the one that ends first */
        for (int j = 0; tp->cas && j < sk_X509_num(tp->cas); j++) {
            X509 *ca = sk_X509_value(tp->cas, j);

            if (pki_cert_days_left(ca, now, &days) && (!soonest || days < least)) {
                soonest = ca;
                least = days;
            }
        }
        expiry_alarm(tp->name, "ca-certificate", soonest, least, c->cert_warn_days);
    }
    alarm_clear_unless(ALARM_CERT_EXPIRING, "/raven-vpn:pki/trustpoint[", tp_listed, (void *)c);
}
