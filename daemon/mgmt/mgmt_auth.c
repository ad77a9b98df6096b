/* Users of the management APIs, checked in ravend for both front ends: passwords
 * with crypt(3) (a good password is remembered, salted and hashed, for a minute,
 * so that a REST client sending Basic on every request costs one crypt a minute),
 * OpenSSH public keys, bearer tokens (only their SHA-256 is kept) and a limit on
 * password guessing per client address. Control thread only. */
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/base/poison.h"

#define MGMT_PATH "/raven-vpn:management"
#define GOOD_CACHE_S 60
#define TOKEN_TTL_S 3600
#define TOKENS_MAX 4096
#define USER_MAX 40
/* password guessing: this many failures from one address within the window block
 * it for BLOCK_S */
#define FAIL_MAX 20
#define FAIL_WINDOW_S 60
#define BLOCK_S 60
#define FAILS_TRACKED 4096

struct mauth_user {
    char *name, *hash;
    bool admin;
    char **keys; /* "TYPE BASE64" of each authorized key */
    size_t nkeys;
    unsigned char good[32]; /* SHA-256(salt, password) of the last good login */
    time_t good_until;
    UT_hash_handle hh;
};

struct mauth_token {
    char hash[65];
    char user[USER_MAX];
    bool admin;
    time_t expires;
    UT_hash_handle hh;
};

struct mauth_fail {
    char addr[64];
    unsigned int count;
    time_t first, blocked_until;
    UT_hash_handle hh;
};

struct mauth {
    struct mauth_user *users;
    struct mauth_token *tokens;
    struct mauth_fail *fails;
    uint64_t gen;
    unsigned char salt[16];
};

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 32;

    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, a, an) ||
        (bn && !EVP_DigestUpdate(c, b, bn)) || !EVP_DigestFinal_ex(c, out, &len))
        memset(out, 0, 32);
    EVP_MD_CTX_free(c);
}

static void token_hash(const char *token, char out[65])
{
    unsigned char h[32];

    sha256(token, strlen(token), NULL, 0, h);
    hex(h, 32, out);
}

struct mauth *mauth_new(void)
{
    struct mauth *a = calloc(1, sizeof(*a));

    if (a && RAND_bytes(a->salt, sizeof(a->salt)) != 1) {
        free(a);
        return NULL;
    }
    return a;
}

static void user_free(struct mauth_user *u)
{
    if (u->hash)
        OPENSSL_cleanse(u->hash, strlen(u->hash));
    free(u->hash);
    free(u->name);
    for (size_t i = 0; i < u->nkeys; i++)
        free(u->keys[i]);
    free(u->keys);
    free(u);
}

void mauth_users_free(struct mauth_user *users)
{
    struct mauth_user *u, *t;

    HASH_ITER(hh, users, u, t) {
        HASH_DEL(users, u);
        user_free(u);
    }
}

void mauth_free(struct mauth *a)
{
    struct mauth_token *t, *tt;
    struct mauth_fail *f, *ft;

    if (!a)
        return;
    mauth_users_free(a->users);
    HASH_ITER(hh, a->tokens, t, tt) {
        HASH_DEL(a->tokens, t);
        free(t);
    }
    HASH_ITER(hh, a->fails, f, ft) {
        HASH_DEL(a->fails, f);
        free(f);
    }
    free(a);
}

/* "TYPE BASE64" of an OpenSSH key line "TYPE BASE64 [comment]"; NULL if it has
 * fewer than two fields. */
static char *key_fields(const char *line)
{
    char type[64], b64[16384], *s = NULL;

    if (sscanf(line, "%63s %16383s", type, b64) != 2 || asprintf(&s, "%s %s", type, b64) < 0)
        return NULL;
    return s;
}

static int user_add_key(struct mauth_user *u, const char *line)
{
    char **nk, *k = key_fields(line);

    if (!k)
        return 0; /* not a key: it can match nothing */
    nk = realloc(u->keys, (u->nkeys + 1) * sizeof(*nk));
    if (!nk) {
        free(k);
        return -ENOMEM;
    }
    u->keys = nk;
    u->keys[u->nkeys++] = k;
    return 0;
}

static struct mauth_user *user_build(const struct lyd_node *entry, int *err)
{
    struct mauth_user *u = calloc(1, sizeof(*u));
    const struct lyd_node *c;

