/* ICMP errors a worker sends back to an inside sender whose packet does not fit
 * the tunnel: "fragmentation needed" (IPv4 with DF) and "packet too big" (IPv6),
 * built in a frame of the worker's pool and sent on the interface the packet came
 * from, to the MAC it came from. */
#include <netinet/in.h>
#include <string.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_bytes.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd

/* ICMP "fragmentation needed" (RFC 792, RFC 1191) back to the inside sender of an
 * IPv4 packet with DF that does not fit the tunnel, sent on the interface it came
 * from to the MAC it came from. */
/* Whether an ICMP error may answer this IPv4 packet (RFC 1812 4.3.2.7): not an
 * ICMP error itself, not a non-first fragment, from a unicast source. */
static bool icmp4_may_answer(const uint8_t *ip)
{
    size_t ihl = (ip[0] & 15) * 4u;
    uint8_t a = ip[12];

    if (rd16(ip + 6) & 0x1fff)
        return false;
    if (ip[9] == IPPROTO_ICMP && rd16(ip + 2) > ihl) {
        uint8_t type = ip[ihl];
        if (type == 3 || type == 4 || type == 5 || type == 11 || type == 12)
            return false;
    }
    if (a == 0 || a == 127 || a >= 224 || !memcmp(ip + 12, "\xff\xff\xff\xff", 4))
        return false;
    return true;
}

void dp_icmp_frag_needed(struct dp_worker *w, struct dp_xs *xs, const uint8_t *pkt, size_t len, unsigned mtu)
{
    const uint8_t *ip = pkt + ETH_HLEN;
    size_t quote = len - ETH_HLEN < 548 ? len - ETH_HLEN : 548;
    uint8_t *r, *rip, *icmp;
    uint64_t fa;

    if (!xs->has_addr4 || !w->nfree || !icmp4_may_answer(ip))
        return;
    if (mtu < 68)
        mtu = 68; /* the least an IPv4 path may have (RFC 791) */
    fa = w->free[--w->nfree];
    r = (uint8_t *)w->area + fa + 256;
    memcpy(r, pkt + 6, 6); /* back to the sender's MAC, from ours */
    memcpy(r + 6, pkt, 6);
    wr16(r + 12, ETH_P_IPV4);
    rip = r + ETH_HLEN;
    memset(rip, 0, IP4_HLEN);
    rip[0] = 0x45;
    rip[1] = 0xc0; /* internetwork control */
    wr16(rip + 2, IP4_HLEN + 8 + quote);
    wr16(rip + 4, w->ip_id++);
    rip[8] = 64;
    rip[9] = IPPROTO_ICMP;
    memcpy(rip + 12, &xs->addr4, 4);
    memcpy(rip + 16, ip + 12, 4);
    wr16(rip + 10, csum(rip, IP4_HLEN, 0));
    icmp = rip + IP4_HLEN;
    memset(icmp, 0, 8);
    icmp[0] = 3; /* destination unreachable */
    icmp[1] = 4; /* fragmentation needed and DF set */
    wr16(icmp + 6, mtu);
    memcpy(icmp + 8, ip, quote);
    wr16(icmp + 2, csum(icmp, 8 + quote, 0));
    dp_tx_stage(w, xs, r, ETH_HLEN + IP4_HLEN + 8 + quote);
}

/* ICMPv6 "packet too big" (RFC 4443 3.2) back to the inside sender of an IPv6
 * packet that does not fit the tunnel: IPv6 routers do not fragment. Not for
 * ICMPv6 errors or multicast/unspecified sources (RFC 4443 2.4). */
void dp_icmp_too_big(struct dp_worker *w, struct dp_xs *xs, const uint8_t *pkt, size_t len, unsigned mtu)
{
    const uint8_t *ip = pkt + ETH_HLEN;
    size_t quote = len - ETH_HLEN < 1280 - 40 - 8 ? len - ETH_HLEN : 1280 - 40 - 8;
    static const uint8_t unspec[16];
    uint8_t *r, *rip, *icmp;
    uint64_t fa;

    if (!xs->has_addr6 || !w->nfree || ip[8] == 0xff || !memcmp(ip + 8, unspec, 16) ||
        (ip[6] == 58 && rd16(ip + 4) && ip[40] < 128))
        return;
    if (mtu < 1280)
        mtu = 1280; /* the IPv6 minimum (RFC 8200 5) */
    fa = w->free[--w->nfree];
    r = (uint8_t *)w->area + fa + 256;
    memcpy(r, pkt + 6, 6);
    memcpy(r + 6, pkt, 6);
    wr16(r + 12, ETH_P_IPV6);
    rip = r + ETH_HLEN;
    memset(rip, 0, 40);
    rip[0] = 0x60;
    wr16(rip + 4, (uint16_t)(8 + quote));
    rip[6] = 58; /* ICMPv6 */
    rip[7] = 255;
    memcpy(rip + 8, &xs->addr6, 16);
    memcpy(rip + 24, ip + 8, 16);
    icmp = rip + 40;
    memset(icmp, 0, 8);
    icmp[0] = 2; /* packet too big */
    icmp[4] = mtu >> 24;
    icmp[5] = (mtu >> 16) & 0xff;
    icmp[6] = (mtu >> 8) & 0xff;
    icmp[7] = mtu & 0xff;
    memcpy(icmp + 8, ip, quote);
    wr16(icmp + 2, csum(icmp, 8 + quote, csum_pseudo6(rip, (uint32_t)(8 + quote), 58)));
    dp_tx_stage(w, xs, r, ETH_HLEN + 40 + 8 + quote);
}
