/* The compiled configuration of the IKEv2 engine: one generation (internal to
 * daemon/ike, like ike_eng.h).
 *
 * At prepare, ike_conf_build reads what the engine, its sessions and AAA use
 * (listen addresses, limits, proposals, pools, trustpoints, profiles with their
 * match rules, keyrings, certificate maps, name manglers, authorization
 * policies, IPsec profiles, access lists) from the candidate tree into the
 * structures below; apply publishes it as the engine's e->conf. Once built a
 * generation never changes. Strings point into its private copy of the tree
 * (c->tree), which lives as long as the generation and is only storage: no
 * exchange reads the tree (tests/layout/check.py keeps the calls that walk a
 * tree in the compiling files).
 *
 * Incremental builds: given the generation in force and the data paths the
 * transaction changed (ike_conf_build_delta), a generation shares with it every
 * authorization policy that no change touched (struct ike_authz_ent, reference
 * counted, owning its strings) and compiles
 * only the others; what a policy's compilation reads besides its entry (access
 * lists, aaa attribute lists) changing recompiles them all.
 *
 * Reference counting: the engine holds one reference on e->conf, and every
 * session one on the generation it was negotiated under (s->gen, taken when
 * its IKE_SA_INIT arrives, or at adoption), released when the session is
 * freed. A commit therefore never changes what an exchange under way reads.
 * The address book (c->pools, c->pools6) is the exception: its leases move to
 * the new generation at prepare and the old one's sets are freed at apply
 * (NULL afterwards), so it is always read through e->conf. When no pool
 * changed, the new generation is built without one and apply hands the old
 * one's sets over as they are (c->pools_moved): no pool is rebuilt, no lease
 * copied. */
#ifndef RAVEN_IKE_CONF_H
#define RAVEN_IKE_CONF_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/ike/ike_child.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_pld.h"
#include "daemon/pki/pki.h"
#include "daemon/session/sess_authz.h"

struct lyd_node;
struct ly_ctx;
struct pki_tp;
struct pool_set;

#define IKE_MAX_LISTEN 16
#define IKE_MAX_FVRF 8 /* front-door VRFs IKE listens in besides the default table */
#define IKE_MAX_ATTR_LIST 10

/* Authentication methods, as the profile's per-method settings are indexed
 * (aaa authorization user|group eap|psk|cert, aaa accounting). */
enum ike_method { IKE_M_PSK, IKE_M_CERT, IKE_M_EAP, IKE_M_N };
/* The index of "psk", "cert" or "eap"; IKE_M_N for anything else. */
enum ike_method ike_method_index(const char *name);

/* An IKE policy: proposals, and where they apply. */
struct ike_policy {
    struct ike_algs algs;
    size_t naddr;
    struct sockaddr_storage addr[8]; /* match local-address; none = any */
    const char *fvrf;                /* match fvrf (in the tree), NULL: none */
};

/* An IP prefix or address range, parsed (address family, bytes in network
 * order). A prefix has lo = the network, hi = its last address. */
struct ike_range {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t plen;   /* a prefix: its length; a range: 0 */
    uint8_t lo[16], hi[16];
};

/* One rule of a profile's match identity remote. */
enum ike_idm_kind {
    IKE_IDM_ADDRESS,      /* address: an ID_IPV4/ID_IPV6 inside the prefix r */
    IKE_IDM_KEY_ID,       /* key-id: equal, case-sensitive */
    IKE_IDM_FQDN,         /* fqdn exact: equal, case-insensitive */
    IKE_IDM_FQDN_DOMAIN,  /* fqdn domain: the domain or a name under it */
    IKE_IDM_EMAIL,        /* email exact: equal, case-insensitive */
    IKE_IDM_EMAIL_DOMAIN, /* email domain: the part after '@' equals it */
};
struct ike_idm {
    enum ike_idm_kind kind;
    const char *value;
    struct ike_range r; /* IKE_IDM_ADDRESS */
};

