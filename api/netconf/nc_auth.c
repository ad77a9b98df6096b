/* SSH authentication of NETCONF users, decided by ravend: a password goes to
 * mc_auth_password with the client's address (ravend checks it against the stored
 * crypt(3) hash and blocks an address after repeated failures), a public key to
 * mc_auth_key as "TYPE BASE64". This process holds no user, hash or key. Also the
 * server's host key, which ravend hands over with the `listen` event. */
#include <errno.h>
#include <libssh/libssh.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

/* Remembers the last successful login of the connection being accepted. A failed or
 * later method overwrites it, so when libnetconf2 has authenticated the session it
 * holds the method that did. */
static void granted(struct nc_api *api, const struct nc_session *s, const char *user, enum mc_role role)
{
    free(api->auth_user);
    api->auth_user = strdup(user);
    api->auth_sess = api->auth_user ? s : NULL;
    api->auth_role = role;
}

int nc_auth_take_role(struct nc_api *api, const struct nc_session *s)
{
    const char *user = s ? nc_session_get_username(s) : NULL;
    int role = -1;

    if (s && api->auth_sess == s && user && api->auth_user && !strcmp(user, api->auth_user))
        role = (int)api->auth_role;
    free(api->auth_user);
    api->auth_user = NULL;
    api->auth_sess = NULL;
    return role;
}

static void refused(const struct nc_session *s, const char *user, const char *how, int rc, unsigned int retry)
{
    const char *host = nc_session_get_host(s) ? nc_session_get_host(s) : "?";

    if (rc == -EACCES)
        log_info("netconf", "%s authentication failed for user \"%s\" from %s", how, user, host);
    else if (rc == -EAGAIN)
        log_info("netconf", "%s authentication of user \"%s\" refused: %s is blocked for %u s after repeated failures",
                 how, user, host, retry);
    else
        log_warn("netconf", "%s authentication of user \"%s\" from %s not checked: %s", how, user, host,
                 strerror(-rc));
}

static int passwd_clb(const struct nc_session *session, const char *password, void *arg)
{
    struct nc_api *api = arg;
    const char *user = nc_session_get_username(session), *host = nc_session_get_host(session);
    unsigned int retry = 0;
    enum mc_role role;
    int rc;

    if (!user || !password)
        return 1;
    rc = mc_auth_password(api->mc, user, password, host ? host : "", &role, &retry);
    if (rc) {
        refused(session, user, "password", rc, retry);
        return 1;
    }
    granted(api, session, user, role);
    return 0;
}

/* Called twice per key: when the client offers it, and with its signature. */
static int pubkey_clb(const struct nc_session *session, ssh_key key, void *arg)
{
    struct nc_api *api = arg;
    const char *user = nc_session_get_username(session), *type = ssh_key_type_to_char(ssh_key_type(key));
    char *b64 = NULL, *line = NULL;
    enum mc_role role;
    int rc = -EINVAL;

    if (!user || !type || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
        goto out;
    if (asprintf(&line, "%s %s", type, b64) < 0) {
        line = NULL;
        rc = -ENOMEM;
        goto out;
    }
    rc = mc_auth_key(api->mc, user, line, &role);
    if (!rc)
        granted(api, session, user, role);
    else if (rc != -EACCES)
        refused(session, user, "public key", rc, 0);
out:
    ssh_string_free_char(b64);
    free(line);
    return rc ? 1 : 0;
}

/* libnetconf2 asks for the key at every connection and writes the body it gets
 * between "-----BEGIN <TYPE> PRIVATE KEY-----" lines into a private temporary file
 * for libssh. */
static int hostkey_clb(const char *name, void *arg, char **privkey_path, char **privkey_data,
                       NC_SSH_KEY_TYPE *privkey_type)
{
    struct nc_api *api = arg;

    (void)name;
    *privkey_path = NULL;
    pthread_mutex_lock(&api->hostkey_lock);
    *privkey_data = api->hostkey_b64 ? strdup(api->hostkey_b64) : NULL;
    *privkey_type = api->hostkey_type;
    pthread_mutex_unlock(&api->hostkey_lock);
    if (!*privkey_data)
        log_err("netconf", "no SSH host key: ravend has not sent one");
    return *privkey_data ? 0 : 1;
}

static const struct {
    const char *label;
    NC_SSH_KEY_TYPE type;
} pem_types[] = {
    {"-----BEGIN PRIVATE KEY-----", NC_SSH_KEY_UNKNOWN}, /* PKCS#8: libssh reads any algorithm */
    {"-----BEGIN RSA PRIVATE KEY-----", NC_SSH_KEY_RSA},
    {"-----BEGIN EC PRIVATE KEY-----", NC_SSH_KEY_ECDSA},
    {"-----BEGIN DSA PRIVATE KEY-----", NC_SSH_KEY_DSA},
};

int nc_auth_set_hostkey(struct nc_api *api, const char *pem)
{
    const char *begin = NULL, *body = NULL, *end;
    NC_SSH_KEY_TYPE type = NC_SSH_KEY_UNKNOWN;
    char *b64, *old;

    for (size_t i = 0; pem && !begin && i < sizeof(pem_types) / sizeof(pem_types[0]); i++) {
        begin = strstr(pem, pem_types[i].label);
        type = pem_types[i].type;
        body = begin ? begin + strlen(pem_types[i].label) : NULL;
    }
    if (!begin || !(end = strstr(body, "-----END")) || memchr(body, ':', (size_t)(end - body))) {
        /* ':' = RFC 1421 headers (Proc-Type: an encrypted key) */
        log_err("netconf", "the SSH host key from ravend is not an unencrypted PKCS#8, RSA, EC or DSA PEM key");
        return -EINVAL;
    }
    /* libnetconf2 adds the line breaks around the body; a blank line would make
     * the PEM unreadable */
    while (body < end && (*body == '\r' || *body == '\n'))
        body++;
    while (end > body && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    b64 = strndup(body, (size_t)(end - body));
    if (!b64)
        return -ENOMEM;
    pthread_mutex_lock(&api->hostkey_lock);
    old = api->hostkey_b64;
    api->hostkey_b64 = b64;
    api->hostkey_type = type;
    pthread_mutex_unlock(&api->hostkey_lock);
    if (old) {
        OPENSSL_cleanse(old, strlen(old));
        free(old);
    }
    return 0;
}

void nc_auth_init(struct nc_api *api)
{
    nc_server_ssh_set_hostkey_clb(hostkey_clb, api, NULL);
    nc_server_ssh_set_passwd_auth_clb(passwd_clb, api, NULL);
    nc_server_ssh_set_pubkey_auth_clb(pubkey_clb, api, NULL);
}

void nc_auth_fini(struct nc_api *api)
{
    if (api->hostkey_b64) {
        OPENSSL_cleanse(api->hostkey_b64, strlen(api->hostkey_b64));
        free(api->hostkey_b64);
        api->hostkey_b64 = NULL;
    }
    free(api->auth_user);
    api->auth_user = NULL;
}
