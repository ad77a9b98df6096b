"""The cluster's Ansible playbook (packaging/ansible) against two real ravend on
loopback, each with its NETCONF endpoint on a port of its own: Debian's
ansible-playbook (its own Python, ansible.netcommon.netconf over ncclient) pushes
the example inventory's shared configuration with each member's own values, and
ncclient reads every member's running back. A second run changes nothing; a
member that refuses the commit keeps its running and its candidate unlocked, and
the members after it are not touched; a change of the partition count is refused
unless asked for; the pre-shared key never shows in ansible-playbook's output.

ansible-playbook runs with an environment of its own: no ANSIBLE_* variable of the
caller, ANSIBLE_CONFIG and HOME in a temporary directory (nothing of the user's
configuration is read, nothing is written elsewhere), host key checking off (the
daemons' host key is the tests' throw-away one)."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile

import pytest
import yaml
from ncclient.operations.rpc import RPCError

from conftest import NS
from nchelpers import find_all, get_config, subtree, texts

REQUIRES = ("ansible-playbook", "ncclient")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PLAYBOOK_DIR = os.path.join(ROOT, "packaging", "ansible")
PLAYBOOK = os.path.join(PLAYBOOK_DIR, "raven-cluster.yml")
EXAMPLE_GROUP_VARS = os.path.join(PLAYBOOK_DIR, "inventory", "group_vars", "raven_cluster.yml")
NEXT_PORT = [20000]


def free_port():
    """A port from 20000 up, below the kernel's ephemeral range (which the other
    tests' free_port and every outgoing connection draw from, so none of them
    takes it in between), that is free for TCP and for UDP now."""
    while True:
        port, NEXT_PORT[0] = NEXT_PORT[0], NEXT_PORT[0] + 1
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue

# /cluster is configured by the play (cluster/name, address, capacity, etcd; the
# etcd endpoint answers nobody, which the configuration does not mind)
CLUSTER = True

# the test's own secrets (the example's change-me-* placeholders are refused)
PSK = "psk-" + secrets.token_hex(12)
ETCD_PASSWORD = "etcd-" + secrets.token_hex(12)

# members configured together rather than one at a time (the default)
BOTH_AT_ONCE = ("-e", "raven_serial=2")

MEMBERS = {"raven-a": {"address": "127.0.0.2", "index": 0}, "raven-b": {"address": "127.0.0.3", "index": 1}}


def ansible_env(tmp):
    """The environment of ansible-playbook: the caller's without ANSIBLE_*, every
    path Ansible reads or writes under @tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    cfg = os.path.join(tmp, "ansible.cfg")
    with open(cfg, "w") as f:
        f.write("[defaults]\nhost_key_checking = False\ngathering = explicit\nretry_files_enabled = False\n")
    env.update(HOME=tmp, ANSIBLE_CONFIG=cfg, ANSIBLE_HOME=os.path.join(tmp, ".ansible"),
               ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "tmp"),
               ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=os.path.join(tmp, "pc"),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_PERSISTENT_COMMAND_TIMEOUT="60")
    return env


def write_inventory(tmp, daemons, keyfile, host_overrides=None):
    """An inventory for @daemons (name -> Ravend): the example's group_vars with
    the connection and addresses of this test, each member's host_vars."""
    with open(EXAMPLE_GROUP_VARS) as f:
        group = yaml.safe_load(f)
    group.update(ansible_port=None, ansible_host="127.0.0.1", ansible_private_key_file=keyfile,
                 raven_ike_listen=None, raven_cluster_enabled=CLUSTER,
                 raven_cluster_addresses=["127.0.0.4"], raven_capacity=500,
                 raven_etcd_endpoints=[f"http://127.0.0.1:{free_port()}"],
                 raven_psk=PSK, raven_etcd_password=ETCD_PASSWORD)
    del group["ansible_port"], group["raven_ike_listen"]
    group.pop("raven_etcd_ca_certificate", None)
    inv = os.path.join(tmp, "inventory")
    for d in ("group_vars", "host_vars"):
        os.makedirs(os.path.join(inv, d), exist_ok=True)
    with open(os.path.join(inv, "hosts.yml"), "w") as f:
        yaml.safe_dump({"raven_cluster": {"hosts": {n: None for n in daemons}}}, f)
    with open(os.path.join(inv, "group_vars", "raven_cluster.yml"), "w") as f:
        yaml.safe_dump(group, f)
    for name, d in daemons.items():
        hv = {"ansible_port": d.port, "raven_member_address": MEMBERS[name]["address"],
              "raven_partition_index": MEMBERS[name]["index"],
              # each member listens on its own address, on ports of its own
              "raven_ike_listen": [MEMBERS[name]["address"]], "raven_ike_port": free_port(),
              "raven_nat_t_port": free_port()}
        hv.update((host_overrides or {}).get(name, {}))
        with open(os.path.join(inv, "host_vars", f"{name}.yml"), "w") as f:
            yaml.safe_dump(hv, f)
    return inv, group


