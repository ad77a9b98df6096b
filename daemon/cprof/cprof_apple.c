/* The Apple configuration profile (.mobileconfig): a plist XML document whose
 * PayloadContent holds a com.apple.vpn.managed payload of VPNType IKEv2, a
 * com.apple.security.root payload with the root CA of the headend's
 * certificate and a com.apple.security.pkcs1 payload per intermediate CA. Its
 * identifiers come from the profile's and the user's names. Apple's client takes one IKE and one child SA parameter set, so
 * the first of the headend's proposals it can express is written. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cprof/cprof_int.h"
#include "daemon/base/poison.h"

/* Apple's names (IKESecurityAssociationParameters, ChildSecurityAssociationParameters) */
static const char *const enc_names[][2] = {
    {"aes-cbc-128", "AES-128"},          {"aes-cbc-256", "AES-256"}, {"aes-gcm-16-128", "AES-128-GCM"},
    {"aes-gcm-16-256", "AES-256-GCM"},   {"des3-cbc", "3DES"},       {"chacha20-poly1305", "ChaCha20Poly1305"},
    {NULL, NULL}};
static const char *const integ_names[][2] = {{"hmac-sha1-96", "SHA1-96"},
                                             {"hmac-sha2-256-128", "SHA2-256"},
                                             {"hmac-sha2-384-192", "SHA2-384"},
                                             {"hmac-sha2-512-256", "SHA2-512"},
                                             {NULL, NULL}};
static const char *const prf_names[][2] = {{"prf-hmac-sha1", "SHA1-160"},
                                           {"prf-hmac-sha2-256", "SHA2-256"},
                                           {"prf-hmac-sha2-384", "SHA2-384"},
                                           {"prf-hmac-sha2-512", "SHA2-512"},
                                           {NULL, NULL}};
static const char *const group_names[][2] = {{"modp-1024", "2"},  {"modp-2048", "14"}, {"modp-3072", "15"},
                                             {"modp-4096", "16"}, {"ecp-256", "19"},   {"ecp-384", "20"},
                                             {"ecp-521", "21"},   {"curve25519", "31"}, {NULL, NULL}};

/* XML character data: the five predefined entities. The C0 controls other
 * than tab, newline and carriage return are not characters XML 1.0 has
 * (section 2.2), not even as references: cprof_apple refuses values with
 * them, and here they are left out so that the document stays well-formed
 * whatever comes. */
static void xml(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n' || *s == '\r')
                fputc(*s, f);
        }
    }
}

static bool xml_ok(const char *s)
{
    for (const unsigned char *u = (const unsigned char *)s; u && *u; u++) {
        if (*u < 0x20 && *u != '\t' && *u != '\n' && *u != '\r')
            return false;
    }
    return !s || cprof_utf8(s);
}

/* The first value the profile would carry that XML cannot (a control
 * character, not UTF-8), named for the error; NULL when all can. */
static const char *bad_value(const struct cprof *c)
{
    const struct cprof_authz *a = &c->authz;

    if (!xml_ok(c->req->profile))
        return "the profile's name";
    if (!xml_ok(c->req->user))
        return "the user";
    if (!xml_ok(c->server))
        return "the server address (server-address)";
    if (!xml_ok(c->id))
        return "the headend's identity (identity local)";
    for (size_t i = 0; i < c->nca; i++) {
        if (!xml_ok(c->ca[i].cn))
            return "the common name of a CA certificate of the trustpoint";
    }
    if (!xml_ok(a->def_domain))
        return "the authorization policy's def-domain";
    for (size_t i = 0; i < a->nsplit_dns; i++) {
        if (!xml_ok(a->split_dns[i]))
            return "a split-dns domain of the authorization policy";
    }
    return NULL;
}

static void kv(FILE *f, const char *ind, const char *k, const char *v)
{
    fprintf(f, "%s<key>%s</key>\n%s<string>", ind, k, ind);
    xml(f, v);
    fputs("</string>\n", f);
}

static void ki(FILE *f, const char *ind, const char *k, long v)
{
    fprintf(f, "%s<key>%s</key>\n%s<integer>%ld</integer>\n", ind, k, ind, v);
}

static void sa_params(FILE *f, const char *key, const char *enc, const char *integ, const char *group)
{
    fprintf(f, "\t\t\t\t<key>%s</key>\n\t\t\t\t<dict>\n", key);
    kv(f, "\t\t\t\t\t", "EncryptionAlgorithm", enc);
    kv(f, "\t\t\t\t\t", "IntegrityAlgorithm", integ);
    ki(f, "\t\t\t\t\t", "DiffieHellmanGroup", strtol(group, NULL, 10));
    fputs("\t\t\t\t</dict>\n", f);
}

static void str_array(FILE *f, const char *k, const char *const *v, size_t n)
{
    fprintf(f, "\t\t\t\t<key>%s</key>\n\t\t\t\t<array>\n", k);
    for (size_t i = 0; i < n; i++) {
        fputs("\t\t\t\t\t<string>", f);
        xml(f, v[i]);
        fputs("</string>\n", f);
    }
    fputs("\t\t\t\t</array>\n", f);
}

