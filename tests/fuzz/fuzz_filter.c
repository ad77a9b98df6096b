/* Fuzzes NETCONF subtree filtering (api/netconf/nc_filter.c): the input bytes build
 * a filter tree of opaque elements, as libnetconf2 hands the <filter> contents to
 * the server, which is turned into XPath and evaluated against running.
 *
 * The tree is built directly rather than parsed from XML text: libyang 2.1.30's XML
 * parser itself crashes on some malformed RPCs (see api/netconf/README.md, "Known
 * issues"), and this target exists to exercise Raven's own code. */
#include <stdlib.h>
#include <string.h>

#include "api/netconf/nc_api.h"
#include "tests/fuzz/fuzz_common.h"

#define NS_VPN "urn:raven:params:xml:ns:yang:raven-vpn"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"pools", "ipv4-pool", "name", "range", "start", "end", "aaa",
                                    "radius-server", "key", "address", "management", "user", "x", "p1",
                                    "r1", "10.0.0.1"};
static const char *const nss[] = {NS_VPN, NS_VPN, NS_VPN, "urn:ietf:params:xml:ns:netconf:base:1.0", "urn:nope",
                                  ""};
static const char *const values[] = {"", "p1", "r1", "10.0.0.1", "a'b", "a\"b", "'\"", "  \n", "p1]", "*", "x"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env_get();
    struct lyd_node *top = NULL, *cur = NULL, *all = NULL, *sel = NULL;
    struct cfg_errs errs = {0};
    char **xp = NULL;
    int depth = 0;

    /* each byte: 2 bits operation, 6 bits argument */
    for (size_t i = 0; i < size && i < 256; i++) {
        unsigned op = data[i] & 3, arg = data[i] >> 2;
        struct lyd_node *n = NULL;

        if (op == 0 || op == 1) { /* new element: child (0) or sibling (1) */
            struct lyd_node *parent = op == 0 ? cur : (cur ? lyd_parent(cur) : NULL);
            const char *ns = nss[arg % (sizeof(nss) / sizeof(nss[0]))];

            if (op == 0 && depth >= 12)
                continue;
            if (lyd_new_opaq2(parent, env->ctx, names[arg % (sizeof(names) / sizeof(names[0]))], "", NULL,
                              ns[0] ? ns : NULL, &n))
                continue;
            if (!parent && top)
                lyd_insert_sibling(top, n, &top);
            else if (!parent)
                top = n;
            if (op == 0 && cur)
                depth++;
            cur = n;
        } else if (op == 2 && cur && i + 1 < size) { /* leaf child with text, from the next byte */
            unsigned v = data[++i];

            lyd_new_opaq2(cur, env->ctx, names[arg % (sizeof(names) / sizeof(names[0]))],
                          values[v % (sizeof(values) / sizeof(values[0]))], NULL,
                          nss[(v >> 4) % (sizeof(nss) / sizeof(nss[0]))][0] ? nss[(v >> 4) % (sizeof(nss) / sizeof(nss[0]))] : NULL,
                          NULL);
        } else if (op == 3 && cur && lyd_parent(cur)) { /* up */
            cur = lyd_parent(cur);
            depth--;
        }
    }
    if (nc_filter_subtree_xpaths(env->ctx, top, &xp) == 0) {
        cfg_get(env->cfg, CFG_DS_RUNNING, NULL, false, &all, &errs);
        cfg_tree_select(env->cfg, all, (const char *const *)xp, &sel, &errs);
    }
    ly_err_clean(env->ctx, NULL);
    nc_filter_free(xp);
    lyd_free_siblings(top);
    lyd_free_siblings(all);
    lyd_free_siblings(sel);
    cfg_errs_clear(&errs);
    return 0;
}
