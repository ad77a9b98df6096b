/* Internals of daemon/cprof: what the configuration says about one profile, in
 * the model's algorithm names (identities without their module prefix), and the
 * three writers of platform files. */
#ifndef RAVEN_CPROF_INT_H
#define RAVEN_CPROF_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "daemon/cprof/cprof.h"

#define CPROF_MAX_ALGS 8
#define CPROF_MAX_PROPS 8
#define CPROF_MAX_ESP 12
#define CPROF_MAX_LIST 16 /* DNS servers, split-DNS domains */
#define CPROF_MAX_SUBNETS 64
#define CPROF_MAX_CHAIN 8 /* CA certificates from the headend's issuer up to the root */

struct lyd_node;

struct cprof_algs {
    const char *v[CPROF_MAX_ALGS];
    size_t n;
};

/* One IKE proposal: every combination of its algorithms is accepted. */
struct cprof_ike {
    struct cprof_algs enc, integ, prf, group;
};

/* One ESP transform the IPsec profile accepts (integ NULL with AEAD). */
struct cprof_esp {
    const char *enc, *integ;
};

/* What the local authorization policies a profile's sessions get say about DNS
 * and split tunnelling (cprof_authz.c), merged as the engine merges them (the
 * first source wins per attribute). Strings are borrowed from the tree. */
struct cprof_authz {
    const char *policies[3]; /* the policies merged, in merge order */
    size_t npolicies;
    const char *dns4[2], *dns6[2]; /* DNS servers */
    size_t ndns4, ndns6;
    const char *def_domain;
    const char *split_dns[CPROF_MAX_LIST];
    size_t nsplit_dns;
    const char *subnets[CPROF_MAX_SUBNETS]; /* IPv4 and IPv6 prefixes, each once; none: full tunnel */
    size_t nsubnets;
    unsigned mtu; /* the policy's attribute list mtu, 0 unset */
    /* a source of the profile asks RADIUS (its list, or cached EAP attributes):
     * what it answers may add attributes, split subnets among them */
    bool radius;
};

/* One CA certificate of the chain. */
struct cprof_ca {
    unsigned char *der;
    size_t len;
    char *pem;
    char *cn; /* its subject's common name (may be NULL) */
};

struct cprof {
    const struct cprof_req *req;
    const char *server;     /* the address clients dial */
    const char *port;       /* the IKE port when not 500 (ikev2 global listen port) */
    const char *id_type;    /* "address", "fqdn", "email", "dn" or "key-id" */
    char *id;               /* the headend's IKE identity (heap) */
    bool eap;               /* else certificate */
    bool query_identity;    /* the profile asks for the EAP identity */
    /* The headend's CA chain from its trustpoint's ca-certificates: ca[0]
     * issued its certificate, each next one issued the one before, the last
     * is the trust anchor the files install (self-signed when ca_rooted; else
     * the top-most CA the trustpoint has). Every field on the heap. */
    struct cprof_ca ca[CPROF_MAX_CHAIN];
    size_t nca;             /* at least 1 */
    bool ca_rooted;
    struct cprof_ike ike[CPROF_MAX_PROPS];
    size_t nike;
    struct cprof_esp esp[CPROF_MAX_ESP];
    size_t nesp;
    const char *pfs; /* the IPsec profile's pfs-group, NULL: optional */
    struct cprof_authz authz; /* DNS and split tunnel */
};


/* An IKE choice a platform that takes one set of algorithms can make. */
struct cprof_pick {
    const char *enc, *integ, *group; /* integ: the PRF's hash with AEAD */
    bool aead;
};

/* Tree walking by schema names (cprof_conf.c): a child, a descendant by a path
 * "a/b/c", a leaf's value, a raven-vpn top-level node, the entry of a list by its
 * "name" key, an identity's name without its module prefix. */
const struct lyd_node *cprof_child(const struct lyd_node *n, const char *name);
const struct lyd_node *cprof_path(const struct lyd_node *n, const char *p);
const char *cprof_leaf(const struct lyd_node *n, const char *p);
const struct lyd_node *cprof_top(const struct lyd_node *tree, const char *name);
const struct lyd_node *cprof_entry(const struct lyd_node *parent, const char *list, const char *name);
const char *cprof_ident(const char *v);

/* Fills @out from the authorization the profile @prof gives a client of
 * authentication @eap (else certificate) named @user in @tree. */
void cprof_authz_read(const struct lyd_node *tree, const struct lyd_node *prof, bool eap, const char *user,
                      struct cprof_authz *out);

/* Maps a model name to a platform's (NULL: the platform lacks it). */
const char *cprof_map(const char *const (*table)[2], const char *name);
bool cprof_aead(const char *enc);
/* The first IKE choice of @c whose three names all map through the tables. */
bool cprof_pick_ike(const struct cprof *c, const char *const (*enc)[2], const char *const (*integ)[2],
                    const char *const (*prf)[2], const char *const (*group)[2], struct cprof_pick *out);
/* The first ESP transform whose names map (integ table unused with AEAD). */
const struct cprof_esp *cprof_pick_esp(const struct cprof *c, const char *const (*enc)[2],
                                       const char *const (*integ)[2]);
void cprof_uuid(char out[37]);
/* @s as one label of a reverse-DNS identifier (heap): letters, digits and
 * '-' kept, every other octet as "_XX" (hex), so that different names give
 * different labels. */
char *cprof_rdns_label(const char *s);
/* Whether @s is valid UTF-8. */
bool cprof_utf8(const char *s);
/* @s with characters unsafe in a file name replaced by '_' (heap). */
char *cprof_file_part(const char *s);

int cprof_apple(const struct cprof *c, FILE *f, char *err, size_t errlen);
int cprof_windows(const struct cprof *c, FILE *f, char *err, size_t errlen);
int cprof_android(const struct cprof *c, FILE *f, char *err, size_t errlen);

#endif
