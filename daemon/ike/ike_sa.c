/* The state machine of an IKE SA (see ike_sa.h): the table of allowed moves,
 * the one function that changes a session's state, and the prefix of IKE log
 * lines (session, SPIs, peer). */
#include <inttypes.h>
#include <stdio.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_sa.h"
#include "daemon/base/poison.h"

#define TO(st) (1u << (st))

/* allowed[from]: the states a session in @from may move to */
static const unsigned allowed[IKE_SA_NSTATES] = {
    /* ESTABLISHED: a session taken over from the session arena (ike_adopt.c) */
    [IKE_SA_NEW] = TO(IKE_SA_HALF_OPEN) | TO(IKE_SA_REKEYED) | TO(IKE_SA_ESTABLISHED),
    [IKE_SA_HALF_OPEN] = TO(IKE_SA_AUTHENTICATING),
    [IKE_SA_AUTHENTICATING] = TO(IKE_SA_EAP) | TO(IKE_SA_CRL_WAIT) | TO(IKE_SA_AUTHORIZING),
    [IKE_SA_EAP] = TO(IKE_SA_EAP_SUCCESS),
    [IKE_SA_EAP_SUCCESS] = TO(IKE_SA_AUTHORIZING),
    [IKE_SA_CRL_WAIT] = TO(IKE_SA_AUTHORIZING),
    [IKE_SA_AUTHORIZING] = TO(IKE_SA_LEASING) | TO(IKE_SA_ESTABLISHED),
    [IKE_SA_LEASING] = TO(IKE_SA_ESTABLISHED),
    [IKE_SA_ESTABLISHED] = TO(IKE_SA_REKEYING) | TO(IKE_SA_DELETING),
    [IKE_SA_REKEYING] = TO(IKE_SA_ESTABLISHED) | TO(IKE_SA_DELETING),
    [IKE_SA_DELETING] = 0,
    [IKE_SA_REKEYED] = 0,
};

static const char *const names[IKE_SA_NSTATES] = {
    [IKE_SA_NEW] = "new",
    [IKE_SA_HALF_OPEN] = "half-open",
    [IKE_SA_AUTHENTICATING] = "authenticating",
    [IKE_SA_EAP] = "eap",
    [IKE_SA_EAP_SUCCESS] = "eap-success",
    [IKE_SA_CRL_WAIT] = "crl-wait",
    [IKE_SA_AUTHORIZING] = "authorizing",
    [IKE_SA_LEASING] = "leasing",
    [IKE_SA_ESTABLISHED] = "established",
    [IKE_SA_REKEYING] = "rekeying",
    [IKE_SA_DELETING] = "deleting",
    [IKE_SA_REKEYED] = "rekeyed",
};

const char *ike_sa_state_name(enum ike_sa_state st)
{
    return (unsigned)st < IKE_SA_NSTATES ? names[st] : "?";
}

const char *ike_sa_state_yang(enum ike_sa_state st)
{
    switch (st) {
    case IKE_SA_ESTABLISHED:
        return "established";
    case IKE_SA_REKEYING:
        return "rekeying";
    case IKE_SA_DELETING:
    case IKE_SA_REKEYED:
        return "deleting";
    default:
        return "authenticating";
    }
}

bool ike_sa_move_allowed(enum ike_sa_state from, enum ike_sa_state to)
{
    if ((unsigned)from >= IKE_SA_NSTATES || (unsigned)to >= IKE_SA_NSTATES)
        return false;
    return from == to || (allowed[from] & TO(to));
}

bool ike_sa_half_open(const struct ike_sess *s)
{
    return s->state >= IKE_SA_HALF_OPEN && s->state <= IKE_SA_LEASING;
}

bool ike_sa_up(const struct ike_sess *s)
{
    return s->state == IKE_SA_ESTABLISHED || s->state == IKE_SA_REKEYING;
}

static void spi_hex(char out[17], const uint8_t spi[8])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", spi[i]);
}

const char *ike_sa_tag(const struct ike_sess *s, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN], si[17], sr[17];

    spi_hex(si, s->in.spi_i);
    spi_hex(sr, s->in.spi_r);
    snprintf(buf, len, "session %" PRIu64 " %s/%s %s:%u", s->ss.id, si, sr, ike_addr_str(&s->peer, a, sizeof(a)),
             (unsigned)ike_port_of(&s->peer));
    return buf;
}

bool ike_sa_set_state(struct ike_sess *s, enum ike_sa_state to, const char *why)
{
    char tag[IKE_SA_TAG_LEN];
    enum ike_sa_state from = s->state;

    if (from == to)
        return true;
    if (!ike_sa_move_allowed(from, to)) {
        log_err("ike", "%s: illegal IKE SA state change %s -> %s (%s) refused", ike_sa_tag(s, tag, sizeof(tag)),
                ike_sa_state_name(from), ike_sa_state_name(to), why ? why : "?");
        return false;
    }
    s->state = to;
    log_debug("ike", "%s: %s -> %s (%s)", ike_sa_tag(s, tag, sizeof(tag)), ike_sa_state_name(from),
              ike_sa_state_name(to), why ? why : "?");
    return true;
}
