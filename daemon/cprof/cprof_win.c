/* The Windows PowerShell script: Import-Certificate of the root CA into the
 * machine's trusted roots and of the intermediate CAs into its intermediate
 * store, Add-VpnConnection of an IKEv2 connection, and
 * Set-VpnConnectionIPsecConfiguration with the first of the headend's proposals
 * Windows can express (it sends exactly one set). Every value from the
 * configuration or the request goes into a single-quoted string. */
#include <errno.h>
#include <string.h>

#include "daemon/cprof/cprof_int.h"
#include "daemon/base/poison.h"

/* IKE SA: -EncryptionMethod, -IntegrityCheckMethod (also the PRF), -DHGroup */
static const char *const ike_enc[][2] = {{"aes-cbc-128", "AES128"},       {"aes-cbc-192", "AES192"},
                                         {"aes-cbc-256", "AES256"},       {"aes-gcm-16-128", "GCMAES128"},
                                         {"aes-gcm-16-256", "GCMAES256"}, {"des3-cbc", "DES3"},
                                         {NULL, NULL}};
static const char *const ike_integ[][2] = {{"hmac-sha1-96", "SHA1"},
                                           {"hmac-sha2-256-128", "SHA256"},
                                           {"hmac-sha2-384-192", "SHA384"},
                                           {"hmac-md5-96", "MD5"},
                                           {NULL, NULL}};
static const char *const ike_prf[][2] = {{"prf-hmac-sha1", "SHA1"},
                                         {"prf-hmac-sha2-256", "SHA256"},
                                         {"prf-hmac-sha2-384", "SHA384"},
                                         {NULL, NULL}};
static const char *const dh_groups[][2] = {{"modp-1024", "Group2"}, {"modp-2048", "Group14"},
                                           {"ecp-256", "ECP256"},   {"ecp-384", "ECP384"},
                                           {NULL, NULL}};
/* child SA: -CipherTransformConstants, -AuthenticationTransformConstants, -PfsGroup */
static const char *const esp_enc[][2] = {{"aes-cbc-128", "AES128"},       {"aes-cbc-192", "AES192"},
                                         {"aes-cbc-256", "AES256"},       {"aes-gcm-16-128", "GCMAES128"},
                                         {"aes-gcm-16-256", "GCMAES256"}, {"des3-cbc", "DES3"},
                                         {NULL, NULL}};
static const char *const esp_integ[][2] = {{"hmac-sha1-96", "SHA196"},
                                           {"hmac-sha2-256-128", "SHA256128"},
                                           {"hmac-md5-96", "MD596"},
                                           {NULL, NULL}};
static const char *const pfs_groups[][2] = {{"modp-1024", "PFS2"},  {"modp-2048", "PFS2048"},
                                            {"ecp-256", "ECP256"},  {"ecp-384", "ECP384"},
                                            {NULL, NULL}};

/* A PowerShell single-quoted string: a quote is doubled, and PowerShell takes
 * the typographic single quotes (U+2018..U+201B) for quotes too. */
static void ps_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (const unsigned char *u = (const unsigned char *)s; u && *u; u++) {
        if (*u == '\'') {
            fputs("''", f);
        } else if (u[0] == 0xe2 && u[1] == 0x80 && u[2] >= 0x98 && u[2] <= 0x9b) {
            fwrite(u, 1, 3, f);
            fwrite(u, 1, 3, f);
            u += 2;
        } else {
            fputc(*u, f);
        }
    }
    fputc('\'', f);
}

/* Split tunnel: a route per split subnet (the connection is added with
 * -SplitTunneling); split DNS: the split-DNS domains resolved by the tunnel's
 * DNS servers while it is up (the trigger DNS configuration, which Windows
 * turns into name resolution policy rules). */
static void split(const struct cprof *c, FILE *f)
{
    const struct cprof_authz *a = &c->authz;

    for (size_t i = 0; i < a->nsubnets; i++) {
        fputs("Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix ", f);
        ps_str(f, a->subnets[i]);
        fputs("\n", f);
    }
    if (!a->nsplit_dns || !(a->ndns4 + a->ndns6))
        return;
    fputs("$DnsServers = @(", f);
    for (size_t i = 0; i < a->ndns4 + a->ndns6; i++) {
        fputs(i ? ", " : "", f);
        ps_str(f, i < a->ndns4 ? a->dns4[i] : a->dns6[i - a->ndns4]);
    }
    fputs(")\n", f);
    for (size_t i = 0; i < a->nsplit_dns; i++) {
        fputs("Add-VpnConnectionTriggerDnsConfiguration -ConnectionName $Name -DnsSuffix ", f);
        ps_str(f, a->split_dns[i]);
        fputs(" -DnsIPAddress $DnsServers -Force\n", f);
    }
}

