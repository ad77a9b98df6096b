/* The state machine of an IKE SA (one per struct ike_sess, ike_eng.h): its
 * states, the moves allowed between them, and the one function that makes a
 * move. Nothing else assigns a session's state.
 *
 *   NEW ─IKE_SA_INIT answered─> HALF_OPEN ─first IKE_AUTH request─> AUTHENTICATING
 *   AUTHENTICATING ─> EAP ─EAP-Success─> EAP_SUCCESS ─client's AUTH─> AUTHORIZING
 *   AUTHENTICATING ─> CRL_WAIT ─CRL fetched─> AUTHORIZING
 *   AUTHENTICATING ─────────────────────────> AUTHORIZING
 *   AUTHORIZING ─> LEASING (DHCP asked) ─> ESTABLISHED
 *   AUTHORIZING ─────────────────────────> ESTABLISHED
 *   ESTABLISHED ─our IKE SA rekey sent─> REKEYING ─answered─> ESTABLISHED
 *   ESTABLISHED, REKEYING ─ended while our request is under way─> DELETING
 *   NEW ─> REKEYED (the stub that stands for an IKE SA after its rekey)
 *   NEW ─> ESTABLISHED (a session taken over from the session arena)
 *
 * HALF_OPEN through LEASING are the half-open SA (in the engine's by_i table,
 * counted as half-open); ESTABLISHED and REKEYING a session that is up. A
 * half-open SA that is refused, a session that ends and a stub whose DELETE
 * is answered are freed from any state: freeing is not a move. */
#ifndef RAVEN_IKE_SA_H
#define RAVEN_IKE_SA_H

#include <stdbool.h>
#include <stddef.h>

struct ike_sess;

enum ike_sa_state {
    IKE_SA_NEW = 0,        /* allocated; IKE_SA_INIT not answered yet */
    IKE_SA_HALF_OPEN,      /* IKE_SA_INIT answered, no IKE_AUTH request yet */
    IKE_SA_AUTHENTICATING, /* the client's identity and AUTH are checked (a shared key from RADIUS may be awaited) */
    IKE_SA_EAP,            /* EAP rounds: relayed to RADIUS, or the client's next EAP message awaited */
    IKE_SA_EAP_SUCCESS,    /* EAP-Success sent: the client's AUTH from the MSK is next */
    IKE_SA_CRL_WAIT,       /* the client's certificate waits for the first CRL of its issuer */
    IKE_SA_AUTHORIZING,    /* user and group authorization (RADIUS may be awaited) */
    IKE_SA_LEASING,        /* an address is asked of DHCP */
    IKE_SA_ESTABLISHED,    /* IKE_AUTH answered: the session is up */
    IKE_SA_REKEYING,       /* up, and our rekey of the IKE SA is under way */
    IKE_SA_DELETING,       /* ended while our request was under way: its DELETE follows the answer */
    IKE_SA_REKEYED,        /* an old IKE SA after a rekey: answers only its DELETE */
    IKE_SA_NSTATES
};

/* Moves @s to @to, @why saying what caused it (for the log). A move the table
 * does not allow is a bug: it is logged at error level with both states and
 * the SPIs and refused, @s keeps its state and the answer is false; callers
 * then leave everything that follows the state (tables, counters) as it was.
 * A move to the state @s is in already does nothing and is allowed. Every move
 * is logged at debug level: "session N SPIi/SPIr peer: old -> new (why)". */
bool ike_sa_set_state(struct ike_sess *s, enum ike_sa_state to, const char *why);
/* Whether the table allows the move (the same state included). */
bool ike_sa_move_allowed(enum ike_sa_state from, enum ike_sa_state to);
/* The state's name for logs ("authenticating", "eap-success", ...). */
const char *ike_sa_state_name(enum ike_sa_state st);
/* The state as vpn-state shows it (raven-vpn ike-sa/state): the half-open
 * states are "authenticating". */
const char *ike_sa_state_yang(enum ike_sa_state st);
/* Whether @s is a half-open SA (HALF_OPEN through LEASING). */
bool ike_sa_half_open(const struct ike_sess *s);
/* Whether @s is an established session (ESTABLISHED or REKEYING). */
bool ike_sa_up(const struct ike_sess *s);

/* The prefix of an IKE log line: "session N SPIi/SPIr peer:port" (SPIs in
 * hex). @buf of IKE_SA_TAG_LEN is enough. */
#define IKE_SA_TAG_LEN 112
const char *ike_sa_tag(const struct ike_sess *s, char *buf, size_t len);

#endif
