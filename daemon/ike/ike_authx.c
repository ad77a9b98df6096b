/* The IKE_AUTH exchange (RFC 7296 1.2, 2.15-2.19): authentication both ways with
 * shared keys or signatures (S2) for the profile ike_authz.c selects, configuration
 * mode (S4) from its authorization, and the first child SA with narrowed traffic
 * selectors; child SA installation in the dataplane. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_auth.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"
#include "daemon/pool/pool.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"


char *ike_id_text(uint8_t type, const uint8_t *data, size_t len)
{
    char buf[512];

    if (type == ID_IPV4 && len == 4)
        return strdup(inet_ntop(AF_INET, data, buf, sizeof(buf)));
    if (type == ID_IPV6 && len == 16)
        return strdup(inet_ntop(AF_INET6, data, buf, sizeof(buf)));
    if (type == ID_DER_DN) {
        const unsigned char *p = data;
        X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)len);
        char *s = n ? X509_NAME_oneline(n, buf, sizeof(buf)) : NULL;

        X509_NAME_free(n);
        return strdup(s ? s : "?");
    }
    {
        /* FQDN, RFC 822, KEY_ID: text when printable, else hex */
        bool printable = len > 0 && len < 256;
        char *out;

        for (size_t i = 0; printable && i < len; i++)
            printable = isprint(data[i]);
        if (printable)
            return strndup((const char *)data, len);
        out = malloc(2 * len + 1);
        for (size_t i = 0; out && i < len; i++)
            snprintf(out + 2 * i, 3, "%02x", data[i]);
        if (out)
            out[2 * len] = 0;
        return out;
    }
}

static const char *const id_type_name[] = {[ID_IPV4] = "id-ipv4-addr", [ID_FQDN] = "id-fqdn",
                                           [ID_RFC822] = "id-rfc822-addr", [ID_IPV6] = "id-ipv6-addr",
                                           [ID_DER_DN] = "id-der-asn1-dn", [ID_KEY_ID] = "id-key-id"};

const char *ike_id_type_name(uint8_t type)
{
    return type < sizeof(id_type_name) / sizeof(id_type_name[0]) && id_type_name[type] ? id_type_name[type] : NULL;
}

/* ---- child SA ---- */

uint32_t ike_new_spi(struct ike_engine *e)
{
    uint32_t spi;

    do {
        if (RAND_bytes((uint8_t *)&spi, sizeof(spi)) != 1)
            return 0;
    } while (spi < 256 || dp_spi_in_use(e->dp, spi));
    return spi;
}

static void ts_ranges(const struct ike_ts_pld *ts, struct dp_sa *sa)
{
    sa->nsel = 0;
    for (uint8_t i = 0; i < ts->nts && sa->nsel < DP_MAX_SELECTORS; i++) {
        struct dp_range *r = &sa->sel[sa->nsel++];
        size_t n = ts->ts[i].type == 7 ? 4 : 16;

        r->family = ts->ts[i].type == 7 ? AF_INET : AF_INET6;
        memcpy(r->start, ts->ts[i].start, n);
        memcpy(r->end, ts->ts[i].end, n);
    }
}

bool ike_child_install(struct ike_sess *s, struct ike_child_sa *c, const struct ike_child_keys *k)
{
    struct dp_sa in = {0}, out = {0};
    bool natt = s->sock && s->sock->natt;

    in.spi = c->spi_in;
    in.inbound = true;
    in.session_id = out.session_id = s->id;
    in.cipher = out.cipher = (enum dp_cipher)c->alg.encr_id;
    in.key_len = out.key_len = c->alg.encr_key_len;
    memcpy(in.key, k->ei, c->alg.encr_key_len); /* initiator to responder: our inbound */
    memcpy(out.key, k->er, c->alg.encr_key_len);
    in.integ = out.integ = (enum dp_integ)c->alg.integ;
    in.integ_key_len = out.integ_key_len = c->alg.integ_key_len;
    memcpy(in.integ_key, k->ai, c->alg.integ_key_len);
    memcpy(out.integ_key, k->ar, c->alg.integ_key_len);
    in.esn = out.esn = c->alg.esn;
    in.replay_window = s->replay_window;
    in.soft_bytes = out.soft_bytes = s->child_soft_bytes;
    in.hard_bytes = out.hard_bytes = s->child_hard_bytes;
    in.soft_packets = out.soft_packets = s->child_soft_packets;
    in.hard_packets = out.hard_packets = s->child_hard_packets;
    in.tcp_mss = out.tcp_mss = s->tcp_mss;
    out.mtu = s->mtu;
    in.local = out.local = s->local;
    in.peer = out.peer = s->peer;
    in.udp_encap = out.udp_encap = natt || s->in.nat_peer || s->in.nat_local;
    in.vrf = s->ivrf_ifindex; /* decrypted traffic: the inside VRF's table */
    out.vrf = s->fvrf_ifindex; /* ESP to the peer: the front-door VRF's */
    ts_ranges(&c->tsi, &in);  /* the client's side: allowed inner sources */
    ts_ranges(&c->tsi, &out); /* and the destinations routed to it */
    out.spi = c->spi_out;
    if (dp_sa_add(s->e->dp, &in))
        return false;
    if (dp_sa_add(s->e->dp, &out)) {
        dp_sa_del(s->e->dp, s->id, in.spi, true, NULL);
        return false;
    }
    OPENSSL_cleanse(&in, sizeof(in));
    OPENSSL_cleanse(&out, sizeof(out));
    return true;
}

static void stats_add(struct dp_sa_stats *to, const struct dp_sa_stats *a, const struct dp_sa_stats *b)
{
    to->packets += a->packets + b->packets;
    to->bytes += a->bytes + b->bytes;
    to->replay_drops += a->replay_drops + b->replay_drops;
    to->auth_failures += a->auth_failures + b->auth_failures;
    to->selector_drops += a->selector_drops + b->selector_drops;
}

void ike_child_remove(struct ike_sess *s, struct ike_child_sa *c)
{
    struct dp_sa_stats in = {0}, out = {0};

    dp_sa_del(s->e->dp, s->id, c->spi_in, true, &in);
    dp_sa_del(s->e->dp, s->id, c->spi_out, false, &out);
    /* a rekeyed child's traffic carries over to the child that replaced it */
    for (size_t i = 0; c->replaced && i < s->nchild; i++) {
        if (s->child[i].spi_in == c->replaced_by && &s->child[i] != c) {
            stats_add(&s->child[i].base_in, &in, &c->base_in);
            stats_add(&s->child[i].base_out, &out, &c->base_out);
            break;
        }
    }
}

/* The ESP settings of the profile's IPsec profile (the virtual template's, else
 * one naming this IKEv2 profile), with defaults when there is none. */
static const struct lyd_node *ipsec_profile(const struct ike_conf *c, const struct lyd_node *prof)
{
    const char *n = ike_leaf(prof, "virtual-template/ipsec-profile"), *pn = ike_leaf(prof, "name");
    const struct lyd_node *top, *ip;

    if (n)
        return ike_find(c->tree, V "ipsec/profile[name='%s']", n);
    top = ike_find(c->tree, V "ipsec");
    LY_LIST_FOR(top ? lyd_child(top) : NULL, ip) {
        const char *ref = strcmp(ip->schema->name, "profile") ? NULL : ike_leaf(ip, "ikev2-profile");

        if (ref && !strcmp(ref, pn))
            return ip;
    }
    return NULL;
}

