#!/usr/bin/env bash
# Captures the IKE_SA_INIT request a strongSwan road-warrior client sends, as a
# fixture for the codec tests: strongswan-ike-sa-init.bin. Run as root with the
# strongSwan packages installed (see LAB notes in the project docs). Traffic stays
# inside two network namespaces this script creates and deletes.
set -euo pipefail
out=${1:-$(dirname "$0")/strongswan-ike-sa-init.bin}
tag=rvcap$$
dir=$(mktemp -d)
charon_pid= listener_pid=
cleanup() {
    [ -n "$charon_pid" ] && kill "$charon_pid" 2>/dev/null || true
    [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
    ip netns del "$tag-c" 2>/dev/null || true
    ip netns del "$tag-h" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$tag-c"
ip netns add "$tag-h"
ip link add "$tag-a" type veth peer name "$tag-b"
ip link set "$tag-a" netns "$tag-c"
ip link set "$tag-b" netns "$tag-h"
ip -n "$tag-c" addr add 10.99.1.2/24 dev "$tag-a"
ip -n "$tag-h" addr add 10.99.1.1/24 dev "$tag-b"
for ns in "$tag-c" "$tag-h"; do ip -n "$ns" link set lo up; done
ip -n "$tag-c" link set "$tag-a" up
ip -n "$tag-h" link set "$tag-b" up

mkdir -p "$dir/run"
cat > "$dir/strongswan.conf" <<CONF
charon {
  load = random nonce openssl pem pkcs1 x509 pubkey curve25519 sha1 sha2 aes gcm hmac kdf kernel-netlink socket-default vici
  plugins {
    vici {
      socket = unix://$dir/charon.vici
    }
  }
  filelog {
    log {
      path = $dir/charon.log
      default = 1
    }
  }
}
CONF
cat > "$dir/swanctl.conf" <<CONF
connections {
  rw {
    remote_addrs = 10.99.1.1
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-ecp256, aes128-sha256-modp2048
    local { auth = psk
            id = client.example.org }
    remote { auth = psk
             id = headend.example.org }
    children { vpn { remote_ts = 10.0.0.0/16
                     esp_proposals = aes128gcm16 } }
  }
}
secrets { ike-1 { id = headend.example.org
                  secret = fixture-only }
}
CONF
ip netns exec "$tag-h" /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.99.1.1', 500)); s.settimeout(30)
data, _ = s.recvfrom(65535)
open(sys.argv[1], 'wb').write(data)
" "$out" &
listener_pid=$!
ip netns exec "$tag-c" sh -c "mount --bind $dir/run /run && STRONGSWAN_CONF=$dir/strongswan.conf exec /usr/lib/ipsec/charon" &
charon_pid=$!
for _ in $(seq 100); do [ -S "$dir/charon.vici" ] && break; sleep 0.1; done
ip netns exec "$tag-c" swanctl --load-all --noprompt --file "$dir/swanctl.conf" --uri "unix://$dir/charon.vici" >/dev/null 2>&1
ip netns exec "$tag-c" swanctl --initiate --ike rw --timeout 3 --uri "unix://$dir/charon.vici" >/dev/null 2>&1 || true
wait "$listener_pid"
listener_pid=
echo "captured $(stat -c %s "$out") bytes into $out"
