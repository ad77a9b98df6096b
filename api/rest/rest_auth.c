/* Logins and tokens: HTTP Basic, bearer tokens and the dashboard's cookie. ravend
 * checks them (it keeps the password hashes, the tokens and the limiter of failed
 * logins); this file asks it over the management socket and keeps what tokens stand
 * for, so that a script polling with a token costs no round trip. A Basic login
 * that ravend accepted is remembered for REST_LOGIN_CACHE_S as a salted SHA-256 of
 * user and password (this process sees the password in every request anyway; it
 * keeps no hash ravend could be attacked with), so that a client sending Basic
 * with each request costs no round trip either; not for an address with a failed
 * login in the last minute, whose logins all go to ravend and its limiter. Both caches go when the users
 * change (the `users` event); a token goes when it is revoked. */
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

#define TOKENS_CACHED 1024
#define REST_LOGIN_CACHE_S 60
#define FAIL_RECENT_S 60
#define FAILS_TRACKED 4096

/* When an address last failed a login. */
struct auth_fail {
    char addr[48];
    time_t at;
    UT_hash_handle hh;
};

/* What a token stands for, by the SHA-256 of the token: the process keeps no
 * usable copy of tokens it is not serving a request for. */
struct auth_token {
    char hash[65];
    char user[40];
    enum rest_role role;
    time_t expires;
    UT_hash_handle hh;
};

struct rest_auth {
    struct rest_api *api;
    pthread_mutex_t lock;
    struct auth_token *tokens;
    struct auth_token *logins; /* by SHA-256(salt, user, NUL, password) */
    struct auth_fail *fails;
    unsigned char salt[16];
};

/* A SHA-256 as 64 hex digits and a NUL. */
static void hex32(const unsigned char h[32], char out[65])
{
    static const char d[] = "0123456789abcdef";

    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[64] = '\0';
}

static void token_hash(const char *token, char out[65])
{
    unsigned char h[32];
    unsigned int len = sizeof(h);

    if (!EVP_Digest(token, strlen(token), h, &len, EVP_sha256(), NULL))
        memset(h, 0, sizeof(h));
    hex32(h, out);
}

static enum rest_role role_of(enum mc_role r)
{
    return r == MC_ROLE_ADMIN ? REST_ROLE_ADMIN : REST_ROLE_READ_ONLY;
}

struct rest_auth *rest_auth_new(struct rest_api *api)
{
    struct rest_auth *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->api = api;
    pthread_mutex_init(&a->lock, NULL);
    if (RAND_bytes(a->salt, sizeof(a->salt)) != 1) {
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
    }
    return a;
}

static void drop_table(struct auth_token **table)
{
    struct auth_token *t, *tt;

    HASH_ITER(hh, *table, t, tt) {
        HASH_DEL(*table, t);
        free(t);
    }
}

static void drop_all(struct rest_auth *a)
{
    struct auth_fail *f, *ff;

    drop_table(&a->tokens);
    drop_table(&a->logins);
    HASH_ITER(hh, a->fails, f, ff) {
        HASH_DEL(a->fails, f);
        free(f);
    }
}

/* @from failed a login now. */
static void fail_note(struct rest_auth *a, const char *from)
{
    struct auth_fail *f;

    if (!from || strlen(from) >= sizeof(f->addr))
        return;
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->fails, from, f);
    if (f) {
        HASH_DEL(a->fails, f);
    } else {
        f = calloc(1, sizeof(*f));
        if (f && HASH_COUNT(a->fails) >= FAILS_TRACKED) {
            struct auth_fail *old = a->fails; /* insertion order: the oldest */

            HASH_DEL(a->fails, old);
            free(old);
        }
    }
    if (f) {
        snprintf(f->addr, sizeof(f->addr), "%s", from);
        f->at = time(NULL);
        HASH_ADD_STR(a->fails, addr, f);
    }
    pthread_mutex_unlock(&a->lock);
}

/* Whether @from failed a login within FAIL_RECENT_S (lock held). */
static bool fail_recent(struct rest_auth *a, const char *from)
{
    struct auth_fail *f = NULL;

    if (from)
        HASH_FIND_STR(a->fails, from, f);
    return f && time(NULL) - f->at < FAIL_RECENT_S;
}

void rest_auth_free(struct rest_auth *a)
{
    if (!a)
        return;
    drop_all(a);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void rest_auth_flush(struct rest_auth *a)
{
    pthread_mutex_lock(&a->lock);
    drop_all(a);
    pthread_mutex_unlock(&a->lock);
}

/* Remembers @who under @key (a SHA-256 in hex) in @table, until @expires. */
static void table_put(struct rest_auth *a, struct auth_token **table, const char key[65], const struct rest_who *who,
                      time_t expires)
{
    struct auth_token *t = calloc(1, sizeof(*t)), *old;

    if (!t)
        return;
    memcpy(t->hash, key, 65);
    snprintf(t->user, sizeof(t->user), "%s", who->user);
    t->role = who->role;
    t->expires = expires;
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(*table, t->hash, old);
    if (old) {
        HASH_DEL(*table, old);
        free(old);
    }
    if (HASH_COUNT(*table) >= TOKENS_CACHED) {
        old = *table; /* insertion order: the oldest */
        HASH_DEL(*table, old);
        free(old);
    }
    HASH_ADD_STR(*table, hash, t);
    pthread_mutex_unlock(&a->lock);
}

static void cache_put(struct rest_auth *a, const char *token, const struct rest_who *who)
{
    char th[65];

    token_hash(token, th);
    table_put(a, &a->tokens, th, who, who->expires);
}

/* The key of a Basic login: SHA-256(salt, user, NUL, password) in hex. */
static void login_key(const struct rest_auth *a, const char *user, const char *password, char out[65])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char h[32];
    unsigned int len = sizeof(h);

    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, a->salt, sizeof(a->salt)) ||
        !EVP_DigestUpdate(c, user, strlen(user) + 1) || !EVP_DigestUpdate(c, password, strlen(password)) ||
        !EVP_DigestFinal_ex(c, h, &len))
        RAND_bytes(h, sizeof(h)); /* matches nothing */
    EVP_MD_CTX_free(c);
    hex32(h, out);
    OPENSSL_cleanse(h, sizeof(h));
}