/* The VPN payload's DNS dictionary from the authorization policy: its servers
 * (Apple requires ServerAddresses, so none without servers), the default domain
 * as DomainName and search domain, and the split-DNS domains as
 * SupplementalMatchDomains: then only names in them are resolved by the
 * tunnel's servers. */
static void dns_dict(const struct cprof *c, FILE *f)
{
    const struct cprof_authz *a = &c->authz;
    const char *srv[4];
    size_t n = 0;

    for (size_t i = 0; i < a->ndns4; i++)
        srv[n++] = a->dns4[i];
    for (size_t i = 0; i < a->ndns6; i++)
        srv[n++] = a->dns6[i];
    if (!n)
        return;
    fputs("\t\t\t<key>DNS</key>\n\t\t\t<dict>\n", f);
    str_array(f, "ServerAddresses", srv, n);
    if (a->def_domain) {
        kv(f, "\t\t\t\t", "DomainName", a->def_domain);
        str_array(f, "SearchDomains", &a->def_domain, 1);
    }
    if (a->nsplit_dns)
        str_array(f, "SupplementalMatchDomains", a->split_dns, a->nsplit_dns);
    fputs("\t\t\t</dict>\n", f);
}

static void vpn_payload(const struct cprof *c, FILE *f, const struct cprof_pick *ike, const char *child_enc,
                        const char *child_integ, const char *child_group, const char *top, const char *uuid)
{
    const char *t = "\t\t\t\t";
    char *id = NULL;

    fputs("\t\t<dict>\n\t\t\t<key>IKEv2</key>\n\t\t\t<dict>\n", f);
    kv(f, t, "RemoteAddress", c->server);
    kv(f, t, "RemoteIdentifier", c->id);
    kv(f, t, "LocalIdentifier", c->req->user);
    /* the CA that issued the headend's certificate (not the root) */
    if (c->ca[0].cn)
        kv(f, t, "ServerCertificateIssuerCommonName", c->ca[0].cn);
    if (c->eap) {
        /* EAP-MSCHAPv2 after the headend's certificate: AuthenticationMethod None */
        kv(f, t, "AuthenticationMethod", "None");
        ki(f, t, "ExtendedAuthEnabled", 1);
        kv(f, t, "AuthName", c->req->user);
    } else {
        /* the user's identity certificate is installed on the device separately */
        kv(f, t, "AuthenticationMethod", "Certificate");
        ki(f, t, "ExtendedAuthEnabled", 0);
    }
    sa_params(f, "IKESecurityAssociationParameters", ike->enc, ike->integ, ike->group);
    sa_params(f, "ChildSecurityAssociationParameters", child_enc, child_integ, child_group);
    ki(f, t, "EnablePFS", c->pfs != NULL);
    ki(f, t, "DisableMOBIKE", 0);
    ki(f, t, "DisableRedirect", 0);
    ki(f, t, "EnableCertificateRevocationCheck", 0);
    ki(f, t, "UseConfigurationAttributeInternalIPSubnet", 0);
    kv(f, t, "DeadPeerDetectionRate", "Medium");
    fputs("\t\t\t</dict>\n", f);
    /* all traffic through the tunnel, unless the policy names split subnets
     * (the client routes the child SA's traffic selectors, which the headend
     * narrows to them) */
    fputs("\t\t\t<key>IPv4</key>\n\t\t\t<dict>\n", f);
    ki(f, t, "OverridePrimary", c->authz.nsubnets ? 0 : 1);
    fputs("\t\t\t</dict>\n", f);
    dns_dict(c, f);
    if (asprintf(&id, "%s.vpn", top) < 0)
        id = NULL;
    kv(f, "\t\t\t", "PayloadDescription", "IKEv2 VPN");
    kv(f, "\t\t\t", "PayloadDisplayName", c->req->profile);
    kv(f, "\t\t\t", "PayloadIdentifier", id ? id : uuid);
    kv(f, "\t\t\t", "PayloadType", "com.apple.vpn.managed");
    kv(f, "\t\t\t", "PayloadUUID", uuid);
    ki(f, "\t\t\t", "PayloadVersion", 1);
    kv(f, "\t\t\t", "UserDefinedName", c->req->profile);
    kv(f, "\t\t\t", "VPNType", "IKEv2");
    fputs("\t\t</dict>\n", f);
    free(id);
}

/* A certificate payload: the root as com.apple.security.root (trusted for
 * every purpose on the device), an intermediate as com.apple.security.pkcs1
 * (kept for building chains, trusted for nothing by itself). */