/* A certificate map (pki certificate-map, S10): it matches when every rule of
 * one of its entries holds. Values are lower-cased at compile time; by_attr: an
 * "ATTR=VALUE" rule on a name field, compared with that attribute's value in
 * each name entry (attr: the lower-cased short name, value after the '='). */
enum ike_cm_field {
    IKE_CMF_SUBJECT,  /* subject-name */
    IKE_CMF_USUBJECT, /* unstructured-subject-name */
    IKE_CMF_ISSUER,   /* issuer-name */
    IKE_CMF_NAME,     /* name: the subject's common name */
    IKE_CMF_SERIAL,   /* serial-number, hex */
    IKE_CMF_ALT,      /* alt-subject-name: DNS and e-mail names, space separated */
    IKE_CMF_EXPIRES,  /* expires-on: notAfter (with lt, ge) */
    IKE_CMF_VALID_START, /* valid-start: notBefore (with lt, ge) */
};
enum ike_cm_op { IKE_CMO_EQ, IKE_CMO_NE, IKE_CMO_CO, IKE_CMO_NC, IKE_CMO_LT, IKE_CMO_GE };
struct ike_cm_rule {
    enum ike_cm_field field;
    enum ike_cm_op op;
    bool by_attr;
    char attr[32];
    char *value; /* owned, lower case (NULL for a date rule) */
    time_t when; /* a date rule's instant (UTC) */
};
struct ike_cm_entry {
    struct ike_cm_rule *rules;
    size_t nrules;
};
struct ike_certmap {
    const char *name;
    struct ike_cm_entry *entries;
    size_t nentries;
};

/* A name mangler (ikev2 name-mangler, S6). */
enum ike_mgl_part { IKE_MGL_NONE, IKE_MGL_ALL, IKE_MGL_DOMAIN, IKE_MGL_HOST /* fqdn hostname, email username */ };
struct ike_mangler {
    const char *name;
    enum ike_mgl_part fqdn, email;
    int dn_nid;         /* dn FIELD: its OpenSSL NID, NID_undef (0) none */
    bool eap;           /* an eap rule is set (all, dn, prefix or suffix) */
    char eap_prefix;    /* eap prefix delimiter, 0 none */
    char eap_suffix;    /* eap suffix delimiter, 0 none */
    const char *eap_dn; /* eap dn FIELD as a short name ("CN", "OU"), NULL none */
};

/* A keyring (ikev2 keyring) and its peers, in configuration order. */
struct ike_kpeer {
    const char *name;
    uint8_t id_type;   /* identity: ID_IPV4/ID_IPV6 (address), ID_FQDN, ID_RFC822, ID_KEY_ID; 0 none */
    const char *id;    /* its value as configured */
    uint8_t id_raw[16]; /* an address identity, parsed (4 or 16 bytes) */
    const char *hostname; /* NULL none */
    bool has_addr;
    struct ike_range addr; /* address (a prefix) */
    const char *psk, *psk_local, *psk_remote; /* NULL unset */
};
struct ike_keyring {
    const char *name;
    struct ike_kpeer *peers;
    size_t npeers;
};

/* Post-quantum preshared keys (ikev2 ppk, RFC 8784; ike_ppk_conf.c): the
 * key's octets are owned and wiped when the generation is freed. */
enum ike_ppk_policy { IKE_PPK_NONE, IKE_PPK_OPTIONAL, IKE_PPK_REQUIRED };
struct ike_ppk {
    const char *id; /* ppk-id (the PPK_ID's octets) */
    uint8_t *key;   /* owned */
    size_t key_len;
};

/* Where a name for AAA comes from and whom to ask: a profile's aaa
 * authorization user|group METHOD, or its keyring aaa. */
struct ike_authz_src {
    bool set;                       /* the container exists */
    const char *method_list;        /* NULL none */
    const char *username;           /* NULL none */
    const struct ike_mangler *mangler; /* NULL none */
    bool cached;                    /* user: cached */
    bool override;                  /* group: override */
    bool list_radius;               /* the list's first method (lowest sequence) is a server group */
    bool list_local;                /* the list has a local method */
};

