/* Fuzzes the reading of the records cluster members publish in etcd
 * (daemon/cluster/cluster_rec.c): any member, or anyone with write access to
 * the prefix, may write anything there, and no record may crash a reader. A
 * member record that is read is written again; that JSON must read back the
 * same. The first byte chooses the reader: member (either family), session, or
 * key. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/cluster/cluster_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster_member m, back;
    struct cluster_session s;
    char why[200], name[CLUSTER_NAME_MAX], *key, *j;
    uint64_t id;
    size_t len = 0;

    if (!size)
        return 0;
    switch (data[0] % 4) {
    case 0:
    case 1:
        if (cluster_member_parse("m", (const char *)data + 1, size - 1, data[0] % 4 ? AF_INET6 : AF_INET, &m, why,
                                 sizeof(why)))
            break;
        j = cluster_member_json(&m, &len);
        if (!j)
            break;
        if (cluster_member_parse("m", j, len, m.family, &back, why, sizeof(why)) || strcmp(back.address, m.address) ||
            back.sessions != m.sessions || back.capacity != m.capacity || back.partition != m.partition ||
            back.draining != m.draining)
            abort();
        free(j);
        break;
    case 2:
        if (!cluster_session_parse((const char *)data + 1, size - 1, &s, why, sizeof(why))) {
            j = cluster_session_json(&s, &len);
            free(j);
        }
        break;
    default:
        key = malloc(size);
        if (!key)
            break;
        memcpy(key, data + 1, size - 1);
        key[size - 1] = 0;
        cluster_key_split(key, name, sizeof(name), &id);
        free(key);
        break;
    }
    return 0;
}
