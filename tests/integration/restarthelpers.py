"""Road warriors through a ravend that restarts (test_restart*.py): three
strongSwan clients at once (client 0 with a pre-shared key, client 1 with a
certificate, client 2 with EAP-MSCHAPv2 through FreeRADIUS in the headend's
namespace), each with its own pool, accounting to FreeRADIUS and periodic DPD from
ravend, each pinging the inside host through its tunnel (ping -D -O, every 0.1 s,
into a file); what clients, ravend and FreeRADIUS show, taken before a restart to
compare with after it.

Topology (lab.py): [client i] --veth-- [headend: ravend, FreeRADIUS] --veth-- [inside host]
"""
import datetime
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field

from conftest import NS
from lab import psk_client_conf
from nchelpers import wait_until
from test_dataplane import dataplane_config, dp_iface
from test_eap_radius import connect as eap_connect
from test_eap_radius import headend as eap_headend
from test_ike_certs import client_conf as cert_client_conf
from test_ike_certs import read
from test_ike_sessions import sessions, state, t

PSK, CERT, EAP = 0, 1, 2
KINDS = ("psk", "cert", "eap")
# the clients' pools: psk-pool (added here), cert-pool (added here), radpool
# (test_eap_radius: RADIUS names it for ben)
INSIDE_ROUTES = ("10.201.0.0/16", "10.203.0.0/16", "10.207.0.0/16")
DPD = "<dpd><interval>10</interval><retry>2</retry><mode>periodic</mode></dpd>"
PSK_POOL = '<ipv4-pool><name>psk-pool</name><range><start>10.201.0.10</start><end>10.201.0.20</end></range></ipv4-pool>'


def headend(pki, fr, lb):
    """test_eap_radius's headend (trustpoint, the EAP profile, RADIUS with an
    accounting list), the trustpoint with its CRL, with a PSK and a certificate profile beside it, accounting
    and periodic DPD (10 s, the least the model allows) in all three, and the
    dataplane on the lab's interfaces."""
    inside = lb.inside_net
    profiles = f"""
  <authorization-policy><name>rw-group</name><pool>psk-pool</pool>
    <route><set><remote><ipv4>{inside}</ipv4></remote></set></route></authorization-policy>
  <authorization-policy><name>certs</name><pool>cert-pool</pool></authorization-policy>
  <profile>
    <name>rw</name>
    <match><identity><remote><fqdn><domain>example.net</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share><key>rw-secret-1</key></pre-share></local>
      <remote><pre-share><key>rw-secret-1</key></pre-share></remote></authentication>
    <aaa><authorization><group><psk><method-list>local-list</method-list><username>rw-group</username></psk></group>
      </authorization><accounting><psk>acct-list</psk></accounting></aaa>
    {DPD}
  </profile>
  <profile>
    <name>certs</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><rsa-sig/></local><remote><rsa-sig/><ecdsa-sig/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authorization><group><cert><method-list>local-list</method-list><username>certs</username></cert></group>
      </authorization><accounting><cert>acct-list</cert></accounting></aaa>
    {DPD}
  </profile>
</ikev2>"""
    conf = eap_headend(pki, fr, acct=True)
    assert conf.count("<name>eap</name>") == 1 and conf.count("</ikev2>") == 1 and conf.count("</pools>") == 1
    # client certificates are checked against the CA's CRL
    conf = conf.replace("</trustpoint>", f"<crl>{read(pki('ca.crl'))}</crl></trustpoint>", 1)
    conf = conf.replace("<name>eap</name>", "<name>eap</name>" + DPD).replace("</ikev2>", profiles)
    conf = conf.replace("</pools>", PSK_POOL + "<ipv4-pool><name>cert-pool</name><range><start>10.203.0.1</start>"
                                              "<end>10.203.0.9</end></range></ipv4-pool></pools>")
    return conf + dataplane_config(lb)