    if (!u) {
        *err = -ENOMEM;
        return NULL;
    }
    LY_LIST_FOR(lyd_child(entry), c) {
        const char *n = c->schema->name, *v = lyd_get_value(c);

        if (!strcmp(n, "name"))
            u->name = strdup(v);
        else if (!strcmp(n, "password-hash"))
            u->hash = strdup(v);
        else if (!strcmp(n, "role"))
            u->admin = !strcmp(v, "admin");
        else if (!strcmp(n, "authorized-key") && user_add_key(u, v))
            *err = -ENOMEM;
    }
    if (*err || !u->name) {
        *err = -ENOMEM;
        user_free(u);
        return NULL;
    }
    return u;
}

struct mauth_user *mauth_users_build(const struct lyd_node *tree, int *err)
{
    struct mauth_user *users = NULL, *u;
    struct ly_set *set = NULL;

    *err = 0;
    if (!tree || lyd_find_xpath(tree, MGMT_PATH "/user", &set))
        return NULL;
    for (uint32_t i = 0; i < set->count && !*err; i++) {
        u = user_build(set->dnodes[i], err);
        if (!u)
            break;
        if (strlen(u->name) >= USER_MAX) {
            log_warn("mgmt", "user \"%s\" ignored: names are at most %d characters", u->name, USER_MAX - 1);
            user_free(u);
            continue;
        }
        HASH_ADD_KEYPTR(hh, users, u->name, strlen(u->name), u);
    }
    ly_set_free(set, NULL);
    if (*err) {
        mauth_users_free(users);
        return NULL;
    }
    return users;
}

size_t mauth_users_count(const struct mauth_user *users)
{
    return HASH_COUNT(users);
}

