/* The IKEv2 responder service of ravend (DESIGN.md "IKEv2 engine"): UDP sockets on
 * the IKE and NAT-T ports, the IKE SA table, the exchanges, sessions with their
 * leases and child SAs (handed to the dataplane through dataplane/dp.h), timers
 * for liveness and lifetimes, counters, and the operational state of it all.
 *
 * Configuration arrives as a data tree of raven-vpn (the ikev2, ipsec, pools,
 * access-lists and pki subtrees) through prepare/apply/abort, the datastore's
 * transaction hooks: prepare compiles it, opens new sockets and moves the pool
 * leases of live sessions into the new pools, refusing a change that would take
 * an address away from a session; apply switches over and cannot fail. Sessions
 * keep what they negotiated; new sessions use the new configuration.
 *
 * Everything runs on the control thread's libevent loop. */
#ifndef RAVEN_IKE_ENGINE_H
#define RAVEN_IKE_ENGINE_H

#include <event2/event.h>
#include <libyang/libyang.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dp;
struct ike_engine;

/* Errors found in prepare: @path (a data path, may be NULL) and a message. */
typedef void (*ike_err_fn)(void *arg, const char *path, const char *msg);
/* A YANG notification of raven-vpn (session-up, session-down,
 * authentication-failure), adopted by the callee. */
typedef void (*ike_event_fn)(struct lyd_node *notif, void *arg);

struct ike_engine *ike_engine_new(struct event_base *base, const struct ly_ctx *ctx, struct dp *dp);
/* Ends every session (a DELETE goes to each peer), closes the sockets. */
void ike_engine_free(struct ike_engine *e);
/* The crypto threads that compute IKE_SA_INIT's Diffie-Hellman and keys
 * (daemon/base/cpool.h) while this thread keeps the state machine: @n threads,
 * IKE_CRYPTO_THREADS_AUTO one per CPU this process may run on (its affinity
 * mask, at most IKE_CRYPTO_THREADS_MAX), 0 none (the default: computed
 * inline, as unit tests and fuzzers do). Their queue holds
 * IKE_CRYPTO_QUEUE_PER_THREAD jobs a thread (at least IKE_CRYPTO_QUEUE_MIN);
 * from half full on, new IKE_SA_INITs must bring a cookie and a source
 * address may have at most a quarter of the queue, and when it is full they
 * are dropped (vpn-state ike-counters/crypto-pool). Once, before the first
 * datagram. 0, or
 * -EINVAL (an explicit @n over IKE_CRYPTO_THREADS_MAX, or called again),
 * -ENOMEM (or a thread would not start). */
#define IKE_CRYPTO_THREADS_AUTO (~0u)
#define IKE_CRYPTO_THREADS_MAX 256u
#define IKE_CRYPTO_QUEUE_PER_THREAD 64u
#define IKE_CRYPTO_QUEUE_MIN 128u
int ike_engine_set_crypto_threads(struct ike_engine *e, unsigned n);
/* The threads IKE_CRYPTO_THREADS_AUTO starts given @cpus usable CPUs (the
 * process's affinity mask): one a CPU, at least 1, at most
 * IKE_CRYPTO_THREADS_MAX. */
unsigned ike_crypto_threads_auto(unsigned cpus);
void ike_engine_set_event(struct ike_engine *e, ike_event_fn fn, void *arg);
/* Asked (with the event's @arg) before session-up, session-down or
 * authentication-failure is built: false and it is not built (nobody subscribes;
 * the callee still learns that the event happened from this call). */
typedef bool (*ike_event_wanted_fn)(const char *name, void *arg);
void ike_engine_set_event_wanted(struct ike_engine *e, ike_event_wanted_fn fn);
/* With this hook set, session-up, session-down and authentication-failure are
 * handed over as XML text (@xml, @len bytes, borrowed: the notification element
 * "<NAME xmlns=raven-vpn's namespace>...", as libyang would print the tree)
 * instead of a tree: no tree is built. Other events still go to ike_event_fn. */
