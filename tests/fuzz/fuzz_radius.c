/* Fuzzes the RADIUS parser (daemon/aaa/radius.c) on what a server or a dynamic
 * authorization client may send: the header and attribute chain, reply and request
 * authenticators, Message-Authenticator, EAP-Message reassembly, vendor attributes
 * and MS-MPPE key decryption; the authorization attributes of an Access-Accept
 * (IETF, Tunnel-Password, cisco-avpair and Raven's raven: pairs such as
 * raven:rate-limit-in) and a Disconnect/CoA request as the dynamic
 * authorization server reads them; the input as one "protocol:attribute=value"
 * pair too, so that the pairs' value parsers see any text, not only what fits
 * a RADIUS packet. */
#include <stdint.h>
#include <string.h>

#include "daemon/aaa/aaa.h"
#include "daemon/aaa/aaa_attrs.h"
#include "daemon/aaa/radius.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t auth[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t eap[RAD_MAX_LEN], key[64];
    struct rad_view v;
    struct rad_attr a;
    size_t pos = 0;

    {
        struct aaa_attrs pair;

        aaa_attrs_init(&pair);
        aaa_attrs_avpair(&pair, (const char *)data, size);
        aaa_attrs_free(&pair);
    }
    if (rad_parse(data, size, &v))
        return 0;
    rad_verify_reply(&v, auth, "secret", 6);
    rad_verify_request(&v, "secret", 6);
    rad_eap(&v, eap, sizeof(eap));
    while (rad_next(&v, &pos, &a)) {
        uint32_t vendor;
        uint8_t vtype;
        const uint8_t *val;
        size_t vl;

        if (rad_vsa(&a, &vendor, &vtype, &val, &vl) && vendor == RAD_VENDOR_MICROSOFT)
            rad_mppe_key(val, vl, "secret", 6, auth, key, sizeof(key));
    }
    {
        struct aaa_attrs at;
        struct aaa_dae req;
        char sid[254], user[254];

        aaa_attrs_init(&at);
        aaa_attrs_parse(&v, "secret", auth, &at);
        aaa_attrs_free(&at);
        aaa_dae_read(&v, &req, sid, user);
        aaa_attrs_free(&req.attrs);
    }
    return 0;
}