/* An IPsec profile (ipsec profile), or the defaults of a profile without one:
 * what a session's child SAs are negotiated with. */
struct ike_ipsec_prof {
    const char *name; /* NULL: the defaults */
    struct ike_esp_algs esp; /* every transform set's algorithms (defaults without any); esn */
    uint32_t replay_window;  /* the profile's, else the outside dataplane interface's, else 64 */
    uint32_t lifetime, soft_time; /* hard/soft time, seconds (soft 0: 90% of hard) */
    uint64_t soft_bytes, hard_bytes; /* bytes */
    uint64_t soft_packets, hard_packets; /* 0 none */
    uint32_t idle_time;      /* 0 none */
    uint16_t pfs_group;      /* 0 none */
    uint32_t flow_limit;     /* UINT32_MAX unset */
};

/* A trustpoint of a profile and what it is used for. */
enum ike_tp_usage { IKE_TP_BOTH, IKE_TP_SIGN, IKE_TP_VERIFY };
struct ike_prof_tp {
    struct pki_tp *tp;
    enum ike_tp_usage usage;
};

/* An IKEv2 profile (ikev2 profile), in configuration order in c->profs. */
struct ike_prof {
    const char *name;
    /* match */
    const char *fvrf;                   /* NULL: the default table only */
    struct ike_range *local_addrs;      /* local-address (plen = full length) */
    size_t nlocal_addrs;
    char (*local_ifs)[IF_NAMESIZE];     /* local-interface */
    size_t nlocal_ifs;
    struct ike_idm *remote;             /* identity remote */
    size_t nremote;
    const struct ike_certmap **maps;    /* certificate-map */
    size_t nmaps;
    /* identity local: type 0 = none (our address); ID_DER_DN = the certificate's subject */
    uint8_t local_id_type;
    const char *local_id;               /* fqdn, email, key-id, address text */
    uint8_t local_id_raw[16];           /* address, parsed */
    /* authentication */
    bool local_psk, local_rsa, local_ecdsa;
    bool local_rsa_pss;                 /* rsa-signature-scheme pss: RSASSA-PSS (RFC 7427) */
    const char *local_key;              /* authentication local pre-share key, NULL none */
    bool remote_psk, remote_rsa, remote_ecdsa, remote_eap;
    const char *remote_key;             /* authentication remote pre-share key, NULL none */
    bool eap_query_identity;
    uint16_t eap_timeout;               /* seconds (default 90) */
    /* keys */
    const struct ike_keyring *keyring;  /* keyring local, NULL none */
    struct ike_authz_src keyring_aaa;   /* keyring aaa (.set) */
    struct ike_prof_tp *tps;            /* pki trustpoint, those that exist */
    size_t ntps;
    /* aaa */
    const char *eap_list;               /* aaa authentication eap, NULL none */
    struct ike_authz_src authz_user[IKE_M_N], authz_group[IKE_M_N];
    const char *acct_list[IKE_M_N];     /* aaa accounting, NULL none */
    /* config-exchange */
    bool cfg_request, cfg_set_accept, cfg_set_send;
    /* dpd: interval 0 = none */
    uint16_t dpd_interval, dpd_retry;
    bool dpd_periodic;
    uint32_t lifetime;                  /* the IKE SA's, seconds */
    /* mobike: MOBIKE announced to clients that announce it (enabled), a
     * return routability check before a move (ike_mobike.c) */
    bool mobike, mobike_rr;
    const struct ike_ipsec_prof *ipsec; /* never NULL (the defaults without one) */
    const char *ivrf;                   /* NULL: the main table */
    enum ike_ppk_policy ppk;            /* ppk policy */
    const char *ppk_aaa_list;           /* ppk aaa-authorization-list: PPKs from RADIUS (NULL none) */
    const char **ppk_ids;               /* ppk id: the PPK_IDs its clients may name (none: any) */
    size_t nppk_ids;
};

/* An access list's permitted prefixes (access-lists access-list). */
struct ike_acl {
    const char *name;
    struct sess_prefixes permits; /* each once, at most SESS_MAX_PREFIXES */
    unsigned npermits;            /* permit entries, also those that did not fit */
};