bool mauth_users_have_admin(const struct mauth_user *users)
{
    for (const struct mauth_user *u = users; u; u = u->hh.next) {
        if (u->admin && (u->hash || u->nkeys))
            return true;
    }
    return false;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool user_same(const struct mauth_user *a, const struct mauth_user *b)
{
    if (!same_str(a->hash, b->hash) || a->admin != b->admin || a->nkeys != b->nkeys)
        return false;
    for (size_t i = 0; i < a->nkeys; i++) {
        if (strcmp(a->keys[i], b->keys[i]))
            return false;
    }
    return true;
}

bool mauth_set_users(struct mauth *a, struct mauth_user *users)
{
    struct mauth_user *old = a->users, *u, *o;
    struct mauth_token *t, *tt;
    bool changed = HASH_COUNT(old) != HASH_COUNT(users);

    for (u = users; u; u = u->hh.next) {
        HASH_FIND_STR(old, u->name, o);
        if (!o || !user_same(o, u)) {
            changed = true;
            continue;
        }
        /* a good password stays good only while the hash is the same */
        memcpy(u->good, o->good, sizeof(u->good));
        u->good_until = o->good_until;
    }
    a->users = users;
    mauth_users_free(old);
    /* tokens of removed users, or of users whose role changed, end now */
    HASH_ITER(hh, a->tokens, t, tt) {
        HASH_FIND_STR(a->users, t->user, u);
        if (!u || u->admin != t->admin) {
            HASH_DEL(a->tokens, t);
            free(t);
        }
    }
    if (changed)
        a->gen++;
    return changed;
}

uint64_t mauth_gen(const struct mauth *a)
{
    return a->gen;
}

int mauth_role(const struct mauth *a, const char *user)
{
    struct mauth_user *u;

    HASH_FIND_STR(a->users, user, u);
    return u ? u->admin : -1;
}

static unsigned int blocked(struct mauth *a, const char *from)
{
    struct mauth_fail *f;
    time_t now = time(NULL);

    HASH_FIND_STR(a->fails, from, f);
    return f && f->blocked_until > now ? (unsigned int)(f->blocked_until - now) : 0;
}

static void note_failure(struct mauth *a, const char *from)
{
    struct mauth_fail *f;
    time_t now = time(NULL);

    HASH_FIND_STR(a->fails, from, f);
    if (!f) {
        if (HASH_COUNT(a->fails) >= FAILS_TRACKED) {
            struct mauth_fail *oldest = a->fails;

            HASH_DEL(a->fails, oldest);
            free(oldest);
        }
        f = calloc(1, sizeof(*f));
        if (!f)
            return;
        snprintf(f->addr, sizeof(f->addr), "%s", from);
        f->first = now;
        HASH_ADD_STR(a->fails, addr, f);
    }
    if (now - f->first > FAIL_WINDOW_S) {
        f->first = now;
        f->count = 0;
    }
    if (++f->count >= FAIL_MAX) {
        f->blocked_until = now + BLOCK_S;
        f->first = now;
        f->count = 0;
        log_warn("mgmt", "%s blocked for %d s after %d failed logins", from, BLOCK_S, FAIL_MAX);
    }
}

static void note_success(struct mauth *a, const char *from)
{
    struct mauth_fail *f;

    HASH_FIND_STR(a->fails, from, f);
    if (f) {
        HASH_DEL(a->fails, f);
        free(f);
    }
}

static bool crypt_ok(const char *password, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char *c = cd ? crypt_r(password, hash, cd) : NULL;
    size_t hl = strlen(hash);
    bool ok = c && c[0] != '*' && strlen(c) == hl && !CRYPTO_memcmp(c, hash, hl);

    if (cd)
        OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return ok;
}

int mauth_password(struct mauth *a, const char *user, const char *password, const char *from, bool *admin,
                   unsigned int *retry_after)
{
    struct mauth_user *u;
    unsigned char h[32];
    time_t now = time(NULL);
    bool ok = false;
    char addr[64];

    snprintf(addr, sizeof(addr), "%s", from);
    *retry_after = blocked(a, addr);
    if (*retry_after)
        return -EAGAIN;
    HASH_FIND_STR(a->users, user, u);
    sha256(a->salt, sizeof(a->salt), password, strlen(password), h);
    if (u && u->hash) {
        if (u->good_until > now && !CRYPTO_memcmp(u->good, h, 32)) {
            ok = true;
        } else if (crypt_ok(password, u->hash)) {
            ok = true;
            memcpy(u->good, h, 32);
            u->good_until = now + GOOD_CACHE_S;
        }
    }
    OPENSSL_cleanse(h, sizeof(h));
    if (!ok) {
        note_failure(a, addr);
        log_info("mgmt", "password authentication failed for user \"%s\" from %s", user, addr);
        return -EACCES;
    }
    note_success(a, addr);
    *admin = u->admin;
    return 0;
}

int mauth_key(struct mauth *a, const char *user, const char *key, bool *admin)
{
    struct mauth_user *u;
    char *k = key_fields(key);
    int rc = -EACCES;

    HASH_FIND_STR(a->users, user, u);
    for (size_t i = 0; k && u && i < u->nkeys && rc; i++) {
        if (!strcmp(u->keys[i], k)) {
            *admin = u->admin;
            rc = 0;
        }
    }
    free(k);
    return rc;
}

int mauth_token_new(struct mauth *a, const char *user, char out[65], time_t *expires)
{
    struct mauth_token *t, *old, *tmp;
    struct mauth_user *u;
    unsigned char rnd[32];
    time_t now = time(NULL);
    unsigned int n;

    HASH_FIND_STR(a->users, user, u);
    if (!u)
        return -EACCES;
    t = calloc(1, sizeof(*t));
    if (!t || RAND_bytes(rnd, sizeof(rnd)) != 1) {
        free(t);
        return -ENOMEM;
    }
    hex(rnd, sizeof(rnd), out);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    token_hash(out, t->hash);
    snprintf(t->user, sizeof(t->user), "%s", user);
    t->admin = u->admin;
    t->expires = *expires = now + TOKEN_TTL_S;
    /* expired tokens go first; past the cap the oldest go too */
    HASH_ITER(hh, a->tokens, old, tmp) {
        if (old->expires <= now) {
            HASH_DEL(a->tokens, old);
            free(old);
        }
    }
    n = HASH_COUNT(a->tokens);
    while (n-- >= TOKENS_MAX && a->tokens) {
        old = a->tokens; /* insertion order: the oldest */
        HASH_DEL(a->tokens, old);
        free(old);
    }
    HASH_ADD_STR(a->tokens, hash, t);
    return 0;
}

static struct mauth_token *token_find(struct mauth *a, const char *token)
{
    struct mauth_token *t;
    char th[65];

    if (strlen(token) != 64)
        return NULL;
    token_hash(token, th);
    HASH_FIND_STR(a->tokens, th, t);
    if (t && t->expires <= time(NULL)) {
        HASH_DEL(a->tokens, t);
        free(t);
        t = NULL;
    }
    return t;
}

int mauth_token_check(struct mauth *a, const char *token, char user[40], bool *admin, time_t *expires)
{
    struct mauth_token *t = token_find(a, token);

    if (!t)
        return -EACCES;
    snprintf(user, USER_MAX, "%s", t->user);
    *admin = t->admin;
    *expires = t->expires;
    return 0;
}

void mauth_token_revoke(struct mauth *a, const char *token)
{
    struct mauth_token *t = token_find(a, token);

    if (t) {
        HASH_DEL(a->tokens, t);
        free(t);
    }
}
