/* IKE_AUTH as an ordered list of steps (ike_auth_steps.c runs them). Each step
 * is a function of the session and of the run's shared work; it answers
 *   IKE_AUTH_NEXT  done: the next step runs at once;
 *   IKE_AUTH_WAIT  it waits for an answer (RADIUS, DHCP, a CRL, a crypto
 *                  thread) or for the
 *                  client's next IKE_AUTH request (EAP); whatever brings it
 *                  calls ike_auth_run (the same step again) or ike_auth_next
 *                  (the step is done), or refuses the client;
 *   IKE_AUTH_GONE  it refused the client: the answer (AUTHENTICATION_FAILED,
 *                  or the EAP-Failure already sent) went out, the refusal was
 *                  logged, counted and notified, and the half-open SA is
 *                  freed (ike_auth_fail, ike_auth_refused); nothing of the
 *                  session may be touched any more.
 *
 * The steps, in order, and the IKE SA state each moves to (ike_sa.h):
 *   authenticate  AUTHENTICATING: the client's identity, its profile and AUTH
 *                 (shared key, signature); may wait for RADIUS's key (keyring
 *                 aaa), for a crypto thread that checks the certificate chain
 *                 and signature, or, in CRL_WAIT, for the first CRL of its
 *                 certificate
 *   eap           EAP, EAP_SUCCESS: EAP through RADIUS, when the client left
 *                 AUTH out; ends with the client's AUTH from the MSK
 *   authorize     AUTHORIZING: user and group authorization from RADIUS
 *   dhcp          LEASING: an address from DHCP, when authorization names a
 *                 DHCP server and no pool (only then)
 *   sign          with crypto threads and a certificate of ours: our AUTH's
 *                 signature made on one (waits for it)
 *   ours          our credentials: the shared key or certificate we answer with
 *   settings      the merged authorization and the session's settings
 *   lease         INITIAL_CONTACT, the configuration payload and its
 *                 addresses (AAA, pool, DHCP), each held in the address book
 *   child         the child SAs' selector bounds, routes, the first child SA
 *   respond       the response: IDr, AUTH, CP, SA, TSi, TSr (sealed on a
 *                 crypto thread when there are some: waits for it)
 *   up            ESTABLISHED: the session is up (accounting, timers, push)
 * The steps from `ours` on run together in the run that follows the last
 * answer, and share what they find in struct ike_auth_run; only the respond
 * step may wait, for a crypto thread to seal the response (ike_authx.c,
 * ike_authq.c): the run's findings are then kept in s->pend->run and the
 * next run starts from them. */
#ifndef RAVEN_IKE_AUTH_STEPS_H
#define RAVEN_IKE_AUTH_STEPS_H

#include "daemon/ike/ike_eng.h"

enum ike_auth_rc {
    IKE_AUTH_NEXT,
    IKE_AUTH_WAIT,
    IKE_AUTH_GONE,
};

struct ike_cp_out;

/* What the steps of one run share (from `ours` on). It points into the
 * configuration in force and into the RADIUS answers of s->pend, so it lives
 * no longer than the run. */
struct ike_auth_run {
    const struct ike_prof *prof; /* the session's profile (s->prof) */
    struct ike_id_pld idi;       /* the client's identity (ours) */
    const char *key;             /* our shared key (ours), or */
    struct pki_tp *sign_tp;      /* the trustpoint we sign with (ours); neither with EAP */
    struct sess_attrs at;         /* the merged authorization (settings) */
    struct ike_cp_out *cpo;      /* the CFG_REPLY, cfg_type 0 when none (lease) */
    bool addr_failed;            /* the client asked for an address and got none (lease) */
    struct ike_sa_pld *sa;       /* the first child's proposal, then our answer (child) */
    struct ike_child_sa child;   /* the first child SA (child), its selectors owned by s->child */
    struct ike_ts_pld tsi, tsr;  /* its selectors as answered (child) */
    bool have_child;
    uint16_t child_err;          /* the notify that says why there is none (child) */
    struct ike_route_mark rmark; /* what route accept added for the first child (child) */
    char msg[300];               /* the text of a refusal */
};

