/* Users, HTTP Basic (crypt(3), with a short-lived salted cache of good passwords),
 * bearer tokens and the dashboard's cookie. Called on libmicrohttpd's threads (checks)
 * and the control thread (users); one mutex guards the tables. */
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

#define TOKENS_MAX 4096
/* password guessing: this many failures from one address within the window block
 * it for REST_AUTH_BLOCK_S */
#define FAIL_MAX 20
#define FAIL_WINDOW_S 60
#define FAILS_TRACKED 4096

struct auth_user {
    char *name, *hash;
    enum rest_role role;
    unsigned char good[32]; /* SHA-256(salt, password) of the last good Basic login */
    time_t good_until;
    UT_hash_handle hh;
};

struct auth_token {
    char hash[65]; /* SHA-256 of the token, hex */
    char user[40];
    enum rest_role role;
    time_t expires;
    UT_hash_handle hh;
};

struct auth_fail {
    char addr[48];
    unsigned int count;
    time_t first, blocked_until;
    UT_hash_handle hh;
};

struct rest_auth {
    pthread_mutex_t lock;
    struct auth_user *users;
    struct auth_token *tokens;
    struct auth_fail *fails;
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

struct rest_auth *rest_auth_new(void)
{
    struct rest_auth *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    if (RAND_bytes(a->salt, sizeof(a->salt)) != 1) {
        free(a);
        return NULL;
    }
    return a;
}

static void user_free(struct auth_user *u)
{
    if (u->hash)
        OPENSSL_cleanse(u->hash, strlen(u->hash));
    free(u->hash);
    free(u->name);
    free(u);
}

void rest_auth_free(struct rest_auth *a)
{
    struct auth_user *u, *ut;
    struct auth_token *t, *tt;

    if (!a)
        return;
    HASH_ITER(hh, a->users, u, ut) {
        HASH_DEL(a->users, u);
        user_free(u);
    }
    HASH_ITER(hh, a->tokens, t, tt) {
        HASH_DEL(a->tokens, t);
        free(t);
    }
    {
        struct auth_fail *f, *ft;

        HASH_ITER(hh, a->fails, f, ft) {
            HASH_DEL(a->fails, f);
            free(f);
        }
    }
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void rest_auth_set_users(struct rest_auth *a, const struct rest_user *users, size_t n)
{
    struct auth_user *old, *u, *ut, *fresh = NULL;
    struct auth_token *t, *tt;

    for (size_t i = 0; i < n; i++) {
        u = calloc(1, sizeof(*u));
        if (!u)
            continue;
        u->name = strdup(users[i].name);
        u->hash = users[i].password_hash ? strdup(users[i].password_hash) : NULL;
        u->role = users[i].role;
        if (!u->name || strlen(u->name) >= sizeof(t->user)) {
            user_free(u);
            continue;
        }
        HASH_ADD_KEYPTR(hh, fresh, u->name, strlen(u->name), u);
    }
    pthread_mutex_lock(&a->lock);
    old = a->users;
    a->users = fresh;
    /* tokens of removed users, or of users whose role changed, end now */
    HASH_ITER(hh, a->tokens, t, tt) {
        HASH_FIND_STR(a->users, t->user, u);
        if (!u || u->role != t->role) {
            HASH_DEL(a->tokens, t);
            free(t);
        }
    }
    /* a good password stays good only if the hash did not change */
    HASH_ITER(hh, a->users, u, ut) {
        struct auth_user *o;

        HASH_FIND_STR(old, u->name, o);
        if (o && o->hash && u->hash && !strcmp(o->hash, u->hash)) {
            memcpy(u->good, o->good, sizeof(u->good));
            u->good_until = o->good_until;
        }
    }
    pthread_mutex_unlock(&a->lock);
    HASH_ITER(hh, old, u, ut) {
        HASH_DEL(old, u);
        user_free(u);
    }
}

int rest_auth_password(struct rest_auth *a, const char *user, const char *password, struct rest_who *who)
{
    struct auth_user *u;
    unsigned char h[32];
    char *hash = NULL;
    time_t now = time(NULL);
    bool ok = false, cached = false;
    enum rest_role role = REST_ROLE_READ_ONLY;

    if (!user || !password || strlen(user) >= sizeof(who->user))
        return -EACCES;
    sha256(a->salt, sizeof(a->salt), password, strlen(password), h);
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->users, user, u);
    if (u && u->hash) {
        role = u->role;
        if (u->good_until > now && !CRYPTO_memcmp(u->good, h, 32))
            ok = cached = true;
        else
            hash = strdup(u->hash);
    }
    pthread_mutex_unlock(&a->lock);
    if (!ok && hash) {
        struct crypt_data *cd = calloc(1, sizeof(*cd));
        const char *c = cd ? crypt_r(password, hash, cd) : NULL;

        ok = c && c[0] != '*' && strlen(c) == strlen(hash) && !CRYPTO_memcmp(c, hash, strlen(hash));
        free(cd);
    }
    if (ok && !cached) {
        pthread_mutex_lock(&a->lock);
        HASH_FIND_STR(a->users, user, u);
        if (u && u->hash && hash && !strcmp(u->hash, hash)) {
            memcpy(u->good, h, 32);
            u->good_until = now + REST_BASIC_CACHE_S;
            role = u->role;
        } else {
            ok = false; /* the user changed meanwhile */
        }
        pthread_mutex_unlock(&a->lock);
    }
    free(hash);
    OPENSSL_cleanse(h, sizeof(h));
    if (!ok)
        return -EACCES;
    memset(who, 0, sizeof(*who));
    snprintf(who->user, sizeof(who->user), "%s", user);
    who->role = role;
    return 0;
}

static int check_token(struct rest_auth *a, const char *token, struct rest_who *who)
{
    struct auth_token *t;
    char th[65];
    int rc = -EACCES;

    if (strlen(token) != 64)
        return -EACCES;
    token_hash(token, th);
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->tokens, th, t);
    if (t && t->expires <= time(NULL)) {
        HASH_DEL(a->tokens, t);
        free(t);
        t = NULL;
    }
    if (t) {
        memset(who, 0, sizeof(*who));
        snprintf(who->user, sizeof(who->user), "%s", t->user);
        who->role = t->role;
        memcpy(who->token_hash, th, sizeof(th));
        rc = 0;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int rest_auth_check(struct rest_auth *a, struct MHD_Connection *conn, bool allow_cookie, struct rest_who *who)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    int rc;

    if (h && !strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ')
            h++;
        return check_token(a, h, who);
    }
    if (h && !strncasecmp(h, "Basic ", 6)) {
        char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);

        rc = user && pass ? rest_auth_password(a, user, pass, who) : -EACCES;
        if (pass) {
            OPENSSL_cleanse(pass, strlen(pass));
            MHD_free(pass);
        }
        if (user)
            MHD_free(user);
        return rc;
    }
    if (h)
        return -EACCES;
    if (allow_cookie) {
        const char *c = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "raven_token");