static int cert_payload(const struct cprof_ca *ca, FILE *f, const char *type, const char *id, const char *file)
{
    int n = 4 * (((int)ca->len + 2) / 3);
    unsigned char *b64 = malloc((size_t)n + 1);
    char uuid[37];

    if (!b64)
        return -ENOMEM;
    cprof_uuid(uuid);
    EVP_EncodeBlock(b64, ca->der, (int)ca->len);
    fputs("\t\t<dict>\n", f);
    kv(f, "\t\t\t", "PayloadCertificateFileName", file);
    fputs("\t\t\t<key>PayloadContent</key>\n\t\t\t<data>", f);
    for (int i = 0; i < n; i += 64)
        fprintf(f, "\n\t\t\t%.64s", (const char *)b64 + i);
    fputs("\n\t\t\t</data>\n", f);
    kv(f, "\t\t\t", "PayloadDisplayName", ca->cn ? ca->cn : "VPN CA");
    kv(f, "\t\t\t", "PayloadIdentifier", id);
    kv(f, "\t\t\t", "PayloadType", type);
    kv(f, "\t\t\t", "PayloadUUID", uuid);
    ki(f, "\t\t\t", "PayloadVersion", 1);
    fputs("\t\t</dict>\n", f);
    free(b64);
    return 0;
}

/* The root, then the intermediates the headend does not send (its IKE_AUTH
 * carries its own certificate only), each under the profile's identifier. */
static int ca_payloads(const struct cprof *c, FILE *f, const char *top)
{
    char *id = NULL, file[32];
    int rc;

    if (asprintf(&id, "%s.ca", top) < 0)
        return -ENOMEM;
    rc = cert_payload(&c->ca[c->nca - 1], f, "com.apple.security.root", id, "ca.cer");
    free(id);
    for (size_t i = 0; i + 1 < c->nca && !rc; i++) {
        if (asprintf(&id, "%s.ca.%zu", top, i + 1) < 0)
            return -ENOMEM;
        snprintf(file, sizeof(file), "ca-%zu.cer", i + 1);
        rc = cert_payload(&c->ca[i], f, "com.apple.security.pkcs1", id, file);
        free(id);
    }
    return rc;
}

int cprof_apple(const struct cprof *c, FILE *f, char *err, size_t errlen)
{
    struct cprof_pick ike;
    const struct cprof_esp *esp;
    const char *child_group;
    char u_vpn[37], u_top[37], *top = NULL, *pp, *pu;
    const char *bad;
    int rc;

    if (!cprof_pick_ike(c, enc_names, integ_names, prf_names, group_names, &ike)) {
        snprintf(err, errlen, "profile %s: no IKE proposal of its policy uses algorithms Apple clients have "
                 "(AES-CBC/GCM, SHA1/SHA2, groups 2, 14-16, 19-21, 31)", c->req->profile);
        return -EINVAL;
    }
    if (!(esp = cprof_pick_esp(c, enc_names, integ_names))) {
        snprintf(err, errlen, "profile %s: no transform of its IPsec profile uses algorithms Apple clients have",
                 c->req->profile);
        return -EINVAL;
    }
    /* PFS for rekeyed child SAs: the required group, else the IKE SA's, which
     * the headend accepts when a client offers it */
    child_group = c->pfs ? cprof_map(group_names, c->pfs) : ike.group;
    if (!child_group) {
        snprintf(err, errlen, "profile %s: the IPsec profile's pfs-group %s is not one Apple clients have",
                 c->req->profile, c->pfs);
        return -EINVAL;
    }
    if ((bad = bad_value(c))) {
        snprintf(err, errlen, "profile %s: %s has a control character or is not UTF-8, which an Apple profile "
                 "(XML) cannot carry", c->req->profile, bad);
        return -EINVAL;
    }
    /* one profile per (profile, user) on a device: a newer download of the
     * same replaces it (same PayloadIdentifier), another one sits beside it */
    pp = cprof_rdns_label(c->req->profile);
    pu = cprof_rdns_label(c->req->user);
    if (!pp || !pu || asprintf(&top, "net.raven.vpn.%s.%s", pp, pu) < 0) {
        free(pp);
        free(pu);
        return -ENOMEM;
    }
    free(pp);
    free(pu);
    cprof_uuid(u_vpn);
    cprof_uuid(u_top);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
          "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
          "<plist version=\"1.0\">\n<dict>\n\t<key>PayloadContent</key>\n\t<array>\n", f);
    vpn_payload(c, f, &ike, cprof_map(enc_names, esp->enc),
                cprof_aead(esp->enc) ? "SHA2-256" : cprof_map(integ_names, esp->integ), child_group, top, u_vpn);
    rc = ca_payloads(c, f, top);
    if (rc) {
        free(top);
        return rc;
    }
    fputs("\t</array>\n", f);
    kv(f, "\t", "PayloadDisplayName", c->req->profile);
    kv(f, "\t", "PayloadIdentifier", top);
    fputs("\t<key>PayloadRemovalDisallowed</key>\n\t<false/>\n", f);
    kv(f, "\t", "PayloadType", "Configuration");
    kv(f, "\t", "PayloadUUID", u_top);
    ki(f, "\t", "PayloadVersion", 1);
    fputs("</dict>\n</plist>\n", f);
    free(top);
    return 0;
}
