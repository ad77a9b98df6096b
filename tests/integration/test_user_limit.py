"""The per-user session limit (/ikev2/global/limit/max-sessions-per-user and
per-user-action) with real strongSwan clients in their own namespaces, all of
one identity (the user is the IKE identity here: no user authorization, no EAP):

- refuse-newest: a second session of the user beyond the limit is refused with
  AUTHENTICATION_FAILED, the first stays; the refusal is logged with its reason;
- replace-oldest (changed over NETCONF, applying to the next session): the
  second session comes up, the first ends with a DELETE to its client;
- bad values of the limit and of a policy's rate-limit are refused with the
  node named, running unchanged;
- INITIAL_CONTACT as before: a client that says it keeps no other state ends
  the user's earlier sessions (RFC 7296 2.4) before the limit is looked at, so
  it comes up even under refuse-newest, and the earlier client hears nothing;
- make-before-break re-authentication (strongSwan's make_before_break, no
  INITIAL_CONTACT): the client is not refused for its own old session, while
  another device of the user still is.

Clients 0 and 1 set strongSwan's `unique = never`, under which it sends no
INITIAL_CONTACT (checked in their logs); client 2 keeps the default, which sends it.

Topology: [client i: 10.<n>.<i>.2] --veth-- [headend namespace: ravend, 10.<n>.<i>.1]
"""
from lxml import etree

from conftest import NS, cfg
from lab import psk_client_conf
from nchelpers import expect_error, wait_until
from test_ike_sessions import headend_config, sessions, t

REQUIRES = ("strongswan",)

ID = "carol.example.org"


def limit_xml(n, action):
    return (f"<limit><max-sessions-per-user>{n}</max-sessions-per-user><per-user-action>{action}</per-user-action>"
            "</limit>")


def set_action(m, action):
    m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><global><limit><per-user-action>{action}</per-user-action></limit></global></ikev2>'))


def initiate(lb, i):
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "15", check=False)


def peers(m):
    return sorted(t(s, "peer-address") for s in sessions(m))


def auth_request_lines(log):
    return [ln for ln in log.splitlines() if "generating IKE_AUTH request" in ln]


def test_refuse_newest_replace_oldest_and_initial_contact(make_ravend, lab):
    lb = lab(3)
    conf = headend_config().replace("<global><listen><address>0.0.0.0</address></listen></global>",
                                    "<global><listen><address>0.0.0.0</address></listen>"
                                    f"{limit_xml(1, 'refuse-newest')}</global>")
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    m.create_subscription()
    for i in range(3):
        cc = psk_client_conf(lb.clients[i]["head_ip"], ID)
        if i < 2:
            cc = cc.replace("    vips = 0.0.0.0", "    unique = never\n    vips = 0.0.0.0")
        lb.start_charon(i, cc)
    c0, c1, c2 = (lb.clients[i]["ip"] for i in range(3))

    r = initiate(lb, 0)
    assert r.returncode == 0, lb.log(0)[-3000:]
    assert peers(m) == [c0]
    # refuse-newest: the user has its one session; the second is refused
    r = initiate(lb, 1)
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(1), lb.log(1)[-3000:]
    assert all("INIT_CONTACT" not in ln for ln in auth_request_lines(lb.log(1))), lb.log(1)[-3000:]
    assert peers(m) == [c0]
    assert f"user {ID} has 1 sessions, the most max-sessions-per-user allows" in d.log()
    failures = []
    for _ in range(6):
        n = m.take_notification(timeout=5)
        if n is None:
            break
        el = etree.fromstring(n.notification_xml.encode()).find(f"{{{NS}}}authentication-failure")
        if el is not None:
            failures.append(el.findtext(f"{{{NS}}}reason"))
            break
    assert failures == ["too-many-sessions"], failures
    assert "received DELETE" not in lb.log(0)

    # replace-oldest: the second comes up, the first is deleted (its client told)
    set_action(m, "replace-oldest")
    r = initiate(lb, 1)
    assert r.returncode == 0, lb.log(1)[-3000:]
    wait_until(lambda: peers(m) == [c1], timeout=10, what="only the newest session left")
    wait_until(lambda: "received DELETE for IKE_SA" in lb.log(0), timeout=10, what="the oldest client told")
    assert "replaces session" in d.log()

    # INITIAL_CONTACT: back to refuse-newest, and a client of the same identity
    # that sends it still comes up: its earlier session ends first, silently
    set_action(m, "refuse-newest")
    r = initiate(lb, 2)
    assert r.returncode == 0, lb.log(2)[-3000:]
    assert any("N(INIT_CONTACT)" in ln for ln in auth_request_lines(lb.log(2))), lb.log(2)[-3000:]
    wait_until(lambda: peers(m) == [c2], timeout=10, what="the INITIAL_CONTACT client's session only")
    assert "received DELETE" not in lb.log(1)


