/* IKE_SA_INIT in the engine (the message itself is ike_init.c's): the
 * retransmitted request answered again, the SA limits, the cookie check
 * (ike_cookie.c), the new half-open SA; and the unprotected error
 * notifications (RFC 7296 2.5) within their rate limit. */
#include <net/if.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/cpool.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

static void ikey_of(const uint8_t spi_i[8], const struct sockaddr_storage *peer, uint8_t key[26])
{
    memset(key, 0, 26);
    memcpy(key, spi_i, 8);
    if (peer->ss_family == AF_INET)
        memcpy(key + 8, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    else
        memcpy(key + 8, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    key[24] = (uint8_t)(ike_port_of(peer) >> 8);
    key[25] = (uint8_t)ike_port_of(peer);
}

/* The DH and keys of a new half-open SA, computed on a crypto thread: the job
 * owns copies of what it needs; @s is the control thread's (NULL once the
 * session went: the result is wiped and dropped). While it runs the session is
 * half-open without an answer: a retransmitted request is counted and answered
 * once the job is done. */
struct init_job {
    struct cpool_job j;
    struct ike_engine *e;
    struct ike_sess *s;
    struct ike_src_jobs *src; /* its source's count (NULL inline) */
    struct ike_init_work w;
};

/* Jobs outstanding from one source address (the pool's share of it). */
struct ike_src_jobs {
    uint8_t addr[17]; /* family, then the address */
    unsigned n;
    UT_hash_handle hh;
};

static void src_key(const struct sockaddr_storage *peer, uint8_t k[17])
{
    memset(k, 0, 17);
    k[0] = (uint8_t)peer->ss_family;
    if (peer->ss_family == AF_INET)
        memcpy(k + 1, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    else
        memcpy(k + 1, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
}

static struct ike_src_jobs *src_find(struct ike_engine *e, const struct sockaddr_storage *peer, bool add)
{
    struct ike_src_jobs *sj;
    uint8_t k[17];

    src_key(peer, k);
    HASH_FIND(hh, e->src_jobs, k, sizeof(k), sj);
    if (sj || !add)
        return sj;
    sj = calloc(1, sizeof(*sj));
    if (!sj)
        return NULL;
    memcpy(sj->addr, k, sizeof(k));
    HASH_ADD(hh, e->src_jobs, addr, sizeof(sj->addr), sj);
    return sj;
}

static void src_put(struct ike_engine *e, struct ike_src_jobs *sj)
{
    if (sj && !--sj->n) {
        HASH_DELETE(hh, e->src_jobs, sj);
        free(sj);
    }
}

void ike_initx_stop(struct ike_engine *e)
{
    struct ike_src_jobs *sj, *tmp;

    HASH_ITER(hh, e->src_jobs, sj, tmp) { /* none once the pool is freed */
        HASH_DELETE(hh, e->src_jobs, sj);
        free(sj);
    }
}

/* An unencrypted notify-only answer to an IKE_SA_INIT request. */
static void init_notify(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                        const struct sockaddr_storage *peer, const struct ike_msg *req, uint16_t type,
                        const uint8_t *data, size_t len)
{
    struct ike_hdr h = req->hdr;
    struct ike_builder bd;

    memset(h.spi_r, 0, 8);
    h.flags = IKE_FLAG_RESPONSE;
    h.version = 0x20;
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = type, .data = data, .len = len});
    if (ike_build_finish(&bd))
        ike_xmit_dgram(sk, local, peer, bd.buf.data, bd.buf.len, false);
    ike_buf_fini(&bd.buf);
    (void)e;
}

/* Unprotected error notifications (RFC 7296 2.5, 3.2) cost us nothing to be
 * asked for, so a spoofed source could aim them at a victim: a token bucket
 * bounds them (IKE_UNPROT_RATE a second, bursts of as many). */
#define IKE_UNPROT_RATE 20

static bool unprot_token(struct ike_engine *e)
{
    struct timespec ts;
    uint64_t now, add;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (!e->unprot_ms) {
        e->unprot_tokens = IKE_UNPROT_RATE;
        e->unprot_ms = now;
    }
    add = (now - e->unprot_ms) * IKE_UNPROT_RATE / 1000;
    if (add) {
        e->unprot_tokens = add >= IKE_UNPROT_RATE - e->unprot_tokens ? IKE_UNPROT_RATE
                                                                    : e->unprot_tokens + (uint32_t)add;
        e->unprot_ms += add * 1000 / IKE_UNPROT_RATE;
        if (e->unprot_tokens == IKE_UNPROT_RATE)
            e->unprot_ms = now;
    }
    if (!e->unprot_tokens) {
        e->c.unprotected_limited++;
        return false;
    }
    e->unprot_tokens--;
    return true;
}

/* A request the codec refused for its version or an unknown critical payload
 * (@rc): RFC 7296 2.5 answers a major version of 3 or more with
 * INVALID_MAJOR_VERSION in a version 2 header, and an IKE_SA_INIT request with
 * an unknown critical payload with UNSUPPORTED_CRITICAL_PAYLOAD carrying its
 * type; anything else is dropped. */
void ike_initx_unprotected(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                              const struct sockaddr_storage *peer, const struct ike_msg *msg, enum ike_parse_rc rc)
{
    static const uint8_t zero[8];
    const struct ike_hdr *h = &msg->hdr;

    if (h->flags & IKE_FLAG_RESPONSE) {
        e->c.dropped++;
        return;
    }
    if (rc == IKE_PARSE_BAD_VERSION && h->version >> 4 >= 3) {
        e->c.invalid_major_version++;
        if (unprot_token(e))
            init_notify(e, sk, local, peer, msg, N_INVALID_MAJOR_VERSION, NULL, 0);
    } else if (rc == IKE_PARSE_UNKNOWN_CRITICAL && h->exchange == IKE_EXCH_SA_INIT && h->msg_id == 0 &&
               !memcmp(h->spi_r, zero, 8)) {
        e->c.unsupported_critical++;
        if (unprot_token(e))
            init_notify(e, sk, local, peer, msg, N_UNSUPPORTED_CRITICAL_PAYLOAD, &msg->bad_type, 1);
    } else {
        e->c.dropped++;
    }
}

/* Whether the crypto pool is loaded: half full, or as many half-open SAs as
 * it holds (spoofed sources never finish theirs, which live until the
 * half-open timeout). From there on, every new IKE_SA_INIT must come back
 * with a cookie before a DH is computed for it, so that the pool computes for
 * unverified addresses only until it is loaded, and then for at most the
 * queue's size of them a half-open timeout. */
bool ike_pool_loaded(const struct ike_engine *e)
{
    size_t cap = cpool_capacity(e->pool);

    return cap && (cpool_pending(e->pool) >= cap / 2 || e->half_open >= cap);
}

/* Whether the crypto pool takes one more job from @peer (which passed the
 * cookie check): not when it is full, nor, from half full on, when the
 * source already has a quarter of it (a real address that returns cookies
 * still gets no more than its share). Counted when not. */
static bool pool_room(struct ike_engine *e, const struct sockaddr_storage *peer)
{
    size_t cap = cpool_capacity(e->pool);
    struct ike_src_jobs *sj;

    if (!cap)
        return true;
    if (cpool_pending(e->pool) >= cap) {
        e->c.pool_full++;
        e->c.rejected++;
        return false;
    }
    sj = ike_pool_loaded(e) ? src_find(e, peer, false) : NULL;
    if (sj && sj->n >= cap / 4) {
        e->c.pool_per_peer++;
        e->c.rejected++;
        return false;
    }
    return true;
}

static void init_work(struct cpool_job *j)
{
    ike_init_compute(&((struct init_job *)j)->w);
}

static void init_job_free(struct init_job *job)
{
    ike_init_fini(&job->w.in); /* unless ike_init_answer() moved them to the session */
    OPENSSL_cleanse(&job->w, sizeof(job->w));
    free(job);
}

void ike_initx_forget(struct ike_sess *s)
{
    if (s->init_job) {
        s->init_job->s = NULL;
        s->init_job = NULL;
    }
}

static void init_done(struct cpool_job *j, bool ran)
{
    struct init_job *job = (struct init_job *)j;
    struct ike_sess *s = job->s;
    struct ike_init_opts opts;
    struct ike_buf out = {0};
    struct ike_engine *e;
    enum ike_init_status st;

    src_put(job->e, job->src);
    if (!s) {
        init_job_free(job);
        return;
    }
    s->init_job = NULL;
    e = s->e;
    if (!ran) { /* the pool stopped first: the half-open SA goes */
        init_job_free(job);
        e->c.resource_low++;
        e->c.rejected++;
        ike_sess_abandon(s);
        return;
    }
    opts = (struct ike_init_opts){.certreq = s->gen->certreq, .ncertreq = s->gen->ncertreq};
    st = ike_init_answer(&job->w, &s->local, &s->peer, &opts, &s->in, &out);
    init_job_free(job);
    if (st != IKE_INIT_OK) {
        if (st != IKE_INIT_INTERNAL)
            ike_xmit_dgram(s->sock, &s->local, &s->peer, out.data, out.len, false);
        e->c.rejected++;
        if (st == IKE_INIT_INVALID_SYNTAX)
            e->c.invalid_syntax++;
        else
            e->c.resource_low++;
        ike_buf_fini(&out);
        ike_sess_abandon(s);
        return;
    }
    s->msg2 = out.data;
    s->msg2_len = out.len;
    ike_xmit_dgram(s->sock, &s->local, &s->peer, s->msg2, s->msg2_len, false);
}

/* Refused before any state exists: counted, and the answer of @st if any. */
static void init_refused(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                         const struct sockaddr_storage *peer, enum ike_init_status st, struct ike_buf *out)
{
    if (st != IKE_INIT_INTERNAL && out->len)
        ike_xmit_dgram(sk, local, peer, out->data, out->len, false);
    e->c.rejected++;
    if (st == IKE_INIT_NO_PROPOSAL)
        e->c.no_proposal++;
    else if (st == IKE_INIT_INVALID_KE)
        e->c.invalid_ke++;
    else if (st == IKE_INIT_INVALID_SYNTAX)
        e->c.invalid_syntax++;
    else
        e->c.resource_low++;
    ike_buf_fini(out);
}

/* The new half-open SA of request @req from @peer, in the tables with no
 * answer yet (its job computes it). */
static struct ike_sess *init_sess(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                                  const struct sockaddr_storage *peer, const uint8_t *buf, size_t len,
                                  const struct ike_msg *req, const uint8_t key[26], const struct ike_init *in)
{
    struct ike_sess *s = ike_sess_new(e);
    bool from;

    if (!s)
        return NULL;
    s->msg1 = malloc(len);
    if (!s->msg1) {
        ike_sess_release(s);
        return NULL;
    }
    s->gen = ike_conf_ref(e->conf); /* what the session is negotiated under, whatever a commit changes */
    s->rx_ifindex = sk->rx_ifindex;
    memcpy(s->fvrf, sk->vrf, sizeof(s->fvrf));
    s->fvrf_ifindex = sk->vrf[0] ? (int)if_nametoindex(sk->vrf) : 0;
    memcpy(s->msg1, buf, len);
    s->msg1_len = len;
    s->sock = sk;
    s->local = *local;
    s->peer = *peer;
    s->peer_next = 1;
    memcpy(s->ikey, key, sizeof(s->ikey));
    /* until the job is done: the SPIs and nonces, no keys */
    memcpy(s->in.spi_i, in->spi_i, 8);
    memcpy(s->in.spi_r, in->spi_r, 8);
    for (size_t i = 0; i < req->npld; i++) {
        static const uint8_t unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                        0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
        static const char flex[] = "FLEXVPN-SUPPORTED";

        if (req->pld[i].type != IKE_PLD_VENDOR)
            continue;
        if (req->pld[i].len == sizeof(unity) && !memcmp(req->pld[i].body, unity, sizeof(unity)))
            s->vid_unity = true;
        if (req->pld[i].len == sizeof(flex) - 1 && !memcmp(req->pld[i].body, flex, sizeof(flex) - 1))
            s->vid_flexvpn = true;
    }
    s->redirect_ok = ike_redirect_announced(req, &from); /* RFC 5685: may be moved later */
    ike_sa_set_state(s, IKE_SA_HALF_OPEN, "IKE_SA_INIT received");
    HASH_ADD(hh_i, e->by_i, ikey, sizeof(s->ikey), s);
    memcpy(s->our_spi, s->in.spi_r, 8);
    HASH_ADD(hh_r, e->by_r, our_spi, 8, s);
    HASH_ADD(hh_id, e->by_id, ss.id, sizeof(s->ss.id), s);
    sess_add(&s->ss);
    e->half_open++;
    ike_sess_arm_timers(s);
    return s;
}

bool ike_initx_known(struct ike_engine *e, const uint8_t spi_i[8], const struct sockaddr_storage *peer)
{
    struct ike_sess *s;
    uint8_t key[26];

    ikey_of(spi_i, peer, key);
    HASH_FIND(hh_i, e->by_i, key, sizeof(key), s);
    return s != NULL;
}

void ike_initx_handle(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                      const struct sockaddr_storage *peer, const uint8_t *buf, size_t len, const struct ike_msg *req)
{
    struct ike_init_opts opts = {.fragmentation = e->conf->frag, .algs = ike_conf_algs(e->conf, local, sk->vrf),
                                 .certreq = e->conf->certreq, .ncertreq = e->conf->ncertreq,
                                 .ppk = e->conf->ppk_any};
    struct ike_buf out = {0};
    struct init_job *job;
    struct ike_sess *s;
    uint8_t key[26];
    enum ike_init_status st;

    ikey_of(req->hdr.spi_i, peer, key);
    HASH_FIND(hh_i, e->by_i, key, sizeof(key), s);
    if (s) { /* a retransmitted request: the same answer again (once computed) */
        e->c.retransmissions++;
        if (s->msg2)
            ike_xmit_dgram(s->sock, &s->local, &s->peer, s->msg2, s->msg2_len, false);
        return;
    }
    e->c.received++;
    if (!ike_cookie_ok(e, sk, local, peer, &req->hdr, req->npld ? &req->pld[0] : NULL,
                       ike_msg_find(req, IKE_PLD_NONCE, 0)))
        return;
    /* RFC 5685: sent elsewhere before any DH is computed or state is kept, and
     * before the limits: a gateway at its limits is where redirect helps most */
    if (ike_redirect_at_init(e, sk, local, peer, req))
        return;
    if (e->conf->max_sa && e->half_open + e->established >= e->conf->max_sa) {
        e->c.sa_limit++;
        e->c.rejected++;
        return;
    }
    if (e->conf->max_half_open && e->half_open >= e->conf->max_half_open) {
        e->c.in_negotiation_limit++;
        e->c.rejected++;
        return;
    }
    if (!pool_room(e, peer))
        return;
    job = malloc(sizeof(*job));
    if (!job) {
        e->c.resource_low++;
        e->c.rejected++;
        return;
    }
    st = ike_init_choose(req, local, peer, &opts, &job->w, &out);
    if (st != IKE_INIT_OK) {
        init_refused(e, sk, local, peer, st, &out);
        init_job_free(job);
        return;
    }
    s = init_sess(e, sk, local, peer, buf, len, req, key, &job->w.in);
    if (!s) {
        init_refused(e, sk, local, peer, IKE_INIT_INTERNAL, &out);
        init_job_free(job);
        return;
    }
    job->j = (struct cpool_job){.work = init_work, .done = init_done};
    job->e = e;
    job->s = s;
    job->src = cpool_capacity(e->pool) ? src_find(e, peer, true) : NULL;
    if (job->src)
        job->src->n++;
    s->init_job = job;
    if (cpool_capacity(e->pool))
        e->c.pool_jobs++;
    if (cpool_submit(e->pool, &job->j)) { /* not after pool_room; but never queued without limit */
        e->c.pool_full++;
        e->c.rejected++;
        src_put(e, job->src);
        ike_initx_forget(s);
        init_job_free(job);
        ike_sess_abandon(s);
    }
}
