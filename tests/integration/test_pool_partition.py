"""Pools partitioned among cluster members (pools/partition), with real peers:
two ravend with the same pools, one of them partition index 0 of 2, the other
index 1, and strongSwan PSK clients.

- The members hand out disjoint halves of the range; one member's half
  exhausted gives its next client INTERNAL_ADDRESS_FAILURE while the other
  member's half stays free and serves its client; vpn-state/pool shows the
  half's size.
- A live change of the partition that would leave a connected client's
  address outside this member's slice is refused (naming the pool and the
  address), and nothing changes; a change that keeps it inside is applied
  at once, and so is one once the client has gone.

Topology: two labs, each [client i] --veth-- [headend: ravend].
"""
from conftest import NS, cfg
from nchelpers import data_of, expect_error, wait_until
from test_ike_sessions import headend_config, sessions, state, t, up

REQUIRES = ("strongswan",)

RANGE = (("10.201.0.10", "10.201.0.13"),)  # four addresses: .10-.11 for slice 0, .12-.13 for slice 1


def conf(index, count=2):
    part = f"<partition><count>{count}</count><index>{index}</index></partition>"
    v6 = "<ipv6-pool><name>v6-pool</name><prefix>fd00:207::/120</prefix></ipv6-pool>"
    return headend_config(pool_ranges=RANGE).replace("</ipv4-pool>", "</ipv4-pool>" + v6 + part, 1)


def pool(m, name="rw-pool"):
    return [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == name][0]


def vip(lb, i):
    for line in lb.log(i).splitlines():
        if "installing new virtual IP" in line:
            return line.split()[-1]
    return None


def addresses(m):
    """The IPv4 addresses of the sessions (a client refused an address may
    linger a moment with none)."""
    return sorted(a for a in (t(s, "assigned-ipv4") for s in sessions(m)) if a)


def partition_index(m):
    root = data_of(m.get_config(source="running", filter=("subtree", f'<pools xmlns="{NS}"/>')))
    return root.findtext(f"{{{NS}}}pools/{{{NS}}}partition/{{{NS}}}index")


def test_members_hand_out_disjoint_halves(make_ravend, lab):
    la, lb = lab(3), lab(1)
    da = make_ravend(conf(0), netns=la.head)
    db = make_ravend(conf(1), netns=lb.head)
    ma, mb = da.connect(), db.connect()
    for m in (ma, mb):
        p = pool(m)
        assert (t(p, "size"), t(p, "in-use"), t(p, "free")) == ("2", "0", "2")
    # 255 single addresses (::1-::ff): 127 for slice 0, the remainder's 128 for slice 1
    assert t(pool(ma, "v6-pool"), "size") == "127" and t(pool(mb, "v6-pool"), "size") == "128"

    for i in range(2):
        r = up(la, i, f"a{i}.example.org")
        assert r.returncode == 0, f"{la.log(i)[-3000:]}\n{da.log()[-3000:]}"
    assert sorted(vip(la, i) for i in range(2)) == ["10.201.0.10", "10.201.0.11"]
    # member 0's half is exhausted: its third client gets no address
    r = up(la, 2, "a2.example.org")
    assert r.returncode != 0
    assert "received INTERNAL_ADDRESS_FAILURE notify" in la.log(2), la.log(2)[-3000:]
    p = pool(ma)
    assert (t(p, "size"), t(p, "in-use"), t(p, "free"), t(p, "allocation-failures")) == ("2", "2", "0", "1")
    # member 1's half is untouched and serves its client from the other half
    p = pool(mb)
    assert (t(p, "in-use"), t(p, "free")) == ("0", "2")
    r = up(lb, 0, "b0.example.org")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{db.log()[-3000:]}"
    assert vip(lb, 0) == "10.201.0.12"
    assert addresses(mb) == ["10.201.0.12"]
    assert addresses(ma) == ["10.201.0.10", "10.201.0.11"]


def test_live_partition_change_keeps_leases_in_the_slice(make_ravend, lab):
    la = lab(2)
    d = make_ravend(conf(0), netns=la.head)
    m = d.connect()
    assert up(la, 0, "a0.example.org").returncode == 0, la.log(0)[-3000:]
    assert vip(la, 0) == "10.201.0.10"
    gen = t(state(m), "ike-counters/config-generation")

    # index 1 would leave 10.201.0.10 outside this member's slice: refused, nothing changed
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><partition><index>1</index></partition></pools>')), "operation-failed")
    assert "10.201.0.10" in err.message and "rw-pool" in err.message, err.message
    assert "a0.example.org" in err.message, err.message
    assert partition_index(m) == "0"
    assert t(state(m), "ike-counters/config-generation") == gen
    p = pool(m)
    assert (t(p, "size"), t(p, "in-use")) == ("2", "1")
    assert addresses(m) == ["10.201.0.10"]
    assert "ESTABLISHED" in la.swanctl(0, "--list-sas").stdout

    # four slices: slice 0 is 10.201.0.10 alone, the client's: applied
    m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><partition><count>4</count></partition></pools>'))
    p = pool(m)
    assert (t(p, "size"), t(p, "in-use"), t(p, "free")) == ("1", "1", "0")
    r = up(la, 1, "a1.example.org")
    assert r.returncode != 0
    assert "received INTERNAL_ADDRESS_FAILURE notify" in la.log(1), la.log(1)[-3000:]

    # the client gone, slice 1 of 4 is fine; the next client gets its address
    la.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not addresses(m), what="the session gone")
    m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><partition><index>1</index></partition></pools>'))
    assert partition_index(m) == "1"
    la.swanctl(1, "--terminate", "--ike", "rw", check=False)
    r = la.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, f"{la.log(1)[-3000:]}\n{d.log()[-3000:]}"
    assert addresses(m) == ["10.201.0.11"]
