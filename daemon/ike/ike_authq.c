/* IKE_AUTH's crypto on the crypto pool (daemon/base/cpool.h), as ike_initx.c
 * does IKE_SA_INIT's: the SK payload of an IKE_AUTH request opened and its
 * payloads parsed, and the SK payload (or Encrypted Fragments) of the IKE_AUTH
 * response sealed, each by a job that owns copies of what it needs (the
 * message, the keys); @s is the control thread's, NULL once the session went
 * (the result is wiped and dropped). Without threads, or with the queue full,
 * the same is done inline. The client's signature is checked by a job of
 * ike_authx.c. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/cpool.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

/* ---- opening a request ---- */

/* One job a message, or a fragment (RFC 7383: each is authenticated and
 * decrypted by its own job; the reassembly is the control thread's); a
 * session's jobs are listed from s->open_job. */
struct ike_open_job {
    struct cpool_job j;
    struct ike_sess *s;
    struct ike_open_job *next; /* the session's next one */
    bool frag;                 /* an Encrypted Fragment */
    uint8_t *fplain;           /* its plaintext, when it opened */
    size_t fplen;
    uint64_t sk_serial; /* the socket it came in on (a commit may close it, another take its address) */
    struct sockaddr_storage local, peer;
    bool cbc;
    enum ike_aead alg;
    enum ike_integ integ;
    uint8_t key[36], integ_key[64];
    size_t key_len, len;
    uint8_t *buf, *plain; /* the datagram, and the plaintext @inner points into: in @mem */
    struct ike_msg msg, inner;
    enum ike_sk_rc rc;
    uint8_t mem[]; /* one allocation with the job: len bytes, and len more unless a fragment */
};

static void open_work(struct cpool_job *j)
{
    struct ike_open_job *oj = (struct ike_open_job *)j;
    struct ike_sk_keys k = {.cbc = oj->cbc, .alg = oj->alg, .key = oj->key, .key_len = oj->key_len,
                            .integ = oj->integ, .integ_key = oj->integ_key};

    if (oj->frag)
        oj->rc = ike_frag_open(&k, oj->buf, oj->len, &oj->msg, &oj->fplain, &oj->fplen);
    else
        oj->rc = ike_sk_open(&k, oj->buf, oj->len, &oj->msg, oj->plain, &oj->inner);
}

static void open_job_free(struct ike_open_job *oj)
{
    OPENSSL_cleanse(oj->key, sizeof(oj->key));
    OPENSSL_cleanse(oj->integ_key, sizeof(oj->integ_key));
    if (oj->plain)
        OPENSSL_cleanse(oj->plain, oj->len);
    if (oj->fplain)
        OPENSSL_cleanse(oj->fplain, oj->fplen);
    free(oj->fplain);
    free(oj);
}

void ike_authq_open_forget(struct ike_sess *s)
{
    for (struct ike_open_job *oj = s->open_job; oj; oj = oj->next)
        oj->s = NULL;
    s->open_job = NULL;
}

enum ike_authq_copy ike_authq_copy(const struct ike_sess *s, const uint8_t *buf, size_t len)
{
    size_t n = 0;

    for (const struct ike_open_job *oj = s->open_job; oj; oj = oj->next, n++) {
        if (oj->len == len && !memcmp(oj->buf, buf, len))
            return IKE_AUTHQ_SAME;
    }
    return n < IKE_AUTHQ_OPEN_MAX ? IKE_AUTHQ_NEW : IKE_AUTHQ_FULL;
}

static void open_unlink(struct ike_sess *s, struct ike_open_job *oj)
{
    struct ike_open_job **pp = &s->open_job;

    while (*pp && *pp != oj)
        pp = &(*pp)->next;
    if (*pp)
        *pp = oj->next;
}

/* A fragment opened by @oj: into the reassembly, and the message handled
 * once complete (as handle_request does inline). */