static void esp_settings(const struct ike_conf *c, const struct lyd_node *ip, struct ike_sess *s)
{
    const struct lyd_node *ch;
    const char *v;

    s->esp = (struct ike_esp_algs){0};
    s->child_lifetime = 3600;
    LY_LIST_FOR(ip ? lyd_child(ip) : NULL, ch) {
        const struct lyd_node *ts;
        const char *e, *i;

        if (strcmp(ch->schema->name, "transform-set"))
            continue;
        ts = ike_find(c->tree, V "ipsec/transform-set[name='%s']", lyd_get_value(ch));
        e = ts ? ike_leaf(ts, "esp-encryption") : NULL;
        i = ts ? ike_leaf(ts, "esp-integrity") : NULL;
        if (e)
            s->esp.encr |= ike_conf_encr_bit(strchr(e, ':') ? strchr(e, ':') + 1 : e);
        if (i)
            s->esp.integ |= ike_conf_integ_bit(strchr(i, ':') ? strchr(i, ':') + 1 : i);
    }
    if (!s->esp.encr) {
        s->esp.encr = IKE_EB_AES_GCM_128 | IKE_EB_AES_GCM_256 | IKE_EB_AES_CBC_128 | IKE_EB_AES_CBC_256 |
                      IKE_EB_CHACHA20_POLY1305;
        s->esp.integ = 1u << IKE_INTEG_HMAC_SHA2_256_128 | 1u << IKE_INTEG_HMAC_SHA1_96 |
                       1u << IKE_INTEG_HMAC_SHA2_384_192 | 1u << IKE_INTEG_HMAC_SHA2_512_256;
    }
    s->esp.esn = (v = ike_leaf(ip, "esn")) && !strcmp(v, "true");
    /* the profile's replay window, else the outside dataplane interface's */
    s->replay_window = 64;
    if ((v = ike_leaf(ip, "replay-window"))) {
        s->replay_window = (uint32_t)strtoul(v, NULL, 10);
    } else {
        const struct lyd_node *dpl = ike_find(c->tree, V "dataplane"), *itf;
        LY_LIST_FOR(dpl ? lyd_child(dpl) : NULL, itf) {
            const char *role = strcmp(itf->schema->name, "interface") ? NULL : ike_leaf(itf, "role");
            if (role && !strcmp(role, "outside") && (v = ike_leaf(itf, "replay-window"))) {
                s->replay_window = (uint32_t)strtoul(v, NULL, 10);
                break;
            }
        }
    }
    /* rekey by volume at the soft limit, else at 90 % of the hard one */
    s->child_soft_bytes = 4608000ULL * 1024 / 10 * 9;
    if ((v = ike_leaf(ip, "lifetime/soft/kilobytes")))
        s->child_soft_bytes = strtoull(v, NULL, 10) * 1024;
    else if ((v = ike_leaf(ip, "lifetime/hard/kilobytes")))
        s->child_soft_bytes = strtoull(v, NULL, 10) * 1024 / 10 * 9;
    /* the hard volume limit: the dataplane carries nothing past it (RFC 4301 4.4.2.1) */
    s->child_hard_bytes = 4608000ULL * 1024;
    if ((v = ike_leaf(ip, "lifetime/hard/kilobytes")))
        s->child_hard_bytes = strtoull(v, NULL, 10) * 1024;
    s->idle_time = (v = ike_leaf(ip, "lifetime/idle-time")) ? (uint32_t)strtoul(v, NULL, 10) : 0;
    s->child_hard_packets = (v = ike_leaf(ip, "lifetime/hard/packets")) ? strtoull(v, NULL, 10) : 0;
    /* by default 90 % of the hard one, and always below it (a hard limit under 10
     * packets still leaves the rekey one packet to start; a hard limit of 1 none) */
    s->child_soft_packets = (v = ike_leaf(ip, "lifetime/soft/packets")) ? strtoull(v, NULL, 10)
                            : s->child_hard_packets > 1
                                ? s->child_hard_packets - (s->child_hard_packets >= 10 ? s->child_hard_packets / 10 : 1)
                                : 0;
    s->pfs_group = (v = ike_leaf(ip, "pfs-group")) ? ike_conf_group_id(strchr(v, ':') ? strchr(v, ':') + 1 : v) : 0;
    if ((v = ike_leaf(ip, "lifetime/hard/time")))
        s->child_lifetime = (uint32_t)strtoul(v, NULL, 10);
    if ((v = ike_leaf(ip, "lifetime/soft/time")))
        s->child_soft = (uint32_t)strtoul(v, NULL, 10);
    if ((v = ike_leaf(ip, "flow-limit")))
        s->flow_limit = (uint32_t)strtoul(v, NULL, 10);
}

/* ---- the exchange ---- */

struct cp_out {
    struct ike_cp_pld cp;
    uint8_t store[IKE_MAX_CP_ATTRS][17];
};

static void cp_add(struct cp_out *o, uint16_t type, const void *v, size_t len)
{
    if (o->cp.nattr >= IKE_MAX_CP_ATTRS || len > 0xffff)
        return;
    o->cp.attr[o->cp.nattr++] = (struct ike_cp_attr){.type = type, .value = v, .len = (uint16_t)len};
}

static void cp_add4(struct cp_out *o, uint16_t type, uint32_t a)
{
    uint8_t *p = o->store[o->cp.nattr];

    p[0] = (uint8_t)(a >> 24);
    p[1] = (uint8_t)(a >> 16);
    p[2] = (uint8_t)(a >> 8);
    p[3] = (uint8_t)a;
    cp_add(o, type, p, 4);
}

/* An IPv6 address or prefix (16 bytes, then the prefix length when @plen >= 0). */
static void cp_add6(struct cp_out *o, uint16_t type, const uint8_t a[16], int plen)
{
    uint8_t *p = o->store[o->cp.nattr];

    memcpy(p, a, 16);
    if (plen >= 0)
        p[16] = (uint8_t)plen;
    cp_add(o, type, p, plen >= 0 ? 17 : 16);
}

/* The length of the prefix a selector range covers (start and end agree on it). */
static unsigned prefix_len6(const struct ike_ts *ts)
{
    unsigned n = 0;

    for (int i = 0; i < 16; i++) {
        uint8_t diff = ts->start[i] ^ ts->end[i];

        if (!diff) {
            n += 8;
            continue;
        }
        for (uint8_t m = 0x80; m && !(diff & m); m >>= 1)
            n++;
        break;
    }
    return n;
}

