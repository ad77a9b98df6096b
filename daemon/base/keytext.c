#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "daemon/base/keytext.h"
#include "daemon/base/poison.h"

uint8_t *keytext_octets(const char *v, size_t *len, bool *bad)
{
    size_t n = strlen(v);
    uint8_t *out;

    *bad = !n;
    if (!n)
        return NULL;
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        size_t got = 0;

        v += 2;
        n -= 2;
        /* digits only: OpenSSL's decoder also takes colons between octets */
        if (n % 2 || strspn(v, "0123456789abcdefABCDEF") != n) {
            *bad = true;
            return NULL;
        }
        if (!(out = malloc(n / 2)))
            return NULL;
        if (!OPENSSL_hexstr2buf_ex(out, n / 2, &got, v, '\0') || got != n / 2) {
            OPENSSL_cleanse(out, n / 2);
            free(out);
            *bad = true;
            return NULL;
        }
        *len = n / 2;
        return out;
    }
    if (!(out = malloc(n)))
        return NULL;
    memcpy(out, v, n);
    *len = n;
    return out;
}