def connect_client(lb, pki, i, d):
    """Client @i (PSK, CERT or EAP) up with a child SA towards the inside network
    (@d: the ravend it connects to)."""
    inside, c = lb.inside_net, lb.clients[i]
    if i == PSK:
        lb.start_charon(i, psk_client_conf(c["head_ip"], "user0.example.net", esp="aes128gcm16", remote_ts=inside))
        r = lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
    elif i == CERT:
        lb.install_creds(i, cert=pki("alice.pem"), key=pki("alice.key"), ca=pki("ca.pem"))
        lb.start_charon(i, cert_client_conf(pki, lb, "alice", i).replace("10.200.0.0/16", inside))
        r = lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
    else:
        r = eap_connect(lb, pki, "ben@example.org", "ben-pw-1", i=i, remote_ts=inside)
    assert r.returncode == 0, \
        f"{KINDS[i]} client did not connect:\n{r.stdout}\n{lb.log(i)[-3000:]}\nravend:\n{d.log()[-3000:]}"


# --------------------------------------------------------------------------
# pings through the tunnels

PING_LINE = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from [\d.]+: icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms", re.M)


class Pinger:
    """ping -D -O -i 0.1 from client @i to the inside host, line-buffered into a
    file in the lab's directory (the process is the lab's: ended at its close)."""

    def __init__(self, lb, i):
        self.path = os.path.join(lb.dir, f"ping{i}.txt")
        self.i = i
        with open(self.path, "w") as out:
            self.proc = lb.spawn(lb.clients[i]["ns"], "stdbuf", "-oL", "ping", "-n", "-D", "-O", "-i", "0.1",
                                 lb.inside_ip, stdout=out, stderr=subprocess.STDOUT)
        self.summary = None

    def text(self):
        with open(self.path, errors="replace") as f:
            return f.read()

    def replies(self):
        """(sent, received, icmp_seq) of each reply, times in seconds since the
        epoch; sent is the reply's time less its round trip."""
        return [(float(ts) - float(rtt) / 1000, float(ts), int(seq))
                for ts, seq, rtt in PING_LINE.findall(self.text())]

    def first_reply_sent_after(self, when):
        """The first reply to a request sent after @when, or None."""
        return next((r for r in self.replies() if r[0] > when), None)

    def stop(self):
        """Ends ping (SIGINT: it prints its statistics); returns (transmitted,
        received)."""
        if self.summary is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=10)
            m = re.search(r"(\d+) packets transmitted, (\d+) received", self.text())
            assert m, self.text()[-2000:]
            self.summary = (int(m.group(1)), int(m.group(2)))
        return self.summary


def wait_for_replies(pingers, after, until):
    """Waits until every pinger has a reply to a request sent after @after, or
    until the time @until; returns {i: that reply} (None for those without)."""
    while True:
        got = {p.i: p.first_reply_sent_after(after) for p in pingers}
        if all(got.values()) or time.time() > until:
            return got
        time.sleep(0.05)


# --------------------------------------------------------------------------
# what the clients, ravend and FreeRADIUS show

IKE_LINE = re.compile(r"^rw: #(\d+), (\w+), IKEv2, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r\*?", re.M)
CHILD_LINE = re.compile(r"^\s+vpn: #\d+, reqid \d+, (\w+),.*?\n\s+in\s+([0-9a-f]{8}).*?\n\s+out\s+([0-9a-f]{8})",
                        re.M | re.S)


def client_sas(lb, i, one=True):
    """Client @i's IKE SA (state, initiator SPI, responder SPI) and child SAs
    [(state, inbound SPI, outbound SPI)], SPIs as strongSwan prints them (hex).
    With one=False "ike" is None unless there is exactly one IKE SA (during a
    rekey there are two)."""
    out = lb.swanctl(i, "--list-sas").stdout
    ike = IKE_LINE.findall(out)
    assert len(ike) == 1 or not one, f"client {i} has {len(ike)} IKE SAs:\n{out}"
    return {"ike": ike[0][1:] if len(ike) == 1 else None, "children": CHILD_LINE.findall(out), "text": out}


