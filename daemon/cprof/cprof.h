/* Client profiles: the file a client platform imports to connect to an IKEv2
 * profile (rpc client-profile): an Apple configuration profile, a Windows
 * PowerShell script or a strongSwan Android profile, built from the running
 * configuration so that its proposals, identities and CA are the ones the
 * headend accepts (docs/clients.md). Runs on the control thread; reads a copy of
 * running, never the compiled generation (nothing here is on an exchange's path).
 */
#ifndef RAVEN_CPROF_H
#define RAVEN_CPROF_H

#include <stddef.h>

struct lyd_node;

struct cprof_req {
    const char *profile;  /* IKEv2 profile name */
    const char *user;     /* EAP identity, or the IKE identity with certificates */
    const char *platform; /* "apple", "windows" or "android" */
    const char *auth;     /* "eap", "certificate" or NULL: eap when accepted */
};

struct cprof_out {
    char *content;            /* the file, NUL-terminated (heap) */
    char *file_name;          /* suggested name (heap) */
    const char *content_type; /* static */
};

/* Builds the file of @req from @tree (running, configuration only; borrowed).
 * Returns 0, or -EINVAL/-ENOENT with a sentence for the operator in @err (what
 * was refused and what to change), or -ENOMEM. @out is filled only on success;
 * release it with cprof_out_fini(). */
int cprof_make(const struct lyd_node *tree, const struct cprof_req *req, struct cprof_out *out, char *err,
               size_t errlen);
void cprof_out_fini(struct cprof_out *out);

#endif