def run_playbook(tmp, inv, *extra):
    """ansible-playbook -v on @inv; its output never holds a secret."""
    r = subprocess.run(["/usr/bin/ansible-playbook", "-v", "-i", inv, PLAYBOOK, *extra], env=ansible_env(tmp),
                       cwd=tmp, capture_output=True, text=True, timeout=180)
    for secret in (PSK, ETCD_PASSWORD):
        assert secret not in r.stdout and secret not in r.stderr, "a secret in ansible-playbook's output"
    try:
        # -v prints the configuration file it uses before the JSON
        out = json.loads(r.stdout[r.stdout.find("\n{") + 1 if not r.stdout.startswith("{") else 0:])
    except json.JSONDecodeError:
        pytest.fail(f"ansible-playbook (exit {r.returncode}) printed no JSON:\n{r.stdout}\n{r.stderr}")
    return r, out


def task_results(out, task_name):
    """{host: result} of the task named @task_name in the json callback's output
    (every batch of a serial play is a play of its own there)."""
    res = {}
    for play in out["plays"]:
        for t in play["tasks"]:
            if t["task"]["name"] == task_name:
                res.update(t["hosts"])
    return res


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="raven-ansible-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def two(make_ravend):
    return {"raven-a": make_ravend(), "raven-b": make_ravend()}


def running(m):
    return get_config(m, "running")


def test_playbook_pushes_shared_and_own_values_then_changes_nothing(two, keypair, tmp):
    inv, group = write_inventory(tmp, two, keypair[0])
    r, out = run_playbook(tmp, inv)
    assert r.returncode == 0, json.dumps(out, indent=1)[-6000:] + r.stderr
    for name in two:
        assert out["stats"][name]["failures"] == 0 and out["stats"][name]["changed"] >= 1, out["stats"]
        assert task_results(out, "Commit")[name].get("changed") is True

    ms = {name: d.connect() for name, d in two.items()}
    for name, m in ms.items():
        rc = running(m)
        own = MEMBERS[name]
        # the member's own values
        assert texts(rc, "pools/partition/index") == [str(own["index"])]
        assert texts(rc, "ikev2/global/listen/address") == [own["address"]]
        # the shared ones, with the example's fixed count
        assert texts(rc, "pools/partition/count") == [str(group["raven_partition_count"])]
        assert texts(rc, "pools/ipv4-pool/name") == [group["raven_pool"]["name"]]
        assert texts(rc, "pools/ipv4-pool/range/start") == [group["raven_pool"]["ranges"][0]["start"]]
        assert texts(rc, "ikev2/profile/name") == [group["raven_profile"]]
        assert texts(rc, "ikev2/profile/identity/local/fqdn") == [group["raven_local_fqdn"]]
        assert texts(rc, "ikev2/authorization-policy/dns/primary") == [group["raven_dns"][0]]
        assert texts(rc, "aaa/authorization-list/name") == ["local-list"]
        # management is the play's to leave alone: the test's users are still there
        assert "admin" in texts(rc, "management/user/name")
        if CLUSTER:
            assert texts(rc, "cluster/name") == [name]
            assert texts(rc, "cluster/address") == [own["address"]]
            assert texts(rc, "cluster/cluster-address") == ["127.0.0.4"]
            assert texts(rc, "cluster/capacity") == ["500"]
            assert texts(rc, "cluster/etcd/endpoint") == group["raven_etcd_endpoints"]
            assert texts(rc, "cluster/etcd/username") == [group["raven_etcd_username"]]
        else:
            assert not find_all(rc, "cluster")
    before = {name: d.running_file() for name, d in two.items()}

    # a second run: the same configuration, nothing to commit (both members at
    # once: raven_serial)
    r, out = run_playbook(tmp, inv, *BOTH_AT_ONCE)
    assert r.returncode == 0, json.dumps(out, indent=1)[-6000:] + r.stderr
    for name, d in two.items():
        assert out["stats"][name]["changed"] == 0, out["stats"]
        assert task_results(out, "Commit")[name].get("skipped") is True
        assert d.running_file() == before[name], "a second run changed the persisted running"
        # the candidate was left unlocked and clean: another session may lock it
        m = ms[name]
        m.lock("candidate")
        m.unlock("candidate")

    # one shared value changed in the inventory: both members change, only there
    group_file = os.path.join(inv, "group_vars", "raven_cluster.yml")
    with open(group_file) as f:
        g = yaml.safe_load(f)
    g["raven_dns"] = ["10.200.0.63"]
    with open(group_file, "w") as f:
        yaml.safe_dump(g, f)
    r, out = run_playbook(tmp, inv, *BOTH_AT_ONCE)
    assert r.returncode == 0, json.dumps(out, indent=1)[-6000:] + r.stderr
    for name, m in ms.items():
        assert out["stats"][name]["changed"] >= 1, out["stats"]
        rc = running(m)
        assert texts(rc, "ikev2/authorization-policy/dns/primary") == ["10.200.0.63"]
        assert not texts(rc, "ikev2/authorization-policy/dns/secondary"), "replace left the old secondary"
        assert texts(rc, "pools/partition/index") == [str(MEMBERS[name]["index"])]