/* One authorization policy compiled: shared by the generations between which
 * neither it nor what it reads (access lists, aaa attribute lists) changed.
 * Immutable once built; freed with its last generation. */
struct ike_authz_ent {
    unsigned refs;         /* the generations holding it */
    char *strings;         /* its strings' storage (copied from the tree it was compiled from) */
    struct sess_authz_pol pol;
};

/* Authorization policies (ikev2/authorization-policy) are compiled at
 * prepare into struct sess_authz_pol (daemon/session/sess_authz.h): everything
 * the session's authorization merges from one. Split subnets become child SA
 * selectors and attribute lists CFG attributes: the limits agree. */
_Static_assert(SESS_MAX_PREFIXES == IKE_MAX_TS, "a child SA carries every split subnet");
_Static_assert(SESS_MAX_ATTR_LIST == IKE_MAX_ATTR_LIST, "the attribute lists' limits agree");

struct event_base;

/* One generation of compiled configuration. */
struct ike_conf {
    unsigned refs;       /* the engine's (while in force or pending) and sessions' */
    uint64_t generation; /* numbered by the engine at apply, from 1 */
    struct ike_conf *trash_next; /* waiting to be freed (ike_conf_unref_later) */
    struct lyd_node *tree; /* string storage: the subtrees it was compiled from (not pools, not the
                            * authorization policies' entries: each ike_authz_ent copies its strings) */
    const struct lyd_node *src; /* while ike_conf_build runs: the tree it was given (pools are read there) */
    /* while ike_conf_build_delta runs: the generation in force and the data
     * paths changed since it was built (prev NULL: everything changed) */
    const struct ike_conf *prev;
    const char *const *changed;
    size_t nchanged;
    struct sockaddr_storage listen[IKE_MAX_LISTEN];
    size_t nlisten;
    uint16_t port, natt_port;
    char fvrf[IKE_MAX_FVRF][16]; /* VRF devices IKE listens in too (match fvrf) */
    size_t nfvrf;
    bool cookie_on;
    uint32_t cookie_threshold;
    uint32_t max_sa, max_half_open; /* 0 = no limit */
    uint32_t max_per_user;          /* established sessions of one user; 0 = no limit */
    bool per_user_replace;          /* beyond it: the oldest end (else the newest is refused) */
    /* ikev2/global/redirect (RFC 5685): new clients go to redirect_gw (in
     * tree; NULL none), only while at least redirect_above sessions are up */
    const char *redirect_gw;
    uint32_t redirect_above;
    bool frag;
    uint16_t frag_mtu;
    uint16_t nat_keepalive; /* seconds, 0 = none */
    struct ike_policy *policies;
    size_t npolicies;
    struct pool_set *pools; /* the address book: see above (read through e->conf) */
    struct pool_set *pools6;
    bool pools_moved;       /* no pool changed, or pool_patch: pools and pools6 are NULL until apply
                             * hands the previous generation's over (ike_conf_take_pools) */
    struct pool_patch *pool_patch; /* some IPv4 pools changed: applied to those at apply */
    struct ike_range *pool_ranges; /* every pool's addresses (IPv4 ranges, IPv6 prefixes) */
    size_t npool_ranges;
    struct pki_tp **tps;    /* trustpoints */
    size_t ntps;
    uint8_t (*certreq)[20]; /* every trustpoint's CA key hashes */
    size_t ncertreq;
    struct ike_authz_ent **authz; /* authorization policies, sorted by name */
    size_t nauthz;
    size_t nauthz_built;          /* of them compiled for this generation (the others shared) */
    struct ike_prof *profs;  /* in configuration order */
    size_t nprofs;
    struct ike_keyring *keyrings; /* sorted by name (also the others below) */
    size_t nkeyrings;
    struct ike_certmap *certmaps;
    size_t ncertmaps;
    struct ike_mangler *manglers;
    size_t nmanglers;
    struct ike_ipsec_prof *ipsecs;
    size_t nipsecs;
    struct ike_ipsec_prof ipsec_default; /* a profile without an IPsec profile */
    struct ike_acl *acls;
    size_t nacls;
    struct ike_ppk *ppks; /* sorted by id */
    size_t nppks;
    bool ppk_any;         /* some profile's ppk policy is not none: USE_PPK is answered */
    /* what clients would refuse in our own certificates (ike_certcheck.c) */
    struct ike_cert_warn *cert_warns;
    size_t ncert_warns;
    unsigned int cert_warn_days; /* pki/expiry-warning-days */
    unsigned int pool_alarm_pct; /* pools/usage-alarm-threshold */
};

