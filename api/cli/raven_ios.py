"""raven_ios: the vendor's IOS configuration text of a FlexVPN server → Raven's
configuration (raven-vpn), for `ravenctl import-ios`.

Standard library only. convert(text) reads the text the way the vendor's CLI
does (a sub-mode command stays in its mode, any other command goes back to the
global mode; indentation does not matter) and returns a Result: the
configuration as an RFC 7951 JSON tree and every line that was not converted,
with its line number and why. Nothing is guessed: a line that is not known, not
applicable to Raven, malformed or refers to something the text does not
define is reported and left out."""
import base64
import ipaddress
import json
import re
import xml.etree.ElementTree as ET

VPN = "raven-vpn"
RT = "raven-types"
VPN_NS = "urn:raven:params:xml:ns:yang:raven-vpn"
RT_NS = "urn:raven:params:xml:ns:yang:raven-types"
# top-level containers in the order of raven-vpn.yang
TOP = ("ikev2", "ipsec", "pools", "aaa", "pki", "access-lists", "dataplane")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*\Z")
IFNAME_RE = re.compile(r"[^/\s]+\Z")


class Skip(Exception):
    """The line is not converted; the message says why."""


class Result:
    def __init__(self, config, skipped):
        self.config = config        # {"raven-vpn:ikev2": {...}, ...}
        self.skipped = skipped      # [(line number, text, reason)], in line order

    def report_lines(self):
        """The lines not converted as 'line N: TEXT: REASON', secrets masked."""
        return [f"line {n}: {mask_secrets(text)}: {reason}" for n, text, reason in self.skipped]

    def json(self):
        return json.dumps(self.config, indent=2) + "\n"

    def xml(self):
        return to_xml(self.config)


SECRET_WORDS = ("key", "password", "secret", "community", "pre-shared-key", "server-key", "key-string")
MASK = "<secret>"


def mask_secrets(line):
    """@line with the word after key, password, secret, community,
    pre-shared-key, server-key or key-string (after its type digit, or local or
    remote, if one comes first) replaced by <secret>: reports go to terminals
    and logs."""
    words = list(re.finditer(r'"[^"]*"|\S+', line))
    out, pos, hide = [], 0, False
    for k, m in enumerate(words):
        w = m.group(0)
        before = words[k - 1].group(0).lower() if k else ""
        if hide and (re.fullmatch(r"\d", w) or w.lower() in ("local", "remote")) and k + 1 < len(words):
            hide = True             # pre-shared-key local|remote, a type digit: the secret is next
        elif hide:
            out.append(line[pos:m.start()] + MASK)
            pos, hide = m.end(), False
            continue
        else:
            hide = w.lower() in SECRET_WORDS and before != "crypto"
        out.append(line[pos:m.end()])
        pos = m.end()
    return "".join(out) + line[pos:]


class Keyed(dict):
    """A YANG list while converting: key → entry, in the order of creation."""


# ----------------------------------------------------------------------------
# Values


def ipv4(s, what="IPv4 address"):
    try:
        return str(ipaddress.IPv4Address(s))
    except ValueError:
        raise Skip(f"bad {what} {s!r}")


def ipv6(s, what="IPv6 address"):
    try:
        return str(ipaddress.IPv6Address(s))
    except ValueError:
        raise Skip(f"bad {what} {s!r}")


# inet:domain-name (ietf-inet-types)
DOMAIN_RE = re.compile(r"((([a-zA-Z0-9_]([a-zA-Z0-9\-_]){0,61})?[a-zA-Z0-9]\.)*"
                       r"([a-zA-Z0-9_]([a-zA-Z0-9\-_]){0,61})?[a-zA-Z0-9]\.?|\.)\Z")


def domain(s, what):
    """A domain name as inet:domain-name takes it (labels of up to 63
    characters, 253 in all)."""
    if not 1 <= len(s) <= 253 or not DOMAIN_RE.match(s):
        raise Skip(f"bad {what} {s!r}: a domain name is expected")
    return s


def host(s, what):
    """An IP address or a host name (inet:host); dotted digits must be IPv4."""
    if re.fullmatch(r"[0-9.]+", s):
        return ipv4(s, what)
    if ":" in s:
        return ipv6(s, what)
    return domain(s, what)


def vrf(s):
    """A VRF (a Linux VRF device) name: 1 to 15 characters."""
    if not 1 <= len(s) <= 15:
        raise Skip(f"VRF name {s!r}: a VRF name is 1 to 15 characters")
    return s


def text_leaf(s, what, most=255):
    """A description or other text leaf of at most @most characters: longer is
    reported, not cut."""
    if len(s) > most:
        raise Skip(f"the {what} is {len(s)} characters: at most {most}")
    return s


def ip_any(s):
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        raise Skip(f"bad IP address {s!r}")