int cprof_windows(const struct cprof *c, FILE *f, char *err, size_t errlen)
{
    struct cprof_pick ike;
    const struct cprof_esp *esp;
    const struct cprof_authz *a = &c->authz;
    const char *pfs = "None";

    if (!cprof_pick_ike(c, ike_enc, ike_integ, ike_prf, dh_groups, &ike)) {
        snprintf(err, errlen, "profile %s: no IKE proposal of its policy uses algorithms Windows has "
                 "(AES-CBC/GCM, SHA1/SHA256/SHA384, groups modp-1024, modp-2048, ecp-256, ecp-384)",
                 c->req->profile);
        return -EINVAL;
    }
    if (!(esp = cprof_pick_esp(c, esp_enc, esp_integ))) {
        snprintf(err, errlen, "profile %s: no transform of its IPsec profile uses algorithms Windows has "
                 "(AES-CBC with SHA1/SHA256, AES-GCM)", c->req->profile);
        return -EINVAL;
    }
    if (c->pfs && !(pfs = cprof_map(pfs_groups, c->pfs))) {
        snprintf(err, errlen, "profile %s: the IPsec profile's pfs-group %s is not one Windows has",
                 c->req->profile, c->pfs);
        return -EINVAL;
    }
    fputs("# IKEv2 VPN connection of the headend's profile ", f);
    ps_str(f, c->req->profile);
    fputs(" for user ", f);
    ps_str(f, c->req->user);
    fputs(".\n# Run in an elevated PowerShell (the root CA goes into the machine's trusted roots,\n# trusted for every purpose).\n", f);
    if (c->eap && !c->query_identity)
        fputs("# Windows sends its IP address as IKE identity: the headend's profile must ask for the\n"
              "# EAP identity (authentication remote eap query-identity true).\n", f);
    fputs("$ErrorActionPreference = 'Stop'\n$Name = ", f);
    ps_str(f, c->req->profile);
    fputs("\n$Server = ", f);
    ps_str(f, c->server);
    fputc('\n', f);
    if (!c->ca_rooted)
        fputs("# The trustpoint has no self-signed root above this CA: it is installed as the root.\n", f);
    /* the root into the trusted roots, the intermediates (which the headend
     * does not send in IKE_AUTH) where Windows looks for them when it builds
     * the chain: trusted for nothing by themselves */
    for (size_t i = c->nca; i-- > 0;) {
        fputs("$CaPem = @'\n", f);
        fputs(c->ca[i].pem, f);
        fprintf(f,
                "'@\n$CaFile = Join-Path $env:TEMP ('raven-ca-' + [guid]::NewGuid().ToString() + '.cer')\n"
                "Set-Content -Path $CaFile -Value $CaPem -Encoding Ascii\n"
                "Import-Certificate -FilePath $CaFile -CertStoreLocation Cert:\\LocalMachine\\%s | Out-Null\n"
                "Remove-Item -Path $CaFile\n",
                i == c->nca - 1 ? "Root" : "CA");
    }
    fprintf(f, "Add-VpnConnection -Name $Name -ServerAddress $Server -TunnelType Ikev2 -AuthenticationMethod %s "
               "-EncryptionLevel Required -Force%s%s",
            c->eap ? "Eap" : "MachineCertificate", c->eap ? " -RememberCredential" : "",
            a->nsubnets ? " -SplitTunneling" : "");
    if (a->def_domain) {
        fputs(" -DnsSuffix ", f);
        ps_str(f, a->def_domain);
    }
    fputc('\n', f);
    fprintf(f,
            "Set-VpnConnectionIPsecConfiguration -ConnectionName $Name -EncryptionMethod %s "
            "-IntegrityCheckMethod %s -DHGroup %s -CipherTransformConstants %s "
            "-AuthenticationTransformConstants %s -PfsGroup %s -Force\n",
            ike.enc, ike.integ, ike.group, cprof_map(esp_enc, esp->enc),
            cprof_aead(esp->enc) ? cprof_map(esp_enc, esp->enc) : cprof_map(esp_integ, esp->integ), pfs);
    split(c, f);
    if (c->eap) {
        fputs("# Connect with: rasdial ", f);
        ps_str(f, c->req->profile);
        fputs(" ", f);
        ps_str(f, c->req->user);
        fputs(" PASSWORD\n", f);
    }
    return 0;
}