/* Runs the steps of s->pend's exchange from its current step on, until one
 * waits or refuses, or the session is up (s->pend is then freed). */
void ike_auth_run(struct ike_sess *s);
/* The current step is done (its answer came): the ones after it run. */
void ike_auth_next(struct ike_sess *s);
/* Refuses the client in a step (ike_auth_fail on s->pend's request):
 * IKE_AUTH_GONE. */
enum ike_auth_rc ike_auth_refuse(struct ike_sess *s, const char *reason, const char *why);
/* The profile's first trustpoint with a certificate and key to sign with, of
 * the kind its authentication local says (ike_authx.c). */
struct pki_tp *ike_auth_signing_tp(const struct ike_prof *prof);

/* The steps, in order (see above) */
enum ike_auth_rc ike_auth_step_authenticate(struct ike_sess *s, struct ike_auth_run *w); /* ike_authx.c */
enum ike_auth_rc ike_eap_step(struct ike_sess *s, struct ike_auth_run *w);               /* ike_aaa.c */
enum ike_auth_rc ike_authz_step(struct ike_sess *s, struct ike_auth_run *w);             /* ike_aaa.c */
enum ike_auth_rc ike_lease_dhcp_step(struct ike_sess *s, struct ike_auth_run *w);        /* ike_lease.c */
/* With crypto threads and our AUTH a signature: the signature made on one
 * (the exchange waits; the respond step takes it from s->pend), else nothing. */
enum ike_auth_rc ike_auth_step_sign(struct ike_sess *s, struct ike_auth_run *w);         /* ike_authx.c */
/* The signature job of @pd, if any, let go (its result dropped), and a signature
 * not yet used freed. */
void ike_auth_sign_forget(struct ike_pend *pd);
/* With crypto threads: the response (@inner, a payload chain starting with
 * @first) sealed by a job, IKE_AUTH_WAIT (@w kept in s->pend until it is done,
 * then the steps go on with the up step); IKE_AUTH_NEXT when it must be sealed
 * inline (ike_authq.c). */
enum ike_auth_rc ike_authq_seal(struct ike_sess *s, struct ike_auth_run *w, uint8_t first, const uint8_t *inner,
                                size_t inner_len);
/* The verify job of @pd, if any, let go (its result dropped; ike_authx.c). */
void ike_auth_verify_forget(struct ike_pend *pd);
enum ike_auth_rc ike_auth_step_ours(struct ike_sess *s, struct ike_auth_run *w);         /* ike_authx.c */
enum ike_auth_rc ike_auth_step_settings(struct ike_sess *s, struct ike_auth_run *w);     /* ike_auth_steps.c */
enum ike_auth_rc ike_lease_step(struct ike_sess *s, struct ike_auth_run *w);             /* ike_lease.c */
enum ike_auth_rc ike_childx_step(struct ike_sess *s, struct ike_auth_run *w);            /* ike_childx.c */
enum ike_auth_rc ike_auth_step_respond(struct ike_sess *s, struct ike_auth_run *w);      /* ike_authx.c */
enum ike_auth_rc ike_auth_step_up(struct ike_sess *s, struct ike_auth_run *w);           /* ike_auth_steps.c */

/* ike_aaa.c: a shared key client whose key is in RADIUS (keyring aaa, S2), in
 * the authenticate step: the key is asked for (IKE_AUTH_WAIT, or
 * IKE_AUTH_GONE when it cannot be); the answer checks the client's AUTH, then
 * the steps go on. */
enum ike_auth_rc ike_psk_fetch(struct ike_sess *s, const struct ike_prof *prof);

/* The local authorization merged with the RADIUS answers of s->pend (S5); with
 * EAP the names come from the EAP identity through its mangler rule (S6). */
void ike_auth_authorize(struct ike_sess *s, const struct ike_prof *prof, const struct ike_id_pld *idi,
                        struct sess_attrs *at, char *user, char *group, size_t cap);

#endif
