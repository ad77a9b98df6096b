"""What the integration tests need from the machine, and the Debian package that
brings each piece (packaging/debian-packages.txt lists them all).

A test module names its prerequisites in a module-level REQUIRES tuple; conftest.py
checks them before the module's first test and fails every test of the module with
one line per missing piece, e.g. "strongSwan has no eap-mschapv2 plugin: install
libcharon-extauth-plugins", instead of a protocol error three layers later. The
lab (lab.py) and the RADIUS helpers check what they start themselves too."""
import importlib.util
import os
import shutil

CHARON_PLUGINS = "/usr/lib/ipsec/plugins"

# strongSwan plugins the lab's clients load (lab.LOAD) and the package of each
PLUGIN_PACKAGES = {
    "random": "libstrongswan", "nonce": "libstrongswan", "pem": "libstrongswan", "pkcs1": "libstrongswan",
    "pkcs8": "libstrongswan", "x509": "libstrongswan", "revocation": "libstrongswan",
    "constraints": "libstrongswan", "pubkey": "libstrongswan", "sha1": "libstrongswan", "sha2": "libstrongswan",
    "aes": "libstrongswan", "hmac": "libstrongswan", "kdf": "libstrongswan", "md5": "libstrongswan",
    "kernel-netlink": "libstrongswan", "attr": "libstrongswan", "resolve": "libstrongswan",
    "openssl": "libstrongswan-standard-plugins", "gcm": "libstrongswan-standard-plugins",
    "curve25519": "libstrongswan-extra-plugins", "chapoly": "libstrongswan-extra-plugins",
    "unity": "libcharon-extra-plugins", "kernel-libipsec": "libcharon-extra-plugins",
    "eap-identity": "libcharon-extra-plugins", "eap-md5": "libcharon-extra-plugins",
    "eap-radius": "libcharon-extra-plugins",
    "eap-mschapv2": "libcharon-extauth-plugins",
    "socket-default": "strongswan-libcharon", "updown": "strongswan-libcharon",
    "vici": "strongswan-swanctl",
}

# programs by the name a test uses, with the path looked for and the package
PROGRAMS = {
    "charon": ("/usr/lib/ipsec/charon", "strongswan-charon"),
    "swanctl": ("swanctl", "strongswan-swanctl"),
    "freeradius": ("freeradius", "freeradius"),
    "radclient": ("radclient", "freeradius-utils"),
    "eapol_test": ("eapol_test", "eapoltest"),
    "dnsmasq": ("dnsmasq", "dnsmasq-base"),
    "tshark": ("tshark", "tshark"),
    "iperf3": ("iperf3", "iperf3"),
    "ping": ("ping", "iputils-ping"),
    "ethtool": ("ethtool", "ethtool"),
    "nft": ("nft", "nftables"),
    "ip": ("ip", "iproute2"),
    "openssl": ("openssl", "openssl"),
    "ssh": ("ssh", "openssh-client"),
    "curl": ("curl", "curl"),
    "yanglint": ("yanglint", "libyang2-tools"),
    "systemd-analyze": ("systemd-analyze", "systemd"),
    "systemd-sysusers": ("systemd-sysusers", "systemd"),
    "setpriv": ("setpriv", "util-linux"),
    "bird": ("bird", "bird2"),
    "birdc": ("birdc", "bird2"),
    "etcd": ("etcd", "etcd-server"),
    "etcdctl": ("etcdctl", "etcd-client"),
    "keepalived": ("keepalived", "keepalived"),
    "ansible-playbook": ("/usr/bin/ansible-playbook", "ansible"),
}

PY_MODULES = {"scapy": "python3-scapy", "ncclient": "python3-ncclient", "paramiko": "python3-paramiko"}

# what "strongswan" stands for: the lab's client, whatever plugins it loads
STRONGSWAN = ("charon", "swanctl", "ip")


def _program(name):
    path, pkg = PROGRAMS[name]
    found = os.access(path, os.X_OK) if path.startswith("/") else shutil.which(path, path="/usr/sbin:/usr/bin:/sbin:/bin")
    return None if found else f"{name} is not installed: install {pkg}"


def _plugin(name):
    if os.path.exists(f"{CHARON_PLUGINS}/libstrongswan-{name}.so"):
        return None
    pkg = PLUGIN_PACKAGES.get(name, "the strongSwan plugin packages")
    return f"strongSwan has no {name} plugin: install {pkg}"


def missing(names, plugins=()):
    """One message per missing prerequisite among @names (program names of
    PROGRAMS, Python modules of PY_MODULES, or "strongswan") and strongSwan
    @plugins; an empty list when everything is there."""
    out = []
    for n in names:
        if n == "strongswan":
            out += [m for m in map(_program, STRONGSWAN) if m]
        elif n in PY_MODULES:
            if importlib.util.find_spec(n) is None:
                out.append(f"Python module {n} is missing for /usr/bin/python3: install {PY_MODULES[n]}")
        elif n in PROGRAMS:
            m = _program(n)
            if m:
                out.append(m)
        else:
            raise ValueError(f"unknown prerequisite {n!r}: add it to prereq.py")
    out += [m for m in map(_plugin, plugins) if m]
    return out


def check(names, plugins=()):
    """Raises RuntimeError naming every missing prerequisite."""
    msgs = missing(names, plugins)
    if msgs:
        raise RuntimeError("missing prerequisites: " + "; ".join(msgs))
