/* SSH authentication of NETCONF users against the configured management users:
 * passwords checked with crypt(3) against the stored hash, public keys compared
 * with the configured OpenSSH keys. Also provides the server's host key, generated
 * in the state directory on first start. */
#include <crypt.h>
#include <fcntl.h>
#include <errno.h>
#include <libssh/libssh.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

void nc_user_free_array(struct nc_user *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(users[i].name);
        if (users[i].password_hash) {
            OPENSSL_cleanse(users[i].password_hash, strlen(users[i].password_hash));
            free(users[i].password_hash);
        }
        for (size_t k = 0; k < users[i].nkeys; k++)
            free(users[i].keys[k]);
        free(users[i].keys);
    }
    free(users);
}

void nc_api_set_users(struct nc_api *api, struct nc_user *users, size_t n)
{
    struct nc_user *old;
    size_t nold;

    pthread_mutex_lock(&api->users_lock);
    old = api->users;
    nold = api->nusers;
    api->users = users;
    api->nusers = n;
    pthread_mutex_unlock(&api->users_lock);
    nc_user_free_array(old, nold);
}

static const struct nc_user *user_find(struct nc_api *api, const char *name)
{
    for (size_t i = 0; name && i < api->nusers; i++) {
        if (!strcmp(api->users[i].name, name))
            return &api->users[i];
    }
    return NULL;
}

int nc_auth_role(struct nc_api *api, const char *user)
{
    const struct nc_user *u;
    int role = -1;

    pthread_mutex_lock(&api->users_lock);
    u = user_find(api, user);
    if (u)
        role = (int)u->role;
    pthread_mutex_unlock(&api->users_lock);
    return role;
}

static int passwd_clb(const struct nc_session *session, const char *password, void *arg)
{
    struct nc_api *api = arg;
    const char *name = nc_session_get_username(session);
    const struct nc_user *u;
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    int rc = 1;

    if (!cd)
        return 1;
    pthread_mutex_lock(&api->users_lock);
    u = user_find(api, name);
    if (u && u->password_hash && u->password_hash[0] == '$') {
        const char *h = crypt_r(password, u->password_hash, cd);
        size_t hl = strlen(u->password_hash);

        if (h && strlen(h) == hl && !CRYPTO_memcmp(h, u->password_hash, hl))
            rc = 0;
    }
    pthread_mutex_unlock(&api->users_lock);
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    if (rc)
        log_info("netconf", "password authentication failed for user \"%s\" from %s", name ? name : "?",
                 nc_session_get_host(session) ? nc_session_get_host(session) : "?");
    return rc;
}

/* Compares @key with an OpenSSH one-line key "type base64 [comment]". */
static bool key_matches(const char *line, ssh_key key)
{
    char type[64], b64[8192];
    ssh_key k = NULL;
    bool ok = false;

    if (sscanf(line, "%63s %8191s", type, b64) != 2)
        return false;
    if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &k) == SSH_OK)
        ok = ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0;
    ssh_key_free(k);
    return ok;
}

static int pubkey_clb(const struct nc_session *session, ssh_key key, void *arg)
{
    struct nc_api *api = arg;
    const char *name = nc_session_get_username(session);
    const struct nc_user *u;
    int rc = 1;

    pthread_mutex_lock(&api->users_lock);
    u = user_find(api, name);
    for (size_t i = 0; u && i < u->nkeys && rc; i++) {
        if (key_matches(u->keys[i], key))
            rc = 0;
    }
    pthread_mutex_unlock(&api->users_lock);
    return rc;
}

static int hostkey_clb(const char *name, void *arg, char **privkey_path, char **privkey_data,
                       NC_SSH_KEY_TYPE *privkey_type)
{
    struct nc_api *api = arg;

    (void)name;
    *privkey_data = NULL;
    *privkey_type = NC_SSH_KEY_UNKNOWN;
    *privkey_path = strdup(api->hostkey_path);
    return *privkey_path ? 0 : 1;
}

/* Generates an RSA-3072 host key (PEM, 0600) unless one exists. */
static int hostkey_ensure(const char *path)
{
    EVP_PKEY *pkey = NULL;
    FILE *f = NULL;
    int fd, rc = -EIO;

    if (access(path, R_OK) == 0)
        return 0;
    pkey = EVP_RSA_gen(3072);
    if (!pkey)
        goto out;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    f = fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        close(fd);
        goto out;
    }
    if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1)
        rc = 0;
    if (fclose(f) != 0 && !rc)
        rc = -EIO;
    if (!rc)
        log_info("netconf", "generated SSH host key %s", path);
    else
        unlink(path);
out:
    EVP_PKEY_free(pkey);
    return rc;
}

int nc_auth_init(struct nc_api *api)
{
    int rc;

    if (asprintf(&api->hostkey_path, "%s/ssh_host_rsa_key", api->state_dir) < 0) {
        api->hostkey_path = NULL;
        return -ENOMEM;
    }
    rc = hostkey_ensure(api->hostkey_path);
    if (rc) {
        log_err("netconf", "cannot create SSH host key %s: %s", api->hostkey_path, strerror(-rc));
        return rc;
    }
    nc_server_ssh_set_hostkey_clb(hostkey_clb, api, NULL);
    nc_server_ssh_set_passwd_auth_clb(passwd_clb, api, NULL);
    nc_server_ssh_set_pubkey_auth_clb(pubkey_clb, api, NULL);
    return 0;
}