static void cp_add_subnet(struct cp_out *o, const struct ike_ts *ts)
{
    uint8_t *p = o->store[o->cp.nattr];

    if (ts->type == 8) {
        cp_add6(o, CFG_INTERNAL_IP6_SUBNET, ts->start, (int)prefix_len6(ts));
        return;
    }
    uint32_t s = (uint32_t)ts->start[0] << 24 | (uint32_t)ts->start[1] << 16 | (uint32_t)ts->start[2] << 8 |
                 ts->start[3];
    uint32_t e = (uint32_t)ts->end[0] << 24 | (uint32_t)ts->end[1] << 16 | (uint32_t)ts->end[2] << 8 | ts->end[3];
    uint32_t mask = ~(s ^ e);

    memcpy(p, ts->start, 4);
    p[4] = (uint8_t)(mask >> 24);
    p[5] = (uint8_t)(mask >> 16);
    p[6] = (uint8_t)(mask >> 8);
    p[7] = (uint8_t)mask;
    cp_add(o, CFG_INTERNAL_IP4_SUBNET, p, 8);
}

void ike_auth_refused(struct ike_sess *s, const char *reason, const char *why)
{
    char a[INET6_ADDRSTRLEN];

    log_warn("ike", "IKE_AUTH from %s (%s) refused: %s", ike_addr_str(&s->peer, a, sizeof(a)),
             s->remote_id ? s->remote_id : "?", why);
    s->e->c.auth_failed++;
    s->e->c.rejected++;
    ike_sess_notify_event(s, "authentication-failure", reason ? reason : "", why);
    ike_sess_abandon(s);
}

void ike_auth_fail(struct ike_sess *s, uint32_t msg_id, const char *reason, const char *why)
{
    struct ike_builder bd;
    struct ike_hdr h = {0};

    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_AUTHENTICATION_FAILED});
    if (ike_build_finish(&bd))
        ike_sess_respond(s, IKE_EXCH_AUTH, msg_id, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    ike_auth_refused(s, reason, why);
}

static void fail_auth(struct ike_sess *s, uint32_t msg_id, const char *why)
{
    ike_auth_fail(s, msg_id, NULL, why);
}

static bool cp_requests(const struct ike_cp_pld *cp, uint16_t type)
{
    for (size_t i = 0; i < cp->nattr; i++) {
        if (cp->attr[i].type == type)
            return true;
    }
    return false;
}

/* The attributes of a CFG_REPLY or CFG_SET besides the addresses (S4): DNS, NBNS,
 * split subnets, the application version when asked, and the Unity and FlexVPN
 * attributes for clients that announced them. */
static void cp_attributes(const struct ike_sess *s, const struct ike_attrs *at, const struct ike_cp_pld *req,
                          struct cp_out *cpo)
{
    for (int i = 0; i < at->ndns; i++)
        cp_add4(cpo, CFG_INTERNAL_IP4_DNS, at->dns[i]);
    for (int i = 0; i < at->ndns6; i++)
        cp_add6(cpo, CFG_INTERNAL_IP6_DNS, at->dns6[i], -1);
    for (int i = 0; i < at->nwins; i++)
        cp_add4(cpo, CFG_INTERNAL_IP4_NBNS, at->wins[i]);
    for (uint8_t i = 0; i < at->subnets.nts; i++)
        cp_add_subnet(cpo, &at->subnets.ts[i]);
    if (cp_requests(req, CFG_APPLICATION_VERSION))
        cp_add(cpo, CFG_APPLICATION_VERSION, "Raven " RAVEN_IKE_VERSION, strlen("Raven " RAVEN_IKE_VERSION));
    if (s->vid_unity) {
        if (at->banner)
            cp_add(cpo, CFG_UNITY_BANNER, at->banner, strlen(at->banner));
        if (at->def_domain)
            cp_add(cpo, CFG_UNITY_DEF_DOMAIN, at->def_domain, strlen(at->def_domain));
        for (int i = 0; i < at->nsplit_dns; i++)
            cp_add(cpo, CFG_UNITY_SPLITDNS_NAME, at->split_dns[i], strlen(at->split_dns[i]));
        for (int i = 0; i < at->nbackup; i++)
            cp_add(cpo, CFG_UNITY_BACKUP_SERVERS, at->backup[i], strlen(at->backup[i]));
        if (at->pfs >= 0) {
            static const uint8_t one[2] = {0, 1}, zero[2] = {0, 0};
            cp_add(cpo, CFG_UNITY_PFS, at->pfs ? one : zero, 2);
        }
        if (at->include_local_lan >= 0) {
            static const uint8_t one[2] = {0, 1}, zero[2] = {0, 0};
            cp_add(cpo, CFG_UNITY_LOCAL_LAN, at->include_local_lan ? one : zero, 2);
        }
        if (at->smartcard >= 0) {
            static const uint8_t one[2] = {0, 1}, zero[2] = {0, 0};
            cp_add(cpo, CFG_UNITY_SMARTCARD_REMOVAL_DISCONNECT, at->smartcard ? one : zero, 2);
        }
    }
    if (s->vid_flexvpn) {
        if (at->cfg_url)
            cp_add(cpo, CFG_FLEXVPN_CONFIG_URL, at->cfg_url, strlen(at->cfg_url));
        if (at->cfg_version)
            cp_add(cpo, CFG_FLEXVPN_CONFIG_VERSION, at->cfg_version, strlen(at->cfg_version));
    }
}


/* The local identity: the profile's, else our address. */
static void local_identity(const struct lyd_node *prof, const struct sockaddr_storage *local, X509 *cert,
                           struct ike_id_pld *id, uint8_t raw[16], unsigned char **dn)
{
    const char *v;
    int n;

    *dn = NULL;
    if (cert && ike_find(prof, "identity/local/dn") &&
        (n = i2d_X509_NAME(X509_get_subject_name(cert), dn)) > 0) {
        *id = (struct ike_id_pld){.type = ID_DER_DN, .data = *dn, .len = (size_t)n};
    } else if ((v = ike_leaf(prof, "identity/local/fqdn"))) {
        *id = (struct ike_id_pld){.type = ID_FQDN, .data = (const uint8_t *)v, .len = strlen(v)};
    } else if ((v = ike_leaf(prof, "identity/local/email"))) {
        *id = (struct ike_id_pld){.type = ID_RFC822, .data = (const uint8_t *)v, .len = strlen(v)};
    } else if ((v = ike_leaf(prof, "identity/local/key-id"))) {
        *id = (struct ike_id_pld){.type = ID_KEY_ID, .data = (const uint8_t *)v, .len = strlen(v)};
    } else if ((v = ike_leaf(prof, "identity/local/address")) &&
               inet_pton(strchr(v, ':') ? AF_INET6 : AF_INET, v, raw) == 1) {
        bool v6 = strchr(v, ':') != NULL;

        *id = (struct ike_id_pld){.type = v6 ? ID_IPV6 : ID_IPV4, .data = raw, .len = v6 ? 16 : 4};
    } else if (local->ss_family == AF_INET) {
        memcpy(raw, &((const struct sockaddr_in *)local)->sin_addr, 4);
        *id = (struct ike_id_pld){.type = ID_IPV4, .data = raw, .len = 4};
    } else {
        memcpy(raw, &((const struct sockaddr_in6 *)local)->sin6_addr, 16);
        *id = (struct ike_id_pld){.type = ID_IPV6, .data = raw, .len = 16};
    }
}

/* INITIAL_CONTACT (RFC 7296 2.4): the client lost its state; its older sessions go. */
static void initial_contact(struct ike_sess *s)
{
    struct ike_sess *o, *tmp;

    HASH_ITER(hh_id, s->e->by_id, o, tmp) {
        if (o != s && ike_sa_up(o) && o->remote_id && !strcmp(o->remote_id, s->remote_id) &&
            o->profile && s->profile && !strcmp(o->profile, s->profile))
            ike_sess_end(o, "replaced", false);
    }
}

