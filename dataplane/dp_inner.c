/* Fix-ups of inner TCP/UDP packets the workers carry: completing checksums left
 * to offload by the inside sender, and clamping the MSS of TCP SYNs to a session's
 * limit. Both work on a whole IP packet in place and leave anything they do not
 * understand untouched. */
#include <string.h>
#include <sys/socket.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_bytes.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_SYN 0x02
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2

static inline uint32_t fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

/* The ones' complement sum of @len bytes (big-endian 16-bit words), folded to
 * 16 bits (dp_bytes.h: eight bytes per add). */
static inline uint64_t sum_bytes(const uint8_t *p, size_t len)
{
    return csum_sum(p, len);
}

/* The L4 header of an IPv4 or IPv6 packet of @len bytes (its total length): TCP
 * or UDP, not a fragment (IPv4), directly after the fixed header (IPv6: a packet
 * with extension headers is left alone); NULL otherwise. @pseudo gets the
 * pseudo-header sum (RFC 793, RFC 768, RFC 8200 8.1), @l4len the L4 length. */
static uint8_t *l4_of(uint8_t *ip, size_t len, int family, uint8_t *proto, uint64_t *pseudo, size_t *l4len)
{
    size_t hl;

    if (family == AF_INET) {
        hl = (ip[0] & 15) * 4u;
        if (hl < 20 || len < hl || (rd16(ip + 6) & 0x3fff))
            return NULL;
        *proto = ip[9];
        *l4len = len - hl;
        *pseudo = sum_bytes(ip + 12, 8) + *proto + *l4len;
    } else {
        hl = 40;
        if (len < hl)
            return NULL;
        *proto = ip[6];
        *l4len = len - hl;
        *pseudo = sum_bytes(ip + 8, 32) + *proto + *l4len;
    }
    if (*proto == IPPROTO_TCP_ && *l4len >= 20 && (ip[hl + 12] >> 4) * 4u >= 20 && (ip[hl + 12] >> 4) * 4u <= *l4len)
        return ip + hl;
    if (*proto == IPPROTO_UDP_ && *l4len >= 8 && rd16(ip + hl + 4) == *l4len)
        return ip + hl;
    return NULL;
}

bool dp_inner_csum_complete(uint8_t *ip, size_t len, int family)
{
    uint8_t proto, *l4, *ck;
    uint64_t pseudo, sum;
    size_t l4len;
    uint32_t p, c;

    if (!(l4 = l4_of(ip, len, family, &proto, &pseudo, &l4len)))
        return false;
    ck = l4 + (proto == IPPROTO_TCP_ ? 16 : 6);
    p = fold(pseudo);
    c = rd16(ck);
    /* CHECKSUM_PARTIAL leaves the folded pseudo-header sum, not inverted, where
     * the checksum goes (the NIC adds the data and inverts). Anything else is a
     * sender's checksum, right or wrong, and stays as it is. */
    if (c != p && !(p == 0xffff && c == 0))
        return false;
    /* a complete checksum can equal that sum by chance (1 in 65536): it verifies.
     * One pass over the segment: its sum less the field is the data's sum. */
    sum = pseudo + sum_bytes(l4, l4len);
    if (fold(sum) == 0xffff)
        return false;
    c = ~fold(sum + (uint16_t)~c) & 0xffff;
    if (proto == IPPROTO_UDP_ && c == 0)
        c = 0xffff; /* 0 means "no checksum" in UDP (RFC 768) */
    wr16(ck, (uint16_t)c);
    return true;
}

bool dp_inner_mss_clamp(uint8_t *ip, size_t len, int family, uint16_t mss)
{
    uint8_t proto, *tcp, *o, *end;
    uint64_t pseudo;
    size_t l4len;

    if (!mss || !(tcp = l4_of(ip, len, family, &proto, &pseudo, &l4len)) || proto != IPPROTO_TCP_ ||
        !(tcp[13] & TCP_SYN))
        return false;
    end = tcp + (tcp[12] >> 4) * 4u;
    for (o = tcp + 20; o < end;) {
        if (*o == TCP_OPT_EOL)
            break;
        if (*o == TCP_OPT_NOP) {
            o++;
            continue;
        }
        if (end - o < 2 || o[1] < 2 || o[1] > end - o)
            break;
        if (*o == TCP_OPT_MSS && o[1] == 4) {
            uint16_t old = rd16(o + 2), m_old = old, m_new = mss;
            uint32_t s;

            if (old <= mss)
                return false;
            /* at an odd offset the value straddles two checksum words: it adds
             * to the sum byte-swapped */
            if ((o + 2 - tcp) & 1) {
                m_old = (uint16_t)(old << 8 | old >> 8);
                m_new = (uint16_t)(mss << 8 | mss >> 8);
            }
            /* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') */
            s = (uint16_t)~rd16(tcp + 16) + (uint16_t)~m_old + (uint32_t)m_new;
            wr16(o + 2, mss);
            wr16(tcp + 16, (uint16_t)~fold(s));
            return true;
        }
        o += o[1];
    }
    return false;
}
