/* The headend's own certificates against what clients require, checked at
 * commit (ike_certcheck.c; the check itself is pki_server_cert_check). */
#ifndef RAVEN_IKE_CERTCHECK_H
#define RAVEN_IKE_CERTCHECK_H

#include "daemon/ike/ike_eng.h"

/* At apply: logs and notifies (certificate-warning) each warning of @now
 * that @old (the configuration it replaces, NULL at start) did not have. */
void ike_certcheck_report(struct ike_engine *e, const struct ike_conf *old, const struct ike_conf *now);
/* The certificate-expiring alarms of @c's trustpoints (own certificate and CA
 * certificates ending within pki/expiry-warning-days), raised and cleared;
 * those of trustpoints @c lacks cleared. At apply and every hour. */
void ike_certcheck_alarms(const struct ike_conf *c);

/* vpn-state/certificate-warning entries of the configuration in force. */
void ike_certcheck_state(const struct ike_conf *c, struct lyd_node *state);

#endif
