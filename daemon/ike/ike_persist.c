/* Sessions that outlive the process: each established session's record in the
 * session arena (daemon/session/sess_arena.h), written whenever the session
 * changes, and the adoption of those records by a new ravend process.
 *
 * A record is "RVS1" followed by fields, each a 16-bit tag, a 16-bit length and
 * the value, little-endian. A field of the tables below whose value is zero (a
 * number 0, false, an empty string, bytes all zero) is left out, and trailing
 * zero bytes of a byte array too (ike_pwire.c), so that a typical record fits
 * the arena's small place (one page a session). The fields of the session and
 * of each child SA are listed in the tables below (a child SA is one field holding its own fields);
 * the format is part of the arena's version (SESS_ARENA_VERSION). Decoding is
 * strict: an unknown tag, a length that does not match, a value out of range or
 * a string that is not one makes the record unreadable, and the session is not
 * adopted. What is not in a record: half-open SAs (the client starts again when
 * its IKE_AUTH goes unanswered), the stubs of rekeyed IKE SAs, exchanges under
 * way inside ravend (RADIUS, DHCP, CRL), and Diffie-Hellman secrets. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/ike/ike_pwire.h"
#include "daemon/pool/pool.h"
#include "daemon/session/sess_arena.h"
#include "daemon/base/poison.h"

#define REC_MAGIC 0x31535652u /* "RVS1" */

#define S(f) offsetof(struct ike_sess, f), sizeof(((struct ike_sess *)0)->f)
#define C(f) offsetof(struct ike_child_sa, f), sizeof(((struct ike_child_sa *)0)->f)