def test_two_sessions_allowed_third_refused(make_ravend, lab):
    """A limit of 2: two devices of the user come up, a third is refused; once
    one ends, the third comes up."""
    lb = lab(3)
    conf = headend_config().replace("<global><listen><address>0.0.0.0</address></listen></global>",
                                    "<global><listen><address>0.0.0.0</address></listen>"
                                    f"{limit_xml(2, 'refuse-newest')}</global>")
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    for i in range(3):
        cc = psk_client_conf(lb.clients[i]["head_ip"], ID).replace("    vips = 0.0.0.0",
                                                                     "    unique = never\n    vips = 0.0.0.0")
        lb.start_charon(i, cc)
    assert initiate(lb, 0).returncode == 0, lb.log(0)[-3000:]
    assert initiate(lb, 1).returncode == 0, lb.log(1)[-3000:]
    assert initiate(lb, 2).returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(2)
    assert len(sessions(m)) == 2
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: len(sessions(m)) == 1, timeout=10, what="the first session gone")
    assert initiate(lb, 2).returncode == 0, lb.log(2)[-3000:] + d.log()[-2000:]
    assert sorted(t(s, "peer-address") for s in sessions(m)) == sorted(
        lb.clients[i]["ip"] for i in (1, 2))


def test_make_before_break_reauthentication(make_ravend, lab):
    """A limit of 1 with refuse-newest: a client that re-authenticates
    make-before-break (strongSwan's make_before_break: a new IKE SA while the
    old one is up, without INITIAL_CONTACT; RFC 7296 2.8.3) is not refused for
    its own old session; its new session stays, the old one goes, and another
    device of the user is still refused."""
    lb = lab(2)
    conf = headend_config().replace("<global><listen><address>0.0.0.0</address></listen></global>",
                                    "<global><listen><address>0.0.0.0</address></listen>"
                                    f"{limit_xml(1, 'refuse-newest')}</global>")
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    for i in range(2):
        cc = psk_client_conf(lb.clients[i]["head_ip"], ID).replace("    vips = 0.0.0.0",
                                                                     "    unique = never\n    vips = 0.0.0.0")
        lb.start_charon(i, cc, extra_charon="  make_before_break = yes")
    c0 = lb.clients[0]["ip"]
    assert initiate(lb, 0).returncode == 0, lb.log(0)[-3000:]
    old = [t(s, "id") for s in sessions(m)]
    assert len(old) == 1
    lb.swanctl(0, "--rekey", "--ike", "rw", "--reauth")
    wait_until(lambda: [t(s, "peer-address") for s in sessions(m)] == [c0] and
               [t(s, "id") for s in sessions(m)] != old, timeout=15, what="the re-authenticated session alone")
    assert len(auth_request_lines(lb.log(0))) == 2, lb.log(0)[-3000:]
    assert all("INIT_CONTACT" not in ln for ln in auth_request_lines(lb.log(0))), lb.log(0)[-3000:]
    assert "AUTHENTICATION_FAILED" not in lb.log(0), lb.log(0)[-3000:] + d.log()[-2000:]
    assert "max-sessions-per-user" not in d.log()
    # another device of the user still counts the session against the limit
    assert initiate(lb, 1).returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(1), lb.log(1)[-3000:]


def test_bad_values_refused_and_nothing_changed(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    m = d.connect()
    before = m.get_config(source="running").data_xml
    bad = [
        ("<global><limit><max-sessions-per-user>0</max-sessions-per-user></limit></global>", "max-sessions-per-user"),
        ("<global><limit><per-user-action>drop-all</per-user-action></limit></global>", "per-user-action"),
        ("<authorization-policy><name>rw-group</name><rate-limit><inbound><rate>0</rate></inbound></rate-limit>"
         "</authorization-policy>", "rate"),
        ("<authorization-policy><name>rw-group</name><rate-limit><outbound><rate>100000001</rate></outbound>"
         "</rate-limit></authorization-policy>", "rate"),
        ("<authorization-policy><name>rw-group</name><rate-limit><inbound><rate>10</rate><burst>100</burst>"
         "</inbound></rate-limit></authorization-policy>", "burst"),
    ]
    for body, node in bad:
        expect_error(lambda: m.edit_config(target="running", config=cfg(f'<ikev2 xmlns="{NS}">{body}</ikev2>')),
                     "invalid-value", node)
    # a direction without its rate is incomplete
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><authorization-policy><name>rw-group</name><rate-limit><inbound><burst>5000</burst>'
        "</inbound></rate-limit></authorization-policy></ikev2>")), "missing-element")
    assert "rate" in (err.path or "") + err.message
    assert m.get_config(source="running").data_xml == before
