/* Fuzzes the decoder of session records read from the session arena
 * (daemon/ike/ike_persist.c): a file left by another process, perhaps corrupt or
 * of another build, must never crash the adopting ravend. A record that decodes
 * is encoded again; that encoding must decode, and encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool decode(const uint8_t *data, size_t size, struct ike_sess *s)
{
    struct ike_persist_extra x;
    bool ok;

    memset(s, 0, sizeof(*s));
    ok = ike_persist_decode(data, size, s, &x);
    ike_persist_extra_fini(&x);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ike_sess a, b;
    uint8_t *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;

    if (decode(data, size, &a) && ike_persist_encode(&a, &e1, &n1)) {
        if (!decode(e1, n1, &b) || !ike_persist_encode(&b, &e2, &n2) || n1 != n2 || memcmp(e1, e2, n1))
            abort();
        ike_persist_clear(&b);
    }
    ike_persist_clear(&a);
    free(e1);
    free(e2);
    return 0;
}