/* One problem of a profile's signing certificate (pki_server_cert_check). */
struct ike_cert_warn {
    const char *profile;    /* the profile's name (in the tree) */
    const char *trustpoint; /* the signing trustpoint's name */
    struct pki_issue issue;
};
/* Fills c->cert_warns at the end of ike_conf_build (prepare: nothing else). */
void ike_certcheck_build(struct ike_conf *c);

/* Builds a generation from @tree (refs = 1); NULL, with @err called for each
 * problem, when the configuration cannot be used. */
struct ike_conf *ike_conf_build(const struct ly_ctx *ctx, const struct lyd_node *tree, ike_err_fn err, void *arg);
/* The same, sharing with @prev (the generation built from the tree before the
 * transaction; NULL: none) what none of the data paths @changed (@nchanged of
 * them; NULL: everything changed) touches. A path "/" is everything. The
 * result is what ike_conf_build would give; only the checks of the system that
 * an authorization policy's compilation makes (route set interface) are not
 * made again for one that is shared. */
struct ike_conf *ike_conf_build_delta(const struct ly_ctx *ctx, const struct lyd_node *tree,
                                      const struct ike_conf *prev, const char *const *changed, size_t nchanged,
                                      ike_err_fn err, void *arg);
/* ike_pool_conf.c: the address book of c->src into c->pools and c->pools6, or
 * none when no pool changed, or a patch of c->prev's when only IPv4 pools no
 * session leases from changed (c->pools_moved, c->pool_patch); false, with
 * @err called, when it cannot be built (ranges that overlap or are wrong). */
