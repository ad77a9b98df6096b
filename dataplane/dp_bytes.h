/* Reading and writing the big-endian fields of packet headers, and the Internet
 * checksum (RFC 1071), for the dataplane's packet code. */
#ifndef RAVEN_DATAPLANE_DP_BYTES_H
#define RAVEN_DATAPLANE_DP_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

/* The one's complement of the one's complement sum of @p, starting from @sum
 * (a pseudo-header's, or 0). */
static inline uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (; len > 1; p += 2, len -= 2)
        sum += rd16(p);
    if (len)
        sum += p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The sum of an IPv6 pseudo-header (RFC 8200 8.1): the addresses of @ip6, the
 * upper-layer length @len and next header @proto, to start csum() with. */
static inline uint32_t csum_pseudo6(const uint8_t *ip6, uint32_t len, uint8_t proto)
{
    uint32_t sum = len + proto;

    for (int i = 8; i < 40; i += 2)
        sum += rd16(ip6 + i);
    return sum;
}

#endif
