/* The octets of a key written as text in the configuration or a RADIUS
 * attribute: "0x" and an even number of hex digits gives those octets, any
 * other text its own. */
#ifndef RAVEN_BASE_KEYTEXT_H
#define RAVEN_BASE_KEYTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A new buffer of *len octets (the caller wipes and frees it), or NULL: with
 * *bad set when the text is empty or its hex is bad, else out of memory. */
uint8_t *keytext_octets(const char *v, size_t *len, bool *bad);

#endif
