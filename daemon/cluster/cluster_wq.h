/* The member's writes of its own keys (its member key, its sessions' keys):
 * at most one write per key under way, the latest wanted value of each key
 * kept until it is sent (a put then a delete of a session sends only the
 * delete when the put was not sent yet), a bounded number of writes in
 * flight (a resync of thousands of sessions is paced, not queued all at once
 * in libcurl where they would time out), and a write that fails sent again
 * after a back-off (0.5 s doubling to 5 s) until it succeeds, another write
 * of its key replaces it, or the lease changes. Control thread only. */
#ifndef RAVEN_CLUSTER_CLUSTER_WQ_H
#define RAVEN_CLUSTER_CLUSTER_WQ_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct etcd;
struct cluster_wq;

#define CLUSTER_WQ_INFLIGHT 16 /* of the client's 32 connections: the watch, keep-alives and ranges keep theirs */

struct cluster_wq *cluster_wq_new(struct event_base *base, struct etcd *etcd);
/* After etcd_free() (no answer comes any more). */
void cluster_wq_free(struct cluster_wq *q);
/* A new lease (0: none): what is waiting is dropped (the keys are put again
 * under the new lease), answers still due are ignored. */
void cluster_wq_reset(struct cluster_wq *q, int64_t lease);
/* Puts @json (@len bytes, copied) at @key under the lease; -1 when out of memory. */
int cluster_wq_put(struct cluster_wq *q, const char *key, const char *json, size_t len);
int cluster_wq_delete(struct cluster_wq *q, const char *key);
/* Writes waiting or under way; writes that failed so far. */
size_t cluster_wq_pending(const struct cluster_wq *q);
uint64_t cluster_wq_failures(const struct cluster_wq *q);

#endif