/* The entry of @key in @table, unexpired and (when @user is given) of @user,
 * copied to @who; an expired one is dropped. Lock held. */
static bool table_get(struct auth_token **table, const char *key, const char *user, struct rest_who *who)
{
    struct auth_token *t = NULL;

    HASH_FIND_STR(*table, key, t);
    if (t && (t->expires <= time(NULL) || (user && strcmp(t->user, user)))) {
        HASH_DEL(*table, t);
        free(t);
        t = NULL;
    }
    if (t) {
        memset(who, 0, sizeof(*who));
        snprintf(who->user, sizeof(who->user), "%s", t->user);
        who->role = t->role;
        who->expires = t->expires;
    }
    return t != NULL;
}

/* A Basic login ravend accepted a moment ago, for @user from @from: fills @who. */
static bool login_cached(struct rest_auth *a, const char *user, const char *from, const char key[65],
                         struct rest_who *who)
{
    bool hit;

    pthread_mutex_lock(&a->lock);
    hit = !fail_recent(a, from) && table_get(&a->logins, key, user, who);
    pthread_mutex_unlock(&a->lock);
    if (hit)
        who->expires = 0; /* a login, not a token */
    return hit;
}

int rest_auth_password(struct rest_auth *a, const char *user, const char *password, const char *from,
                       struct rest_who *who, unsigned int *retry_after)
{
    enum mc_role role;
    char key[65];
    int rc;

    if (!user || !password || !*user || strlen(user) >= sizeof(who->user))
        return -EACCES;
    login_key(a, user, password, key);
    if (login_cached(a, user, from, key, who))
        return 0;
    rc = mc_auth_password(a->api->mc, user, password, from, &role, retry_after);
    if (rc && rc != -ESHUTDOWN)
        fail_note(a, from);
    if (rc)
        return rc == -EAGAIN || rc == -ESHUTDOWN ? rc : -EACCES;
    memset(who, 0, sizeof(*who));
    snprintf(who->user, sizeof(who->user), "%s", user);
    who->role = role_of(role);
    table_put(a, &a->logins, key, who, time(NULL) + REST_LOGIN_CACHE_S);
    return 0;
}

static int check_token(struct rest_auth *a, const char *token, struct rest_who *who)
{
    char th[65], user[40];
    enum mc_role role;
    time_t expires = 0;
    bool hit;
    int rc;

    if (strlen(token) != 64)
        return -EACCES;
    token_hash(token, th);
    pthread_mutex_lock(&a->lock);
    hit = table_get(&a->tokens, th, NULL, who);
    pthread_mutex_unlock(&a->lock);
    if (hit) {
        snprintf(who->token, sizeof(who->token), "%s", token);
        return 0;
    }
    rc = mc_token_check(a->api->mc, token, user, &role, &expires);
    if (rc)
        return rc == -ESHUTDOWN ? rc : -EACCES;
    memset(who, 0, sizeof(*who));
    snprintf(who->user, sizeof(who->user), "%s", user);
    who->role = role_of(role);
    who->expires = expires;
    snprintf(who->token, sizeof(who->token), "%s", token);
    cache_put(a, token, who);
    return 0;
}

int rest_auth_check(struct rest_auth *a, struct MHD_Connection *conn, bool allow_cookie, const char *from,
                    struct rest_who *who, unsigned int *retry_after)
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

        rc = user && pass ? rest_auth_password(a, user, pass, from, who, retry_after) : -EACCES;
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

int rest_auth_token_new(struct rest_auth *a, struct rest_who *who, char out[65])
{
    time_t expires = 0;
    int rc = mc_token_new(a->api->mc, who->user, out, &expires);

    if (rc)
        return rc;
    who->expires = expires;
    cache_put(a, out, who);
    return 0;
}

void rest_auth_token_revoke(struct rest_auth *a, const char *token)
{
    struct auth_token *t;
    char th[65];

    token_hash(token, th);
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->tokens, th, t);
    if (t) {
        HASH_DEL(a->tokens, t);
        free(t);
    }
    pthread_mutex_unlock(&a->lock);
    mc_token_revoke(a->api->mc, token);
}

bool rest_auth_token_valid(struct rest_auth *a, const struct rest_who *who)
{
    struct rest_who now;

    if (!who->token[0])
        return true;
    if (who->expires <= time(NULL))
        return false;
    /* ravend forgets the tokens of a removed user, or of one whose role changed */
    return !check_token(a, who->token, &now) && !strcmp(now.user, who->user) && now.role == who->role;
}
