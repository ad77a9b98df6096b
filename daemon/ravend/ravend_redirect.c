/* rpc redirect-sessions (raven-vpn): established sessions asked to move to
 * another gateway (RFC 5685 section 6) through the IKEv2 engine
 * (ike_engine_redirect): the input's selector and gateway, the output's
 * counts, and errors an operator can act on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

int ravend_redirect_rpc(struct ike_engine *ike, const struct lyd_node *rpc, struct lyd_node *output,
                        struct cfg_errs *errs)
{
    struct ike_redirect_sel sel = {0};
    const struct lyd_node *n;
    uint32_t moved = 0, unsupported = 0;
    char buf[16];
    int rc;

    LY_LIST_FOR(lyd_child(rpc), n) {
        const char *k = n->schema->name;

        if (!strcmp(k, "all"))
            sel.all = true;
        else if (!strcmp(k, "user"))
            sel.user = lyd_get_value(n);
        else if (!strcmp(k, "count"))
            sel.count = (uint32_t)strtoul(lyd_get_value(n), NULL, 10);
        else if (!strcmp(k, "gateway"))
            sel.gateway = lyd_get_value(n);
    }
    if (!sel.all && !sel.user && !sel.count) {
        cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                    "redirect-sessions needs one of all, user or count");
        return -EINVAL;
    }
    if (!ike) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "the IKEv2 service is not running");
        return -ENODEV;
    }
    rc = ike_engine_redirect(ike, &sel, &moved, &unsupported);
    if (rc == -EINVAL) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, "/raven-vpn:redirect-sessions/gateway",
                    "redirect-sessions: gateway \"%s\" is neither an IP address nor a host name a REDIRECT can carry",
                    sel.gateway);
        return rc;
    }
    if (rc == -ENOENT) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "redirect-sessions: no gateway given and no cluster member to move sessions to; "
                    "give a gateway");
        return rc;
    }
    if (rc) {
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL,
                    "redirect-sessions: out of memory after %u session(s) were asked to move", moved);
        return rc;
    }
    log_info("ravend", "redirect-sessions: %u session(s) asked to move%s%s, %u without redirect support", moved,
             sel.gateway ? " to " : "", sel.gateway ? sel.gateway : "", unsupported);
    snprintf(buf, sizeof(buf), "%u", moved);
    if (lyd_new_term(output, NULL, "redirected", buf, 1, NULL))
        return -ENOMEM;
    snprintf(buf, sizeof(buf), "%u", unsupported);
    return lyd_new_term(output, NULL, "not-supported", buf, 1, NULL) ? -ENOMEM : 0;
}
