/* Fuzzes the outer reassembly and the inner fragmentation (dataplane/dp_frag.c).
 * The first byte picks what the rest is:
 *   even  a sequence of packets as received, each [time step][length: 2 bytes]
 *         [bytes]: fed to one reassembler (time advancing by the step times
 *         50 ms); a completed datagram must be well formed (within 65535
 *         bytes, its length fields saying its length, IPv4 checksum right,
 *         no fragment fields left) and the counters must add up;
 *   odd   [MTU: 2 bytes] then one IPv4 packet: when it may be fragmented for
 *         that MTU, each piece must fit it and the pieces, fed to a reassembler
 *         last first, must give the packet back. */
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_frag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static struct dp_frag f;
static uint8_t pkt[70000], piece[70000];

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t sum16(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (; len > 1; p += 2, len -= 2)
        sum += rd16(p);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

static void check_done(const uint8_t *d, size_t dlen)
{
    CHECK(dlen <= DP_FRAG_MAX);
    if (d[0] >> 4 == 4) {
        size_t ihl = (d[0] & 15) * 4u;
        CHECK(ihl >= 20 && ihl <= dlen);
        CHECK(rd16(d + 2) == dlen);
        CHECK((rd16(d + 6) & 0x3fff) == 0);
        CHECK(sum16(d, ihl) == 0xffff);
    } else {
        CHECK(d[0] >> 4 == 6);
        CHECK(rd16(d + 4) + 40u == dlen);
        CHECK(d[6] != 44); /* the fragment header is gone (one nested in the payload is the caller's) */
    }
}

static void sequence(const uint8_t *data, size_t size)
{
    uint64_t now = 0;
    const uint8_t *d;
    size_t dlen, done = 0;

    memset(&f.ctr, 0, sizeof(f.ctr));
    dp_frag_expire(&f, UINT64_MAX); /* what the last input left goes: every datagram is older */
    memset(&f.ctr, 0, sizeof(f.ctr));
    now = UINT64_MAX / 2;
    while (size >= 3) {
        size_t len = rd16(data + 1);
        now += data[0] * 50000000ull;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        memcpy(pkt, data, len); /* the reassembler may not read past @len */
        if (dp_frag_add(&f, now, pkt, len, &d, &dlen) == DP_FRAG_DONE) {
            check_done(d, dlen);
            done++;
        }
        data += len;
        size -= len;
    }
    CHECK(f.ctr.reassembled == done);
}

static void split(const uint8_t *data, size_t size)
{
    unsigned mtu;
    size_t n, len;
    const uint8_t *d = NULL;
    size_t dlen = 0;
    enum dp_frag_rc rc = DP_FRAG_NOT;

    if (size < 22)
        return;
    mtu = rd16(data);
    data += 2;
    size -= 2;
    /* a well-formed IPv4 header as the worker checks it before splitting */
    if (data[0] >> 4 != 4 || (data[0] & 15) < 5 || rd16(data + 2) > size || rd16(data + 2) < (data[0] & 15) * 4u)
        return;
    len = rd16(data + 2);
    memcpy(pkt, data, len);
    n = dp_frag4_count(pkt, len, mtu);
    if (!n)
        return;
    CHECK(n <= DP_FRAG4_MAX_PIECES);
    /* what the last input left goes (it was added at UINT64_MAX / 2 or later:
     * expiring at that time kept it, and a datagram of the same addresses and
     * ID could then complete with another input's pieces) */
    dp_frag_expire(&f, UINT64_MAX);
    for (size_t k = n; k-- > 1;) {
        size_t pl = dp_frag4_piece(pkt, len, mtu, k, piece);
        CHECK(pl <= mtu && rd16(piece + 2) == pl && sum16(piece, 20) == 0xffff);
        rc = dp_frag_add(&f, UINT64_MAX / 2, piece, pl, &d, &dlen);
    }
    size_t pl = dp_frag4_piece(pkt, len, mtu, 0, pkt);
    CHECK(pl <= mtu || n == 1);
    if (n == 1)
        return;
    rc = dp_frag_add(&f, UINT64_MAX / 2, pkt, pl, &d, &dlen);
    /* an inner packet that was itself a non-first fragment does not complete */
    if (rc == DP_FRAG_DONE) {
        check_done(d, dlen);
        CHECK(!memcmp(d + (d[0] & 15) * 4u, data + (data[0] & 15) * 4u, len - (data[0] & 15) * 4u));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!f.mem && dp_frag_init(&f))
        abort();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        split(data + 1, size - 1);
    else
        sequence(data + 1, size - 1);
    return 0;
}