def mask_len(s, wildcard=False):
    """Prefix length of a dotted netmask (or wildcard mask); contiguous only."""
    v = int(ipaddress.IPv4Address(ipv4(s, "wildcard mask" if wildcard else "netmask")))
    if wildcard:
        v ^= 0xFFFFFFFF
    n = bin(v).count("1")
    if v != (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF:
        raise Skip(f"{'wildcard mask' if wildcard else 'netmask'} {s} is not contiguous: no prefix equals it")
    return n


def prefix(addr, length, exact=True):
    net = ipaddress.ip_network(f"{addr}/{length}", strict=False)
    if exact and str(net.network_address) != str(ipaddress.ip_address(addr)):
        raise Skip(f"{addr}/{length} has host bits set")
    return str(net)


def ipv6_prefix(s, exact=False):
    if "/" not in s:
        raise Skip(f"bad IPv6 prefix {s!r}: PREFIX/LENGTH expected")
    a, _, n = s.partition("/")
    ipv6(a)
    if not n.isdigit() or int(n) > 128:
        raise Skip(f"bad IPv6 prefix length in {s!r}")
    return prefix(a, int(n), exact)


def number(s, lo, hi, what):
    if not re.fullmatch(r"\d+", s or ""):
        raise Skip(f"{what}: a number is expected, not {s!r}")
    v = int(s)
    if not lo <= v <= hi:
        raise Skip(f"{what} {v} is out of range ({lo}..{hi})")
    return v


def name(s, what="name"):
    if not NAME_RE.match(s or ""):
        raise Skip(f"{what} {s!r} is not a valid Raven name ([A-Za-z0-9_] then [A-Za-z0-9_.:@/+-])")
    return s


def arg(toks, i, what):
    if i >= len(toks):
        raise Skip(f"missing {what}")
    return toks[i]


def no_more(toks, i):
    if i < len(toks):
        raise Skip(f"unexpected {' '.join(toks[i:])!r}")


# Type 7 is the vendor's reversible obfuscation (a fixed key): it is decoded.
# Type 6 is encrypted with the device's master key, which the text does not
# hold: it cannot be converted.
_XLAT = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def type7(s):
    if not re.fullmatch(r"[0-9]{2}([0-9A-Fa-f]{2})+", s):
        raise Skip("bad type 7 secret (two decimal digits then hex pairs expected)")
    seed = int(s[:2])
    if seed >= len(_XLAT):
        raise Skip("bad type 7 secret (offset out of range)")
    out = bytes(int(s[i:i + 2], 16) ^ _XLAT[(seed + (i - 2) // 2) % len(_XLAT)] for i in range(2, len(s), 2))
    try:
        text = out.decode("ascii")
    except UnicodeDecodeError:
        raise Skip("bad type 7 secret (does not decode to text)")
    if not text.isprintable():
        raise Skip("bad type 7 secret (does not decode to printable text)")
    return text


def secret(toks, i, what="key"):
    """[0 | 6 | 7] SECRET at toks[i:] → (clear text, next index)."""
    t = arg(toks, i, what)
    if t in ("0", "6", "7") and i + 1 < len(toks):
        kind, val = t, toks[i + 1]
        i += 2
    else:
        kind, val = "0", t
        i += 1
    if kind == "6":
        raise Skip(f"a type 6 {what} is encrypted with the device's master key, which the text does not hold: "
                   "give it in clear (type 0) or type 7")
    val = type7(val) if kind == "7" else unquote(val)
    if not 1 <= len(val) <= 256:
        raise Skip(f"the {what} must be 1 to 256 characters")
    return val, i


def unquote(s):
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


def tokens(line):
    return re.findall(r'"[^"]*"|\S+', line)


# ----------------------------------------------------------------------------
# Algorithms

IKE_ENC = {"aes-cbc-128": "aes-cbc-128", "aes-cbc-192": "aes-cbc-192", "aes-cbc-256": "aes-cbc-256",
           "aes-gcm-128": "aes-gcm-16-128", "aes-gcm-256": "aes-gcm-16-256", "3des": "des3-cbc"}
IKE_INTEG = {"sha1": "hmac-sha1-96", "sha256": "hmac-sha2-256-128", "sha384": "hmac-sha2-384-192",
             "sha512": "hmac-sha2-512-256", "md5": "hmac-md5-96"}
IKE_PRF = {"sha1": "prf-hmac-sha1", "sha256": "prf-hmac-sha2-256", "sha384": "prf-hmac-sha2-384",
           "sha512": "prf-hmac-sha2-512"}
DH = {"2": "modp-1024", "14": "modp-2048", "15": "modp-3072", "16": "modp-4096", "19": "ecp-256",
      "20": "ecp-384", "21": "ecp-521", "31": "curve25519"}
LEGACY = {"des3-cbc", "hmac-md5-96", "modp-1024"}
ESP_INTEG = {"esp-sha-hmac": "hmac-sha1-96", "esp-sha256-hmac": "hmac-sha2-256-128",
             "esp-sha384-hmac": "hmac-sha2-384-192", "esp-sha512-hmac": "hmac-sha2-512-256",
             "esp-md5-hmac": "hmac-md5-96"}
DN_FIELDS = {"common-name", "country", "domain", "locality", "organization", "organization-unit", "state"}
CERT_FIELDS = {"subject-name", "issuer-name", "alt-subject-name", "unstructured-subject-name", "serial-number",
               "name", "expires-on", "valid-start"}
CERT_OPS = {"eq", "ne", "co", "nc", "lt", "ge"}
REVOCATION = {"none": "none", "crl": "crl", "crl none": "crl-none", "ocsp": "ocsp", "ocsp none": "ocsp-none",
              "ocsp crl": "ocsp-crl", "ocsp crl none": "ocsp-crl-none", "crl ocsp": "crl-ocsp",
              "crl ocsp none": "crl-ocsp-none"}


# ip / ipv6 sub-commands of an interface (anything else goes to the global mode)
INTERFACE_IP = {"address", "enable", "nat", "mtu", "tcp", "redirects", "unreachables", "proxy-arp", "nd",
                "virtual-reassembly", "helper-address", "access-group", "policy", "flow", "verify", "pim", "ospf",
                "router", "dhcp", "traffic-filter", "summary-address", "split-horizon", "directed-broadcast"}


def rt(ident):
    return f"{RT}:{ident}"


# Global commands known and deliberately not converted, with the reason.
# the device's banners (global banner command), not an authorization policy's
GLOBAL_BANNERS = ("motd", "login", "exec", "incoming", "slip-ppp", "prompt-timeout", "config-save")
NOT_APPLICABLE = [
    (("building", "configuration..."), "a header of the vendor's show running-config"),
    (("current", "configuration"), "a header of the vendor's show running-config"),
    (("hostname",), "the host name belongs to Linux"),
    (("version",), "no meaning in Raven"),
    (("service",), "no meaning in Raven"),
    (("boot",), "no meaning in Raven"),
    (("logging",), "Raven logs to the journal (see the daemon's options)"),
    (("ntp",), "time is kept by Linux"),
    (("clock",), "time is kept by Linux"),
    (("snmp-server",), "Raven's state is read over NETCONF, RESTCONF and /metrics"),
    (("line",), "no console or terminal lines in Raven"),
    (("username",), "local users of the device: Raven's management users are raven-vpn:management/user"),
    (("enable",), "no enable mode in Raven"),
    (("license",), "no meaning in Raven"),
    (("ip", "route"), "routing belongs to Linux"),
    (("ipv6", "route"), "routing belongs to Linux"),
    (("ipv6", "unicast-routing"), "routing belongs to Linux"),
    (("ip", "domain"), "name resolution belongs to Linux"),
    (("ip", "name-server"), "name resolution belongs to Linux"),
    (("ip", "http"), "Raven's HTTPS endpoint is raven-vpn:management/rest"),
    (("ip", "ssh"), "SSH belongs to Linux; NETCONF is raven-vpn:management/netconf"),
    (("crypto", "key"), "keys are installed as PEM in pki/trustpoint/private-key"),
    (("crypto", "ssl"), "Raven has no SSL VPN"),
    (("crypto", "vpn"), "Raven has no AnyConnect profiles (it makes client profiles: rpc client-profile)"),
    (("crypto", "isakmp"), "IKEv1 is not supported"),
    (("crypto", "map"), "crypto maps (site-to-site) are not supported: Raven is a remote-access headend"),
    (("aaa", "session-id"), "no meaning in Raven"),
    (("router",), "routing belongs to Linux (Raven's routes can be learnt by a routing daemon)"),
    (("vrf",), "VRFs are Linux VRF devices"),
]


# ----------------------------------------------------------------------------
# The converter


class Converter:
    def __init__(self, interfaces=None):
        """@interfaces: {vendor interface name: (Linux name, role or None)}."""
        self.ifmap = {k.lower(): v for k, v in (interfaces or {}).items()}
        for k, (linux, role) in self.ifmap.items():
            if not IFNAME_RE.match(linux or "") or role not in (None, "outside", "inside"):
                raise ValueError(f"interface {k}: bad Linux name {linux!r} or role {role!r}")
        self.root = {}
        self.skipped = []
        self.refs = []          # (line, text, parent dict, key, kind, target, leaf-list)
        self.templates = {}     # virtual-template number → [(line, text, profile entry)]
        self.vt_protect = {}    # virtual-template number → (line, text, ipsec profile)
        self.vt_vrf = {}
        self.unnumbered = {}    # vendor interface (lower) → line
        self.phys = []          # (line, text, vendor name)
        self.local_ifaces = {}  # vendor interface (lower) → line, from match address local interface
        self.radius_defaults = {}
        self.legacy = []        # (dict, "allow-legacy")
        self.line = 0
        self.text = ""
        self.indented = False
        self.origin = {}        # id(list entry) → (line, text) that created it
        self.reported = set()   # indexes of self.refs already reported

    # -- the tree

    def node(self, *path):
        d = self.root
        for p in path:
            d = d.setdefault(p, {})
        return d

    def entry(self, parent, lst, key, keyname="name"):
        lst_d = parent.setdefault(lst, Keyed())
        if key not in lst_d:
            lst_d[key] = {keyname: key} if isinstance(keyname, str) else dict(zip(keyname, key))
            self.origin[id(lst_d[key])] = (self.line, self.text)
        return lst_d[key]

    def ref(self, parent, key, kind, target, leaflist=False, owner=None):
        """@parent[@key] refers to @target, a @kind; when the text does not
        define it, the reference goes, or with @owner = (dict, key) what holds it."""
        if leaflist:
            parent.setdefault(key, [])
            if target not in parent[key]:
                parent[key].append(target)
        else:
            parent[key] = target
        self.refs.append((self.line, self.text, parent, key, kind, target, leaflist, owner))

    def exists(self, kind, target):
        tables = {
            "ipv4-pool": ("pools", "ipv4-pool"), "ipv6-pool": ("pools", "ipv6-pool"),
            "radius-server": ("aaa", "radius-server"), "server-group": ("aaa", "server-group"),
            "authentication-list": ("aaa", "authentication-list"),
            "authorization-list": ("aaa", "authorization-list"), "accounting-list": ("aaa", "accounting-list"),
            "attribute-list": ("aaa", "attribute-list"), "trustpoint": ("pki", "trustpoint"),
            "certificate-map": ("pki", "certificate-map"), "access-list": ("access-lists", "access-list"),
            "proposal": ("ikev2", "proposal"), "keyring": ("ikev2", "keyring"),
            "name-mangler": ("ikev2", "name-mangler"), "ikev2-profile": ("ikev2", "profile"),
            "transform-set": ("ipsec", "transform-set"), "ipsec-profile": ("ipsec", "profile"),
            "dataplane-interface": ("dataplane", "interface"),
        }
        top, lst = tables[kind]
        return target in self.root.get(top, {}).get(lst, {})

    def skip(self, reason, line=None, text=None):
        self.skipped.append((line or self.line, text if text is not None else self.text, reason))

    # -- reading

    def run(self, text):
        stack = []          # [(mode name, handler)] innermost last
        lines = text.split("\n")
        i = 0
        while i < len(lines):
            raw = lines[i]
            i += 1
            self.line, self.text = i, raw.strip()
            self.indented = raw[:1].isspace()
            line = self.text
            if stack and stack[-1][0] == "banner-text":
                if stack[-1][1](raw.rstrip("\r")):
                    stack.pop()
                continue
            if not line or line.startswith("!") or line.startswith("#"):
                continue
            if "\x00" in line or not line.isprintable():
                self.skip("not printable text")
                continue
            toks = tokens(line)
            if stack and stack[-1][0] == "certificate-data":
                if toks and stack[-1][1](toks):
                    stack.pop()
                continue
            if line == "end":
                stack = []
                continue
            if line in ("exit", "quit"):
                if stack:
                    stack.pop()
                continue
            handled = False
            for depth in range(len(stack), -1, -1):
                handler = stack[depth - 1][1] if depth else self.global_command
                try:
                    res = handler(toks)
                except Skip as e:
                    self.skip(str(e))
                    res = True
                    del stack[depth:]
                    # a mode whose opening line failed is entered anyway, so that
                    # its sub-commands are reported against it, not as unknown
                    if depth == 0 and self.pending_mode:
                        stack.append(self.pending_mode)
                    handled = True
                    break
                if res is not False:
                    del stack[depth:]
                    if res is not True and res is not None:
                        stack.append(res)
                    handled = True
                    break
            self.pending_mode = None
            if not handled:
                where = f" (in '{stack[-1][0]}')" if stack else ""
                self.skip("unknown command" + where)
                if not self.indented:
                    # a global command Raven does not know: it leaves any
                    # sub-mode, and what is indented under it belongs to it
                    stack = [self.unknown_mode(line)]
        if stack and stack[-1][0] in ("banner-text", "certificate-data"):
            stack[-1][1](None)
        self.finish()
        return Result(self.output(), sorted(self.skipped, key=lambda s: s[0]))

    pending_mode = None

    def unknown_mode(self, title):
        """The mode of an unknown global command: its indented lines are
        reported; the next line that is not indented leaves it."""
        def sub(toks):
            if not self.indented:
                return False
            raise Skip(f"in '{title}', an unknown command: not converted")
        return (title, sub)

    def global_banner(self, toks):
        """banner motd|login|exec|…: the device's own banners, not Raven's (which
        is an authorization policy's). Reported with every line of its text."""
        title = " ".join(toks[:2])
        reason = "not applicable: the device's login banners belong to Linux (Raven's banner is an " \
                 "authorization policy's)"
        rest = self.text.split(None, 2)[2] if len(toks) > 2 else ""
        delim = "^C" if rest.startswith("^C") else (rest[:1] if rest and not rest[0].isalnum() else "")
        if delim and delim not in rest[len(delim):]:
            def more(raw):
                if raw is None:
                    return True
                self.skip(f"the text of '{title}': {reason}", self.line, raw.strip())
                return delim in raw
            self.pending_mode = ("banner-text", more)
        raise Skip(reason)

    def unsupported_mode(self, title, reason):
        """A mode Raven has no equivalent for: its opening line and every line in
        it are reported."""
        def sub(toks):
            if not self.indented:
                return False
            raise Skip(f"in '{title}': {reason}")
        self.pending_mode = (title, sub)
        raise Skip(reason)

    # -- global mode

    def global_command(self, toks):
        t = toks + [""] * 4
        w = t[0].lower()
        if w == "no":
            raise Skip("'no' commands restore vendor defaults: nothing to convert (Raven's defaults apply)")
        if w == "aaa":
            return self.aaa(toks)
        if w == "radius-server":
            return self.radius_server_host(toks)
        if w == "radius" and t[1] == "server":
            n = name(arg(toks, 2, "server name"), "RADIUS server name")
            no_more(toks, 3)
            e = self.entry(self.node("aaa"), "radius-server", n)
            self.pending_mode = ("radius server", lambda tk: self.radius_server_mode(tk, e))
            return self.pending_mode
        if w == "crypto" and t[1] == "ikev2":
            return self.crypto_ikev2(toks)
        if w == "crypto" and t[1] == "ipsec":
            return self.crypto_ipsec(toks)
        if w == "crypto" and t[1] == "pki":
            return self.crypto_pki(toks)
        if w == "ip" and t[1] == "local" and t[2] == "pool":
            return self.ip_local_pool(toks)
        if w == "ipv6" and t[1] == "local" and t[2] == "pool":
            return self.ipv6_local_pool(toks)
        if w == "ip" and t[1] == "access-list":
            return self.ip_access_list(toks)
        if w == "ipv6" and t[1] == "access-list":
            n = name(arg(toks, 2, "access list name"), "access list name")
            no_more(toks, 3)
            acl = self.entry(self.node("access-lists"), "access-list", n)
            return ("ipv6 access-list", lambda tk: self.acl_entry(tk, acl, "ipv6"))
        if w == "access-list":
            return self.numbered_acl(toks)
        if w == "interface":
            return self.interface(toks)
        if w == "banner" and t[1].lower() in GLOBAL_BANNERS:
            return self.global_banner(toks)
        for words, reason in NOT_APPLICABLE:
            if [x.lower() for x in toks[:len(words)]] == list(words):
                if words in (("line",), ("router",), ("vrf",)):
                    self.unsupported_mode(" ".join(toks), f"not applicable: {reason}")
                raise Skip(f"not applicable: {reason}")
        return False

    # -- AAA

    def aaa(self, toks):
        t = toks + [""] * 6
        aaa = self.node("aaa")
        if t[1] == "new-model":
            no_more(toks, 2)
            return True     # AAA is always available in Raven: nothing to convert
        if t[1] == "group" and t[2] == "server":
            if t[3] != "radius":
                raise Skip(f"only RADIUS server groups are supported, not {t[3] or 'this'}")
            g = self.entry(aaa, "server-group", name(arg(toks, 4, "group name"), "group name"))
            no_more(toks, 5)
            self.pending_mode = ("aaa group server radius", lambda tk: self.server_group_mode(tk, g))
            return self.pending_mode
        lists = {"authentication": ("authentication-list", "login"), "authorization": ("authorization-list", "network"),
                 "accounting": ("accounting-list", "network")}
        if t[1] in lists:
            lst, kind = lists[t[1]]
            if t[1] == "accounting" and t[2] == "update":
                if t[3] != "periodic":
                    raise Skip("only 'aaa accounting update periodic MINUTES' is supported")
                m = number(arg(toks, 4, "minutes"), 1, 1440, "interim interval (minutes)")
                no_more(toks, 5)
                aaa["accounting-interim-interval"] = m * 60
                return True
            if t[2] != kind:
                raise Skip(f"only 'aaa {t[1]} {kind} LIST ...' has an equivalent in Raven (the VPN's method lists)")
            n = name(arg(toks, 3, "method list name"), "method list name")
            i = 4
            if t[1] == "accounting":
                if t[4] != "start-stop":
                    raise Skip("only start-stop accounting is supported")
                i = 5
            methods = []
            while i < len(toks):
                if toks[i] == "local" and t[1] != "accounting":
                    methods.append(("local", None))
                    i += 1
                elif toks[i] == "group":
                    methods.append(("group", name(arg(toks, i + 1, "group name"), "group name")))
                    i += 2
                else:
                    also = "" if t[1] == "accounting" else " or local"
                    raise Skip(f"method {toks[i]!r} is not supported (group NAME{also})")
            if not methods:
                raise Skip("missing method (group NAME or local)")
            if n in aaa.get(lst, {}):
                raise Skip(f"method list {n} is defined twice")
            e = self.entry(aaa, lst, n)
            e["method"] = Keyed()
            for seq, (kind_, g) in enumerate(methods, 1):
                m = self.entry(e, "method", seq, "sequence")
                if kind_ == "local":
                    m["local"] = [None]
                else:
                    self.ref(m, "group", "server-group", g)
            return True
        if t[1] == "attribute" and t[2] == "list":
            al = self.entry(aaa, "attribute-list", name(arg(toks, 3, "list name"), "attribute list name"))
            no_more(toks, 4)
            self.pending_mode = ("aaa attribute list", lambda tk: self.attribute_list_mode(tk, al))
            return self.pending_mode
        if t[1] == "server" and t[2] == "radius" and t[3] == "dynamic-author":
            no_more(toks, 4)
            self.pending_mode = ("aaa server radius dynamic-author", self.dynamic_author_mode)
            return self.pending_mode
        if t[1] == "session-id":
            raise Skip("not applicable: no meaning in Raven")
        raise Skip(f"'aaa {t[1]}' has no equivalent in Raven")

    def server_group_mode(self, toks, g):
        t = toks + [""] * 6
        if t[0] == "server":
            if t[1] == "name":
                n = name(arg(toks, 2, "server name"), "RADIUS server name")
                no_more(toks, 3)
            else:
                n = ip_any(arg(toks, 1, "server address"))
                i = 2
                while i < len(toks):
                    if toks[i] in ("auth-port", "acct-port"):
                        number(arg(toks, i + 1, toks[i]), 1, 65535, toks[i])
                        i += 2
                    else:
                        no_more(toks, i)
                if len(toks) > 2:
                    raise Skip("ports are set on the RADIUS server (radius-server host ... auth-port N acct-port N)")
            self.ref(g, "server", "radius-server", n, leaflist=True)
            return True
        if t[0] == "deadtime":
            g["deadtime"] = number(arg(toks, 1, "minutes"), 1, 1440, "deadtime")
            no_more(toks, 2)
            return True
        if t[0] in ("key", "timeout", "retransmit", "load-balance") or (t[0] == "ip" and t[1] in ("radius", "vrf")):
            raise Skip(f"'{t[0]}' in a server group has no equivalent: set it on the RADIUS server")
        return False

    def radius_server_host(self, toks):
        t = toks + [""] * 4
        if t[1] in ("timeout", "retransmit"):
            lo, hi = (1, 1000) if t[1] == "timeout" else (0, 100)
            self.radius_defaults[t[1]] = (number(arg(toks, 2, t[1]), lo, hi, t[1]), self.line)
            no_more(toks, 3)
            return True
        if t[1] != "host":
            raise Skip(f"'radius-server {t[1]}' has no equivalent in Raven")
        addr = host(arg(toks, 2, "server address"), "server address")
        e = {"name": addr, "address": addr}
        i = 3
        while i < len(toks):
            w = toks[i]
            if w in ("auth-port", "acct-port"):
                e[w] = number(arg(toks, i + 1, w), 0, 65535, w)
                i += 2
            elif w == "timeout":
                e["timeout"] = number(arg(toks, i + 1, w), 1, 1000, w)
                i += 2
            elif w == "retransmit":
                e["retransmit"] = number(arg(toks, i + 1, w), 0, 100, w)
                i += 2
            elif w == "key":
                e["key"], i = secret(toks, i + 1, "RADIUS key")
                no_more(toks, i)
            else:
                raise Skip(f"option {w!r} is not supported")
        if "key" not in e:
            raise Skip("missing key (a RADIUS server needs its shared secret)")
        servers = self.node("aaa").setdefault("radius-server", Keyed())
        if addr in servers:
            raise Skip(f"RADIUS server {addr} is defined twice")
        servers[addr] = e
        return True

    def radius_server_mode(self, toks, e):
        t = toks + [""] * 6
        if t[0] == "address":
            if t[1] not in ("ipv4", "ipv6"):
                raise Skip("address ipv4|ipv6 ADDRESS expected")
            a = ipv4(arg(toks, 2, "address")) if t[1] == "ipv4" else ipv6(arg(toks, 2, "address"))
            vals = {}
            i = 3
            while i < len(toks):
                if toks[i] in ("auth-port", "acct-port"):
                    vals[toks[i]] = number(arg(toks, i + 1, toks[i]), 0, 65535, toks[i])
                    i += 2
                else:
                    raise Skip(f"option {toks[i]!r} is not supported")
            e["address"] = a
            e.update(vals)
            return True
        if t[0] == "key":
            e["key"], i = secret(toks, 1, "RADIUS key")
            no_more(toks, i)
            return True
        if t[0] == "timeout":
            e["timeout"] = number(arg(toks, 1, "seconds"), 1, 1000, "timeout")
            no_more(toks, 2)
            return True
        if t[0] == "retransmit":
            e["retransmit"] = number(arg(toks, 1, "count"), 0, 100, "retransmit")
            no_more(toks, 2)
            return True
        if t[0] in ("automate-tester", "pac", "dtls", "non-standard", "backoff", "load-balance"):
            raise Skip(f"'{t[0]}' has no equivalent in Raven")
        return False

    def attribute_list_mode(self, toks, al):
        if toks[0] != "attribute":
            return False
        t = toks + [""] * 4
        if t[1] != "type":
            raise Skip("attribute type NAME VALUE expected")
        if t[2] != "interface-config":
            raise Skip(f"attribute type {t[2]} has no equivalent (interface-config \"ip mtu N\" and "
                       "\"ip tcp adjust-mss N\" only)")
        val = tokens(unquote(arg(toks, 3, "value")))
        no_more(toks, 4)
        if val[:2] == ["ip", "mtu"] and len(val) == 3:
            al["mtu"] = number(val[2], 68, 65535, "ip mtu")
        elif val[:3] == ["ip", "tcp", "adjust-mss"] and len(val) == 4:
            al["tcp-mss"] = number(val[3], 500, 1460, "ip tcp adjust-mss")
        elif val[:2] == ["tunnel", "key"]:
            raise Skip("not applicable: a GRE tunnel key, and Raven's sessions are not GRE tunnels")
        else:
            raise Skip(f"interface-config {' '.join(val)!r} has no equivalent (ip mtu and ip tcp adjust-mss only)")
        return True

    def dynamic_author_mode(self, toks):
        t = toks + [""] * 4
        if t[0] == "client":
            a = ip_any(arg(toks, 1, "client address"))
            if t[2] != "server-key":
                raise Skip("client IP server-key KEY expected")
            k, i = secret(toks, 3, "server key")
            no_more(toks, i)
            self.entry(self.node("aaa"), "dynamic-author-client", a).update({"address": a, "key": k})
            return True
        if t[0] == "port":
            self.node("aaa")["dynamic-author-port"] = number(arg(toks, 1, "port"), 1, 65535, "port")
            no_more(toks, 2)
            return True
        if t[0] in ("auth-type", "ignore", "server-key", "domain"):
            raise Skip(f"'{t[0]}' has no equivalent in Raven (a key per client)")
        return False

    # -- crypto ikev2

    def crypto_ikev2(self, toks):
        t = toks + [""] * 6
        ik = self.node("ikev2")
        w = t[2]
        if w in ("proposal", "policy", "keyring", "profile", "name-mangler"):
            n = name(arg(toks, 3, f"{w} name"), f"{w} name")
            no_more(toks, 4)
            lst = "profile" if w == "profile" else w
            e = self.entry(ik, lst, n)
            handler = {"proposal": self.proposal_mode, "policy": self.policy_mode, "keyring": self.keyring_mode,
                       "profile": self.profile_mode, "name-mangler": self.mangler_mode}[w]
            self.pending_mode = (f"crypto ikev2 {w}", lambda tk: handler(tk, e))
            return self.pending_mode
        if w == "authorization" and t[3] == "policy":
            n = name(arg(toks, 4, "policy name"), "policy name")
            no_more(toks, 5)
            e = self.entry(ik, "authorization-policy", n)
            self.pending_mode = ("crypto ikev2 authorization policy", lambda tk: self.author_policy_mode(tk, e))
            return self.pending_mode
        g = self.node("ikev2", "global")
        if w == "fragmentation":
            f = {"enabled": True}
            if t[3] == "mtu":
                f["mtu"] = number(arg(toks, 4, "mtu"), 576, 9000, "fragmentation mtu")
                no_more(toks, 5)
            else:
                no_more(toks, 3)
            g["fragmentation"] = f
            return True
        if w == "cookie-challenge":
            g["cookie-threshold"] = number(arg(toks, 3, "threshold"), 0, 1000000, "cookie-challenge")
            no_more(toks, 4)
            return True
        if w == "nat" and t[3] == "keepalive":
            g["nat-keepalive"] = number(arg(toks, 4, "seconds"), 5, 3600, "nat keepalive")
            no_more(toks, 5)
            return True
        if w == "limit" and t[3] in ("max-sa", "max-in-negotiation-sa"):
            g.setdefault("limit", {})[t[3]] = number(arg(toks, 4, "limit"), 1, 4294967295, t[3])
            no_more(toks, 5)
            return True
        if w == "window":
            number(arg(toks, 3, "window size"), 1, 200, "window")
            if toks[3] != "1":
                raise Skip("Raven's IKEv2 window size is fixed at 1")
            no_more(toks, 4)
            g["window-size"] = 1
            return True
        if w == "dpd":
            raise Skip("global DPD has no equivalent: set dpd in each crypto ikev2 profile")
        if w in ("certificate-cache", "http-url", "diagnose", "redirect", "client", "reconnect", "cluster",
                 "nat-t-port"):
            raise Skip(f"'crypto ikev2 {w}' has no equivalent in Raven")
        raise Skip(f"'crypto ikev2 {w}' is not supported")

    def proposal_mode(self, toks, e):
        w = toks[0]
        tables = {"encryption": IKE_ENC, "integrity": IKE_INTEG, "prf": IKE_PRF, "group": DH}
        if w not in tables:
            return False
        vals = toks[1:]
        if not vals:
            raise Skip(f"missing {w} algorithm")
        bad = [v for v in vals if v not in tables[w]]
        if bad:
            raise Skip(f"{w} {' '.join(bad)} not supported by Raven (supported: {', '.join(tables[w])})")
        ids = [tables[w][v] for v in vals]
        lst = e.setdefault(w, [])
        lst.extend(rt(x) for x in ids if rt(x) not in lst)
        if any(x in LEGACY for x in ids):
            e["allow-legacy"] = True
        return True

    def policy_mode(self, toks, e):
        t = toks + [""] * 4
        if t[0] == "proposal":
            self.ref(e, "proposal", "proposal", name(arg(toks, 1, "proposal name"), "proposal name"), leaflist=True)
            no_more(toks, 2)
            return True
        if t[0] == "match":
            if t[1] == "fvrf":
                v = vrf(arg(toks, 2, "VRF name"))
                no_more(toks, 3)
                e.setdefault("match", {})["fvrf"] = v
                return True
            if t[1] == "address" and t[2] == "local":
                a = ip_any(arg(toks, 3, "local address"))
                no_more(toks, 4)
                la = e.setdefault("match", {}).setdefault("local-address", [])
                if a not in la:
                    la.append(a)
                return True
            raise Skip("match fvrf NAME or match address local IP expected")
        return False

    def keyring_mode(self, toks, e):
        if toks[0] != "peer":
            return False
        p = self.entry(e, "peer", name(arg(toks, 1, "peer name"), "peer name"))
        no_more(toks, 2)
        return ("crypto ikev2 keyring peer", lambda tk: self.peer_mode(tk, p))

    def peer_mode(self, toks, p):
        t = toks + [""] * 4
        if t[0] == "description":
            p["description"] = text_leaf(" ".join(toks[1:]) or arg(toks, 1, "description"), "description")
            return True
        if t[0] == "address":
            a = arg(toks, 1, "address")
            if "/" in a:
                p["address"] = ipv6_prefix(a, exact=True)
                no_more(toks, 2)
            elif ":" in a:
                p["address"] = prefix(ipv6(a), 128)
                no_more(toks, 2)
            else:
                n = mask_len(toks[2]) if len(toks) > 2 else 32
                p["address"] = prefix(ipv4(a), n)
                no_more(toks, 3)
            return True
        if t[0] == "hostname":
            v = domain(arg(toks, 1, "host name"), "host name")
            no_more(toks, 2)
            p["hostname"] = v
            return True
        if t[0] == "identity":
            kinds = {"address": "address", "fqdn": "fqdn", "email": "email", "key-id": "key-id"}
            if t[1] not in kinds:
                raise Skip("identity address|fqdn|email|key-id VALUE expected")
            v = arg(toks, 2, "identity")
            if t[1] == "fqdn" and t[2] == "domain":
                raise Skip("identity fqdn domain has no equivalent in a keyring peer (an exact FQDN only)")
            if t[1] == "address":
                v = ip_any(v)
            no_more(toks, 3)
            p["identity"] = {kinds[t[1]]: v}
            return True
        if t[0] == "pre-shared-key":
            i = 1
            which = None
            if t[1] in ("local", "remote"):
                which, i = t[1], 2
            k, i = secret(toks, i, "pre-shared key")
            no_more(toks, i)
            if which is None:
                p.pop("local-pre-shared-key", None)
                p.pop("remote-pre-shared-key", None)
                p["pre-shared-key"] = k
            else:
                p.pop("pre-shared-key", None)
                p[f"{which}-pre-shared-key"] = k
            return True
        return False

    def mangler_mode(self, toks, e):
        t = toks + [""] * 4
        if t[0] == "dn":
            if t[1] not in DN_FIELDS:
                raise Skip(f"dn field {t[1]!r} is not supported ({', '.join(sorted(DN_FIELDS))})")
            no_more(toks, 2)
            e["dn"] = t[1]
            return True
        if t[0] == "eap":
            if t[1] == "all":
                no_more(toks, 2)
                e["eap"] = {"all": [None]}
            elif t[1] == "dn":
                if t[2] not in DN_FIELDS:
                    raise Skip(f"dn field {t[2]!r} is not supported")
                no_more(toks, 3)
                e["eap"] = {"dn": t[2]}
            elif t[1] in ("prefix", "suffix"):
                if t[2] != "delimiter" or t[3] not in (".", "@", "\\"):
                    raise Skip(f"eap {t[1]} delimiter {{. | @ | \\}} expected")
                no_more(toks, 4)
                e["eap"] = {t[1]: t[3]}
            else:
                raise Skip("eap all|dn FIELD|prefix delimiter D|suffix delimiter D expected")
            return True
        if t[0] in ("email", "fqdn"):
            ok = ("all", "domain", "username") if t[0] == "email" else ("all", "domain", "hostname")
            if t[1] not in ok:
                raise Skip(f"{t[0]} {'|'.join(ok)} expected")
            no_more(toks, 2)
            e[t[0]] = t[1]
            return True
        return False

    def author_policy_mode(self, toks, e):
        t = toks + [""] * 8
        w = t[0]
        if w == "pool":
            self.ref(e, "pool", "ipv4-pool", name(arg(toks, 1, "pool name"), "pool name"))
            no_more(toks, 2)
        elif w == "ipv6" and t[1] == "pool":
            self.ref(e, "ipv6-pool", "ipv6-pool", name(arg(toks, 2, "pool name"), "pool name"))
            no_more(toks, 3)
        elif w in ("dns", "wins"):
            a = [ipv4(x, f"{w} server address") for x in toks[1:3]]
            if not a:
                raise Skip(f"missing {w} server address")
            no_more(toks, 3)
            e[w] = {"primary": a[0], **({"secondary": a[1]} if len(a) > 1 else {})}
        elif w == "ipv6" and t[1] == "dns":
            a = [ipv6(x, "DNS server address") for x in toks[2:4]]
            if not a:
                raise Skip("missing DNS server address")
            no_more(toks, 4)
            e["ipv6-dns"] = {"primary": a[0], **({"secondary": a[1]} if len(a) > 1 else {})}
        elif w == "ipv6" and t[1] == "subnet-acl":
            self.ref(e, "ipv6-subnet-acl", "access-list", name(arg(toks, 2, "access list"), "access list name"))
            no_more(toks, 3)
        elif w == "dhcp":
            d = e.setdefault("dhcp", {})
            if t[1] == "server":
                d["server"] = host(arg(toks, 2, "server"), "DHCP server")
            elif t[1] == "giaddr":
                d["giaddr"] = ipv4(arg(toks, 2, "giaddr"))
            elif t[1] == "timeout":
                d["timeout"] = number(arg(toks, 2, "seconds"), 1, 65535, "dhcp timeout")
            else:
                raise Skip("dhcp server|giaddr|timeout expected")
            no_more(toks, 3)
        elif w == "netmask":
            mask_len(arg(toks, 1, "netmask"))
            e["netmask"] = ipv4(toks[1])
            no_more(toks, 2)
        elif w == "banner":
            return self.banner(toks, e)
        elif w == "configuration" and t[1] in ("url", "version"):
            v = arg(toks, 2, t[1])
            no_more(toks, 3)
            if t[1] == "url" and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", v):
                raise Skip(f"bad URL {v!r}")
            e.setdefault("configuration", {})[t[1]] = v
        elif w == "def-domain":
            v = domain(arg(toks, 1, "domain"), "default domain")
            no_more(toks, 2)
            e["def-domain"] = v
        elif w in ("split-dns", "backup-gateway"):
            v = arg(toks, 1, "name")
            v = domain(v, "split-dns domain") if w == "split-dns" else text_leaf(v, "backup gateway")
            no_more(toks, 2)
            lst = e.setdefault(w, [])
            if len(lst) >= 10:
                raise Skip(f"at most 10 {w} entries")
            if v not in lst:
                lst.append(v)
        elif w in ("smartcard-removal-disconnect", "include-local-lan", "pfs"):
            no_more(toks, 1)
            e[w] = True
        elif w == "aaa" and t[1] == "attribute" and t[2] == "list":
            self.ref(e, "aaa-attribute-list", "attribute-list", name(arg(toks, 3, "list"), "attribute list name"))
            no_more(toks, 4)
        elif w == "session-lifetime":
            e["session-lifetime"] = number(arg(toks, 1, "seconds"), 120, 25920000, "session-lifetime")
            no_more(toks, 2)
        elif w == "ipsec" and t[1] == "flow-limit":
            e["ipsec-flow-limit"] = number(arg(toks, 2, "limit"), 0, 50000, "ipsec flow-limit")
            no_more(toks, 3)
        elif w == "route":
            self.route(toks, e)
        elif w in ("max-logins", "max-flow-limit", "user-pfs", "firewall", "save-password", "dhcp-namespace"):
            raise Skip(f"'{w}' has no equivalent in Raven")
        else:
            return False
        return True

    def route(self, toks, e):
        t = toks + [""] * 8
        r = e.setdefault("route", {})
        if t[1] == "set":
            s = r.setdefault("set", {})
            if t[2] == "access-list":
                fam, i = ("ipv6", 4) if t[3] == "ipv6" else ("ipv4", 3)
                self.ref(s.setdefault("access-list", {}), fam, "access-list",
                         name(arg(toks, i, "access list"), "access list name"))
                no_more(toks, i + 1)
            elif t[2] == "interface":
                v = arg(toks, 3, "interface")
                no_more(toks, 4)
                if v.lower() not in self.ifmap:
                    raise Skip(f"interface {v} has no Linux name: give --interface {v}=NAME")
                linux = self.ifmap[v.lower()][0]
                lst = s.setdefault("interface", [])
                if linux not in lst:
                    lst.append(linux)
            elif t[2] == "remote":
                if t[3] == "ipv4":
                    a = ipv4(arg(toks, 4, "address"))
                    n = mask_len(arg(toks, 5, "netmask"))
                    no_more(toks, 6)
                    p = prefix(a, n, exact=False)     # the network of the address, as the vendor pushes it
                elif t[3] == "ipv6":
                    p = ipv6_prefix(arg(toks, 4, "prefix"))
                    no_more(toks, 5)
                else:
                    raise Skip("route set remote ipv4 IP MASK | ipv6 PREFIX/LEN expected")
                lst = s.setdefault("remote", {}).setdefault(t[3], [])
                if p not in lst:
                    lst.append(p)
            else:
                raise Skip("route set access-list|interface|remote expected")
        elif t[1] == "accept" and t[2] == "any":
            acc = {}
            i = 3
            while i < len(toks):
                if toks[i] == "tag":
                    acc["tag"] = number(arg(toks, i + 1, "tag"), 1, 65535, "tag")
                elif toks[i] == "distance":
                    acc["distance"] = number(arg(toks, i + 1, "distance"), 1, 255, "distance")
                else:
                    raise Skip(f"unexpected {toks[i]!r}")
                i += 2
            r["accept"] = acc
        elif t[1] == "redistribute":
            if t[2] != "connected":
                raise Skip("only route redistribute connected is supported")
            no_more(toks, 3)
            self.entry(r, "redistribute", "connected", "protocol")
        else:
            raise Skip("route set|accept any|redistribute connected expected")
        if not r:
            e.pop("route")

    def banner(self, toks, e):
        """banner TEXT, banner ^C TEXT ^C, or a banner whose closing delimiter
        comes on a later line (then the text lines are collected: returns that
        sub-mode)."""
        rest = self.text.split(None, 1)[1] if len(toks) > 1 else ""
        if not rest:
            raise Skip("missing banner text")
        if toks[1].lower() in GLOBAL_BANNERS:
            return False        # a global banner command: it leaves the policy
        if rest.startswith("^C"):
            delim = "^C"
        elif not rest[0].isalnum():
            delim = rest[0]
        else:
            e["banner"] = text_leaf(rest.strip(), "banner", 4000)   # the vendor also takes it undelimited
            return True
        body = rest[len(delim):]
        if delim in body:
            e["banner"] = self.banner_text(body, delim)
            return True
        start, first, parts = self.line, self.text, [body]

        def more(raw):
            """Text lines up to the closing delimiter; True there. None: the
            text ended first."""
            if raw is None:
                self.skip(f"the banner's closing delimiter {delim} never comes: the lines after this one "
                          "were read as its text and are not converted", start, first)
                return True
            parts.append(raw)
            if delim not in raw:
                return False
            try:
                e["banner"] = self.banner_text("\n".join(parts), delim)
            except Skip as err:
                self.skip(str(err), start, first)
            return True
        return ("banner-text", more)

    @staticmethod
    def banner_text(body, delim):
        end = body.find(delim)
        if body[end + len(delim):].strip():
            raise Skip("text after the banner's closing delimiter")
        text = body[:end].strip()
        if not 1 <= len(text) <= 4000:
            raise Skip("the banner must be 1 to 4000 characters")
        return text

    def profile_mode(self, toks, e):
        t = toks + [""] * 10
        w = t[0]
        if w == "match":
            self.profile_match(toks, e)
        elif w == "identity" and t[1] == "local":
            kinds = ("address", "fqdn", "email", "key-id")
            if t[2] == "dn":
                no_more(toks, 3)
                e["identity"] = {"local": {"dn": [None]}}
            elif t[2] in kinds:
                v = arg(toks, 3, "identity")
                v = ip_any(v) if t[2] == "address" else v
                no_more(toks, 4)
                e["identity"] = {"local": {t[2]: v}}
            else:
                raise Skip("identity local address|fqdn|email|dn|key-id expected")
        elif w == "authentication":
            self.profile_auth(toks, e)
        elif w == "keyring":
            if t[1] == "local":
                self.ref(e.setdefault("keyring", {}), "local", "keyring", name(arg(toks, 2, "keyring"), "keyring"))
                no_more(toks, 3)
            elif t[1] == "aaa":
                k = {}
                ml = name(arg(toks, 2, "method list"), "method list")
                mg = None
                if t[3] == "name-mangler":
                    mg = name(arg(toks, 4, "name mangler"), "name mangler")
                    no_more(toks, 5)
                else:
                    no_more(toks, 3)
                e["keyring"] = {"aaa": k}
                self.ref(k, "method-list", "authorization-list", ml, owner=(e, "keyring"))
                if mg:
                    self.ref(k, "name-mangler", "name-mangler", mg, owner=(e, "keyring"))
            else:
                raise Skip("keyring local NAME | keyring aaa LIST [name-mangler M] expected")
        elif w == "pki" and t[1] == "trustpoint":
            tp = name(arg(toks, 2, "trustpoint"), "trustpoint name")
            usage = t[3] or None
            if usage not in (None, "sign", "verify"):
                raise Skip("pki trustpoint NAME [sign | verify] expected")
            no_more(toks, 4 if usage else 3)
            tps = e.setdefault("pki", {}).setdefault("trustpoint", Keyed())
            ent = self.entry(e["pki"], "trustpoint", tp)
            if usage:
                prev = ent.get("usage")
                ent["usage"] = "both" if prev and prev != usage else usage
            self.refs.append((self.line, self.text, tps, tp, "trustpoint", tp, "keyed", None))
        elif w == "aaa":
            self.profile_aaa(toks, e)
        elif w == "virtual-template":
            n = number(arg(toks, 1, "template number"), 1, 65535, "virtual-template")
            no_more(toks, 2)
            self.templates.setdefault(n, []).append((self.line, self.text, e))
        elif w == "dpd":
            iv = number(arg(toks, 1, "interval"), 10, 3600, "dpd interval")
            rt_ = number(arg(toks, 2, "retry"), 2, 60, "dpd retry")
            mode = arg(toks, 3, "on-demand | periodic")
            if mode not in ("on-demand", "periodic"):
                raise Skip("dpd INTERVAL RETRY on-demand|periodic expected")
            no_more(toks, 4)
            e["dpd"] = {"interval": iv, "retry": rt_, "mode": mode}
        elif w == "lifetime":
            e["lifetime"] = number(arg(toks, 1, "seconds"), 120, 86400, "lifetime")
            no_more(toks, 2)
        elif w == "description":
            e["description"] = text_leaf(self.text.split(None, 1)[1] if len(toks) > 1 else arg(toks, 1, "text"),
                                         "description")
        elif w == "ivrf":
            v = vrf(arg(toks, 1, "VRF"))
            no_more(toks, 2)
            e["ivrf"] = v
        elif w == "config-exchange":
            ce = e.setdefault("config-exchange", {})
            if t[1] == "request":
                no_more(toks, 2)
                ce["request"] = True
            elif t[1] == "set" and t[2] in ("accept", "send"):
                no_more(toks, 3)
                ce.setdefault("set", {})[t[2]] = True
            else:
                raise Skip("config-exchange request | set accept | set send expected")
        elif w == "no" and t[1] == "config-exchange":
            ce = e.setdefault("config-exchange", {})
            if t[2] == "request":
                no_more(toks, 3)
                ce["request"] = False
            elif t[2] == "set" and t[3] in ("accept", "send"):
                no_more(toks, 4)
                ce.setdefault("set", {})[t[3]] = False
            else:
                raise Skip("no config-exchange request | set accept | set send expected")
        elif w in ("nat", "redirect", "shutdown", "reconnect", "initial-contact", "anyconnect", "hybrid",
                   "virtual-access", "dynamic", "no"):
            raise Skip(f"'{' '.join(toks[:2])}' has no equivalent in Raven")
        else:
            return False
        return True

    def profile_match(self, toks, e):
        t = toks + [""] * 8
        m = e.setdefault("match", {})
        if t[1] == "certificate":
            self.ref(m, "certificate-map", "certificate-map", name(arg(toks, 2, "map"), "certificate map"),
                     leaflist=True)
            no_more(toks, 3)
        elif t[1] == "fvrf":
            v = vrf(arg(toks, 2, "VRF"))
            no_more(toks, 3)
            m["fvrf"] = v
        elif t[1] == "address" and t[2] == "local":
            if t[3] == "interface":
                v = arg(toks, 4, "interface")
                no_more(toks, 5)
                if v.lower() not in self.ifmap:
                    raise Skip(f"interface {v} has no Linux name: give --interface {v}=NAME")
                self.local_ifaces.setdefault(v.lower(), self.line)
                self.ref(m, "local-interface", "dataplane-interface", self.ifmap[v.lower()][0], leaflist=True)
            else:
                a = ip_any(arg(toks, 3, "address"))
                no_more(toks, 4)
                la = m.setdefault("local-address", [])
                if a not in la:
                    la.append(a)
        elif t[1] == "identity" and t[2] == "remote":
            r = m.setdefault("identity", {}).setdefault("remote", {})
            self.identity_remote(toks, r)
        elif t[1] == "identity" and t[2] == "local":
            loc = m.setdefault("identity", {}).setdefault("local", {})
            if t[3] not in ("address", "fqdn", "email", "key-id"):
                raise Skip("match identity local address|fqdn|email|key-id VALUE expected")
            v = arg(toks, 4, "identity")
            v = ip_any(v) if t[3] == "address" else v
            no_more(toks, 5)
            lst = loc.setdefault(t[3], [])
            if v not in lst:
                lst.append(v)
        else:
            raise Skip("match certificate|fvrf|address local|identity remote|identity local expected")
        if not m:
            e.pop("match")

    def identity_remote(self, toks, r):
        t = toks + [""] * 8
        k = t[3]
        if k == "address":
            a = arg(toks, 4, "address")
            if "/" in a:
                p = ipv6_prefix(a, exact=True)
                no_more(toks, 5)
            elif ":" in a:
                a = ipv6(a)
                p = prefix(a, 0 if a == "::" else 128)
                no_more(toks, 5)
            else:
                a = ipv4(a)
                if len(toks) > 5:
                    p = prefix(a, mask_len(toks[5]))
                    no_more(toks, 6)
                else:
                    # the vendor's "address 0.0.0.0" matches any IPv4 address ID
                    p = prefix(a, 0 if a == "0.0.0.0" else 32)
            lst = r.setdefault("address", [])
            if p not in lst:
                lst.append(p)
        elif k in ("fqdn", "email"):
            sub = "domain" if t[4] == "domain" else "exact"
            v = arg(toks, 5 if sub == "domain" else 4, k)
            no_more(toks, 6 if sub == "domain" else 5)
            lst = r.setdefault(k, {}).setdefault(sub, [])
            if v not in lst:
                lst.append(v)
        elif k == "key-id":
            v = arg(toks, 4, "key id")
            no_more(toks, 5)
            lst = r.setdefault("key-id", [])
            if v not in lst:
                lst.append(v)
        elif k == "any":
            raise Skip("match identity remote any has no equivalent: Raven matches identities by type "
                       "(address 0.0.0.0 for any IPv4 address ID, fqdn domain, email domain, key-id)")
        else:
            raise Skip("match identity remote address|fqdn|email|key-id expected")

    def profile_auth(self, toks, e):
        t = toks + [""] * 8
        a = e.setdefault("authentication", {})
        if t[1] == "local":
            if t[2] in ("rsa-sig", "ecdsa-sig"):
                no_more(toks, 3)
                loc = a.setdefault("local", {})
                for k in ("rsa-sig", "ecdsa-sig", "pre-share"):
                    loc.pop(k, None)
                loc[t[2]] = [None]
            elif t[2] == "pre-share":
                ps = {}
                if t[3] == "key":
                    ps["key"], i = secret(toks, 4, "pre-shared key")
                    no_more(toks, i)
                else:
                    no_more(toks, 3)
                loc = a.setdefault("local", {})
                for k in ("rsa-sig", "ecdsa-sig"):
                    loc.pop(k, None)
                loc["pre-share"] = ps
            elif t[2] == "eap":
                raise Skip("authentication local eap is for an initiator: Raven is a responder")
            else:
                raise Skip("authentication local rsa-sig|ecdsa-sig|pre-share [key K] expected")
        elif t[1] == "remote":
            rem = a.setdefault("remote", {})
            if t[2] in ("rsa-sig", "ecdsa-sig"):
                no_more(toks, 3)
                rem[t[2]] = [None]
            elif t[2] == "pre-share":
                ps = {}
                if t[3] == "key":
                    ps["key"], i = secret(toks, 4, "pre-shared key")
                    no_more(toks, i)
                else:
                    no_more(toks, 3)
                rem["pre-share"] = ps
            elif t[2] == "eap":
                eap = {}
                i = 3
                while i < len(toks):
                    if toks[i] == "query-identity":
                        eap["query-identity"] = True
                        i += 1
                    elif toks[i] == "timeout":
                        eap["timeout"] = number(arg(toks, i + 1, "seconds"), 45, 120, "eap timeout")
                        i += 2
                    elif toks[i] in ("gtc", "md5", "mschapv2"):
                        raise Skip(f"eap {toks[i]}: Raven passes EAP through to RADIUS, which chooses the method")
                    else:
                        raise Skip(f"unexpected {toks[i]!r}")
                rem["eap"] = eap
            elif t[2] == "anyconnect-eap":
                raise Skip("AnyConnect EAP has no equivalent in Raven")
            else:
                raise Skip("authentication remote rsa-sig|ecdsa-sig|pre-share|eap expected")
            if not rem:
                a.pop("remote")
        else:
            raise Skip("authentication local|remote expected")

    def profile_aaa(self, toks, e):
        t = toks + [""] * 10
        aaa = e.setdefault("aaa", {})
        if t[1] == "authentication" and t[2] in ("eap", "anyconnect-eap"):
            if t[2] != "eap":
                raise Skip(f"aaa authentication {t[2]} has no equivalent (eap LIST only)")
            self.ref(aaa.setdefault("authentication", {}), "eap", "authentication-list",
                     name(arg(toks, 3, "method list"), "method list"))
            no_more(toks, 4)
        elif t[1] == "authorization" and t[2] in ("user", "group"):
            i = 3
            override = False
            if t[2] == "group" and t[3] == "override":
                override, i = True, 4
            kind = arg(toks, i, "eap | psk | cert")
            if kind not in ("eap", "psk", "cert"):
                raise Skip(f"aaa authorization {t[2]} eap|psk|cert expected")
            i += 1
            z = {}
            owner = (aaa.setdefault("authorization", {}).setdefault(t[2], {}), kind)
            if override:
                z["override"] = [None]
            if i < len(toks) and toks[i] == "cached":
                if t[2] != "user" or kind == "cert":
                    raise Skip("cached is only for aaa authorization user eap|psk")
                no_more(toks, i + 1)
                z["cached"] = [None]
            elif i < len(toks) and toks[i] == "list":
                ml = name(arg(toks, i + 1, "method list"), "method list")
                i += 2
                mg = None
                if i < len(toks) and toks[i] == "name-mangler":
                    mg = name(arg(toks, i + 1, "name mangler"), "name mangler")
                    i += 2
                elif i < len(toks):
                    z["username"] = toks[i]
                    i += 1
                no_more(toks, i)
                if kind == "cert" and not ("username" in z or mg):
                    raise Skip("cert authorization needs a user name or name-mangler after the list")
                self.ref(z, "method-list", "authorization-list", ml, owner=owner)
                if mg:
                    self.ref(z, "name-mangler", "name-mangler", mg, owner=owner)
            else:
                raise Skip("list LIST [NAME | name-mangler M] or cached expected")
            owner[0][kind] = z
        elif t[1] == "accounting" and t[2] not in ("network", "update", "exec", "commands", "connection",
                                                   "system", "send", "delay-start", "") and len(toks) <= 4:
            if t[2] in ("eap", "psk", "cert"):
                kinds, n, i = [t[2]], arg(toks, 3, "method list"), 4
            else:
                kinds, n, i = ["eap", "psk", "cert"], arg(toks, 2, "method list"), 3
            name(n, "method list")
            no_more(toks, i)
            acc = aaa.setdefault("accounting", {})
            for k in kinds:
                self.ref(acc, k, "accounting-list", n)
        else:
            return False
        return True

    # -- crypto ipsec

    def crypto_ipsec(self, toks):
        t = toks + [""] * 8
        ips = self.node("ipsec")
        if t[2] == "transform-set":
            n = name(arg(toks, 3, "transform set name"), "transform set name")
            ts = {"name": n}
            self.transforms(toks[4:], ts)
            if n in ips.get("transform-set", {}):
                raise Skip(f"transform set {n} is defined twice")
            ips.setdefault("transform-set", Keyed())[n] = ts
            return ("crypto ipsec transform-set", lambda tk: self.transform_mode(tk, ts))
        if t[2] == "profile":
            n = name(arg(toks, 3, "profile name"), "profile name")
            no_more(toks, 4)
            e = self.entry(ips, "profile", n)
            self.pending_mode = ("crypto ipsec profile", lambda tk: self.ipsec_profile_mode(tk, e))
            return self.pending_mode
        if t[2] == "security-association":
            raise Skip("global SA settings have no equivalent: set them in each crypto ipsec profile")
        raise Skip(f"'crypto ipsec {t[2]}' is not supported")

    def transforms(self, ts_toks, ts):
        i = 0
        if not ts_toks:
            raise Skip("missing transforms")
        while i < len(ts_toks):
            w = ts_toks[i]
            if w == "esp-aes":
                bits = "128"
                if i + 1 < len(ts_toks) and ts_toks[i + 1] in ("128", "192", "256"):
                    bits, i = ts_toks[i + 1], i + 1
                enc = f"aes-cbc-{bits}"
            elif w == "esp-gcm":
                bits = "128"
                if i + 1 < len(ts_toks) and ts_toks[i + 1] in ("128", "256"):
                    bits, i = ts_toks[i + 1], i + 1
                enc = f"aes-gcm-16-{bits}"
            elif w == "esp-3des":
                enc = "des3-cbc"
            elif w in ESP_INTEG:
                if "esp-integrity" in ts:
                    raise Skip("two integrity transforms")
                ts["esp-integrity"] = rt(ESP_INTEG[w])
                if ESP_INTEG[w] in LEGACY:
                    ts["allow-legacy"] = True
                i += 1
                continue
            elif w in ("esp-des", "esp-null", "esp-seal", "esp-gmac") or w.startswith("ah-") or w == "comp-lzs":
                raise Skip(f"transform {w} is not supported by Raven")
            else:
                raise Skip(f"unknown transform {w!r}")
            if "esp-encryption" in ts:
                raise Skip("two encryption transforms")
            ts["esp-encryption"] = rt(enc)
            if enc in LEGACY:
                ts["allow-legacy"] = True
            i += 1
        if "esp-encryption" not in ts:
            raise Skip("missing an ESP encryption transform")
        aead = "gcm" in ts["esp-encryption"]
        if aead and "esp-integrity" in ts:
            raise Skip("esp-gcm is combined mode: no integrity transform goes with it")
        if not aead and "esp-integrity" not in ts:
            raise Skip("CBC encryption needs an integrity transform (esp-sha-hmac, esp-sha256-hmac, ...)")

    def transform_mode(self, toks, ts):
        if toks[0] != "mode":
            return False
        m = arg(toks, 1, "tunnel | transport")
        if m not in ("tunnel", "transport"):
            raise Skip("mode tunnel|transport expected")
        no_more(toks, 2)
        ts["mode"] = m
        return True

    def ipsec_profile_mode(self, toks, e):
        t = toks + [""] * 8
        if t[0] != "set":
            return False
        if t[1] == "transform-set":
            names = toks[2:]
            if not names:
                raise Skip("missing transform set name")
            for n in names:
                name(n, "transform set name")
            for n in names:
                self.ref(e, "transform-set", "transform-set", n, leaflist=True)
        elif t[1] == "ikev2-profile":
            self.ref(e, "ikev2-profile", "ikev2-profile", name(arg(toks, 2, "profile"), "profile name"))
            no_more(toks, 3)
        elif t[1] == "pfs":
            g = arg(toks, 2, "group")
            if not g.startswith("group") or g[5:] not in DH:
                raise Skip(f"pfs {g}: supported groups are {', '.join('group' + k for k in DH)}")
            no_more(toks, 3)
            e["pfs-group"] = rt(DH[g[5:]])
            if DH[g[5:]] in LEGACY:
                e["allow-legacy"] = True
        elif t[1] == "security-association":
            lt = e.setdefault("lifetime", {})
            if t[2] == "lifetime" and t[3] == "seconds":
                lt.setdefault("hard", {})["time"] = number(arg(toks, 4, "seconds"), 120, 2592000, "lifetime")
                no_more(toks, 5)
            elif t[2] == "lifetime" and t[3] == "kilobytes":
                if t[4] == "disable":
                    raise Skip("Raven always has a volume lifetime: give a number of kilobytes")
                lt.setdefault("hard", {})["kilobytes"] = str(number(arg(toks, 4, "kilobytes"), 2560,
                                                                    18446744073709551615, "lifetime kilobytes"))
                no_more(toks, 5)
            elif t[2] == "idle-time":
                lt["idle-time"] = number(arg(toks, 3, "seconds"), 60, 86400, "idle-time")
                no_more(toks, 4)
            elif t[2] == "replay" and t[3] == "window-size":
                e["replay-window"] = number(arg(toks, 4, "size"), 0, 65535, "replay window-size")
                no_more(toks, 5)
            else:
                raise Skip("set security-association lifetime|idle-time|replay window-size expected")
            if not lt:
                e.pop("lifetime")
        else:
            raise Skip(f"'set {t[1]}' has no equivalent in Raven")
        return True

    # -- crypto pki

    def crypto_pki(self, toks):
        t = toks + [""] * 8
        pki = self.node("pki")
        if t[2] == "trustpoint":
            tp = self.entry(pki, "trustpoint", name(arg(toks, 3, "trustpoint name"), "trustpoint name"))
            no_more(toks, 4)
            self.pending_mode = ("crypto pki trustpoint", lambda tk: self.trustpoint_mode(tk, tp))
            return self.pending_mode
        if t[2] == "certificate" and t[3] == "map":
            n = name(arg(toks, 4, "map name"), "certificate map name")
            seq = number(arg(toks, 5, "sequence"), 1, 65535, "sequence")
            no_more(toks, 6)
            cm = self.entry(pki, "certificate-map", n)
            ent = self.entry(cm, "entry", seq, "sequence")
            self.pending_mode = ("crypto pki certificate map", lambda tk: self.certmap_mode(tk, ent))
            return self.pending_mode
        if t[2] == "certificate" and t[3] == "chain":
            tpn = name(arg(toks, 4, "trustpoint"), "trustpoint name")
            no_more(toks, 5)
            return ("crypto pki certificate chain", lambda tk: self.chain_mode(tk, tpn))
        raise Skip(f"'crypto pki {t[2]}' has no equivalent in Raven")

    def trustpoint_mode(self, toks, tp):
        t = toks + [""] * 6
        w = t[0]
        if w == "revocation-check":
            key = " ".join(toks[1:])
            if key not in REVOCATION:
                raise Skip(f"revocation-check {key!r} is not supported ({' | '.join(REVOCATION)})")
            tp["revocation-check"] = REVOCATION[key]
        elif w == "subject-name":
            tp["subject-name"] = self.text.split(None, 1)[1] if len(toks) > 1 else arg(toks, 1, "DN")
        elif w == "ocsp" and t[1] == "url":
            v = arg(toks, 2, "URL")
            no_more(toks, 3)
            if not re.match(r"https?://", v):
                raise Skip(f"ocsp url {v!r}: an http:// or https:// URL expected")
            tp["ocsp-url"] = v
        elif w == "ocsp" and t[1] == "disable-nonce":
            no_more(toks, 2)
            tp["ocsp-nonce"] = False
        elif w == "enrollment":
            raise Skip("not applicable: Raven does not enrol certificates; install the CA chain, certificate "
                       "and key as PEM in pki/trustpoint")
        elif w in ("rsakeypair", "eckeypair"):
            raise Skip("not applicable: the key is installed as PEM in pki/trustpoint/private-key")
        elif w in ("serial-number", "ip-address", "fqdn", "subject-alt-name", "auto-enroll", "fingerprint",
                   "password", "usage", "vrf", "source", "chain-validation", "crl", "match", "hash", "auto-trigger",
                   "storage", "usage", "cn-at-begin"):
            raise Skip(f"'{w}' has no equivalent in Raven")
        else:
            return False
        return True

    def certmap_mode(self, toks, ent):
        if toks[0] not in CERT_FIELDS:
            return False
        op = arg(toks, 1, "operator")
        if op not in CERT_OPS:
            raise Skip(f"operator {op!r} is not one of {', '.join(sorted(CERT_OPS))}")
        v = unquote(self.text.split(None, 2)[2]) if len(toks) > 2 else arg(toks, 2, "value")
        key = (toks[0], op, v)
        self.entry(ent, "rule", key, ("field", "operator", "value"))
        return True

    def chain_mode(self, toks, tpn):
        if toks[0] != "certificate":
            return False
        t = toks + [""] * 3
        is_ca = t[1] == "ca"
        arg(toks, 2 if is_ca else 1, "serial")
        no_more(toks, 3 if is_ca else 2)
        start, text, buf = self.line, self.text, []

        def data(tk):
            """Hex lines up to quit; True at quit. None: the text ended first."""
            if tk is None:
                self.skip("no 'quit' after the certificate data: not converted", start, text)
                return True
            if tk == ["quit"]:
                self._chain_done(tpn, is_ca, start, text, buf)
                return True
            if not all(re.fullmatch(r"[0-9A-Fa-f]+", x) for x in tk):
                self.skip("not hex certificate data")
            else:
                buf.append("".join(tk))
            return False
        self.pending_mode = ("certificate-data", data)
        return self.pending_mode

    def _chain_done(self, tpn, is_ca, start, text, buf):
        try:
            der = bytes.fromhex("".join(buf))
        except ValueError:
            self.skip("certificate data of odd length", line=start, text=text)
            return
        if len(der) < 16 or der[0] != 0x30:
            self.skip("the data is not a DER certificate", line=start, text=text)
            return
        b64 = base64.b64encode(der).decode("ascii")
        pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) \
              + "\n-----END CERTIFICATE-----"
        if not is_ca:
            self.skip("the headend's own certificate goes with its private key, which the configuration text "
                      f"does not hold: set pki/trustpoint={tpn}/certificate and private-key (PEM) together",
                      line=start, text=text)
            return
        tp = self.entry(self.node("pki"), "trustpoint", tpn)
        tp.setdefault("ca-certificate", []).append(pem)

    # -- pools and access lists

    def ip_local_pool(self, toks):
        n = name(arg(toks, 3, "pool name"), "pool name")
        a = ipv4(arg(toks, 4, "first address"))
        b = ipv4(toks[5]) if len(toks) > 5 else a
        if len(toks) > 6:
            raise Skip(f"option {toks[6]!r} is not supported (no pool groups or VRFs in Raven pools)")
        if ipaddress.IPv4Address(b) < ipaddress.IPv4Address(a):
            raise Skip(f"the last address {b} is below the first {a}")
        p = self.entry(self.node("pools"), "ipv4-pool", n)
        rng = p.setdefault("range", Keyed())
        if a in rng:
            raise Skip(f"pool {n} already has a range starting at {a}")
        rng[a] = {"start": a, "end": b}
        return True

    def ipv6_local_pool(self, toks):
        n = name(arg(toks, 3, "pool name"), "pool name")
        p = ipv6_prefix(arg(toks, 4, "prefix"))
        ln = number(arg(toks, 5, "assigned length"), 1, 128, "assigned length")
        no_more(toks, 6)
        if ln < int(p.split("/")[1]):
            raise Skip(f"the assigned length {ln} is shorter than the pool's prefix {p}")
        pools = self.node("pools").setdefault("ipv6-pool", Keyed())
        if n in pools:
            raise Skip(f"IPv6 pool {n} is defined twice")
        pools[n] = {"name": n, "prefix": p, "assigned-length": ln}
        return True

    def ip_access_list(self, toks):
        kind = arg(toks, 2, "standard | extended")
        if kind not in ("standard", "extended"):
            raise Skip("ip access-list standard|extended NAME expected")
        n = name(arg(toks, 3, "access list name"), "access list name")
        no_more(toks, 4)
        acl = self.entry(self.node("access-lists"), "access-list", n)
        return (f"ip access-list {kind}", lambda tk: self.acl_entry(tk, acl, kind))

    def numbered_acl(self, toks):
        num = number(arg(toks, 1, "number"), 1, 2699, "access list number")
        kind = "standard" if num < 100 or 1300 <= num <= 1999 else "extended"
        if 200 <= num < 1300 and not 1300 <= num <= 1999 or num >= 2700:
            raise Skip(f"access list {num} is not an IP access list")
        if arg(toks, 2, "permit | deny | remark") not in ("permit", "deny", "remark"):
            raise Skip(f"access-list {num} {toks[2]}: only permit, deny and remark entries are converted")
        acl = self.entry(self.node("access-lists"), "access-list", str(num))
        self.acl_entry(toks[2:], acl, kind)
        return True

    def acl_entry(self, toks, acl, kind):
        t = toks + [""] * 8
        i = 0
        seq = None
        if t[0] == "sequence":
            seq, i = number(arg(toks, 1, "sequence"), 1, 4294967294, "sequence"), 2
        elif re.fullmatch(r"\d+", t[0]):
            seq, i = number(t[0], 1, 4294967294, "sequence"), 1
        action = t[i]
        if action == "remark":
            return True
        if action not in ("permit", "deny"):
            return False
        i += 1
        if kind == "standard":
            src, i = self.acl_source(toks, i, "ipv4", wildcard=True)
        else:
            proto = arg(toks, i, "protocol")
            want = "ipv6" if kind == "ipv6" else "ip"
            if proto != want:
                raise Skip(f"only '{action} {want} SOURCE any' has an equivalent: Raven's access lists are "
                           "lists of source prefixes (the subnets pushed to clients)")
            src, i = self.acl_source(toks, i + 1, "ipv6" if kind == "ipv6" else "ipv4", wildcard=True)
            if arg(toks, i, "destination") != "any":
                raise Skip("only the destination 'any' has an equivalent: Raven's access lists are lists of "
                           "source prefixes")
            i += 1
        no_more(toks, i)
        ents = acl.setdefault("entry", Keyed())
        if seq is None:
            seq = (max(ents) // 10 + 1) * 10 if ents else 10
        if seq in ents:
            raise Skip(f"sequence {seq} is used twice")
        ents[seq] = {"sequence": seq, "action": action, "prefix": src}
        return True

    def acl_source(self, toks, i, fam, wildcard):
        s = arg(toks, i, "source")
        if s == "any":
            return ("0.0.0.0/0" if fam == "ipv4" else "::/0"), i + 1
        if s == "host":
            a = arg(toks, i + 1, "host address")
            return (prefix(ipv4(a), 32) if fam == "ipv4" else prefix(ipv6(a), 128)), i + 2
        if fam == "ipv6":
            return ipv6_prefix(s, exact=True), i + 1
        a = ipv4(s, "source address")
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", nxt):
            return prefix(a, mask_len(nxt, wildcard=True)), i + 2
        return prefix(a, 32), i + 1

    # -- interfaces

    def interface(self, toks):
        v = arg(toks, 1, "interface name")
        rest = toks[2:]
        m = re.fullmatch(r"(?i)virtual-template(\d+)", v)
        if m:
            if rest and rest != ["type", "tunnel"]:
                raise Skip(f"virtual template type {' '.join(rest[1:]) or '?'}: only type tunnel is supported")
            n = int(m.group(1))
            self.pending_mode = ("interface Virtual-Template", lambda tk: self.vt_mode(tk, n))
            return self.pending_mode
        no_more(toks, 2)
        self.phys.append((self.line, self.text, v))
        return ("interface", lambda tk: self.phys_mode(tk, v))

    def vt_mode(self, toks, n):
        t = toks + [""] * 6
        if t[0] == "tunnel" and t[1] == "protection":
            if t[2] != "ipsec" or t[3] != "profile":
                raise Skip("tunnel protection ipsec profile NAME expected")
            p = name(arg(toks, 4, "profile"), "profile name")
            if len(toks) > 5:
                raise Skip(f"option {toks[5]!r} is not supported")
            self.vt_protect[n] = (self.line, self.text, p)
            return True
        if t[0] == "tunnel" and t[1] == "mode":
            raise Skip("not applicable: the address families of a session follow what the client asks for and "
                       "what the pools give")
        if t[0] in ("ip", "ipv6") and t[1] == "unnumbered":
            v = arg(toks, 2, "interface")
            no_more(toks, 3)
            self.unnumbered.setdefault(v.lower(), self.line)
            return True
        if t[0] == "vrf" and t[1] == "forwarding":
            v = arg(toks, 2, "VRF")
            no_more(toks, 3)
            if not 1 <= len(v) <= 15:
                raise Skip("a VRF name is 1 to 15 characters")
            self.vt_vrf[n] = (self.line, self.text, v)
            return True
        if (t[0] in ("ip", "ipv6") and t[1] in INTERFACE_IP) or t[0] in (
                "tunnel", "description", "shutdown", "no", "keepalive", "mtu", "bandwidth", "load-interval",
                "service-policy"):
            raise Skip("not applicable: Raven's sessions have no interface (of the template only the "
                       "IPsec profile and the VRF are kept)")
        return False

    def phys_mode(self, toks, v):
        t = toks + [""] * 4
        if t[0] in ("ip", "ipv6") and t[1] in INTERFACE_IP:
            raise Skip("not applicable: interface addresses and settings belong to Linux; Raven only names the "
                       "interface and its role")
        if t[0] in ("description", "shutdown", "no", "duplex", "speed", "negotiation", "mtu", "media-type",
                    "load-interval", "bandwidth", "cdp", "keepalive"):
            raise Skip("not applicable: interface settings belong to Linux")
        if t[0] == "vrf" and t[1] == "forwarding":
            raise Skip("not applicable: VRFs are Linux VRF devices (the profile's match fvrf names them)")
        if t[0] == "crypto" and t[1] == "map":
            raise Skip("crypto maps (site-to-site) are not supported")
        return False

    # -- after the last line

    def finish(self):
        for key, (val, line) in self.radius_defaults.items():
            for s in self.node("aaa").get("radius-server", {}).values():
                s.setdefault(key, val)
        for sname, s in list(self.node("aaa").get("radius-server", {}).items()):
            if "address" not in s or "key" not in s:
                missing = " and ".join(k for k in ("address", "key") if k not in s)
                self.drop(self.root["aaa"]["radius-server"], sname, f"RADIUS server {sname} has no {missing}")
        self.interfaces()
        self.group_radius()
        for n, uses in self.templates.items():
            prot = self.vt_protect.get(n)
            for line, text, prof in uses:
                if not prot:
                    self.skip(f"interface Virtual-Template{n} has no tunnel protection ipsec profile: nothing to "
                              "convert", line, text)
                    continue
                self.line, self.text = prot[0], prot[1]
                self.ref(prof.setdefault("virtual-template", {}), "ipsec-profile", "ipsec-profile", prot[2],
                         owner=(prof, "virtual-template"))
                if n in self.vt_vrf:
                    prof["ivrf"] = self.vt_vrf[n][2]
        used = set(self.templates)
        for n, (line, text, _) in self.vt_protect.items():
            if n not in used:
                self.skip(f"no crypto ikev2 profile names virtual-template {n}", line, text)
        for n, (line, text, _) in self.vt_vrf.items():
            if n not in used:
                self.skip(f"no crypto ikev2 profile names virtual-template {n}", line, text)
        self.resolve()

    def group_radius(self):
        """The vendor's built-in "group radius" is every RADIUS server of the
        configuration, in order: a server group named radius, made when a method
        list uses it and the text defines no group of that name."""
        aaa = self.root.get("aaa", {})
        used = any(kind == "server-group" and target == "radius" for _, _, _, _, kind, target, _, _ in self.refs)
        servers = list(aaa.get("radius-server", {}))
        if used and servers and "radius" not in aaa.get("server-group", {}):
            aaa.setdefault("server-group", Keyed())["radius"] = {"name": "radius", "server": servers}

    def interfaces(self):
        for line, text, v in self.phys:
            low = v.lower()
            roles = set()
            if low in self.unnumbered:
                roles.add("outside")
            if low in self.local_ifaces:
                roles.add("outside")
            mapped = self.ifmap.get(low)
            if not mapped:
                why = "the sessions' outside interface" if roles else "an interface"
                self.skip(f"{why}: give its Linux name with --interface {v}=NAME[:outside|inside]", line, text)
                continue
            linux, role = mapped
            if role is None:
                if not roles:
                    self.skip(f"not used by the VPN configuration: give its role with --interface "
                              f"{v}={linux}:outside|inside to keep it", line, text)
                    continue
                role = "outside"
            self.entry(self.node("dataplane"), "interface", linux).update({"role": role})
        for low, line in self.unnumbered.items():
            if not any(p[2].lower() == low for p in self.phys):
                self.skip(f"interface {low} is not defined in the text", line, f"ip unnumbered {low}")

    KIND_TEXT = {"ipv4-pool": "ip local pool", "ipv6-pool": "ipv6 local pool",
                 "radius-server": "RADIUS server", "server-group": "aaa group server radius",
                 "authentication-list": "aaa authentication login", "authorization-list":
                 "aaa authorization network", "accounting-list": "aaa accounting network",
                 "attribute-list": "aaa attribute list", "trustpoint": "crypto pki trustpoint",
                 "certificate-map": "crypto pki certificate map", "access-list": "access list",
                 "proposal": "crypto ikev2 proposal", "keyring": "crypto ikev2 keyring",
                 "name-mangler": "crypto ikev2 name-mangler", "ikev2-profile": "crypto ikev2 profile",
                 "transform-set": "crypto ipsec transform-set", "ipsec-profile": "crypto ipsec profile",
                 "dataplane-interface": "converted interface"}

    def resolve(self):
        """Drops what is incomplete and references to what the text does not
        define (or what was dropped), reporting each, until nothing changes."""
        changed = True
        while changed:
            changed = self.incomplete()
            for idx, (line, text, parent, key, kind, target, leaflist, owner) in enumerate(self.refs):
                if idx in self.reported or self.exists(kind, target):
                    continue
                alias = self.radius_by_address(target) if kind == "radius-server" else None
                if alias and leaflist is True and alias not in parent.get(key, []) and target in parent.get(key, []):
                    # "server IP" in a group names a "radius server NAME" by its address
                    parent[key][parent[key].index(target)] = alias
                    self.refs[idx] = (line, text, parent, key, kind, alias, leaflist, owner)
                    continue
                self.reported.add(idx)
                changed = True
                self.skip(f"{target} is not defined ({self.KIND_TEXT[kind]} {target} is not in the converted "
                          "configuration): left out", line, text)
                if owner is not None:
                    owner[0].pop(owner[1], None)
                elif leaflist == "keyed":
                    parent.pop(key, None)
                elif leaflist:
                    if target in parent.get(key, []):
                        parent[key].remove(target)
                elif parent.get(key) == target:
                    del parent[key]

    def profile_problem(self, pr):
        """Why the profile would be refused by the model, or None."""
        auth = pr.get("authentication", {})
        loc, rem = auth.get("local", {}), auth.get("remote", {})
        tps = pr.get("pki", {}).get("trustpoint", {})
        usages = {tp.get("usage", "both") for tp in tps.values()}
        keyring = pr.get("keyring", {})
        if not loc:
            return "has no authentication local"
        if not rem:
            return "has no authentication remote"
        if ("rsa-sig" in loc or "ecdsa-sig" in loc) and not usages & {"sign", "both"}:
            return "signs with a certificate but names no signing pki trustpoint"
        if ("rsa-sig" in rem or "ecdsa-sig" in rem) and not usages & {"verify", "both"}:
            return "verifies certificates but names no verifying pki trustpoint"
        for side, a in (("local", loc), ("remote", rem)):
            if "pre-share" in a and "key" not in a["pre-share"] and not keyring:
                return f"has authentication {side} pre-share without a key or a keyring"
        if "eap" in rem:
            if not ("rsa-sig" in loc or "ecdsa-sig" in loc):
                return "accepts EAP, for which Raven signs with a certificate (authentication local rsa-sig or " \
                       "ecdsa-sig)"
            eap = pr.get("aaa", {}).get("authentication", {}).get("eap")
            lst = self.root.get("aaa", {}).get("authentication-list", {}).get(eap)
            if not lst:
                return "accepts EAP without an aaa authentication eap list"
            if not any("group" in m for m in lst.get("method", {}).values()):
                return f"passes EAP to the list {eap}, which has no RADIUS group"
        return None

    def authorization_problems(self, n, pr):
        """Drops an aaa authorization of a profile whose user name, with a local
        method list, names no authorization policy."""
        changed = False
        az = pr.get("aaa", {}).get("authorization", {})
        lists = self.root.get("aaa", {}).get("authorization-list", {})
        policies = self.root.get("ikev2", {}).get("authorization-policy", {})
        for who in ("user", "group"):
            for kind, z in list(az.get(who, {}).items()):
                ml = lists.get(z.get("method-list"), {})
                local = any("local" in m for m in ml.get("method", {}).values())
                if local and "username" in z and z["username"] not in policies:
                    self.skip(f"with the local method list {z['method-list']}, {z['username']} must name a crypto "
                              "ikev2 authorization policy, and the text has none by that name: left out",
                              *self.ref_origin(z))
                    del az[who][kind]
                    changed = True
        return changed

    def ref_origin(self, parent):
        for line, text, p, *_ in self.refs:
            if p is parent:
                return line, text
        return 0, ""

    def acl_families(self):
        """route set access-list ipv4 / ipv6 and ipv6 subnet-acl need a list
        of that family only."""
        changed = False
        acls = self.root.get("access-lists", {}).get("access-list", {})
        for n, pol in self.root.get("ikev2", {}).get("authorization-policy", {}).items():
            ral = pol.get("route", {}).get("set", {}).get("access-list", {})
            for parent, key, fam in ((ral, "ipv4", 4), (ral, "ipv6", 6), (pol, "ipv6-subnet-acl", 6)):
                acl = acls.get(parent.get(key))
                if not acl:
                    continue
                fams = {ipaddress.ip_network(e["prefix"]).version for e in acl.get("entry", {}).values()}
                if fams - {fam}:
                    line, text = self.ref_origin(parent)
                    self.skip(f"access list {parent[key]} has IPv{(fams - {fam}).pop()} entries, and this use takes "
                              f"IPv{fam} ones only: left out", line, text)
                    del parent[key]
                    changed = True
        return changed

    def radius_by_address(self, addr):
        for n, srv in self.root.get("aaa", {}).get("radius-server", {}).items():
            if srv.get("address") == addr:
                return n
        return None

    def drop(self, lst, key, reason):
        e = lst[key]
        line, text = self.origin.get(id(e), (0, ""))
        self.skip(reason + ": left out", line, text)
        del lst[key]
        return True

    def incomplete(self):
        """Drops list entries that the YANG model would refuse for a missing
        part (what the text did not give), reporting each. True if any."""
        changed = False
        aaa, ik, ips, pki = (self.root.get(k, {}) for k in ("aaa", "ikev2", "ipsec", "pki"))
        for lst in ("authentication-list", "authorization-list", "accounting-list"):
            for n, e in list(aaa.get(lst, {}).items()):
                ms = e.get("method", {})
                for seq, m in list(ms.items()):
                    if not ("group" in m or "local" in m):
                        del ms[seq]
                if not ms:
                    changed = self.drop(aaa[lst], n, f"method list {n} has no method left")
        for n, g in list(aaa.get("server-group", {}).items()):
            if not g.get("server"):
                changed = self.drop(aaa["server-group"], n, f"server group {n} has no server")
        for n, acl in list(self.root.get("access-lists", {}).get("access-list", {}).items()):
            if not acl.get("entry"):
                changed = self.drop(self.root["access-lists"]["access-list"], n,
                                    f"access list {n} has no converted entry")
        for n, cm in list(pki.get("certificate-map", {}).items()):
            for seq, ent in list(cm.get("entry", {}).items()):
                if not ent.get("rule"):
                    changed = self.drop(cm["entry"], seq, f"certificate map {n} {seq} has no rule")
            if not cm.get("entry"):
                del pki["certificate-map"][n]
                changed = True
        for n, kr in ik.get("keyring", {}).items():
            for pn, p in list(kr.get("peer", {}).items()):
                if not any(k in p for k in ("pre-shared-key", "local-pre-shared-key", "remote-pre-shared-key")):
                    changed = self.drop(kr["peer"], pn, f"keyring {n} peer {pn} has no pre-shared-key")
                elif not any(k in p for k in ("address", "hostname", "identity")):
                    changed = self.drop(kr["peer"], pn, f"keyring {n} peer {pn} has no address, hostname "
                                                         "or identity to match")
        for n, pr in list(ik.get("proposal", {}).items()):
            enc = pr.get("encryption", [])
            aead = [x for x in enc if "gcm" in x]
            why = None
            if not enc or not pr.get("group"):
                why = "needs encryption and group"
            elif aead and len(aead) != len(enc):
                why = "mixes AES-GCM with CBC encryption (Raven needs separate proposals)"
            elif aead and pr.get("integrity"):
                why = "has AES-GCM with integrity (not allowed with AEAD)"
            elif aead and not pr.get("prf"):
                why = "has AES-GCM without prf (Raven needs an explicit prf with AEAD)"
            elif not aead and not pr.get("integrity"):
                why = "needs integrity with CBC encryption"
            if why:
                changed = self.drop(ik["proposal"], n, f"crypto ikev2 proposal {n} {why}")
        for n, pol in list(ik.get("policy", {}).items()):
            if not pol.get("proposal"):
                changed = self.drop(ik["policy"], n, f"crypto ikev2 policy {n} has no proposal")
        for n, nm in list(ik.get("name-mangler", {}).items()):
            if not any(k in nm for k in ("dn", "eap", "email", "fqdn")):
                changed = self.drop(ik["name-mangler"], n, f"name mangler {n} has no rule")
        for n, pr in list(ik.get("profile", {}).items()):
            m = pr.get("match", {})
            if not (m.get("certificate-map") or any(m.get("identity", {}).get("remote", {}).values())):
                changed = self.drop(ik["profile"], n, f"crypto ikev2 profile {n} has no match identity remote or "
                                                      "match certificate")
            else:
                why = self.profile_problem(pr)
                if why:
                    changed = self.drop(ik["profile"], n, f"crypto ikev2 profile {n} {why}")
        for n, pr in ik.get("profile", {}).items():
            changed |= self.authorization_problems(n, pr)
        for n, tp in pki.get("trustpoint", {}).items():
            rc = tp.get("revocation-check", "crl")
            if "ocsp-url" in tp and "ocsp" not in rc:
                line, text = self.origin.get(id(tp), (0, ""))
                self.skip(f"ocsp url of trustpoint {n} is used only with a revocation-check naming ocsp "
                          f"(this one is {rc}): left out", line, text)
                del tp["ocsp-url"]
        changed |= self.acl_families()
        for n, p in list(ips.get("profile", {}).items()):
            if not p.get("transform-set"):
                changed = self.drop(ips["profile"], n, f"crypto ipsec profile {n} has no transform set left")
        return changed

    # -- output

    def output(self):
        out = {}
        for top in TOP:
            body = plain(self.root.get(top, {}))
            if body:
                out[f"{VPN}:{top}"] = body
        return out


PRESENCE = {"pre-share", "eap", "cert", "psk", "accept", "dpd"}


def plain(v):
    """The JSON tree: lists as arrays; empty non-presence containers and
    empty lists left out."""
    if isinstance(v, Keyed):
        return [plain(e) for e in v.values()]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            x = plain(x)
            if isinstance(x, dict) and not x and k not in PRESENCE:
                continue
            if isinstance(x, list) and not x:
                continue
            out[k] = x
        return out
    return v


def convert(text, interfaces=None):
    """@text: the vendor's configuration. @interfaces: {vendor name: (Linux
    name, "outside" | "inside" | None)}. Returns a Result."""
    return Converter(interfaces).run(text)


# ----------------------------------------------------------------------------
# XML


def to_xml(config):
    """The top-level elements, as in yang/examples (not one document)."""
    parts = []
    for top, body in config.items():
        local = top.split(":", 1)[1]
        el = ET.Element(local, {"xmlns": VPN_NS})
        uses_rt = _xml_fill(el, body)
        if uses_rt:
            el.set("xmlns:rt", RT_NS)
        ET.indent(el)
        parts.append(ET.tostring(el, encoding="unicode"))
    return "\n".join(parts) + "\n"


def _xml_value(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    s = str(v)
    if s.startswith(RT + ":"):
        return "rt:" + s[len(RT) + 1:]
    return s


def _xml_fill(el, body):
    uses_rt = False
    for k, v in body.items():
        items = v if isinstance(v, list) and v != [None] else [v]
        for x in items:
            child = ET.SubElement(el, k)
            if isinstance(x, dict):
                uses_rt |= _xml_fill(child, x)
            elif x == [None] or x is None:
                pass
            else:
                child.text = _xml_value(x)
                uses_rt |= child.text.startswith("rt:")
    return uses_rt