/* The shared-key MIC of one side (RFC 7296 2.15) with a binary key: an EAP MSK,
 * or SK_pi / SK_pr for EAP methods that make no key (2.16). */
static size_t mic_key(const struct ike_sess *s, bool initiator, const uint8_t *key, size_t key_len,
                      const uint8_t *id_body, size_t id_len, uint8_t out[64])
{
    size_t so_len, n;
    uint8_t *so = initiator ? ike_auth_signed_octets(s->in.prf, s->msg1, s->msg1_len, s->in.nr, s->in.nr_len,
                                                     s->in.keys.sk_pi, s->in.keys.prf_len, id_body, id_len, &so_len)
                            : ike_auth_signed_octets(s->in.prf, s->msg2, s->msg2_len, s->in.ni, s->in.ni_len,
                                                     s->in.keys.sk_pr, s->in.keys.prf_len, id_body, id_len, &so_len);

    if (!so)
        return 0;
    n = ike_auth_psk(s->in.prf, key, key_len, so, so_len, out);
    OPENSSL_cleanse(so, so_len);
    free(so);
    return n;
}

bool ike_auth_psk_ok(const struct ike_sess *s, const struct ike_msg *req, const uint8_t *key, size_t key_len)
{
    const struct ike_pld *idi_p = ike_msg_find(req, IKE_PLD_IDI, 0), *auth_p = ike_msg_find(req, IKE_PLD_AUTH, 0);
    struct ike_auth_pld auth;
    uint8_t mic[64];
    size_t ml;
    bool ok;

    if (!idi_p || !auth_p || !ike_auth_parse(auth_p, &auth) || auth.method != 2)
        return false;
    ml = mic_key(s, true, key, key_len, idi_p->body, idi_p->len, mic);
    ok = ml && ike_auth_equal(auth.data, auth.len, mic, ml);
    OPENSSL_cleanse(mic, sizeof(mic));
    return ok;
}

const struct lyd_node *ike_sess_profile(const struct ike_sess *s)
{
    return s->profile && s->e->conf ? ike_find(s->e->conf->tree, V "ikev2/profile[name='%s']", s->profile) : NULL;
}

/* The profile's first trustpoint with a certificate and key to sign with. */
static struct pki_tp *signing_tp(const struct ike_conf *c, const struct lyd_node *prof)
{
    struct pki_tp *tps[16];
    size_t ntp = ike_profile_tps(c, prof, "sign", tps, 16);
    /* authentication local rsa-sig / ecdsa-sig: the first trustpoint whose key
     * is of that kind (a profile may name one of each) */
    bool rsa = ike_find(prof, "authentication/local/rsa-sig") != NULL;
    bool ec = ike_find(prof, "authentication/local/ecdsa-sig") != NULL;

    for (size_t i = 0; i < ntp; i++) {
        int kind = tps[i]->cert && tps[i]->key ? EVP_PKEY_get_base_id(tps[i]->key) : EVP_PKEY_NONE;

        if ((rsa && (kind == EVP_PKEY_RSA || kind == EVP_PKEY_RSA_PSS)) || (ec && kind == EVP_PKEY_EC))
            return tps[i];
    }
    return NULL;
}

/* IDr, then our AUTH: a signature with CERT (@sign_tp), or the shared key @key
 * (@key_len bytes). The IDr body goes to *idr when asked. */
static bool build_idr_auth(struct ike_sess *s, const struct lyd_node *prof, struct pki_tp *sign_tp, const uint8_t *key,
                           size_t key_len, struct ike_builder *ib, uint8_t **idr, size_t *idr_len)
{
    struct ike_id_pld idr_p;
    uint8_t raw[16], mic[64];
    unsigned char *dn = NULL;
    const uint8_t *body;
    size_t body_len, ml;
    bool ok;

    local_identity(prof, &s->local, sign_tp ? sign_tp->cert : NULL, &idr_p, raw, &dn);
    free(s->local_id);
    s->local_id = ike_id_text(idr_p.type, idr_p.data, idr_p.len);
    ike_id_build(ib, IKE_PLD_IDR, &idr_p);
    OPENSSL_free(dn);
    body = ib->buf.data + IKE_HDR_LEN + IKE_PLD_HDR_LEN;
    body_len = ib->buf.len - IKE_HDR_LEN - IKE_PLD_HDR_LEN;
    if (idr) {
        *idr = malloc(body_len);
        if (!*idr)
            return false;
        memcpy(*idr, body, body_len);
        *idr_len = body_len;
    }
    if (sign_tp) {
        size_t so_len, sl = 0;
        uint8_t *so = ike_auth_signed_octets(s->in.prf, s->msg2, s->msg2_len, s->in.ni, s->in.ni_len,
                                             s->in.keys.sk_pr, s->in.keys.prf_len, body, body_len, &so_len);
        uint8_t *sig = NULL, method = 0;

        ok = so && pki_auth_sign(sign_tp->key, s->in.sig_hash, so, so_len, &method, &sig, &sl);
        free(so);
        if (ok) {
            size_t off = ike_build_pld(ib, IKE_PLD_CERT, false);

            ike_buf_u8(&ib->buf, 4);
            ike_buf_put(&ib->buf, sign_tp->cert_der, sign_tp->cert_der_len);
            ok = ike_build_end_pld(ib, off);
            ike_auth_build(ib, &(struct ike_auth_pld){.method = method, .data = sig, .len = sl});
        }
        free(sig);
        return ok;
    }
    ml = mic_key(s, false, key, key_len, body, body_len, mic);
    if (!ml)
        return false;
    ike_auth_build(ib, &(struct ike_auth_pld){.method = 2, .data = mic, .len = ml});
    OPENSSL_cleanse(mic, sizeof(mic));
    return true;
}

bool ike_auth_build_ours(struct ike_sess *s, const struct lyd_node *prof, struct ike_builder *ib)
{
    struct pki_tp *tp = signing_tp(s->e->conf, prof);

    free(s->pend->idr);
    s->pend->idr = NULL;
    return tp && build_idr_auth(s, prof, tp, NULL, 0, ib, &s->pend->idr, &s->pend->idr_len);
}