def headend_sessions(m):
    """ravend's sessions by peer address: id, IKE SPIs, address, accounting
    session id, statistics and child SAs (SPIs as 8 hex digits, as the clients
    print them)."""
    out = {}
    for s in sessions(m):
        kids = []
        for c in s.findall(f"{{{NS}}}child-sa"):
            kids.append({"in": f"{int(t(c, 'inbound-spi')):08x}", "out": f"{int(t(c, 'outbound-spi')):08x}",
                         "seq": t(c, "outbound-sequence"), "top": t(c, "inbound-replay-top"),
                         "replay": int(t(c, "statistics/replay-errors") or 0)})
        out[t(s, "peer-address")] = {
            "id": t(s, "id"), "ike": (t(s, "ike-sa/initiator-spi"), t(s, "ike-sa/responder-spi")),
            "vip": t(s, "assigned-ipv4"), "acct": t(s, "accounting-session-id"), "children": kids,
            "stats": {k: int(t(s, f"statistics/{k}") or 0) for k in ("packets-in", "packets-out", "bytes-in",
                                                                     "bytes-out")}}
    return out


def daemon_state(m):
    """vpn-state/daemon as a dict (empty when ravend does not show it)."""
    el = state(m).find(f"{{{NS}}}daemon")
    return {c.tag.split("}")[1]: c.text for c in el} if el is not None else {}


def counter(m, path):
    return int(t(state(m), path) or 0)


def replay_drops(m, lb):
    return sum(int(t(dp_iface(m, dev), "drops/replay") or 0) for dev in lb.outside_devs())


ACCESS_REQUEST = "Received Access-Request"
# what strongSwan's libipsec logs when an ESP packet's sequence number is refused
# (a replay, or one behind its window) or the packet does not verify
CLIENT_ESP_FAILURES = ("ESP sequence number verification failed", "ESP decryption or ICV verification failed")


@dataclass
class Env:
    lb: object
    fr: object
    d: object
    pki: object
    pingers: list = field(default_factory=list)
    up_at: float = 0.0  # when the last client was up


def three_clients(make_ravend, radius_in, pki):
    """The lab, FreeRADIUS, ravend and the three clients up, each pinging."""
    lb, fr = radius_in(3, inside=True, inside_routes=INSIDE_ROUTES)
    d = make_ravend(headend(pki, fr, lb), netns=lb.head)
    for i in (PSK, CERT, EAP):
        connect_client(lb, pki, i, d)
    env = Env(lb, fr, d, pki, up_at=time.time())
    env.pingers = [Pinger(lb, i) for i in (PSK, CERT, EAP)]
    return env


def peer(env, i):
    return env.lb.clients[i]["ip"]


def snapshot(env, m):
    """What the clients and ravend show now, checked to agree: per client its SAs
    and ravend's session (SPIs, address)."""
    ours = headend_sessions(m)
    snap = {}
    for i in range(len(env.lb.clients)):
        if peer(env, i) not in ours:
            continue
        cl, s = client_sas(env.lb, i), ours[peer(env, i)]
        assert cl["ike"][0] == "ESTABLISHED", cl["text"]
        assert tuple(cl["ike"][1:]) == s["ike"], (cl["text"], s)
        installed = [(c[1], c[2]) for c in cl["children"] if c[0] == "INSTALLED"]
        assert installed == [(c["out"], c["in"]) for c in s["children"]], (cl["text"], s)
        snap[i] = {"client": cl, "ours": s}
    return snap


def accounting(fr, kind):
    """Acct-Session-Id -> the accounting records of @kind ("Start", "Stop") in
    FreeRADIUS's detail file."""
    out = {}
    for r in fr.detail():
        if r.get("Acct-Status-Type") == kind:
            out.setdefault(r.get("Acct-Session-Id"), []).append(r)
    return out