def test_confirmed_commit_is_confirmed_from_a_new_session(two, keypair, tmp):
    inv, _ = write_inventory(tmp, two, keypair[0])
    r, out = run_playbook(tmp, inv, "-e", "raven_confirm_timeout=120", *BOTH_AT_ONCE)
    assert r.returncode == 0, json.dumps(out, indent=1)[-6000:] + r.stderr
    for name, d in two.items():
        assert task_results(out, "Confirm")[name].get("changed") is True, task_results(out, "Confirm")
        pid = task_results(out, "Name the confirmed commit (a new session confirms it by this id)")[name]
        pid = pid["ansible_facts"]["raven_persist_id"]
        m = d.connect()
        # confirmed: nothing is pending that could be cancelled, and the
        # configuration stays
        with pytest.raises(RPCError):
            m.cancel_commit(persist_id=pid)
        assert texts(running(m), "pools/partition/index") == [str(MEMBERS[name]["index"])]


def test_a_member_that_refuses_keeps_its_running_and_stops_the_run(two, keypair, tmp):
    # raven-a, the first member, is told to listen on an address it does not
    # have: its commit fails at prepare; members go one at a time and a failure
    # stops the run, so raven-b is not touched
    inv, _ = write_inventory(tmp, two, keypair[0], {"raven-a": {"raven_ike_listen": ["192.0.2.199"]}})
    ma, mb = two["raven-a"].connect(), two["raven-b"].connect()
    before = {n: d.running_file() for n, d in two.items()}
    r, out = run_playbook(tmp, inv)
    assert r.returncode != 0
    assert out["stats"]["raven-a"]["failures"] >= 1, out["stats"]
    refused = task_results(out, "Refused")["raven-a"]["msg"]
    assert "192.0.2.199" in refused, refused
    for n, d in two.items():
        assert d.running_file() == before[n], n
    assert not find_all(get_config(ma, "running", subtree("pools")), "pools/ipv4-pool")
    # unlocked, and the refused edit was dropped from the candidate
    ma.lock("candidate")
    ma.unlock("candidate")
    assert not find_all(get_config(ma, "candidate", subtree("pools")), "pools/ipv4-pool")
    # raven-b: never locked nor edited
    assert "raven-b" not in task_results(out, "Lock the candidate"), task_results(out, "Lock the candidate")
    assert not find_all(get_config(mb, "running", subtree("pools")), "pools/ipv4-pool")
    assert not find_all(get_config(mb, "candidate", subtree("pools")), "pools/ipv4-pool")


def test_partition_count_changes_only_when_asked(two, keypair, tmp):
    inv, group = write_inventory(tmp, two, keypair[0])
    count = group["raven_partition_count"]
    # the example's placeholder secret is refused before anything is sent
    r, out = run_playbook(tmp, inv, "-e", "raven_psk=change-me-psk")
    assert r.returncode != 0
    assert "change-me" in task_results(out, "The example's secrets were replaced")["raven-a"]["msg"]
    assert not task_results(out, "Lock the candidate")
    for d in two.values():
        assert not find_all(get_config(d.connect(), "running", subtree("pools")), "pools/ipv4-pool")

    r, out = run_playbook(tmp, inv)
    assert r.returncode == 0, json.dumps(out, indent=1)[-6000:] + r.stderr
    before = {n: d.running_file() for n, d in two.items()}

    # another count: refused on every member before any is edited
    r, out = run_playbook(tmp, inv, "-e", "raven_partition_count=4")
    assert r.returncode != 0
    refused = task_results(out, "The partition count does not change on a live cluster")
    assert refused, json.dumps(out, indent=1)[-6000:]
    for n, res in refused.items():
        assert res.get("failed") is True, res
        assert n in res["msg"] and f"is {count} on this member" in res["msg"] and "4" in res["msg"], res["msg"]
        assert "raven_repartition=true" in res["msg"], res["msg"]
    assert not task_results(out, "Lock the candidate")
    for n, d in two.items():
        assert d.running_file() == before[n], n
        assert texts(running(d.connect()), "pools/partition/count") == [str(count)]

    # asked for: it goes through
    r, out = run_playbook(tmp, inv, "-e", "raven_partition_count=4", "-e", "raven_repartition=true")
    assert r.returncode == 0, json.dumps(out, indent=1)[-6000:] + r.stderr
    for n, d in two.items():
        rc = running(d.connect())
        assert texts(rc, "pools/partition/count") == ["4"]
        assert texts(rc, "pools/partition/index") == [str(MEMBERS[n]["index"])]