static void frag_in(struct ike_sess *s, struct ike_open_job *oj, struct ike_sock *sk)
{
    struct ike_frag done;
    enum ike_sk_rc rc;
    bool complete;

    if (!ike_sess_frag(s)) {
        s->e->c.dropped++;
        return;
    }
    rc = ike_frag_put(s->frag, &oj->msg, oj->fplain, oj->fplen, &oj->inner, &complete);
    oj->fplain = NULL; /* the reassembly's now */
    if (rc == IKE_SK_NOT_AUTHENTIC || !complete) {
        if (rc != IKE_SK_OK) /* as handle_request counts it */
            s->e->c.dropped++;
        return;
    }
    ike_sess_frag_take(s, &done);
    ike_request_in(s, rc, &oj->msg.hdr, &oj->inner, sk, &oj->local, &oj->peer);
    ike_frag_fini(&done);
}

/* The socket the job's message came in on, else (closed since, or a detached
 * one) the session's. */
static struct ike_sock *job_sock(const struct ike_sess *s, const struct ike_open_job *oj)
{
    for (size_t i = 0; oj->sk_serial && i < s->e->nsocks; i++) {
        if (s->e->socks[i]->serial == oj->sk_serial)
            return s->e->socks[i];
    }
    return s->sock;
}

static void open_done(struct cpool_job *j, bool ran)
{
    struct ike_open_job *oj = (struct ike_open_job *)j;
    struct ike_sess *s = oj->s;

    if (!s) { /* the session went */
        open_job_free(oj);
        return;
    }
    open_unlink(s, oj);
    if (!ran) { /* the pool stopped first: the half-open SA goes */
        open_job_free(oj);
        ike_sess_abandon(s);
        return;
    }
    if (oj->rc == IKE_SK_NOT_AUTHENTIC || (oj->frag && oj->rc != IKE_SK_OK)) {
        s->e->c.dropped++; /* a fragment that did not open is dropped, as inline */
    } else if (oj->msg.hdr.msg_id != s->peer_next) {
        /* another copy of its request (whole or in fragments) was handled meanwhile */
    } else if (oj->frag) {
        frag_in(s, oj, job_sock(s, oj));
    } else {
        ike_request_in(s, oj->rc, &oj->msg.hdr, &oj->inner, job_sock(s, oj), &oj->local, &oj->peer);
    }
    open_job_free(oj);
}

bool ike_authq_open(struct ike_sess *s, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                    struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer)
{
    struct ike_open_job *oj;
    struct ike_sk_keys k;

    bool frag = msg->npld && msg->pld[msg->npld - 1].type == IKE_PLD_SKF;

    if (!cpool_capacity(s->e->pool) || !(oj = calloc(1, sizeof(*oj) + (frag ? len : 2 * len))))
        return false;
    oj->frag = frag;
    oj->buf = oj->mem;
    oj->plain = frag ? NULL : oj->mem + len;
    memcpy(oj->buf, buf, len);
    oj->len = len;
    oj->msg = *msg; /* its payloads point into the copy */
    for (size_t i = 0; i < msg->npld; i++)
        oj->msg.pld[i].body = oj->buf + (msg->pld[i].body - buf);
    ike_init_sk_keys(&s->in, !s->initiator, &k);
    oj->cbc = k.cbc;
    oj->alg = k.alg;
    oj->integ = k.integ;
    oj->key_len = k.key_len < sizeof(oj->key) ? k.key_len : sizeof(oj->key);
    memcpy(oj->key, k.key, oj->key_len);
    if (k.integ_key)
        memcpy(oj->integ_key, k.integ_key, sizeof(oj->integ_key)); /* sk_ai/sk_ar: 64 bytes */
    oj->sk_serial = sk->serial;
    oj->local = *local;
    oj->peer = *peer;
    oj->s = s;
    oj->j = (struct cpool_job){.work = open_work, .done = open_done};
    if (cpool_submit(s->e->pool, &oj->j)) { /* the queue is full: opened inline */
        open_job_free(oj);
        return false;
    }
    oj->next = s->open_job;
    s->open_job = oj;
    s->e->c.pool_jobs++;
    if (frag)
        s->e->c.fragments_received++;
    return true;
}

