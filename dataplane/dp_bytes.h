/* Reading and writing the big-endian fields of packet headers, and the Internet
 * checksum (RFC 1071), for the dataplane's packet code. */
#ifndef RAVEN_DATAPLANE_DP_BYTES_H
#define RAVEN_DATAPLANE_DP_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* @s + @v with the carry out of bit 63 added back in (end-around carry). */
static inline uint64_t csum_add64(uint64_t s, uint64_t v)
{
    s += v;
    return s + (s < v);
}

typedef uint32_t dp_u32x4 __attribute__((vector_size(16)));

/* The ones' complement sum of the @len bytes at @p taken as big-endian 16-bit
 * words (a last odd byte padded with a zero), folded to 16 bits, not inverted
 * (RFC 1071). Ones' complement addition is addition modulo 0xffff (but for the
 * two zeros), and 2^16 = 1 modulo 0xffff, so the 16-bit words may be summed in
 * any grouping: 32 bytes per round as eight 32-bit lanes split into their 16-bit
 * halves (SSE2 on x86-64; a lane takes at most 0xffff per round, so it cannot
 * overflow within a block of 2 MiB), then 8, 4, 2 and 1 bytes with end-around
 * carry. Words are loaded in native order: their sum is the big-endian sum
 * byte-swapped (RFC 1071 2(B)), whatever the alignment of @p. Equal to the
 * byte-wise sum for every input, 0 only for all-zero bytes. */
static inline uint16_t csum_sum(const uint8_t *p, size_t len)
{
    uint64_t r = 0, v;
    uint32_t v32;
    uint16_t v16;
    uint8_t b2[2];

    while (len >= 32) {
        dp_u32x4 lo1 = {0}, hi1 = {0}, lo2 = {0}, hi2 = {0}, x, y;
        size_t n = len < ((size_t)1 << 21) ? len : ((size_t)1 << 21);

        len -= n & ~(size_t)31;
        for (; n >= 32; p += 32, n -= 32) {
            memcpy(&x, p, 16);
            memcpy(&y, p + 16, 16);
            lo1 += x & 0xffff;
            hi1 += x >> 16;
            lo2 += y & 0xffff;
            hi2 += y >> 16;
        }
        for (int i = 0; i < 4; i++) /* each lane may be near 2^32: summed in 64 bits */
            r = csum_add64(r, (uint64_t)lo1[i] + hi1[i] + lo2[i] + hi2[i]);
    }
    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&v, p, 8);
        r = csum_add64(r, v);
    }
    if (len >= 4) {
        memcpy(&v32, p, 4);
        r = csum_add64(r, v32);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        memcpy(&v16, p, 2);
        r = csum_add64(r, v16);
        p += 2;
        len -= 2;
    }
    if (len) {
        uint8_t last[2] = {p[0], 0};
        memcpy(&v16, last, 2);
        r = csum_add64(r, v16);
    }
    r = (r & 0xffffffffu) + (r >> 32);
    r = (r & 0xffffu) + (r >> 16);
    r = (r & 0xffffu) + (r >> 16);
    r = (r & 0xffffu) + (r >> 16);
    v16 = (uint16_t)r;
    memcpy(b2, &v16, 2); /* the native-order sum back to bytes, read big-endian */
    return rd16(b2);
}

/* The one's complement of the one's complement sum of @p, starting from @sum
 * (a pseudo-header's, or 0). */
static inline uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
    uint64_t s = (uint64_t)sum + csum_sum(p, len);

    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
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
