/* The choice of ESP's crypto backend (dp.h dp_set_crypto_backend): a thin layer
 * over esp.h's process-wide default that logs the ipsec-mb probe and self-test
 * once and keeps what was configured for the operational state. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "daemon/base/log.h"
#include "dataplane/dp.h"
#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

static _Atomic int configured = DP_CRYPTO_AUTO;
static atomic_flag logged = ATOMIC_FLAG_INIT;

/* Probes ipsec-mb (its self-test runs on the first call) and logs the outcome once. */
static bool mb_usable(void)
{
    const char *why;
    bool ok = esp_crypto_mb_probe(&why);

    if (!atomic_flag_test_and_set(&logged)) {
        if (ok)
            log_info("dataplane", "ESP crypto: intel-ipsec-mb (%s) usable, %s", esp_crypto_mb_arch(), why);
        else
            log_warn("dataplane", "ESP crypto: intel-ipsec-mb not used: %s; OpenSSL EVP instead", why);
    }
    return ok;
}

int dp_check_crypto_backend(enum dp_crypto_backend b, char *err, size_t errlen)
{
    const char *why;

    if (b != DP_CRYPTO_AUTO && b != DP_CRYPTO_OPENSSL && b != DP_CRYPTO_IPSEC_MB) {
        snprintf(err, errlen, "unknown crypto backend %d", (int)b);
        return -EINVAL;
    }
    if (mb_usable() || b != DP_CRYPTO_IPSEC_MB)
        return 0;
    esp_crypto_mb_probe(&why);
    snprintf(err, errlen, "crypto-backend ipsec-mb is not usable here: %s", why);
    return -ENOTSUP;
}

int dp_set_crypto_backend(struct dp *dp, enum dp_crypto_backend b, char *err, size_t errlen)
{
    static const enum esp_backend map[] = {[DP_CRYPTO_AUTO] = ESP_BACKEND_AUTO,
                                           [DP_CRYPTO_OPENSSL] = ESP_BACKEND_OPENSSL,
                                           [DP_CRYPTO_IPSEC_MB] = ESP_BACKEND_IPSEC_MB};
    int rc = dp_check_crypto_backend(b, err, errlen);

    (void)dp;
    if (rc)
        return rc;
    if ((rc = esp_set_backend(map[b]))) {
        snprintf(err, errlen, "crypto backend not usable");
        return rc;
    }
    atomic_store(&configured, b);
    return 0;
}

void dp_crypto_info(const struct dp *dp, struct dp_crypto_info *out)
{
    const char *why;

    (void)dp;
    out->ipsec_mb_usable = mb_usable();
    esp_crypto_mb_probe(&why);
    out->configured = (enum dp_crypto_backend)atomic_load(&configured);
    out->in_use = esp_backend_name(esp_backend_default());
    out->ipsec_mb_arch = out->ipsec_mb_usable ? esp_crypto_mb_arch() : "none";
    out->ipsec_mb_status = why;
    out->xforms_openssl = (uint64_t)esp_xform_count(ESP_BACKEND_OPENSSL);
    out->xforms_ipsec_mb = (uint64_t)esp_xform_count(ESP_BACKEND_IPSEC_MB);
}