void ike_handle_auth(struct ike_sess *s, const struct ike_msg *in)
{
    const struct ike_conf *c = s->e->conf;
    uint32_t msg_id = s->peer_next - 1;
    const struct ike_pld *idi_p, *auth_p;
    struct ike_id_pld idi;
    struct ike_auth_pld auth;
    const struct lyd_node *prof;
    const char *key;
    uint8_t mic[64];
    size_t ml;
    bool initial = false;
    X509 *peer_cert = NULL;
    STACK_OF(X509) *chain = NULL;
    const char *why = NULL, *reason = NULL, *method = "psk";
    char whybuf[300];
    enum pki_verdict verdict = PKI_GOOD;
    const struct pki_tp *crl_tp = NULL;

    if (s->pend) { /* an EAP exchange under way */
        ike_eap_continue(s, in, msg_id);
        return;
    }
    ike_sa_set_state(s, IKE_SA_AUTHENTICATING, "IKE_AUTH request");
    idi_p = ike_msg_find(in, IKE_PLD_IDI, 0);
    auth_p = ike_msg_find(in, IKE_PLD_AUTH, 0);
    if (!idi_p || !ike_id_parse(idi_p, &idi)) {
        fail_auth(s, msg_id, "no identification payload");
        return;
    }
    s->id_type = idi.type;
    s->remote_id = ike_id_text(idi.type, idi.data, idi.len);
    if (auth_p && !ike_auth_parse(auth_p, &auth)) {
        fail_auth(s, msg_id, "malformed AUTH payload");
        return;
    }
    for (size_t i = 0; i < in->npld; i++) {
        struct ike_notify_pld n;

        if (in->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&in->pld[i], &n) && n.type == N_INITIAL_CONTACT)
            initial = true;
    }
    /* the client's certificate and intermediates (CERT payloads, X.509 signature) */
    for (size_t i = 0; i < in->npld; i++) {
        struct ike_cert_pld cp;
        const unsigned char *p;
        X509 *x;

        if (in->pld[i].type != IKE_PLD_CERT || !ike_cert_parse(&in->pld[i], &cp) || cp.encoding != 4)
            continue;
        p = cp.data;
        x = d2i_X509(NULL, &p, (long)cp.len);
        if (!x)
            continue;
        if (!peer_cert)
            peer_cert = x;
        else if (!(chain || (chain = sk_X509_new_null())) || !sk_X509_push(chain, x))
            X509_free(x);
    }
    prof = ike_select_profile(c, &idi, s, peer_cert);
    if (!prof) {
        why = "no IKEv2 profile matches the identity";
        goto refuse;
    }
    s->profile = strdup(ike_leaf(prof, "name"));
    if (!auth_p) {
        /* EAP (S3): the client left AUTH out */
        s->e->c.eap_started++;
        if (!ike_find(prof, "authentication/remote/eap")) {
            why = "the client asks for EAP, which the profile does not allow";
            reason = "method-not-allowed";
            goto refuse;
        }
        if (!(s->pend = ike_pend_new(in, msg_id, initial, "eap"))) {
            why = "out of memory";
            goto refuse;
        }
        X509_free(peer_cert);
        sk_X509_pop_free(chain, X509_free);
        ike_eap_begin(s, prof);
        return;
    }
    if (auth.method == 2) {
        if (!ike_find(prof, "authentication/remote/pre-share")) {
            why = "the profile does not allow pre-shared key authentication of clients";
            reason = "method-not-allowed";
            goto refuse;
        }
        key = ike_psk(c, prof, true, &idi, &s->peer);
        if (!key && ike_find(prof, "keyring/aaa")) {
            /* the key is in RADIUS (S2): asked for, then checked */
            if (!(s->pend = ike_pend_new(in, msg_id, initial, "psk"))) {
                why = "out of memory";
                goto refuse;
            }
            s->auth_method = strdup("pre-share");
            X509_free(peer_cert);
            sk_X509_pop_free(chain, X509_free);
            ike_psk_fetch(s, prof);
            return;
        }
        if (!key) {
            why = "no pre-shared key for this client in the profile or its keyring";
            reason = "psk-mismatch";
            goto refuse;
        }
        ml = mic_key(s, true, (const uint8_t *)key, strlen(key), idi_p->body, idi_p->len, mic);
        if (!ml || !ike_auth_equal(auth.data, auth.len, mic, ml)) {
            why = "the client's AUTH does not match the pre-shared key";
            reason = "psk-mismatch";
            goto refuse;
        }
        OPENSSL_cleanse(mic, sizeof(mic));
        s->auth_method = strdup("pre-share");
        method = "psk";
    } else {
        struct pki_tp *tps[16];
        size_t ntp = ike_profile_tps(c, prof, "verify", tps, 16), so_len;
        bool rsa = peer_cert && EVP_PKEY_get_base_id(X509_get0_pubkey(peer_cert)) == EVP_PKEY_RSA;
        uint8_t *so;

        if (!peer_cert) {
            why = "signature authentication without a certificate";
            goto refuse;
        }
        if (!ike_find(prof, rsa ? "authentication/remote/rsa-sig" : "authentication/remote/ecdsa-sig")) {
            why = rsa ? "the profile does not allow RSA signature authentication of clients" :
                        "the profile does not allow ECDSA signature authentication of clients";
            reason = "method-not-allowed";
            goto refuse;
        }
        if (!ntp) {
            why = "the profile has no trustpoint to verify client certificates with";
            goto refuse;
        }
        verdict = pki_crl_verify(s->e->crl, tps, ntp, peer_cert, chain, &crl_tp, whybuf, sizeof(whybuf));
        if (verdict == PKI_INVALID || verdict == PKI_REVOKED || verdict == PKI_NO_CRL) {
            why = whybuf;
            reason = verdict == PKI_REVOKED ? "certificate-revoked" :
                     verdict == PKI_NO_CRL  ? "crl-unavailable" :
                                              "certificate-invalid";
            goto refuse;
        }
        if (verdict == PKI_GOOD && whybuf[0]) /* revocation-check crl none */
            log_info("ike", "session %" PRIu64 " (%s): accepted without a revocation check: %s", s->id,
                     s->remote_id, whybuf);
        if (!pki_cert_matches_id(peer_cert, idi.type, idi.data, idi.len)) {
            why = "the client's identity is not in its certificate";
            reason = "certificate-invalid";
            goto refuse;
        }
        so = ike_auth_signed_octets(s->in.prf, s->msg1, s->msg1_len, s->in.nr, s->in.nr_len, s->in.keys.sk_pi,
                                    s->in.keys.prf_len, idi_p->body, idi_p->len, &so_len);
        if (!so || !pki_auth_verify(peer_cert, auth.method, auth.data, auth.len, so, so_len, whybuf,
                                    sizeof(whybuf))) {
            free(so);
            why = so ? whybuf : "out of memory";
            reason = "signature-invalid";
            goto refuse;
        }
        free(so);
        s->auth_method = strdup(rsa ? "rsa-sig" : "ecdsa-sig");
        method = "cert";
        if (crl_tp)
            ike_crl_remember(s, peer_cert, crl_tp);
    }
    if (!(s->pend = ike_pend_new(in, msg_id, initial, method))) {
        why = "out of memory";
        goto refuse;
    }
    {
        const unsigned char *p = idi.data;
        X509_NAME *id_dn = idi.type == ID_DER_DN ? d2i_X509_NAME(NULL, &p, (long)idi.len) : NULL;

        s->pend->dn = id_dn ? id_dn : peer_cert ? X509_NAME_dup(X509_get_subject_name(peer_cert)) : NULL;
    }
    if (verdict == PKI_PENDING) { /* answered once the certificate's CRL is fetched */
        ike_crl_park(s, peer_cert, chain);
        return;
    }
    X509_free(peer_cert);
    sk_X509_pop_free(chain, X509_free);
    ike_authz_begin(s);
    return;
refuse:
    X509_free(peer_cert);
    sk_X509_pop_free(chain, X509_free);
    ike_auth_fail(s, msg_id, reason, why);
}