typedef void (*ike_event_xml_fn)(const char *name, const char *xml, size_t len, void *arg);
void ike_engine_set_event_xml(struct ike_engine *e, ike_event_xml_fn fn);
struct aaa;
/* The AAA service for EAP, authorization from RADIUS, accounting and dynamic
 * authorization (it outlives the engine); also registers the engine as its
 * dynamic authorization handler. */
void ike_engine_set_aaa(struct ike_engine *e, struct aaa *aaa);
struct pki_crl;
/* CRL fetching and cache (it outlives the engine): client certificates are
 * checked against its CRLs, the trustpoints' crl-url sources follow each applied
 * configuration, and the engine registers as its listener: clients waiting for a
 * first CRL are answered and sessions whose certificate a new CRL revokes end
 * (reason certificate-revoked). */
void ike_engine_set_crl(struct ike_engine *e, struct pki_crl *crl);

/* Sessions' routes go into the kernel from now on (route redistribute, route
 * accept; protocol 245 on rtnetlink); routes of that protocol left by an earlier
 * run are flushed first. 0 or -errno (no netlink socket). Without this call (unit
 * tests) no kernel route is touched. */
int ike_engine_routes_start(struct ike_engine *e);

/* Transaction hooks. @tree is the whole new running tree (borrowed). Prepare
 * compiles it, copies the live sessions' leases into the new pools (refusing a
 * change that takes one away) and binds the new IKE sockets, which are read only
 * from apply on; nothing that runs changes before apply. With @dry_run the
 * sockets are bound and closed at once (a check): only abort may follow. */
int ike_engine_prepare(struct ike_engine *e, const struct lyd_node *tree, bool dry_run, ike_err_fn err, void *arg);
/* The same, told what changed since the configuration in force was prepared:
 * @changed, the data paths of the nodes the transaction created, modified,
 * replaced or deleted, and those its validation added or removed (@nchanged of
 * them; "/" is everything; NULL: everything changed). The new configuration then
 * shares with the one in force what none of them touches (ike_conf.h). */
int ike_engine_prepare_changed(struct ike_engine *e, const struct lyd_node *tree, const char *const *changed,
                               size_t nchanged, bool dry_run, ike_err_fn err, void *arg);
void ike_engine_apply(struct ike_engine *e);
void ike_engine_abort(struct ike_engine *e);

/* Which part of the state a read wants (ravend fills it from the management
 * request): the session list (all, one by id, or a page in ascending id order:
 * at most @limit entries (0: no limit) after skipping @offset, starting after id
 * @cursor when @has_cursor), and/or the rest (pools, counters). */
struct ike_state_sel {
    bool sessions, count_only, others, one, paged, has_cursor;
    uint64_t id, limit, offset, cursor;
    uint64_t total, remaining, next; /* out: sessions up, after the page, next cursor */
};

/* Adds the operational state (sessions, pools, IKE counters) under the
 * vpn-state container @state; @sel NULL: all of it. -ENOMEM when a page of
 * the session list cannot be sorted (nothing added then). */
int ike_engine_state(struct ike_engine *e, struct lyd_node *state, struct ike_state_sel *sel);

/* clear-session: ends the sessions selected (a DELETE goes to each peer).
 * Exactly one selector: @id != 0, @peer (address text), @identity, or @all.
 * Returns how many were cleared. */
uint32_t ike_engine_clear(struct ike_engine *e, uint64_t id, const char *peer, const char *identity, bool all);
/* Test and fuzzing seam: processes one datagram as if it had arrived from @peer
 * on @local (the NAT-T port with @natt, the non-ESP marker already removed), and
 * hands every datagram the engine sends to @out instead of a socket when @out is
 * set. */
typedef void (*ike_output_fn)(const struct sockaddr_storage *peer, const uint8_t *buf, size_t len, void *arg);
void ike_engine_set_output(struct ike_engine *e, ike_output_fn out, void *arg);
void ike_engine_input(struct ike_engine *e, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                      bool natt, const uint8_t *buf, size_t len);

