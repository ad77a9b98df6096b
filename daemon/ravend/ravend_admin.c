/* First-start credentials: ravend has no built-in password. When the configuration
 * holds no management user, it creates "admin" with a random password that is
 * printed once and stored only as a crypt(3) hash, and/or an authorized key. */
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

static bool has_users(struct cfg *cfg)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    const char *xp[] = {"/raven-vpn:management/user", NULL};
    bool any;

    cfg_get(cfg, CFG_DS_RUNNING, xp, false, &t, &errs);
    any = t != NULL;
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
    return any;
}

static void random_password(char *buf, size_t len)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char rnd[64];

    RAND_bytes(rnd, sizeof(rnd));
    for (size_t i = 0; i + 1 < len && i < sizeof(rnd); i++)
        buf[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    buf[len - 1] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
}

int ravend_admin_ensure(struct cfg *cfg, const char *key_file)
{
    struct cfg_actor actor = {.sid = 0, .user = "ravend"};
    struct cfg_errs errs = {0};
    struct lyd_node *edit = NULL;
    char pw[21], salt[64], *xml = NULL, *key = NULL, *hash = NULL;
    struct crypt_data *cd = NULL;
    int rc = 0;

    if (has_users(cfg))
        return 0;
    if (key_file) {
        rc = fs_read_all(key_file, &key, NULL);
        if (rc) {
            log_err("ravend", "cannot read admin key %s: %s", key_file, strerror(-rc));
            return rc;
        }
        key[strcspn(key, "\r\n")] = '\0';
    }
    random_password(pw, sizeof(pw));
    cd = calloc(1, sizeof(*cd));
    if (!cd || !crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)) || !(hash = crypt_r(pw, salt, cd))) {
        rc = -EIO;
        goto out;
    }
    if (asprintf(&xml,
                 "<management xmlns=\"" NS "\"><user><name>admin</name><password-hash>%s</password-hash>"
                 "%s%s%s<role>admin</role></user></management>",
                 hash, key ? "<authorized-key>" : "", key ? key : "", key ? "</authorized-key>" : "") < 0) {
        xml = NULL;
        rc = -ENOMEM;
        goto out;
    }
    if (lyd_parse_data_mem(cfg_ctx(cfg), xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &edit)) {
        log_err("ravend", "admin key in %s is not an OpenSSH public key line", key_file ? key_file : "?");
        rc = -EINVAL;
        goto out;
    }
    rc = cfg_edit(cfg, CFG_DS_RUNNING, edit, CFG_OP_MERGE, CFG_TEST_THEN_SET, CFG_ERROPT_ROLLBACK, &actor, &errs);
    if (rc) {
        log_err("ravend", "cannot create the admin user: %s", errs.head ? errs.head->msg : "unknown error");
        goto out;
    }
    printf("ravend: first start: created management user \"admin\" with password %s\n"
           "ravend: the password is shown only now; it is stored as a hash in the running configuration%s%s\n",
           pw, key ? " (public key added from " : "", key ? key_file : "");
    if (key)
        printf(")\n");
    fflush(stdout);
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    if (cd)
        OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    free(xml);
    free(key);
    lyd_free_siblings(edit);
    cfg_errs_clear(&errs);
    return rc;
}

void ravend_print_endpoints(struct cfg *cfg)
{
    const char *xp[] = {"/raven-vpn:management", NULL};
    struct lyd_node *t = NULL;
    struct ly_set *set = NULL;
    struct cfg_errs errs = {0};
    const char *kinds[] = {"netconf", "rest"};

    cfg_get(cfg, CFG_DS_RUNNING, xp, false, &t, &errs);
    for (int k = 0; k < 2 && t; k++) {
        char path[96];

        snprintf(path, sizeof(path), "/raven-vpn:management/%s/endpoint", kinds[k]);
        if (lyd_find_xpath(t, path, &set))
            continue;
        for (uint32_t i = 0; i < set->count; i++) {
            struct lyd_node *a = NULL, *p = NULL;

            lyd_find_path(set->dnodes[i], "address", 0, &a);
            lyd_find_path(set->dnodes[i], "port", 0, &p);
            printf("ravend: %s listening on %s port %s\n", k == 0 ? "NETCONF (SSH)" : "REST (HTTPS)",
                   a ? lyd_get_value(a) : "?", p ? lyd_get_value(p) : "?");
        }
        ly_set_free(set, NULL);
        set = NULL;
    }
    fflush(stdout);
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
}