/* ---- sealing the response ---- */

struct ike_seal_job {
    struct cpool_job j;
    struct ike_sess *s;
    struct ike_seal_ctx c;
    uint8_t first;
    size_t inner_len;
    struct ike_out out;
    bool ok;
    uint8_t inner[]; /* inner_len bytes, one allocation with the job */
};

static void seal_work(struct cpool_job *j)
{
    struct ike_seal_job *sj = (struct ike_seal_job *)j;

    sj->ok = ike_seal_ctx_seal(&sj->c, sj->first, sj->inner, sj->inner_len, &sj->out);
}

static void seal_job_free(struct ike_seal_job *sj)
{
    OPENSSL_cleanse(&sj->c, sizeof(sj->c));
    OPENSSL_cleanse(sj->inner, sj->inner_len);
    ike_xmit_out_free(&sj->out);
    free(sj);
}

static void run_free(struct ike_auth_run *w)
{
    if (!w)
        return;
    free(w->cpo);
    free(w->sa);
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}

void ike_authq_forget(struct ike_pend *pd)
{
    if (pd->seal_job) {
        pd->seal_job->s = NULL;
        pd->seal_job = NULL;
    }
    ike_auth_verify_forget(pd);
    run_free(pd->run);
    pd->run = NULL;
}

static void seal_done(struct cpool_job *j, bool ran)
{
    struct ike_seal_job *sj = (struct ike_seal_job *)j;
    struct ike_sess *s = sj->s;

    if (!s) { /* the session went */
        seal_job_free(sj);
        return;
    }
    s->pend->seal_job = NULL;
    if (!ran || !sj->ok) {
        seal_job_free(sj);
        s->hold_resp = false;
        if (!ran) /* the pool stopped first: the session cannot go on, it goes */
            ike_sess_abandon(s);
        else
            ike_auth_fail(s, s->pend->msg_id, NULL, "cannot build the response");
        return;
    }
    /* held: the up step sends it once the session's record is written */
    ike_xmit_out_free(&s->last_resp);
    s->last_resp = sj->out;
    sj->out = (struct ike_out){0}; /* the session's now */
    seal_job_free(sj);
    ike_auth_next(s);
}

enum ike_auth_rc ike_authq_seal(struct ike_sess *s, struct ike_auth_run *w, uint8_t first, const uint8_t *inner,
                                size_t inner_len)
{
    struct ike_pend *pd = s->pend;
    struct ike_seal_job *sj;

    if (!cpool_capacity(s->e->pool) || !(sj = calloc(1, sizeof(*sj) + inner_len)))
        return IKE_AUTH_NEXT;
    pd->run = malloc(sizeof(*pd->run));
    if (!pd->run) {
        free(pd->run);
        pd->run = NULL;
        seal_job_free(sj);
        return IKE_AUTH_NEXT;
    }
    memcpy(sj->inner, inner, inner_len);
    sj->inner_len = inner_len;
    sj->first = first;
    ike_seal_ctx_of(s, IKE_EXCH_AUTH, true, pd->msg_id, &sj->c);
    sj->s = s;
    sj->j = (struct cpool_job){.work = seal_work, .done = seal_done};
    *pd->run = *w; /* what the steps found goes on with the up step once it is sealed */
    pd->seal_job = sj;
    if (cpool_submit(s->e->pool, &sj->j)) { /* the queue is full: sealed inline */
        pd->seal_job = NULL;
        free(pd->run);
        pd->run = NULL;
        seal_job_free(sj);
        return IKE_AUTH_NEXT;
    }
    s->e->c.pool_jobs++;
    return IKE_AUTH_WAIT;
}
