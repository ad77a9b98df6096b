/* session-up, session-down and authentication-failure as XML text, without a
 * libyang tree: the same leaves, values and validity as the tree the engine would
 * build (a leaf libyang would refuse is left out, not the event), printed as the
 * front ends parse it. Building, printing and freeing a tree cost more than the
 * rest of the event. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

#define RAVEN_VPN_NS "urn:raven:params:xml:ns:yang:raven-vpn"

struct xb {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct xb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 512);
        char *np;

        while (cap < b->len + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct xb *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Valid UTF-8 of characters XML 1.0 can carry (no C0 controls but tab, LF, CR;
 * no surrogates, U+FFFE or U+FFFF): what a string leaf may hold and the front
 * ends can parse back. */
bool ike_evxml_text_ok(const char *v)
{
    const unsigned char *s = (const unsigned char *)v;

    while (*s) {
        uint32_t c;
        int n;

        if (*s < 0x80) {
            if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
                return false;
            s++;
            continue;
        }
        if ((*s & 0xe0) == 0xc0) {
            c = *s & 0x1f;
            n = 1;
        } else if ((*s & 0xf0) == 0xe0) {
            c = *s & 0x0f;
            n = 2;
        } else if ((*s & 0xf8) == 0xf0) {
            c = *s & 0x07;
            n = 3;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            c = c << 6 | (s[i] & 0x3f);
        }
        if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
            return false;
        s += n + 1;
    }
    return true;
}

static void leaf(struct xb *b, const char *name, const char *v)
{
    if (!v || !ike_evxml_text_ok(v))
        return;
    put(b, "<", 1);
    puts_(b, name);
    put(b, ">", 1);
    for (const char *s = v; *s;) {
        size_t n = strcspn(s, "&<>\r");

        put(b, s, n);
        s += n;
        if (!*s)
            break;
        puts_(b, *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : "&#13;");
        s++;
    }
    put(b, "</", 2);
    puts_(b, name);
    put(b, ">", 1);
}

static void leaf_u64(struct xb *b, const char *name, uint64_t v)
{
    char t[24];

    snprintf(t, sizeof(t), "%" PRIu64, v);
    leaf(b, name, t);
}

/* An enumeration leaf: only a value its type has (libyang would refuse another). */
static void leaf_enum(struct xb *b, const struct lysc_node *notif, const char *name, const char *v)
{
    const struct lysc_node *sn = v && *v ? lys_find_child(notif, notif->module, name, 0, LYS_LEAF, 0) : NULL;
    const struct lysc_type *t = sn ? ((const struct lysc_node_leaf *)sn)->type : NULL;
    LY_ARRAY_COUNT_TYPE i;

    if (!t || t->basetype != LY_TYPE_ENUM)
        return;
    LY_ARRAY_FOR(((const struct lysc_type_enum *)t)->enums, i) {
        if (!strcmp(((const struct lysc_type_enum *)t)->enums[i].name, v)) {
            leaf(b, name, v);
            return;
        }
    }
}

char *ike_evxml(struct ike_sess *s, const char *name, const char *reason, const char *message, size_t *len)
{
    const struct lys_module *m = ly_ctx_get_module_implemented(s->e->ctx, "raven-vpn");
    const struct lysc_node *notif = m ? lys_find_child(NULL, m, name, 0, LYS_NOTIF, 0) : NULL;
    struct xb b = {0};
    char a[INET6_ADDRSTRLEN];

    if (!notif)
        return NULL;
    put(&b, "<", 1);
    puts_(&b, name);
    puts_(&b, " xmlns=\"" RAVEN_VPN_NS "\">");
    if (strcmp(name, "authentication-failure"))
        leaf_u64(&b, "session-id", s->ss.id);
    leaf(&b, "peer-address", ike_addr_str(&s->peer, a, sizeof(a)));
    if (!strcmp(name, "authentication-failure"))
        leaf_u64(&b, "peer-port", ike_port_of(&s->peer));
    leaf(&b, "remote-identity", s->ss.remote_id);
    if (strcmp(name, "session-down"))
        leaf(&b, "eap-identity", s->ss.eap_identity);
    if (!strcmp(name, "session-down")) {
        static const char *const names[4] = {"bytes-in", "bytes-out", "packets-in", "packets-out"};
        uint64_t v[4];

        leaf(&b, "authorized-user", s->ss.user);
        leaf_enum(&b, notif, "reason", reason);
        leaf_u64(&b, "uptime", s->ss.established ? (uint64_t)(time(NULL) - s->ss.established) : 0);
        ike_sess_totals(s, v);
        puts_(&b, "<statistics>");
        for (int i = 0; i < 4; i++)
            leaf_u64(&b, names[i], v[i]);
        puts_(&b, "</statistics>");
    } else if (!strcmp(name, "session-up")) {
        leaf(&b, "authorized-user", s->ss.user);
        leaf(&b, "authorized-group", s->ss.group);
        leaf(&b, "profile", s->ss.profile);
        if (s->ss.have_addr4) {
            struct in_addr ia = {.s_addr = htonl(s->ss.addr4)};
            leaf(&b, "assigned-ipv4", inet_ntop(AF_INET, &ia, a, sizeof(a)));
        }
        if (s->ss.have_addr6) {
            char p6[INET6_ADDRSTRLEN + 4];

            snprintf(p6, sizeof(p6), "%s/%u", inet_ntop(AF_INET6, s->ss.addr6, a, sizeof(a)), s->ss.alen6);
            leaf(&b, "assigned-ipv6", p6);
        }
    } else {
        leaf(&b, "profile", s->ss.profile);
        leaf_enum(&b, notif, "reason", reason);
        leaf(&b, "message", message);
    }
    put(&b, "</", 2);
    puts_(&b, name);
    put(&b, ">", 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
