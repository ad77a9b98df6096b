/* Internals of esp.c that only its tests may use. Not part of the dataplane's
 * interface: nothing outside tests/ includes this file. */
#ifndef RAVEN_DATAPLANE_ESP_INT_H
#define RAVEN_DATAPLANE_ESP_INT_H

#include "dataplane/esp.h"

/* esp_seal() with the IV given (8 bytes for the AEADs, 16 for AES-CBC) instead of
 * chosen, so that published packets can be reproduced byte for byte. TESTS ONLY:
 * a repeated AEAD IV under one key gives away the GCM/Poly1305 authentication
 * key, and a predictable CBC IV opens chosen-plaintext attacks; esp_seal() takes
 * the sequence number and fresh random bytes instead. */
int esp_seal_iv(struct esp_xform *x, uint32_t spi, uint64_t seq, uint8_t next_header, uint8_t *inner, size_t len,
                const uint8_t *iv);

#endif
