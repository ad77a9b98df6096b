"""The daemon starts from a configuration file, authenticates by password and by
public key, takes a candidate edit through commit, and runs with only the
capabilities it needs."""
import os

from conftest import NS, cfg

REQUIRES = ("ncclient",)


def test_password_and_key_login(ravend, keypair):
    m = ravend.connect()
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in m.server_capabilities
    m2 = ravend.connect(key=keypair[0])
    assert m2.session_id != m.session_id


def test_edit_commit_roundtrip(ravend):
    m = ravend.connect()
    pool = f'<pools xmlns="{NS}"><ipv4-pool><name>p1</name><range><start>10.1.0.1</start><end>10.1.0.9</end></range></ipv4-pool></pools>'
    m.edit_config(target="candidate", config=cfg(pool))
    m.commit()
    data = m.get_config(source="running", filter=("subtree", f'<pools xmlns="{NS}"/>')).data_xml
    assert "<name>p1</name>" in data
    assert "<name>p1</name>" in ravend.running_file()


# CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_NET_BIND_SERVICE 10, CAP_IPC_LOCK 14,
# CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39 (linux/capability.h)
KEPT = {10, 12, 13, 14, 21, 38, 39}
# CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8: permitted, not effective,
# for starting the front ends as their user and signalling them (mgmt_super.c)
FOR_FRONT_ENDS = {5, 6, 7, 8}


def test_ravend_keeps_only_its_capabilities(ravend):
    """Started as root with every capability, ravend keeps the few its parts use
    (daemon/ravend/ravend_privs.c), in every thread, and no-new-privs is set; those it
    needs for its front ends are permitted only, never effective."""
    pid = ravend.proc.pid
    for tid in os.listdir(f"/proc/{pid}/task"):
        status = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/task/{tid}/status").read().splitlines()
                      if ":\t" in line)
        for field in ("CapEff", "CapPrm", "CapBnd"):
            mask = int(status[field], 16)
            held = {b for b in range(64) if mask >> b & 1}
            allowed = KEPT if field == "CapEff" else KEPT | FOR_FRONT_ENDS
            assert held <= allowed, (tid, field, sorted(held - allowed))
        assert int(status["CapInh"], 16) == 0, (tid, status["CapInh"])
        assert status["NoNewPrivs"].strip() == "1", tid
        # CAP_DAC_OVERRIDE (1), CAP_SYS_PTRACE (19), CAP_SETUID (7) are gone
        assert not int(status["CapEff"], 16) & (1 << 1 | 1 << 19 | 1 << 7)