/* The merged attributes of the session (S5). With EAP the names come from the
 * EAP identity, through its mangler rule (S6). */
static void authorize_session(struct ike_sess *s, const struct lyd_node *prof, const struct ike_id_pld *idi,
                              const struct ike_authz_in *rad, struct ike_attrs *at, char *user, char *group, size_t cap)
{
    struct ike_pend *pd = s->pend;

    ike_authorize(s->e->conf, prof, pd->method, pd->eap && s->eap_identity ? ID_EAP : idi->type,
                  pd->eap && s->eap_identity ? s->eap_identity : s->remote_id, pd->dn, rad, at, user, group, cap);
}

bool ike_auth_wants_dhcp(struct ike_sess *s, uint32_t *server, uint32_t *giaddr, unsigned *timeout)
{
    struct ike_pend *pd = s->pend;
    const struct ike_pld *idi_p = ike_msg_find(&pd->req, IKE_PLD_IDI, 0), *cp_p = ike_msg_find(&pd->req, IKE_PLD_CP, 0);
    const struct lyd_node *prof = ike_sess_profile(s);
    struct ike_authz_in rad = {.user = pd->have_user ? &pd->user_at : NULL,
                               .group = pd->have_group ? &pd->group_at : NULL,
                               .cached = pd->have_cached ? &pd->cached : NULL};
    struct ike_id_pld idi;
    struct ike_cp_pld cp;
    struct ike_attrs at;
    char user[256], group[256];
    struct in_addr a;

    const char *v = prof ? ike_leaf(prof, "config-exchange/request") : NULL;

    if (!prof || !idi_p || !ike_id_parse(idi_p, &idi) || !cp_p || !ike_cp_parse(cp_p, &cp) || cp.cfg_type != 1 ||
        !cp_requests(&cp, CFG_INTERNAL_IP4_ADDRESS) || (v && !strcmp(v, "false")))
        return false;
    authorize_session(s, prof, &idi, &rad, &at, user, group, sizeof(user));
    /* S4: AAA's address first, then the pool; DHCP only without a pool */
    if (at.has_addr4 || at.pool || !at.dhcp_server)
        return false;
    if (inet_pton(AF_INET, at.dhcp_server, &a) != 1) {
        log_warn("ike", "session %" PRIu64 ": the DHCP server %s is not an IPv4 address", s->id, at.dhcp_server);
        return false;
    }
    *server = ntohl(a.s_addr);
    if (at.dhcp_giaddr && inet_pton(AF_INET, at.dhcp_giaddr, &a) == 1)
        *giaddr = ntohl(a.s_addr);
    else if (s->local.ss_family == AF_INET) /* without giaddr: the address the client came to */
        *giaddr = ntohl(((const struct sockaddr_in *)&s->local)->sin_addr.s_addr);
    else
        return false;
    *timeout = at.dhcp_timeout ? at.dhcp_timeout : 5;
    return true;
}

static const char *ike_addr4_str(uint32_t a, char *buf, size_t len)
{
    struct in_addr ia = {.s_addr = htonl(a)};

    return inet_ntop(AF_INET, &ia, buf, (socklen_t)len);
}

/* Whether claiming an address (@rc from pool_claim) failed; the reason goes to
 * the log and, when @msg is given, into it for the refusal. */
static bool claim_refused(const struct ike_sess *s, int rc, uint64_t holder, const char *what, const char *addr,
                          char *msg, size_t cap)
{
    char b[300];

    if (!rc)
        return false;
    if (rc == -EADDRINUSE)
        snprintf(b, sizeof(b), "%s %s is held by session %" PRIu64 "; give each client its own address", what,
                 addr, holder);
    else if (rc == -ERANGE)
        snprintf(b, sizeof(b), "%s %s spans prefixes an IPv6 pool hands out to other sessions; give AAA prefixes "
                 "outside the pools or no shorter than their assigned length", what, addr);
    else
        snprintf(b, sizeof(b), "%s %s cannot be recorded: %s", what, addr, strerror(-rc));
    log_warn("ike", "session %" PRIu64 ": %s", s->id, b);
    if (msg)
        snprintf(msg, cap, "%s", b);
    return true;
}

/* Everything after authentication: authorization, session settings,
 * configuration mode, the first child SA and the response. */
