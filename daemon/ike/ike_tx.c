/* Short unprotected answers (the COOKIEs of a spoofed flood, RFC 7296 2.6)
 * sent off the control thread. While a batch of received datagrams is handled
 * the answers are queued (ike_xmit_short); at its end they go to a bounded ring
 * that a thread of its own sends from, IKE_TX_BATCH to a sendmmsg: the
 * kernel's UDP send path, most of a spoofed request's cost, leaves the control
 * thread's budget. The thread reads nothing of the engine: each entry carries
 * its socket's descriptor, address and NAT-T flag, and a socket is closed only
 * once the ring is drained (ike_xmit_drain). A full ring, or a thread that
 * cannot start, and the control thread sends them itself. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

#define IKE_TX_RING 1024 /* answers waiting for the sending thread */

struct tx_ent {
    struct ike_sock sk; /* fd, addr and natt only */
    struct sockaddr_storage local, peer;
    bool has_local;
    size_t len;
    uint8_t data[IKE_TX_SHORT];
};

/* the batch being handled (the control thread's only) */
static struct {
    size_t n;
    struct tx_ent e[IKE_TX_BATCH];
} txq;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t more, idle;
    pthread_t th;
    bool running, stop, sending;
    size_t head, n;
    struct tx_ent ring[IKE_TX_RING];
} tx = {.mu = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

/* Sends @n entries, consecutive ones of a socket in one sendmmsg each. */
static void send_ents(const struct tx_ent *e, size_t n)
{
    struct mmsghdr mm[IKE_TX_BATCH];
    struct iovec iov[IKE_TX_BATCH][2];
    union ike_cmsg cm[IKE_TX_BATCH];

    for (size_t i = 0; i < n;) {
        size_t k = 0, done = 0;

        while (i + k < n && k < IKE_TX_BATCH && e[i + k].sk.fd == e[i].sk.fd) {
            const struct tx_ent *t = &e[i + k];

            ike_xmit_hdr(&t->sk, t->has_local ? &t->local : NULL, &t->peer, t->data, t->len, false, iov[k], &cm[k],
                         &mm[k].msg_hdr);
            mm[k++].msg_len = 0;
        }
        while (done < k) {
            int r = sendmmsg(e[i].sk.fd, mm + done, (unsigned)(k - done), MSG_DONTWAIT);

            if (r < 0) {
                log_debug("ike", "send: %s", strerror(errno));
                done++; /* that one is lost, as with sendmsg; the rest still go */
            } else {
                done += (size_t)r;
            }
        }
        i += k;
    }
}

static void *tx_main(void *arg)
{
    static struct tx_ent batch[IKE_TX_BATCH]; /* this thread's only */

    (void)arg;
    pthread_mutex_lock(&tx.mu);
    for (;;) {
        size_t k = 0;

        while (!tx.n && !tx.stop)
            pthread_cond_wait(&tx.more, &tx.mu);
        if (!tx.n)
            break;
        for (; k < IKE_TX_BATCH && tx.n; k++, tx.n--) {
            batch[k] = tx.ring[tx.head];
            tx.head = (tx.head + 1) % IKE_TX_RING;
        }
        tx.sending = true;
        pthread_mutex_unlock(&tx.mu);
        send_ents(batch, k);
        pthread_mutex_lock(&tx.mu);
        tx.sending = false;
        if (!tx.n)
            pthread_cond_broadcast(&tx.idle);
    }
    pthread_mutex_unlock(&tx.mu);
    return NULL;
}

/* Hands the batch to the sending thread (started when first needed): false
 * when it cannot take all of it. */
static bool tx_push(void)
{
    bool ok = true;

    pthread_mutex_lock(&tx.mu);
    if (!tx.running) {
        tx.stop = false;
        tx.running = !pthread_create(&tx.th, NULL, tx_main, NULL);
    }
    if (!tx.running || IKE_TX_RING - tx.n < txq.n) {
        ok = false;
    } else {
        for (size_t i = 0; i < txq.n; i++)
            tx.ring[(tx.head + tx.n + i) % IKE_TX_RING] = txq.e[i];
        tx.n += txq.n;
        pthread_cond_signal(&tx.more);
    }
    pthread_mutex_unlock(&tx.mu);
    return ok;
}

void ike_xmit_flush(void)
{
    if (!txq.n)
        return;
    if (!tx_push())
        send_ents(txq.e, txq.n);
    txq.n = 0;
}

void ike_xmit_short(struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                    const uint8_t *data, size_t len)
{
    struct tx_ent *t;

    if (!sk->batch || sk->e->output || sk->fd < 0 || len > IKE_TX_SHORT) {
        ike_xmit_dgram(sk, local, peer, data, len, false);
        return;
    }
    if (txq.n == IKE_TX_BATCH)
        ike_xmit_flush();
    t = &txq.e[txq.n++];
    t->sk = (struct ike_sock){.fd = sk->fd, .addr = sk->addr, .natt = sk->natt};
    t->has_local = local != NULL;
    if (local)
        t->local = *local;
    t->peer = *peer;
    t->len = len;
    memcpy(t->data, data, len);
}

void ike_xmit_drain(void)
{
    ike_xmit_flush();
    pthread_mutex_lock(&tx.mu);
    while (tx.running && (tx.n || tx.sending))
        pthread_cond_wait(&tx.idle, &tx.mu);
    pthread_mutex_unlock(&tx.mu);
}

void ike_xmit_stop(void)
{
    bool running;

    ike_xmit_flush();
    pthread_mutex_lock(&tx.mu);
    running = tx.running;
    tx.stop = true;
    pthread_cond_signal(&tx.more);
    pthread_mutex_unlock(&tx.mu);
    if (running)
        pthread_join(tx.th, NULL); /* it sends what is queued first */
    pthread_mutex_lock(&tx.mu);
    tx.running = false;
    pthread_mutex_unlock(&tx.mu);
}