def accounting_starts(fr):
    return accounting(fr, "Start")


def accounting_stops(fr):
    return accounting(fr, "Stop")


def baseline(env):
    """Before any restart: three sessions that ravend and the clients agree on,
    pings answered, one accounting Start each, the arena new. Returns the
    snapshot."""
    d, fr = env.d, env.fr
    got = wait_for_replies(env.pingers, env.up_at, time.time() + 10)
    assert all(got.values()), {p.i: p.text()[-500:] for p in env.pingers}
    wait_until(lambda: all(len(p.replies()) >= 15 for p in env.pingers), timeout=15, what="15 replies each")
    m = d.connect()
    snap = snapshot(env, m)
    assert sorted(snap) == [PSK, CERT, EAP], headend_sessions(m)
    vips = [snap[i]["ours"]["vip"] for i in (PSK, CERT, EAP)]
    assert vips[0].startswith("10.201.0.") and vips[1].startswith("10.203.0.") and vips[2].startswith("10.207.0."), vips

    def starts():
        got = accounting_starts(fr)
        return got if all(snap[i]["ours"]["acct"] in got for i in snap) else None
    assert len(wait_until(starts, timeout=10, what="three accounting Starts")) == 3, accounting_starts(fr)
    # the state this feature adds
    ds = daemon_state(m)
    assert ds.get("arena") == "new", f"vpn-state/daemon: {ds}"
    assert ds.get("arena-path") == d.arena and ds.get("sessions-adopted") == "0", ds
    check_started_at(d, ds)
    assert os.path.exists(d.arena), f"no arena file at {d.arena}"
    for i in snap:
        for c in snap[i]["ours"]["children"]:
            assert c["seq"] is not None and int(c["seq"]) > 0, f"client {i}: child SA without outbound-sequence: {c}"
            assert c["top"] is not None and int(c["top"]) > 0, f"client {i}: no inbound-replay-top: {c}"
    return snap


def marks(env):
    """Where each log stands before a restart (what came after is the restart's),
    and the sequence numbers of ravend's child SAs then: {inbound SPI:
    (outbound-sequence, inbound-replay-top)}."""
    m = env.d.connect()
    seqs = {c["in"]: (int(c["seq"] or 0), int(c["top"] or 0))
            for s in headend_sessions(m).values() for c in s["children"]}
    return {"clients": [len(env.lb.log(i)) for i in range(len(env.lb.clients))], "radius": len(env.fr.log()),
            "detail": len(env.fr.detail()), "seqs": seqs,
            "auth": counter(m, "ike-counters/exchanges/ike-auth-completed")}


def since(text, mark):
    return text[mark:]


def check_started_at(d, ds):
    """vpn-state/daemon/started-at is the latest start of @d (to the second)."""
    at = ds.get("started-at")
    assert at, ds
    when = datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    assert int(d.started_at) - 1 <= when <= d.ready_at + 1, (at, d.started_at, d.ready_at)