        if (c)
            return check_token(a, c, who);
    }
    return -ENOENT;
}

int rest_auth_token_new(struct rest_auth *a, const struct rest_who *who, char out[65])
{
    struct auth_token *t = calloc(1, sizeof(*t)), *old, *tmp;
    unsigned char rnd[32];
    time_t now = time(NULL);
    unsigned int n;

    if (!t || RAND_bytes(rnd, sizeof(rnd)) != 1) {
        free(t);
        return -ENOMEM;
    }
    hex(rnd, sizeof(rnd), out);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    token_hash(out, t->hash);
    snprintf(t->user, sizeof(t->user), "%s", who->user);
    t->role = who->role;
    t->expires = now + REST_TOKEN_TTL_S;
    pthread_mutex_lock(&a->lock);
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
    pthread_mutex_unlock(&a->lock);
    return 0;
}

void rest_auth_token_revoke(struct rest_auth *a, const char *th)
{
    struct auth_token *t;

    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->tokens, th, t);
    if (t) {
        HASH_DEL(a->tokens, t);
        free(t);
    }
    pthread_mutex_unlock(&a->lock);
}

bool rest_auth_still_valid(struct rest_auth *a, const struct rest_who *who)
{
    struct auth_user *u;
    struct auth_token *t = NULL;
    bool ok;

    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->users, who->user, u);
    ok = u && u->role == who->role;
    if (ok && who->token_hash[0]) {
        HASH_FIND_STR(a->tokens, who->token_hash, t);
        ok = t && t->expires > time(NULL);
    }
    pthread_mutex_unlock(&a->lock);
    return ok;
}

int rest_auth_blocked(struct rest_auth *a, const char *addr)
{
    struct auth_fail *f;
    time_t now = time(NULL);
    int left = 0;

    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->fails, addr, f);
    if (f && f->blocked_until > now)
        left = (int)(f->blocked_until - now);
    pthread_mutex_unlock(&a->lock);
    return left;
}

void rest_auth_note(struct rest_auth *a, const char *addr, bool ok)
{
    struct auth_fail *f;
    time_t now = time(NULL);

    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->fails, addr, f);
    if (ok) {
        if (f) {
            HASH_DEL(a->fails, f);
            free(f);
        }
    } else {
        if (!f) {
            if (HASH_COUNT(a->fails) >= FAILS_TRACKED) {
                struct auth_fail *old = a->fails; /* the oldest */

                HASH_DEL(a->fails, old);
                free(old);
            }
            f = calloc(1, sizeof(*f));
            if (f) {
                snprintf(f->addr, sizeof(f->addr), "%s", addr);
                f->first = now;
                HASH_ADD_STR(a->fails, addr, f);
            }
        }
        if (f) {
            if (now - f->first > FAIL_WINDOW_S) {
                f->first = now;
                f->count = 0;
            }
            if (++f->count >= FAIL_MAX) {
                f->blocked_until = now + REST_AUTH_BLOCK_S;
                f->first = now;
                f->count = 0;
            }
        }
    }
    pthread_mutex_unlock(&a->lock);
}