/* Tags 1-199 are the session's, 200-299 a child SA's; never reuse a number. */
static const struct fdesc sess_fields[] = {
    {1, F_U64, S(ss.id), 0},
    {2, F_BOOL, S(initiator), 0},
    {3, F_BYTES, S(our_spi), 0},
    {4, F_BYTES, S(in.spi_i), 0},
    {5, F_BYTES, S(in.spi_r), 0},
    {6, F_ENUM, S(in.group), 65535},
    {7, F_ENUM, S(in.prf), 65535},
    {8, F_BOOL, S(in.cbc), 0},
    {9, F_ENUM, S(in.aead), 65535},
    {10, F_ENUM, S(in.integ), 65535},
    {11, F_SIZE, S(in.encr_key_len), 36},
    {12, F_SIZE, S(in.integ_key_len), 64},
    {17, F_BOOL, S(in.nat_peer), 0},
    {18, F_BOOL, S(in.nat_local), 0},
    {19, F_BOOL, S(in.fragmentation), 0},
    {20, F_BOOL, S(in.sig_hash), 0},
    {21, F_BYTES, S(in.keys.sk_d), 0},
    {22, F_BYTES, S(in.keys.sk_ai), 0},
    {23, F_BYTES, S(in.keys.sk_ar), 0},
    {24, F_BYTES, S(in.keys.sk_ei), 0},
    {25, F_BYTES, S(in.keys.sk_er), 0},
    {26, F_BYTES, S(in.keys.sk_pi), 0},
    {27, F_BYTES, S(in.keys.sk_pr), 0},
    {28, F_SIZE, S(in.keys.prf_len), 64},
    {29, F_SIZE, S(in.keys.integ_len), 64},
    {30, F_SIZE, S(in.keys.encr_len), 36},
    {31, F_U32, S(peer_next), 0},
    {32, F_U32, S(our_next), 0},
    {33, F_BOOL, S(req_pending), 0},
    {34, F_I32, S(req_kind), REQ_REDIRECT},
    {35, F_U8, S(ss.id_type), 0},
    {36, F_STR, S(ss.remote_id), 0},
    {37, F_STR, S(ss.local_id), 0},
    {38, F_STR, S(ss.profile), 0},
    {39, F_STR, S(ss.ipsec_profile), 0},
    {40, F_STR, S(ss.auth_method), 0},
    {41, F_STR, S(ss.user), 0},
    {42, F_STR, S(ss.group), 0},
    {43, F_STR, S(ss.eap_identity), 0},
    {44, F_STR, S(ss.authz_sources), 0},
    {45, F_STR, S(ss.cert_tp), 0},
    {46, F_STR, S(ss.acct_list), 0},
    {47, F_STR, S(ss.acct_class), 0},
    {48, F_TEXT, S(ss.acct_id), 0},
    {49, F_BOOL, S(vid_unity), 0},
    {50, F_BOOL, S(vid_flexvpn), 0},
    {51, F_BOOL, S(cfg_set_accept), 0},
    {52, F_STR, S(ss.pool), 0},
    {111, F_STR, S(ocsp_url), 0}, /* OCSP: the AIA responder of the session's certificate */
    {53, F_STR, S(ss.pool6), 0},
    {54, F_U32, S(ss.addr4), 0},
    {55, F_U32, S(ss.index6), 0},
    {56, F_BOOL, S(ss.have_addr4), 0},
    {57, F_BOOL, S(ss.have_addr6), 0},
    {58, F_BOOL, S(ss.addr4_aaa), 0},
    {59, F_BOOL, S(ss.addr6_aaa), 0},
    {60, F_TIME, S(ss.dhcp_expires), 0},
    {61, F_BYTES, S(ss.addr6), 0},
    {62, F_U32, S(ss.alen6), 128},
    {63, F_U32, S(flow_limit), 0},
    {138, F_U32Z, S(ss.rate.kbps[0]), 0}, /* bandwidth limits: kbit/s, AAA_RATE_NONE none */
    {139, F_U32Z, S(ss.rate.kbps[1]), 0},
    {140, F_U32Z, S(ss.rate.burst[0]), 0},
    {141, F_U32Z, S(ss.rate.burst[1]), 0},
    {64, F_U32, S(esp.encr), 0},
    {65, F_U32, S(esp.integ), 0},
    {66, F_BOOL, S(esp.esn), 0},
    {67, F_U16, S(pfs_group), 0},
    {68, F_U16, S(rekey_group), 0},
    {69, F_U32, S(child_lifetime), 0},
    {70, F_U32, S(child_soft), 0},
    {71, F_U64, S(child_soft_bytes), 0},
    {72, F_U64, S(child_hard_bytes), 0},
    {73, F_U64, S(child_soft_packets), 0},
    {74, F_U64, S(child_hard_packets), 0},
    {75, F_U32, S(ss.idle_time), 0},
    {76, F_TIME, S(ss.idle_since), 0},
    {77, F_U64, S(ss.idle_traffic), 0},
    {78, F_U16, S(tcp_mss), 0},
    {79, F_U16, S(mtu), 0},
    {80, F_U32, S(replay_window), 4096},
    {81, F_U16, S(dpd_interval), 0},
    {82, F_U16, S(dpd_retry), 0},
    {83, F_BOOL, S(dpd_periodic), 0},
    {84, F_U32, S(ss.session_lifetime), 0},
    {85, F_U32, S(ike_lifetime), 0},
    {86, F_TIME, S(ss.created), 0},
    {87, F_TIME, S(ss.established), 0},
    {88, F_TIME, S(last_rx), 0},
    {89, F_TIME, S(ike_since), 0},
    {90, F_I32, S(rx_ifindex), 0},
    {91, F_TEXT, S(fvrf), 0},
    {92, F_I32, S(fvrf_ifindex), 0},
    {93, F_I32, S(ivrf_ifindex), 0},
    {94, F_BOOL, S(route_accept), 0},
    {95, F_U8, S(route_nfixed), 0},
    {96, F_U8, S(route_distance), 0},
    {97, F_U32, S(route_table), 0},
    {98, F_U32, S(route_tag), 0},
    /* MOBIKE and the peer's moves (ike_mobike.c) */
    {99, F_BOOL, S(mob.on), 0},
    {100, F_BOOL, S(mob.rr), 0},
    {101, F_U32, S(mob.moves), 0},
    {102, F_TIME, S(mob.last_move), 0},
    {103, F_BOOL, S(mob.no_additional), 0},
    {104, F_U8, S(mob.encap), IKE_ENCAP_ON}, /* enum ike_mobike_encap */
    /* RFC 8784: in.keys above already hold SK_d', SK_pi', SK_pr' */
    {105, F_BOOL, S(ppk_used), 0},
    {106, F_TEXT, S(ppk_id), 0},
    /* RFC 5685: the client may be redirected (ike_redirect.c); the gateway of
     * our REDIRECT, queued, under way or answered (absent: none) */
    {142, F_BOOLZ, S(redirect_ok), 0},
    {143, F_STR, S(redirect_to), 0},
};

