"""The systemd unit of packaging/systemd: systemd-analyze verifies it (with
ExecStart pointed at the ravend under test, and its Documentation= page found in
packaging/man), and the capabilities it bounds
ravend to are exactly the ones ravend keeps by itself (daemon/ravend/ravend_privs.c:
those it uses, and those it keeps permitted only, to start its front ends as
their user), so that neither can drift from the other. The front ends' user
(packaging/sysusers.d/raven.conf) is one systemd-sysusers would create."""
import os
import re
import subprocess

from conftest import RAVEND, ROOT

REQUIRES = ("systemd-analyze", "systemd-sysusers")

UNIT = os.path.join(ROOT, "packaging", "systemd", "ravend.service")
SYSUSERS = os.path.join(ROOT, "packaging", "sysusers.d", "raven.conf")


def test_unit_verifies(tmp_path):
    unit = tmp_path / "ravend.service"
    unit.write_text(open(UNIT).read().replace("/usr/sbin/ravend", os.path.abspath(RAVEND)))
    # Documentation=man:ravend(8): the page of this tree, where man looks
    (tmp_path / "man" / "man8").mkdir(parents=True)
    (tmp_path / "man" / "man8" / "ravend.8").write_text(open(os.path.join(ROOT, "packaging", "man", "ravend.8")).read())
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MANPATH": str(tmp_path / "man")})
    # other units of the machine may be warned about; ours must not be
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "ravend" in line]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


def test_unit_bounds_the_capabilities_ravend_keeps():
    unit = set(re.search(r"^CapabilityBoundingSet=(.*)$", open(UNIT).read(), re.M).group(1).split())
    src = open(os.path.join(ROOT, "daemon", "ravend", "ravend_privs.c")).read()
    # every array of kept capabilities (kept[], and those kept for the front ends)
    kept = set(re.findall(r"CAP_[A-Z_]+", " ".join(re.findall(r"static const int kept\w*\[\] = \{(.*?)\};", src, re.S))))
    assert unit == kept, (unit ^ kept)
    # starting the front ends as their user (daemon/mgmt/mgmt_super.c)
    assert {"CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL"} <= unit
    text = open(UNIT).read()
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                    "ReadWritePaths=/var/lib/raven\n"):
        assert setting in text, setting
    assert re.search(r"^RestrictAddressFamilies=.*AF_XDP", text, re.M)
    assert re.search(r"^SystemCallFilter=@system-service bpf$", text, re.M)
    # the runtime directory holds the session arena only (the management socket is
    # in the abstract namespace): ravend's alone, and kept across a restart
    assert re.search(r"^RuntimeDirectory=raven$", text, re.M)
    assert re.search(r"^RuntimeDirectoryMode=0700$", text, re.M)
    assert re.search(r"^RuntimeDirectoryPreserve=yes$", text, re.M)
    assert re.search(r"^StateDirectoryMode=0700$", text, re.M) and not re.search(r"^User=", text, re.M)


def test_sysusers_creates_the_front_end_user(tmp_path):
    """systemd-sysusers, on an empty root, would create the user raven with its
    own group, and has nothing to say about the file."""
    (tmp_path / "etc").mkdir()
    r = subprocess.run(["systemd-sysusers", "--dry-run", f"--root={tmp_path}", SYSUSERS], capture_output=True,
                       text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "raven.conf" not in out, out
    assert re.search(r"Creating group 'raven'", out) and re.search(r"Creating user 'raven' \(Raven management front ends\)", out), out
    lines = [ln for ln in open(SYSUSERS).read().splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines == ['u raven - "Raven management front ends" /nonexistent'], lines
