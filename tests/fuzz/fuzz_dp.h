/* Shared by the files of the fuzz_dp target (fuzz_dp.c: inputs, the worker and
 * what it staged; fuzz_dp_inner.c: what may become of an inner packet). */
#ifndef RAVEN_TESTS_FUZZ_FUZZ_DP_H
#define RAVEN_TESTS_FUZZ_FUZZ_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "fuzz_dp: %s:%d: invariant broken: %s\n", __FILE__, __LINE__, #c);                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#define FUZZ_MSS 1000 /* the tcp_mss of SAs 0x1003 and 0x2003 */

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The ones' complement sum, folded (0xffff: a checksum that verifies). */
static inline uint16_t sum16(const uint8_t *p, size_t len)
{
    uint32_t s = 0;

    for (; len > 1; p += 2, len -= 2)
        s += rd16(p);
    if (len)
        s += p[0] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Where an inner packet's L4 checksum and TCP MSS option value lie (0: none). */
void fuzz_l4_layout(const uint8_t *ip, size_t len, int family, size_t *ck, size_t *mss, uint32_t *pseudo);
bool fuzz_l4_verifies(const uint8_t *ip, size_t len, size_t ck, uint32_t pseudo);
/* @got_in is @orig (@len bytes, @family) as the worker may have changed it (with
 * @complete, a checksum left to offload completed); aborts otherwise. */
void check_ttl_dec_fix(const uint8_t *got_in, const uint8_t *orig, size_t len, int family, bool complete);

#endif