/* Fields of the session that are not plain values. */
enum {
    T_LOCAL = 120, T_PEER = 121, T_NATT = 122, T_LAST_RESP = 123, T_REQ = 124, T_CERT_ISSUER = 125,
    T_CERT_SERIAL = 126, T_DHCP = 127, T_ALLOW_I = 128, T_ALLOW_R = 129, T_DEL_Q = 130, T_DEL_SENT = 131,
    T_ROUTE = 132, T_CHILD = 133, T_SOCK_VRF = 134,
    /* ike_mobike.c: one per entry of the peer address history, one per
     * additional address, the move waiting for its return routability check */
    T_MOB_HIST = 135, T_MOB_ADD = 136, T_MOB_RR = 137,
};

static const struct fdesc child_fields[] = {
    {200, F_U32, C(sc.spi_in), 0},
    {201, F_U32, C(sc.spi_out), 0},
    {202, F_U8, C(alg.prop_num), 0},
    {203, F_U32, C(alg.spi_peer), 0},
    {204, F_U16, C(alg.encr_id), 0},
    {205, F_U16, C(alg.encr_bits), 0},
    {206, F_U16, C(alg.integ), 0},
    {207, F_BOOL, C(alg.esn), 0},
    {208, F_U16, C(alg.dh_group), 0},
    {209, F_SIZE, C(alg.encr_key_len), 36},
    {210, F_SIZE, C(alg.integ_key_len), 64},
    {211, F_TIME, C(sc.established), 0},
    {212, F_U32, C(sc.rekeys), 0},
    {213, F_TIME, C(sc.rekey_at), 0},
    {214, F_TIME, C(sc.expire_at), 0},
    {215, F_BOOL, C(replaced), 0},
    {216, F_U32, C(replaced_by), 0},
    {217, F_BYTES, C(peer_nonce), 0},
    {218, F_SIZE, C(peer_nonce_len), 32},
    {219, F_U64, C(sc.base_in.packets), 0},
    {220, F_U64, C(sc.base_in.bytes), 0},
    {221, F_U64, C(sc.base_in.replay_drops), 0},
    {222, F_U64, C(sc.base_in.auth_failures), 0},
    {223, F_U64, C(sc.base_in.selector_drops), 0},
    {224, F_U64, C(sc.base_out.packets), 0},
    {225, F_U64, C(sc.base_out.bytes), 0},
    {226, F_U64, C(sc.base_out.replay_drops), 0},
    {227, F_U64, C(sc.base_out.auth_failures), 0},
    {228, F_U64, C(sc.base_out.selector_drops), 0},
    {229, F_BYTES, C(keys.ei), 0},
    {230, F_BYTES, C(keys.ai), 0},
    {231, F_BYTES, C(keys.er), 0},
    {232, F_BYTES, C(keys.ar), 0},
    {233, F_U32, C(sc.live_in), 0},
    {234, F_U32, C(sc.live_out), 0},
};
enum { T_TSI = 280, T_TSR = 281 };

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- compound values ---- */

