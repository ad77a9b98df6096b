/* The dataplane's SA table (see dp.h). Entries are keyed by (session, direction,
 * SPI), the session being 0 for inbound SAs, whose SPIs are unique. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "dataplane/dp.h"

struct dp_key {
    uint64_t session;
    uint32_t spi;
    uint32_t inbound;
};

struct dp_entry {
    struct dp_key key;
    struct dp_sa sa;
    struct dp_sa_stats st;
    UT_hash_handle hh;
};

struct dp {
    struct dp_entry *sas;
};

static struct dp_key key_of(uint64_t session, uint32_t spi, bool inbound)
{
    struct dp_key k;

    memset(&k, 0, sizeof(k)); /* the key is hashed and compared as bytes */
    k.session = inbound ? 0 : session;
    k.spi = spi;
    k.inbound = inbound;
    return k;
}

struct dp *dp_new(void)
{
    return calloc(1, sizeof(struct dp));
}

static void entry_free(struct dp_entry *e)
{
    OPENSSL_cleanse(&e->sa, sizeof(e->sa));
    free(e);
}

void dp_free(struct dp *dp)
{
    struct dp_entry *e, *tmp;

    if (!dp)
        return;
    HASH_ITER(hh, dp->sas, e, tmp) {
        HASH_DEL(dp->sas, e);
        entry_free(e);
    }
    free(dp);
}

static bool sa_valid(const struct dp_sa *sa)
{
    switch (sa->cipher) {
    case DP_CIPHER_AES_GCM_16:
        if (sa->key_len != 20 && sa->key_len != 28 && sa->key_len != 36)
            return false;
        return sa->integ == DP_INTEG_NONE;
    case DP_CIPHER_CHACHA20_POLY1305:
        return sa->key_len == 36 && sa->integ == DP_INTEG_NONE;
    case DP_CIPHER_AES_CBC:
        if (sa->key_len != 16 && sa->key_len != 24 && sa->key_len != 32)
            return false;
        return sa->integ != DP_INTEG_NONE && sa->integ_key_len && sa->integ_key_len <= DP_MAX_INTEG_KEY;
    }
    return false;
}

int dp_sa_add(struct dp *dp, const struct dp_sa *sa)
{
    struct dp_key k = key_of(sa->session_id, sa->spi, sa->inbound);
    struct dp_entry *e;

    if (!sa_valid(sa) || sa->nsel > DP_MAX_SELECTORS || sa->spi < 256)
        return -EINVAL;
    HASH_FIND(hh, dp->sas, &k, sizeof(k), e);
    if (e)
        return -EEXIST;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->key = k;
    e->sa = *sa;
    HASH_ADD(hh, dp->sas, key, sizeof(e->key), e);
    return 0;
}

size_t dp_session_move(struct dp *dp, uint64_t session_id, const struct sockaddr_storage *local,
                       const struct sockaddr_storage *peer, bool udp_encap)
{
    struct dp_entry *e, *tmp;
    size_t n = 0;

    HASH_ITER(hh, dp->sas, e, tmp) {
        if (e->sa.session_id != session_id)
            continue;
        e->sa.local = *local;
        e->sa.peer = *peer;
        e->sa.udp_encap = udp_encap;
        n++;
    }
    return n;
}

int dp_sa_del(struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *last)
{
    struct dp_key k = key_of(session_id, spi, inbound);
    struct dp_entry *e;

    HASH_FIND(hh, dp->sas, &k, sizeof(k), e);
    if (!e)
        return -ENOENT;
    if (last)
        *last = e->st;
    HASH_DEL(dp->sas, e);
    entry_free(e);
    return 0;
}

int dp_sa_stats(const struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *out)
{
    struct dp_key k = key_of(session_id, spi, inbound);
    struct dp_entry *e;

    HASH_FIND(hh, dp->sas, &k, sizeof(k), e);
    if (!e)
        return -ENOENT;
    *out = e->st;
    return 0;
}

bool dp_spi_in_use(const struct dp *dp, uint32_t spi)
{
    struct dp_key k = key_of(0, spi, true);
    struct dp_entry *e;

    HASH_FIND(hh, dp->sas, &k, sizeof(k), e);
    return e != NULL;
}

size_t dp_sa_count(const struct dp *dp)
{
    return HASH_COUNT(dp->sas);
}