bool ike_pools_compile(struct ike_conf *c, ike_err_fn err, void *arg);
/* An error at @at (a node of the transaction's tree, NULL: none), for the compiling files. */
void ike_errf(ike_err_fn err, void *arg, const struct lyd_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Apply of a generation built with pools_moved: takes @old's address book
 * (@old is the generation it was built against; its sets are NULL after),
 * with the pool patch applied to it. */
void ike_conf_take_pools(struct ike_conf *c, struct ike_conf *old);
/* How a changed data path @p stands to the node at @at (a data path without
 * predicates, e.g. "/raven-vpn:aaa"): IKE_CHG_ABOVE when @p is that node or an
 * ancestor (all of it may have changed), IKE_CHG_BELOW when it lies inside it
 * (*@rest: what follows @at in @p, from its '/' or '['), IKE_CHG_NONE otherwise. */
enum ike_chg_rel { IKE_CHG_NONE, IKE_CHG_ABOVE, IKE_CHG_BELOW };
enum ike_chg_rel ike_chg_relation(const char *p, const char *at, const char **rest);
/* Whether a change of @c's build (c->changed; everything without c->prev)
 * touches the node at @at, as above or below it. */
bool ike_conf_touched(const struct ike_conf *c, const char *at);
/* The keys (name) of the entries of list @list (a data path without
 * predicates) that c->changed touches, sorted, a name possibly twice (*@names,
 * owned: ike_keys_free); false when what changed in @within (the list or a
 * node above it) is not only inside entries of @list (a change of the list
 * itself or above it, or elsewhere in @within, a path not understood), when
 * @c has no previous generation or change set, or out of memory. */
bool ike_changed_keys(const struct ike_conf *c, const char *within, const char *list, char ***names, size_t *n);
void ike_keys_free(char **names, size_t n);
/* Another reference on @c (NULL: none); @c itself. */
struct ike_conf *ike_conf_ref(struct ike_conf *c);
/* Drops a reference; the last one frees the generation. NULL: nothing. */
void ike_conf_unref(struct ike_conf *c);
/* The same, but the last reference leaves the freeing to the next turn of
 * @base's loop (the control thread's), after the commit's reply has gone: a
 * generation of 10 000 pools and policies takes tens of milliseconds to free.
 * It counts as alive until then. Without @base, or when the loop refuses the
 * event, it is freed here. ike_conf_flush frees every generation still
 * waiting (the engine's end: the loop may not turn again). */
void ike_conf_unref_later(struct ike_conf *c, struct event_base *base);
void ike_conf_flush(void);
/* Generations alive in this process (built and not yet freed): for tests and
 * vpn-state. */
size_t ike_conf_alive(void);

/* Lookups in a generation (NULL if none). */
struct pki_tp *ike_conf_tp(const struct ike_conf *c, const char *name);
const struct ike_prof *ike_conf_prof(const struct ike_conf *c, const char *name);
const struct sess_authz_pol *ike_conf_authz(const struct ike_conf *c, const char *name);
const struct ike_acl *ike_conf_acl(const struct ike_conf *c, const char *name);

/* The proposals that apply to requests received on @local in front-door VRF
 * @fvrf ("" or NULL: the default table). */
const struct ike_algs *ike_conf_algs(const struct ike_conf *c, const struct sockaddr_storage *local,
                                     const char *fvrf);
/* Whether a match fvrf value @want (NULL: absent) accepts VRF @fvrf. */
bool ike_conf_fvrf_matches(const char *want, const char *fvrf);
/* Encryption/integrity bits of an algorithm identity name (without prefix); 0 if
 * not implemented. */
uint32_t ike_conf_encr_bit(const char *name);
uint32_t ike_conf_integ_bit(const char *name);
/* The IANA number of a DH group identity name, 0 if not implemented. */
uint16_t ike_conf_group_id(const char *name);

/* Compiling (the files that read the tree: ike_conf.c, ike_authz_conf.c,
 * ike_prof_conf.c, ike_ppk_conf.c): the value of the leaf at @path under @n; the list entry
 * /raven-vpn:@list[name='@name'] (a top-level path), NULL if absent. */
const char *ike_leaf(const struct lyd_node *n, const char *path);
const struct lyd_node *ike_find(const struct lyd_node *tree, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ike_authz_conf.c: compiles the authorization policies of c->src into
 * c->authz, sharing c->prev's where nothing they read changed (false, with
 * @err called, when one cannot be: too many split subnets, a route set
 * interface that does not exist). Needs c->acls and c->tree's aaa. */
bool ike_authz_compile(struct ike_conf *c, ike_err_fn err, void *arg);
/* Drops @c's references on its policies. */
void ike_authz_conf_free(struct ike_conf *c);
/* ike_prof_conf.c: access lists (first, the policies use them), then
 * certificate maps, name manglers, keyrings, IPsec profiles, profiles and the
 * pools' ranges, in that order (profiles refer to the others; trustpoints
 * must be built). False, with @err called, when one cannot be used. */
bool ike_acl_compile(struct ike_conf *c, ike_err_fn err, void *arg);
bool ike_prof_compile(struct ike_conf *c, ike_err_fn err, void *arg);
/* Frees what the two above built. */
void ike_prof_conf_free(struct ike_conf *c);
/* ike_ppk_conf.c: the PPKs of c->tree into c->ppks, and c->ppk_any (after
 * ike_prof_compile); false, with @err called, for a key that is not one.
 * ike_ppk_policy_of: a profile's ppk/policy value (NULL: none). */
bool ike_ppk_compile(struct ike_conf *c, ike_err_fn err, void *arg);
void ike_ppk_conf_free(struct ike_conf *c);
enum ike_ppk_policy ike_ppk_policy_of(const char *v);
/* The PPK named @id (@len octets), NULL if none. */
const struct ike_ppk *ike_conf_ppk(const struct ike_conf *c, const uint8_t *id, size_t len);

#endif