void ike_persist_addr_put(uint8_t b[IKE_PERSIST_ADDR_LEN], const struct sockaddr_storage *a)
{
    memset(b, 0, IKE_PERSIST_ADDR_LEN);
    b[0] = a->ss_family == AF_INET6 ? 6 : 4;
    if (a->ss_family == AF_INET6)
        memcpy(b + 1, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
    else
        memcpy(b + 1, &((const struct sockaddr_in *)a)->sin_addr, 4);
    pw_le(b + 17, ike_port_of(a), 2);
}

bool ike_persist_addr_get(const uint8_t b[IKE_PERSIST_ADDR_LEN], struct sockaddr_storage *a)
{
    memset(a, 0, sizeof(*a));
    if (b[0] == 6) {
        a->ss_family = AF_INET6;
        memcpy(&((struct sockaddr_in6 *)a)->sin6_addr, b + 1, 16);
    } else if (b[0] == 4) {
        a->ss_family = AF_INET;
        memcpy(&((struct sockaddr_in *)a)->sin_addr, b + 1, 4);
    } else {
        return false;
    }
    ike_set_port(a, (uint16_t)pw_rd_le(b + 17, 2));
    return true;
}

static void w_addr(struct wbuf *w, uint16_t tag, const struct sockaddr_storage *a)
{
    uint8_t b[IKE_PERSIST_ADDR_LEN];

    ike_persist_addr_put(b, a);
    pw_field(w, tag, b, sizeof(b));
}

static bool r_addr(const uint8_t *v, size_t len, struct sockaddr_storage *a)
{
    if (len != IKE_PERSIST_ADDR_LEN) {
        memset(a, 0, sizeof(*a));
        return false;
    }
    return ike_persist_addr_get(v, a);
}

static void w_ts(struct wbuf *w, uint16_t tag, const struct ike_ts_pld *t)
{
    size_t at = pw_open(w, tag);

    for (size_t i = 0; i < t->nts; i++) {
        uint8_t b[38];

        b[0] = t->ts[i].type;
        b[1] = t->ts[i].ip_proto;
        pw_le(b + 2, t->ts[i].start_port, 2);
        pw_le(b + 4, t->ts[i].end_port, 2);
        memcpy(b + 6, t->ts[i].start, 16);
        memcpy(b + 22, t->ts[i].end, 16);
        if (pw_room(w, sizeof(b)))
            memcpy(w->p + w->len - sizeof(b), b, sizeof(b));
    }
    pw_close(w, at);
}

static bool r_ts(const uint8_t *v, size_t len, struct ike_ts_pld *t)
{
    if (len % 38 || len / 38 > IKE_MAX_TS)
        return false;
    t->nts = (uint8_t)(len / 38);
    for (size_t i = 0; i < t->nts; i++, v += 38) {
        if (v[0] != 7 && v[0] != 8)
            return false;
        t->ts[i].type = v[0];
        t->ts[i].ip_proto = v[1];
        t->ts[i].start_port = (uint16_t)pw_rd_le(v + 2, 2);
        t->ts[i].end_port = (uint16_t)pw_rd_le(v + 4, 2);
        memcpy(t->ts[i].start, v + 6, 16);
        memcpy(t->ts[i].end, v + 22, 16);
    }
    return true;
}

/* Datagrams kept for retransmission: each a 32-bit length and its bytes. */
static void w_out(struct wbuf *w, uint16_t tag, const struct ike_out *o)
{
    size_t at = pw_open(w, tag);

    for (size_t i = 0; i < o->n; i++) {
        uint8_t *p = pw_room(w, 4 + o->d[i].len);

        if (!p)
            return;
        pw_le(p, o->d[i].len, 4);
        memcpy(p + 4, o->d[i].data, o->d[i].len);
    }
    pw_close(w, at);
}

static bool r_out(const uint8_t *v, size_t len, struct ike_out *o)
{
    size_t off = 0;

    if (o->n)
        return false;
    while (off < len) {
        size_t n;

        if (len - off < 4 || !ike_xmit_out_room(o))
            return false;
        n = (size_t)pw_rd_le(v + off, 4);
        if (!n || n > 65535 || n > len - off - 4 || !(o->d[o->n].data = malloc(n)))
            return false;
        memcpy(o->d[o->n].data, v + off + 4, n);
        o->d[o->n++].len = n;
        off += 4 + n;
    }
    return true;
}

static void w_u32s_add(struct wbuf *w, uint32_t v)
{
    uint8_t *p = pw_room(w, 4);

    if (p)
        pw_le(p, v, 4);
}

static void w_u32s(struct wbuf *w, uint16_t tag, const uint32_t *v, size_t n)
{
    size_t at = pw_open(w, tag);

    for (size_t i = 0; i < n; i++) {
        uint8_t *p = pw_room(w, 4);

        if (p)
            pw_le(p, v[i], 4);
    }
    pw_close(w, at);
}

static void w_der(struct wbuf *w, uint16_t tag, const void *obj, int (*i2d)(const void *, unsigned char **))
{
    unsigned char *der = NULL;
    int n;

    if (!obj)
        return;
    n = i2d(obj, &der);
    if (n > 0)
        pw_field(w, tag, der, (size_t)n);
    else
        w->oom = true;
    OPENSSL_free(der);
}

static int i2d_name(const void *n, unsigned char **out)
{
    return i2d_X509_NAME((X509_NAME *)n, out);
}

static int i2d_int(const void *n, unsigned char **out)
{
    return i2d_ASN1_INTEGER((ASN1_INTEGER *)n, out);
}

static void w_dhcp(struct wbuf *w, const struct dhcp_lease *l)
{
    uint8_t b[4 * 8 + 1 + 6 + 64];

    pw_le(b, l->addr, 4);
    pw_le(b + 4, l->netmask, 4);
    pw_le(b + 8, l->server, 4);
    pw_le(b + 12, l->giaddr, 4);
    pw_le(b + 16, l->router, 4);
    pw_le(b + 20, l->dns[0], 4);
    pw_le(b + 24, l->dns[1], 4);
    pw_le(b + 28, l->lease_s, 4);
    b[32] = (uint8_t)l->ndns;
    memcpy(b + 33, l->chaddr, 6);
    memset(b + 39, 0, 64);
    memcpy(b + 39, l->client_id, strnlen(l->client_id, 63));
    pw_field(w, T_DHCP, b, sizeof(b));
}

static bool r_dhcp(const uint8_t *v, size_t len, struct ike_sess *s)
{
    struct dhcp_lease *l;

    if (len != 4 * 8 + 1 + 6 + 64 || v[32] > 2 || v[39 + 63] || s->ss.dhcp || !(l = calloc(1, sizeof(*l))))
        return false;
    l->addr = (uint32_t)pw_rd_le(v, 4);
    l->netmask = (uint32_t)pw_rd_le(v + 4, 4);
    l->server = (uint32_t)pw_rd_le(v + 8, 4);
    l->giaddr = (uint32_t)pw_rd_le(v + 12, 4);
    l->router = (uint32_t)pw_rd_le(v + 16, 4);
    l->dns[0] = (uint32_t)pw_rd_le(v + 20, 4);
    l->dns[1] = (uint32_t)pw_rd_le(v + 24, 4);
    l->lease_s = (uint32_t)pw_rd_le(v + 28, 4);
    l->ndns = v[32];
    memcpy(l->chaddr, v + 33, 6);
    memcpy(l->client_id, v + 39, 64);
    s->ss.dhcp = l;
    return true;
}

static void w_route(struct wbuf *w, const struct ike_kroute *r)
{
    uint8_t b[2 + 16 + 12];

    b[0] = r->family;
    b[1] = r->plen;
    memcpy(b + 2, r->dst, 16);
    pw_le(b + 18, r->table, 4);
    pw_le(b + 22, r->metric, 4);
    pw_le(b + 26, r->realm, 4);
    pw_field(w, T_ROUTE, b, sizeof(b));
}

static bool r_route(const uint8_t *v, size_t len, struct ike_sess *s)
{
    struct ike_kroute *r;

    if (len != 30 || (v[0] != AF_INET && v[0] != AF_INET6) || v[1] > (v[0] == AF_INET ? 32 : 128) ||
        s->nroutes >= 4096)
        return false;
    r = realloc(s->routes, (s->nroutes + 1) * sizeof(*r));
    if (!r)
        return false;
    s->routes = r;
    r = &s->routes[s->nroutes++];
    memset(r, 0, sizeof(*r));
    r->family = v[0];
    r->plen = v[1];
    memcpy(r->dst, v + 2, 16);
    r->table = (uint32_t)pw_rd_le(v + 18, 4);
    r->metric = (uint32_t)pw_rd_le(v + 22, 4);
    r->realm = (uint32_t)pw_rd_le(v + 26, 4);
    return true; /* not installed: adoption installs it */
}

/* ---- a session's record ---- */

static void w_child(struct wbuf *w, const struct ike_child_sa *c)
{
    size_t at = pw_open(w, T_CHILD);
    struct ike_ts_pld ts;

    pw_fields(w, child_fields, NFIELDS(child_fields), c);
    ike_tss_get(&c->tsi, &ts);
    w_ts(w, T_TSI, &ts);
    ike_tss_get(&c->tsr, &ts);
    w_ts(w, T_TSR, &ts);
    pw_close(w, at);
}

/* The child DELETEs still to be sent, and those of the children that got no SA
 * slots in the arena (it was full): a later process tells the client they are
 * gone. */
static void w_del_q(struct wbuf *w, const struct ike_sess *s)
{
    size_t at = pw_open(w, T_DEL_Q), n = s->ndel_q;

    for (size_t i = 0; i < s->nchild; i++)
        if (!s->child[i].sc.live_in && n++ < IKE_MAX_CHILD)
            w_u32s_add(w, s->child[i].sc.spi_in);
    for (size_t i = 0; i < s->ndel_q; i++)
        w_u32s_add(w, s->del_q[i]);
    pw_close(w, at);
}

/* MOBIKE's fields (their bytes are ike_mobike.c's) */
static void w_mobike(struct wbuf *w, const struct ike_mobike *m)
{
    uint8_t b[IKE_MOBIKE_REC_MAX];

    for (uint8_t i = 0; i < m->nhist && i < IKE_MOBIKE_HIST; i++)
        pw_field(w, T_MOB_HIST, b, ike_mobike_rec(m, IKE_MOBIKE_REC_HIST, i, b));
    for (uint8_t i = 0; i < m->nadd && i < IKE_MOBIKE_ADDS; i++)
        pw_field(w, T_MOB_ADD, b, ike_mobike_rec(m, IKE_MOBIKE_REC_ADD, i, b));
    if (m->rr_state != IKE_RR_NONE)
        pw_field(w, T_MOB_RR, b, ike_mobike_rec(m, IKE_MOBIKE_REC_RR, 0, b));
}

bool ike_persist_encode(const struct ike_sess *s, uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    struct ike_ts_pld ts;
    uint8_t *m = pw_room(&w, 4);

    if (m)
        pw_le(m, REC_MAGIC, 4);
    pw_fields(&w, sess_fields, NFIELDS(sess_fields), s);
    w_addr(&w, T_LOCAL, &s->local);
    w_addr(&w, T_PEER, &s->peer);
    pw_uint(&w, T_NATT, s->sock && s->sock->natt, 1);
    if (s->sock && s->sock->vrf[0])
        pw_field(&w, T_SOCK_VRF, s->sock->vrf, strnlen(s->sock->vrf, sizeof(s->sock->vrf) - 1));
    w_out(&w, T_LAST_RESP, &s->last_resp);
    if (s->req_pending)
        w_out(&w, T_REQ, &s->req);
    w_der(&w, T_CERT_ISSUER, s->ss.cert_issuer, i2d_name);
    w_der(&w, T_CERT_SERIAL, s->ss.cert_serial, i2d_int);
    if (s->ss.dhcp)
        w_dhcp(&w, s->ss.dhcp);
    ike_tss_get(&s->allow_i, &ts);
    w_ts(&w, T_ALLOW_I, &ts);
    ike_tss_get(&s->allow_r, &ts);
    w_ts(&w, T_ALLOW_R, &ts);
    w_del_q(&w, s);
    w_u32s(&w, T_DEL_SENT, s->del_sent, s->ndel_sent);
    for (size_t i = 0; i < s->nroutes; i++)
        w_route(&w, &s->routes[i]);
    for (size_t i = 0; i < s->nchild; i++)
        if (s->child[i].sc.live_in) /* one without slots (the arena was full) is not taken over */
            w_child(&w, &s->child[i]);
    w_mobike(&w, &s->mob);
    if (w.oom) {
        if (w.p)
            OPENSSL_cleanse(w.p, w.cap);
        free(w.p);
        errno = w.too_long ? EMSGSIZE : ENOMEM;
        return false;
    }
    *out = w.p;
    *len = w.len;
    return true;
}

static bool r_child(const uint8_t *v, size_t len, struct ike_sess *s)
{
    struct rbuf r = {.p = v, .len = len};
    struct ike_child_sa *c;
    struct ike_ts_pld ts;
    const uint8_t *fv;
    uint16_t tag;
    size_t flen;
    bool bad = false;

    if (!ike_child_room(s))
        return false;
    c = &s->child[s->nchild];
    memset(c, 0, sizeof(*c));
    while (!bad && pw_next(&r, &tag, &fv, &flen, &bad)) {
        const struct fdesc *d = pw_find(child_fields, NFIELDS(child_fields), tag);

        if (d)
            bad = !pw_rd_field(d, fv, flen, c);
        else if (tag == T_TSI || tag == T_TSR)
            bad = !r_ts(fv, flen, &ts) || !ike_tss_set(tag == T_TSI ? &c->tsi : &c->tsr, &ts);
        else
            bad = true;
    }
    if (bad || !c->sc.spi_in || !c->sc.live_in || !c->sc.live_out) {
        ike_tss_free(&c->tsi);
        ike_tss_free(&c->tsr);
        OPENSSL_cleanse(c, sizeof(*c));
        return false;
    }
    s->nchild++;
    return true;
}

static bool r_u32s(const uint8_t *v, size_t len, uint32_t *to, size_t *n, size_t cap)
{
    if (len % 4 || len / 4 > cap)
        return false;
    *n = len / 4;
    for (size_t i = 0; i < *n; i++)
        to[i] = (uint32_t)pw_rd_le(v + 4 * i, 4);
    return true;
}

/* One compound field of the session. */
static bool r_sess_other(uint16_t tag, const uint8_t *v, size_t len, struct ike_sess *s, struct ike_persist_extra *x)
{
    const unsigned char *d = v;
    struct ike_ts_pld ts;

    switch (tag) {
    case T_LOCAL:
        return r_addr(v, len, &s->local);
    case T_PEER:
        return r_addr(v, len, &s->peer);
    case T_NATT:
        if (len != 1 || v[0] > 1)
            return false;
        x->natt = v[0];
        return true;
    case T_SOCK_VRF:
        if (len >= sizeof(x->vrf) || memchr(v, 0, len))
            return false;
        memcpy(x->vrf, v, len);
        x->vrf[len] = 0;
        return true;
    case T_LAST_RESP:
        return r_out(v, len, &s->last_resp);
    case T_REQ:
        return r_out(v, len, &s->req);
    case T_CERT_ISSUER:
        return !s->ss.cert_issuer && (s->ss.cert_issuer = d2i_X509_NAME(NULL, &d, (long)len)) && d == v + len;
    case T_CERT_SERIAL:
        return !s->ss.cert_serial && (s->ss.cert_serial = d2i_ASN1_INTEGER(NULL, &d, (long)len)) && d == v + len;
    case T_DHCP:
        return r_dhcp(v, len, s);
    case T_ALLOW_I:
    case T_ALLOW_R:
        return r_ts(v, len, &ts) && ike_tss_set(tag == T_ALLOW_I ? &s->allow_i : &s->allow_r, &ts);
    case T_DEL_Q:
    case T_DEL_SENT:
        /* at most one per child (the tables are as long as the child table) */
        x->ndel[tag == T_DEL_SENT] = len / 4;
        if (len % 4 || len / 4 > IKE_MAX_CHILD)
            return false;
        free(x->del[tag == T_DEL_SENT]);
        x->del[tag == T_DEL_SENT] = malloc(len ? len : 1);
        return x->del[tag == T_DEL_SENT] &&
               r_u32s(v, len, x->del[tag == T_DEL_SENT], &x->ndel[tag == T_DEL_SENT], IKE_MAX_CHILD);
    case T_ROUTE:
        return r_route(v, len, s);
    case T_CHILD:
        return r_child(v, len, s);
    case T_MOB_HIST:
        return ike_mobike_rec_take(&s->mob, IKE_MOBIKE_REC_HIST, v, len);
    case T_MOB_ADD:
        return ike_mobike_rec_take(&s->mob, IKE_MOBIKE_REC_ADD, v, len);
    case T_MOB_RR:
        return ike_mobike_rec_take(&s->mob, IKE_MOBIKE_REC_RR, v, len);
    default:
        return false;
    }
}

bool ike_persist_decode(const uint8_t *rec, size_t len, struct ike_sess *s, struct ike_persist_extra *x)
{
    struct rbuf r = {.p = rec, .len = len, .off = 4};
    const uint8_t *v;
    uint16_t tag;
    size_t flen;
    bool bad = false;

    memset(x, 0, sizeof(*x));
    if (len < 4 || pw_rd_le(rec, 4) != REC_MAGIC)
        return false;
    pw_zero_fields(sess_fields, NFIELDS(sess_fields), s);
    while (!bad && pw_next(&r, &tag, &v, &flen, &bad)) {
        const struct fdesc *d = pw_find(sess_fields, NFIELDS(sess_fields), tag);

        bad = d ? !pw_rd_field(d, v, flen, s) : !r_sess_other(tag, v, flen, s, x);
        if (bad)
            x->bad_tag = tag;
    }
    /* what a session needs to be one */
    if (bad || !s->ss.id || !s->local.ss_family || !s->peer.ss_family || !ike_prf_len(s->in.prf) ||
        s->in.keys.prf_len != ike_prf_len(s->in.prf) ||
        (s->req_pending && !s->req.n) || (!s->req_pending && s->req.n) || s->route_nfixed > s->allow_i.nts ||
        s->mob.moves < s->mob.nhist) {
        if (!bad)
            x->bad_tag = 0xffff; /* the fields do not make a session */
        return false;
    }
    /* the child tables as long as the delete queues need */
    while (s->child_cap < x->ndel[0] || s->child_cap < x->ndel[1]) {
        size_t n = s->nchild;
        bool ok;

        s->nchild = s->child_cap; /* ike_child_room grows a full table only */
        ok = ike_child_room(s);
        s->nchild = n;
        if (!ok)
            return false;
    }
    if (x->ndel[0])
        memcpy(s->del_q, x->del[0], x->ndel[0] * sizeof(uint32_t));
    if (x->ndel[1])
        memcpy(s->del_sent, x->del[1], x->ndel[1] * sizeof(uint32_t));
    s->ndel_q = x->ndel[0];
    s->ndel_sent = x->ndel[1];
    return true;
}

void ike_persist_extra_fini(struct ike_persist_extra *x)
{
    free(x->del[0]);
    free(x->del[1]);
    x->del[0] = x->del[1] = NULL;
}

void ike_persist_clear(struct ike_sess *s)
{
    struct ike_out *outs[] = {&s->last_resp, &s->req};

    sess_release(&s->ss); /* its names, certificate and DHCP lease copy */
    for (size_t i = 0; i < 2; i++)
        ike_xmit_out_free(outs[i]);
    free(s->routes);
    ike_tss_free(&s->allow_i);
    ike_tss_free(&s->allow_r);
    for (size_t i = 0; i < s->nchild; i++) {
        ike_tss_free(&s->child[i].tsi);
        ike_tss_free(&s->child[i].tsr);
    }
    if (s->child)
        OPENSSL_cleanse(s->child, s->child_cap * sizeof(*s->child));
    free(s->child);
    free(s->del_q);
    free(s->del_sent);
    free(s->ocsp_url);
    s->ocsp_url = NULL;
    free(s->redirect_to);
    s->redirect_to = NULL;
    ike_mobike_free(&s->mob);
    s->routes = NULL;
    s->child = NULL;
    s->del_q = s->del_sent = NULL;
    s->nroutes = s->nchild = s->child_cap = s->ndel_q = s->ndel_sent = 0;
    OPENSSL_cleanse(&s->in, sizeof(s->in));
}
