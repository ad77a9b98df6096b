"""The systemd unit of packaging/systemd: systemd-analyze verifies it (with
ExecStart pointed at the ravend under test), and the capabilities it bounds
ravend to are exactly the ones ravend keeps by itself (daemon/ravend_privs.c),
so that neither can drift from the other."""
import os
import re
import subprocess

from conftest import RAVEND, ROOT

REQUIRES = ("systemd-analyze",)

UNIT = os.path.join(ROOT, "packaging", "systemd", "ravend.service")


def test_unit_verifies(tmp_path):
    unit = tmp_path / "ravend.service"
    unit.write_text(open(UNIT).read().replace("/usr/sbin/ravend", os.path.abspath(RAVEND)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # other units of the machine may be warned about; ours must not be
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "ravend" in line]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


def test_unit_bounds_the_capabilities_ravend_keeps():
    unit = set(re.search(r"^CapabilityBoundingSet=(.*)$", open(UNIT).read(), re.M).group(1).split())
    src = open(os.path.join(ROOT, "daemon", "ravend_privs.c")).read()
    kept = set(re.findall(r"CAP_[A-Z_]+", re.search(r"static const int kept\[\] = \{(.*?)\};", src, re.S).group(1)))
    assert unit == kept, (unit ^ kept)
    text = open(UNIT).read()
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                    "ReadWritePaths=/var/lib/raven /run/raven"):
        assert setting in text, setting
    assert re.search(r"^RestrictAddressFamilies=.*AF_XDP", text, re.M)
    assert re.search(r"^SystemCallFilter=@system-service bpf$", text, re.M)