void ike_auth_finish(struct ike_sess *s)
{
    const struct ike_conf *c = s->e->conf;
    struct ike_pend *pd = s->pend;
    const struct ike_msg *in = &pd->req;
    uint32_t msg_id = pd->msg_id;
    const struct ike_pld *idi_p = ike_msg_find(in, IKE_PLD_IDI, 0);
    const struct ike_pld *cp_p = ike_msg_find(in, IKE_PLD_CP, 0), *sa_p = ike_msg_find(in, IKE_PLD_SA, 0);
    const struct ike_pld *tsi_p = ike_msg_find(in, IKE_PLD_TSI, 0), *tsr_p = ike_msg_find(in, IKE_PLD_TSR, 0);
    struct ike_id_pld idi;
    struct ike_cp_pld cpreq = {0};
    const struct lyd_node *prof = ike_sess_profile(s), *ip;
    const char *v, *why = NULL, *reason = NULL;
    struct ike_attrs at;
    char user[256], group[256];
    bool want_addr, addr_failed = false, have_child = false;
    uint16_t child_err = 0;
    struct ike_builder ib;
    struct ike_hdr h = {0};
    struct cp_out *cpo = NULL;
    struct ike_sa_pld *sa = NULL;
    struct ike_child_sa child = {0};
    struct pki_tp *sign_tp = NULL;
    const char *key = NULL;
    struct ike_authz_in rad = {.user = pd->have_user ? &pd->user_at : NULL,
                               .group = pd->have_group ? &pd->group_at : NULL,
                               .cached = pd->have_cached ? &pd->cached : NULL};
    char msg[300], abuf[INET_ADDRSTRLEN];
    uint64_t holder = 0;
    struct ike_route_mark rmark = {0};

    if (!prof || !c || !idi_p || !ike_id_parse(idi_p, &idi)) {
        why = "the session's profile was removed while it authenticated";
        goto refuse;
    }
    /* our side: with EAP the MSK (the signature went in the first response); else
     * a shared key, or our certificate and a signature */
    if (!pd->eap) {
        if (ike_find(prof, "authentication/local/pre-share")) {
            key = ike_psk(c, prof, false, &idi, &s->peer);
            if (!key)
                key = pd->psk_local; /* from RADIUS */
            if (!key) {
                why = "no local pre-shared key in the profile or its keyring";
                goto refuse;
            }
        } else if (!(sign_tp = signing_tp(c, prof))) {
            why = "the profile signs with a certificate (authentication local rsa-sig or ecdsa-sig) but none of its "
                  "trustpoints has a certificate and a key of that kind";
            goto refuse;
        }
    }

    /* authorization and session settings */
    authorize_session(s, prof, &idi, &rad, &at, user, group, sizeof(user));
    s->user = user[0] ? strdup(user) : NULL;
    s->group = group[0] ? strdup(group) : NULL;
    s->authz_sources = at.sources[0] ? strdup(at.sources) : NULL;
    ike_route_set_iface(s->e->dp, &at);
    if (pd->have_cached && pd->cached.class_)
        s->acct_class = strdup(pd->cached.class_);
    ip = ipsec_profile(c, prof);
    if (ip)
        s->ipsec_profile = strdup(ike_leaf(ip, "name"));
    esp_settings(c, ip, s);
    if (at.flow_limit != UINT32_MAX)
        s->flow_limit = at.flow_limit; /* AAA/authorization wins over the IPsec profile (S8) */
    s->session_lifetime = at.session_lifetime;
    s->tcp_mss = at.tcp_mss;
    s->mtu = at.mtu;
    if ((v = ike_leaf(prof, "dpd/interval"))) {
        s->dpd_interval = (uint16_t)atoi(v);
        s->dpd_retry = (v = ike_leaf(prof, "dpd/retry")) ? (uint16_t)atoi(v) : 2;
        s->dpd_periodic = (v = ike_leaf(prof, "dpd/mode")) && !strcmp(v, "periodic");
    }
    s->ike_lifetime = (v = ike_leaf(prof, "lifetime")) ? (uint32_t)strtoul(v, NULL, 10) : 86400;

    cpo = calloc(1, sizeof(*cpo));
    sa = calloc(1, sizeof(*sa));
    if (!cpo || !sa) {
        why = "out of memory";
        goto refuse;
    }
    /* the client is authenticated and says it keeps no other state: its older
     * sessions go before addresses are handed out, so that their addresses
     * are free again for it */
    if (pd->initial)
        initial_contact(s);
    /* configuration mode (S4); the address from AAA, else the pool */
    v = ike_leaf(prof, "config-exchange/request");
    if (cp_p && ike_cp_parse(cp_p, &cpreq) && cpreq.cfg_type == 1 && !(v && !strcmp(v, "false"))) {
        want_addr = cp_requests(&cpreq, CFG_INTERNAL_IP4_ADDRESS);
        cpo->cp.cfg_type = 2;
        if (want_addr) {
            uint32_t a;

            if (at.has_addr4) {
                /* one address book (daemon/pool): an address another session
                 * holds, from AAA or a pool, is refused, never shared */
                if (claim_refused(s, pool_claim(c->pools, at.addr4, s->id, &holder), holder, "Framed-IP-Address",
                                  ike_addr4_str(at.addr4, abuf, sizeof(abuf)), msg, sizeof(msg))) {
                    why = msg;
                    reason = "address-in-use";
                    goto refuse;
                }
                s->addr4 = at.addr4;
                s->have_addr4 = s->addr4_aaa = true;
            } else if (at.pool && !pool_alloc(c->pools, at.pool, s->id, &a)) {
                s->pool = strdup(at.pool);
                s->addr4 = a;
                s->have_addr4 = true;
            } else if (!at.pool && pd->have_lease &&
                       !claim_refused(s, pool_claim(c->pools, pd->lease.addr, s->id, &holder), holder,
                                      "the DHCP lease", ike_addr4_str(pd->lease.addr, abuf, sizeof(abuf)), NULL, 0)) {
                if ((s->dhcp = malloc(sizeof(*s->dhcp)))) {
                    *s->dhcp = pd->lease;
                    pd->have_lease = false; /* the session's now */
                    s->addr4 = pd->lease.addr;
                    s->have_addr4 = true;
                } else {
                    pool_unclaim(c->pools, pd->lease.addr, s->id);
                }
            }
            if (s->have_addr4) {
                cp_add4(cpo, CFG_INTERNAL_IP4_ADDRESS, s->addr4);
                /* S4: the netmask of DHCP's lease for its address, else authorization's */
                if (s->dhcp && s->dhcp->netmask)
                    cp_add4(cpo, CFG_INTERNAL_IP4_NETMASK, s->dhcp->netmask);
                else if (at.has_netmask || (s->pool && pool_netmask(c->pools, s->pool)))
                    cp_add4(cpo, CFG_INTERNAL_IP4_NETMASK,
                            at.has_netmask ? at.netmask : pool_netmask(c->pools, s->pool));
            }
        }
        if (cp_requests(&cpreq, CFG_INTERNAL_IP6_ADDRESS)) {
            uint32_t idx;

            want_addr = true;
            if (at.has_addr6) {
                char a6[INET6_ADDRSTRLEN + 4];

                inet_ntop(AF_INET6, at.addr6, a6, INET6_ADDRSTRLEN);
                snprintf(a6 + strlen(a6), 5, "/%u", at.plen6);
                if (claim_refused(s, pool_claim6(c->pools6, at.addr6, at.plen6, s->id, &holder), holder,
                                  "the IPv6 address from AAA", a6, msg, sizeof(msg))) {
                    why = msg;
                    reason = "address-in-use";
                    goto refuse;
                }
                memcpy(s->addr6, at.addr6, 16);
                s->alen6 = at.plen6;
                s->have_addr6 = s->addr6_aaa = true;
                cp_add6(cpo, CFG_INTERNAL_IP6_ADDRESS, s->addr6, (int)s->alen6);
            } else if (at.pool6 && !pool_alloc(c->pools6, at.pool6, s->id, &idx)) {
                s->pool6 = strdup(at.pool6);
                s->index6 = idx;
                s->have_addr6 = pool6_addr(c->pools6, at.pool6, idx, s->addr6, &s->alen6);
                if (s->have_addr6)
                    cp_add6(cpo, CFG_INTERNAL_IP6_ADDRESS, s->addr6, (int)s->alen6);
                else
                    pool_release(c->pools6, at.pool6, idx);
            }
        }
        /* one family is enough; none when the client asked is a failure (S4) */
        addr_failed = want_addr && !s->have_addr4 && !s->have_addr6;
        cp_attributes(s, &at, &cpreq, cpo);
    }
    /* an address inside a subnet another client routes (route accept) would
     * share its traffic: refused like an address another session holds */
    if ((holder = ike_route_subnet_holder(s))) {
        snprintf(msg, sizeof(msg),
                 "the client's address lies in a subnet that session %" PRIu64 " accepted from its client (route "
                 "accept); keep pools and AAA addresses apart from client subnets",
                 holder);
        why = msg;
        reason = "address-in-use";
        goto refuse;
    }

    /* the bounds of child SA selectors: the client's side is its assigned address
     * (else its own address), ours the split subnets (else everything) */
    if (s->have_addr4)
        ike_ts_host4(s->addr4, &s->allow_i.ts[s->allow_i.nts++]);
    if (s->have_addr6)
        ike_ts_prefix6(s->addr6, s->alen6, &s->allow_i.ts[s->allow_i.nts++]);
    if (!s->allow_i.nts && s->peer.ss_family == AF_INET)
        ike_ts_host4(ntohl(((struct sockaddr_in *)&s->peer)->sin_addr.s_addr), &s->allow_i.ts[s->allow_i.nts++]);
    else if (!s->allow_i.nts)
        ike_ts_prefix6(((struct sockaddr_in6 *)&s->peer)->sin6_addr.s6_addr, 128, &s->allow_i.ts[s->allow_i.nts++]);
    if (at.subnets.nts) {
        s->allow_r = at.subnets;
    } else {
        static const uint8_t any6[16];

        ike_ts_prefix4(0, 0, &s->allow_r.ts[s->allow_r.nts++]);
        ike_ts_prefix6(any6, 0, &s->allow_r.ts[s->allow_r.nts++]);
    }
    ike_route_plan(s, prof, &at, tsi_p, &rmark);

    /* the first child SA */
    if (sa_p && !addr_failed) {
        struct ike_sa_pld *offer = sa;
        struct ike_ts_pld tsi, tsr;

        if (s->flow_limit == 0) {
            child_err = N_NO_ADDITIONAL_SAS;
        } else if (!ike_sa_parse(sa_p, offer) || !tsi_p || !tsr_p || !ike_ts_parse(tsi_p, &tsi) ||
                   !ike_ts_parse(tsr_p, &tsr)) {
            child_err = N_INVALID_SYNTAX;
        } else if (!ike_child_choose(offer, &s->esp, 0, &child.alg)) {
            child_err = N_NO_PROPOSAL_CHOSEN;
            s->e->c.no_proposal++;
        } else {
            if (!ike_ts_narrow(&tsi, &s->allow_i, &child.tsi) || !ike_ts_narrow(&tsr, &s->allow_r, &child.tsr))
                child_err = N_TS_UNACCEPTABLE;
            if (child_err == N_TS_UNACCEPTABLE)
                s->e->c.ts_unacceptable++;
        }
        if (!child_err) {
            struct ike_child_keys k;

            child.spi_in = ike_new_spi(s->e);
            child.spi_out = child.alg.spi_peer;
            child.established = time(NULL);
            if (!child.spi_in || !ike_child_room(s) ||
                !ike_child_keymat(s->in.prf, s->in.keys.sk_d, s->in.keys.prf_len, NULL, 0, s->in.ni, s->in.ni_len,
                                  s->in.nr, s->in.nr_len, &child.alg, &k) ||
                !ike_child_install(s, &child, &k)) {
                child_err = N_TEMPORARY_FAILURE;
            } else {
                have_child = true;
                ike_child_lifetimes(s, &child);
                s->child[s->nchild++] = child;
            }
            OPENSSL_cleanse(&k, sizeof(k));
        }
    }
    if (addr_failed)
        s->e->c.internal_address_failure++;
    if (!have_child) /* the client's subnets come with the child SA that carries them */
        ike_route_accept_done(s, &rmark, false);

    /* the response: IDr and AUTH (with EAP only AUTH, from the MSK), CP, SA, TSi, TSr */
    ike_build_begin(&ib, &h);
    if (pd->eap) {
        uint8_t mic[64];
        size_t ml = pd->msk_len ? mic_key(s, false, pd->msk, pd->msk_len, pd->idr, pd->idr_len, mic)
                                : mic_key(s, false, s->in.keys.sk_pr, s->in.keys.prf_len, pd->idr, pd->idr_len, mic);

        if (!ml) {
            ike_buf_fini(&ib.buf);
            why = "cannot compute our AUTH";
            goto refuse;
        }
        ike_auth_build(&ib, &(struct ike_auth_pld){.method = 2, .data = mic, .len = ml});
        OPENSSL_cleanse(mic, sizeof(mic));
    } else if (!build_idr_auth(s, prof, sign_tp, (const uint8_t *)key, key ? strlen(key) : 0, &ib, NULL, NULL)) {
        ike_buf_fini(&ib.buf);
        why = sign_tp ? "cannot sign our AUTH" : "cannot compute our AUTH";
        goto refuse;
    }
    if (cpo->cp.cfg_type)
        ike_cp_build(&ib, &cpo->cp);
    if (addr_failed)
        ike_notify_build(&ib, &(struct ike_notify_pld){.type = N_INTERNAL_ADDRESS_FAILURE});
    else if (child_err)
        ike_notify_build(&ib, &(struct ike_notify_pld){.type = child_err});
    if (have_child) {
        ike_child_sa_reply(&child.alg, child.spi_in, sa);
        ike_sa_build(&ib, sa);
        ike_ts_build(&ib, IKE_PLD_TSI, &child.tsi);
        ike_ts_build(&ib, IKE_PLD_TSR, &child.tsr);
    }
    if (!ike_build_finish(&ib) ||
        !ike_sess_respond(s, IKE_EXCH_AUTH, msg_id, pd->eap ? IKE_PLD_AUTH : IKE_PLD_IDR, ib.buf.data + IKE_HDR_LEN,
                          ib.buf.len - IKE_HDR_LEN)) {
        ike_buf_fini(&ib.buf);
        why = "cannot build the response";
        goto refuse;
    }
    ike_buf_fini(&ib.buf);
    free(cpo);
    free(sa);
    cpo = NULL;
    sa = NULL;
    ike_sess_established(s);
    ike_route_install(s);
    {
        char a[INET6_ADDRSTRLEN], va[INET_ADDRSTRLEN] = "none";
        struct in_addr ia = {.s_addr = htonl(s->addr4)};

        if (s->have_addr4)
            inet_ntop(AF_INET, &ia, va, sizeof(va));
        log_info("ike", "session %" PRIu64 " up: %s%s%s from %s, profile %s, address %s%s, %zu child SA(s)", s->id,
                 s->remote_id, s->eap_identity ? ", EAP identity " : "", s->eap_identity ? s->eap_identity : "",
                 ike_addr_str(&s->peer, a, sizeof(a)), s->profile, va, s->addr4_aaa ? " (from RADIUS)" : "",
                 s->nchild);
    }
    {
        const char *m = pd->method;

        v = ike_leaf(prof, !strcmp(m, "eap") ? "aaa/accounting/eap" : !strcmp(m, "cert") ? "aaa/accounting/cert"
                                                                                         : "aaa/accounting/psk");
        if (v)
            s->acct_list = strdup(v);
    }
    ike_sess_notify_event(s, "session-up", NULL, NULL);
    ike_sess_arm_timers(s);
    ike_acct_start(s);
    ike_dhcp_arm(s);
    /* push (S4 "config-exchange set send"): a client that asked for nothing gets
     * the attributes in a CFG_SET, if there are any */
    if (!cp_p && !((v = ike_leaf(prof, "config-exchange/set/send")) && !strcmp(v, "false"))) {
        struct cp_out *push = calloc(1, sizeof(*push));
        struct ike_cp_pld none = {0};
        struct ike_builder pb;
        struct ike_hdr ph = {0};

        if (push) {
            push->cp.cfg_type = 3;
            cp_attributes(s, &at, &none, push);
            ike_build_begin(&pb, &ph);
            ike_cp_build(&pb, &push->cp);
            if (push->cp.nattr && ike_build_finish(&pb))
                ike_sess_request(s, REQ_CFG_SET, IKE_EXCH_INFORMATIONAL, IKE_PLD_CP, pb.buf.data + IKE_HDR_LEN,
                                 pb.buf.len - IKE_HDR_LEN);
            ike_buf_fini(&pb.buf);
            free(push);
        }
    }
    s->cfg_set_accept = !((v = ike_leaf(prof, "config-exchange/set/accept")) && !strcmp(v, "false"));
    /* the attributes pointed into the RADIUS answers: they go only now */
    s->pend = NULL;
    ike_pend_free(pd);
    return;
refuse:
    free(cpo);
    free(sa);
    ike_auth_fail(s, msg_id, reason, why);
}
