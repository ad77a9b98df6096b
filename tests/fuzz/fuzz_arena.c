/* Fuzzes the session arena's loader (daemon/session/sess_arena.c): the checks
 * sess_arena_open() makes on a file left by an earlier ravend (header, regions,
 * every record slot), on any bytes the file may hold. Each input is checked as
 * it is, then with its header checksum made right (README "File format": CRC32C
 * of bytes 0..323 at 324), so that mutated counts, sizes and offsets reach the
 * checks behind the checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/session/sess_arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32c(const uint8_t *p, size_t len)
{
    uint32_t crc = ~0u;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    uint8_t *copy;
    uint32_t crc;

    sess_arena_check(data, size, "/run/raven", why, sizeof(why));
    if (size < 4096 || !(copy = malloc(size)))
        return 0;
    memcpy(copy, data, size);
    crc = crc32c(copy, 324);
    memcpy(copy + 324, &crc, 4);
    sess_arena_check(copy, size, "/run/raven", why, sizeof(why));
    free(copy);
    return 0;
}