def check_adopted(env, before, mk, exited_at, adopted=(PSK, CERT, EAP)):
    """After a restart: the clients of @adopted continue where they were, without
    a new authentication, an accounting record or a replay anywhere; their pings
    are answered again within 2 s of ravend's "ready" line. Returns the new
    snapshot."""
    lb, d, fr = env.lb, env.d, env.fr
    m = d.connect()
    # the same sessions: ids, SPIs, addresses, accounting session ids
    now = snapshot(env, m)
    for i in adopted:
        assert i in now, (f"client {i} ({KINDS[i]}): no session after the restart: {headend_sessions(m)}\n"
                          f"ravend log since its start:\n{d.log(since_start=True)[-3000:]}")
        a, b = before[i], now[i]
        assert b["client"]["ike"] == a["client"]["ike"], (a["client"]["text"], b["client"]["text"])
        assert b["client"]["children"] == a["client"]["children"], (a["client"]["text"], b["client"]["text"])
        for k in ("id", "ike", "vip", "acct"):
            assert b["ours"][k] == a["ours"][k], (i, k, a["ours"], b["ours"])
        assert [(c["in"], c["out"]) for c in b["ours"]["children"]] == \
            [(c["in"], c["out"]) for c in a["ours"]["children"]], (a["ours"], b["ours"])
    ds = daemon_state(m)
    assert ds.get("arena") == "adopted", f"vpn-state/daemon: {ds}\n{d.log(since_start=True)[-3000:]}"
    assert ds.get("arena-path") == d.arena, ds
    assert ds.get("sessions-adopted") == str(len(adopted)), ds
    check_started_at(d, ds)
    # no new authentication: not at ravend, not at FreeRADIUS, not by a client
    assert counter(m, "ike-counters/exchanges/ike-auth-completed") in (0, mk["auth"])  # the process's, or kept
    assert ACCESS_REQUEST not in since(fr.log(), mk["radius"]), since(fr.log(), mk["radius"])[-3000:]
    for i in adopted:
        log = since(lb.log(i), mk["clients"][i])
        assert "received DELETE" not in log and "initiating IKE_SA" not in log, log[-3000:]
    # accounting goes on: no new Start, no Stop
    assert len(fr.detail()) == mk["detail"], fr.detail()[mk["detail"]:]
    # pings resume: a request sent after the old process was gone is answered
    # within 2 s of the new one's "ready" line (read from ping's timestamps)
    ready = d.ready_at
    got = wait_for_replies([env.pingers[i] for i in adopted], exited_at, ready + 2.5)
    late = {i: (r and round(r[1] - ready, 3)) for i, r in got.items() if not r or r[1] > ready + 2.0}
    assert not late, (f"pings did not resume within 2 s of ready (seconds after ready, None = no reply): {late}\n"
                      f"ravend log since its start:\n{d.log(since_start=True)[-4000:]}")
    # sequence numbers continue: past where they were before the stop by at
    # least the packets each way since (a sequence number that started again
    # at 1 stays below that)
    time.sleep(0.5)
    answered = {i: sum(1 for r in env.pingers[i].replies() if r[0] > exited_at) for i in adopted}
    ours = headend_sessions(m)
    for i in adopted:
        for c in ours[peer(env, i)]["children"]:
            seq, top = mk["seqs"][c["in"]]
            assert c["seq"] is not None and int(c["seq"]) >= seq + answered[i], \
                f"client {i}: outbound-sequence {c['seq']}, {seq} before the stop, {answered[i]} replies since"
            assert c["top"] is not None and int(c["top"]) >= top + answered[i], \
                f"client {i}: inbound-replay-top {c['top']}, {top} before the stop, {answered[i]} requests since"
    check_no_replay(env, m, adopted)
    return now


def check_no_replay(env, m, clients):
    """No replay drop at ravend (per child SA and per interface) nor at the
    clients' libipsec."""
    ours = headend_sessions(m)
    for i in clients:
        for c in ours[peer(env, i)]["children"]:
            assert c["replay"] == 0, f"client {i}: ravend counted {c['replay']} replay errors on {c}"
    assert replay_drops(m, env.lb) == 0
    for i in clients:
        log = env.lb.log(i)
        for msg in CLIENT_ESP_FAILURES:
            assert msg not in log, f"client {i}: {[ln for ln in log.splitlines() if msg in ln][:5]}"


def check_stop(stop, pinger_stats, what):
    """An accounting Stop counts (at least) every ping answered: the request was
    decrypted and the reply encrypted by ravend."""
    transmitted, received = pinger_stats
    in_p, out_p = int(stop["Acct-Input-Packets"]), int(stop["Acct-Output-Packets"])
    assert received <= in_p <= transmitted and received <= out_p <= in_p, (what, stop, pinger_stats)
    assert int(stop["Acct-Input-Octets"]) >= 84 * received and int(stop["Acct-Output-Octets"]) >= 84 * received, \
        (what, stop)
