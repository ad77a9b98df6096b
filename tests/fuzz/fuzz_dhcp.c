/* Fuzzes the DHCP reply parser (daemon/pool/dhcp.c) on what a DHCP server, or
 * anyone able to reach the relay address, may send. */
#include <stdint.h>
#include <string.h>

#include "daemon/pool/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dhcp_msg m;

    dhcp_parse(data, size, &m);
    return 0;
}