/* IKEv2 redirect (RFC 5685). Asked at IKE_SA_INIT, after the cookie and limit
 * checks and before any expensive work, for a client that announced
 * REDIRECT_SUPPORTED and did not come with REDIRECTED_FROM, when no static
 * ikev2/global/redirect/gateway applies: @local is the address the request
 * arrived at (IP_PKTINFO), @remote the client's. true with @gw (an IP address
 * literal or an FQDN, NUL-terminated) to redirect. */
typedef bool (*ike_redirect_init_fn)(void *arg, const struct sockaddr *local, const struct sockaddr *remote,
                                     char *gw, size_t gwlen);
/* For rpc redirect-sessions without a gateway: where to move one established
 * session (another member); false when there is none. */
typedef bool (*ike_redirect_other_fn)(void *arg, char *gw, size_t gwlen);
void ike_engine_set_redirect_hooks(struct ike_engine *e, ike_redirect_init_fn init, ike_redirect_other_fn other,
                                   void *arg);
/* rpc redirect-sessions: an INFORMATIONAL request carrying REDIRECT (RFC 5685
 * section 6, no nonce) to each selected established session whose client
 * announced redirect support (after our request under way, if any); the
 * session stays until its client deletes it. Exactly one selector: @all,
 * @user (the authorized user, else the EAP identity, else the IKE identity,
 * ASCII case ignored) or @count (the oldest first); @gateway, else the other
 * hook for each session. 0 with the counts in @redirected / @not_supported;
 * -EINVAL (@gateway is no address or name), -ENOENT (no gateway and nowhere to
 * move them: nothing was sent). */
struct ike_redirect_sel {
    bool all;
    const char *user;
    uint32_t count;
    const char *gateway;
};
int ike_engine_redirect(struct ike_engine *e, const struct ike_redirect_sel *sel, uint32_t *redirected,
                        uint32_t *not_supported);

/* clear-counters for the IKE scope. */
void ike_engine_clear_counters(struct ike_engine *e);

/* The certificate-expiring alarms of the configuration in force checked
 * again (they are at each commit; a certificate comes closer to its end
 * between commits). */
void ike_engine_check_certs(struct ike_engine *e);

/* The session arena (daemon/session/sess_arena.h, borrowed: it outlives the
 * engine): each established session's record and its child SAs' changing state
 * are kept there, so that a new ravend takes the sessions over. Set before any
 * session exists. */
struct sess_arena;
void ike_engine_set_arena(struct ike_engine *e, struct sess_arena *a);
/* Takes over the sessions an earlier process left in the arena, in two phases.
 * ike_engine_adopt_begin(), before the configuration is applied: every record
 * that decodes becomes a session again, its child SAs back in the dataplane
 * where their sequence numbers and replay windows were (so that the dataplane's
 * XDP programs, applied with the configuration, start with every client
 * prefix), its kernel routes installed; unreadable records are dropped.
 * ike_engine_adopt(), once the configuration is applied: each session whose IKE
 * address is still listened on, whose profile is still configured and whose
 * addresses its pools still hold goes on where it was (same SPIs, keys, message
 * IDs, leases, accounting session: timers armed again); the others are ended (a
 * DELETE to the client, accounting Stop), as all are with @fresh. */
struct ike_adopt_result {
    uint32_t adopted, ended, unreadable;
};
void ike_engine_adopt_begin(struct ike_engine *e, struct ike_adopt_result *res);
void ike_engine_adopt(struct ike_engine *e, bool fresh, struct ike_adopt_result *res);
/* At exit: the sessions stay in the arena for the next process (ike_engine_free
 * then sends no DELETE and no accounting Stop and gives no lease back). Without
 * an arena, nothing changes: the sessions end at ike_engine_free. */
void ike_engine_keep_sessions(struct ike_engine *e);

#endif
