/* fuzz_dp's model of what the worker may do to an inner packet it forwards or
 * seals: the TTL or hop limit decremented, a TCP SYN's MSS lowered to the SA's
 * tcp_mss, an L4 checksum the sender left to offload completed; nothing else. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_int.h"
#include "fuzz_dp.h"

/* Where an inner packet's L4 checksum and TCP MSS option value lie (0: none), as
 * RFC 793/768 lay them out: TCP or UDP right after the IP header, not a fragment. */
void fuzz_l4_layout(const uint8_t *ip, size_t len, int family, size_t *ck, size_t *mss, uint32_t *pseudo)
{
    size_t hl = family == AF_INET ? (ip[0] & 15) * 4u : 40;
    uint8_t proto = family == AF_INET ? ip[9] : ip[6];

    *ck = *mss = 0;
    if (len < hl || (family == AF_INET && (rd16(ip + 6) & 0x3fff)))
        return;
    *pseudo = family == AF_INET ? sum16(ip + 12, 8) : sum16(ip + 8, 32);
    *pseudo += proto + (uint32_t)(len - hl);
    if (proto == 17 && len - hl >= 8 && rd16(ip + hl + 4) == len - hl) {
        *ck = hl + 6;
    } else if (proto == 6 && len - hl >= 20 && (ip[hl + 12] >> 4) * 4u >= 20 && (ip[hl + 12] >> 4) * 4u <= len - hl) {
        size_t o = hl + 20, end = hl + (ip[hl + 12] >> 4) * 4u;
        *ck = hl + 16;
        while ((ip[hl + 13] & 2) && o < end && ip[o] != 0) {
            if (ip[o] == 1) {
                o++;
                continue;
            }
            if (end - o < 2 || ip[o + 1] < 2 || ip[o + 1] > end - o)
                break;
            if (ip[o] == 2 && ip[o + 1] == 4) {
                *mss = o + 2;
                break;
            }
            o += ip[o + 1];
        }
    }
}

bool fuzz_l4_verifies(const uint8_t *ip, size_t len, size_t ck, uint32_t pseudo)
{
    size_t hl = ck - ((ip[0] >> 4 == 4 ? ip[9] : ip[6]) == 17 ? 6 : 16);
    uint32_t s = pseudo + sum16(ip + hl, len - hl);

    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s == 0xffff;
}

/* An inner packet @got as forwarded from @orig: the same but for the TTL (one less)
 * and, for IPv4, the header checksum (still right if it was); a TCP SYN's MSS may
 * be lowered to FUZZ_MSS, with the checksum updated (still right if it was); with
 * @complete, a checksum left to offload (the pseudo-header sum) is completed. */
void check_ttl_dec_fix(const uint8_t *got_in, const uint8_t *orig, size_t len, int family, bool complete)
{
    static uint8_t got[DP_FRAME_SIZE];
    size_t ck, mss;
    uint32_t pseudo = 0;
    bool clamped = false;

    CHECK(len <= sizeof(got));
    memcpy(got, got_in, len);
    fuzz_l4_layout(orig, len, family, &ck, &mss, &pseudo);
    if (mss && rd16(got + mss) != rd16(orig + mss)) {
        CHECK(rd16(got + mss) == FUZZ_MSS && rd16(orig + mss) > FUZZ_MSS);
        clamped = true;
        memcpy(got + mss, orig + mss, 2);
    }
    if (ck && rd16(got + ck) != rd16(orig + ck)) {
        uint32_t p = pseudo;
        while (p >> 16)
            p = (p & 0xffff) + (p >> 16);
        CHECK(clamped || (complete && (rd16(orig + ck) == p || (p == 0xffff && rd16(orig + ck) == 0))));
        CHECK(!complete || clamped || fuzz_l4_verifies(got_in, len, ck, pseudo));
        memcpy(got + ck, orig + ck, 2);
    }
    if (ck && fuzz_l4_verifies(orig, len, ck, pseudo)) /* the TTL is not in the pseudo-header */
        CHECK(fuzz_l4_verifies(got_in, len, ck, pseudo));
    if (family == AF_INET) {
        size_t ihl = (orig[0] & 15) * 4u;
        CHECK(got[8] == orig[8] - 1);
        CHECK(!memcmp(got, orig, 8) && got[9] == orig[9] && !memcmp(got + 12, orig + 12, len - 12));
        if (sum16(orig, ihl) == 0xffff)
            CHECK(sum16(got, ihl) == 0xffff);
    } else {
        CHECK(got[7] == orig[7] - 1);
        CHECK(!memcmp(got, orig, 7) && !memcmp(got + 8, orig + 8, len - 8));
    }
}
