"""FreeRADIUS 3.2 for the tests: started from a private copy of
tests/integration/radius (radiusd.conf.in, users) on free ports, in the host's
loopback or inside a namespace, with an accounting detail file; stopped (by PID)
and removed at close()."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import prereq
from conftest import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "radius-secret-1"


class FreeRadius:
    def __init__(self, netns=None, secret=SECRET, users_extra="", quiet=False, subst=None, port=None):
        """@port: the authentication port (a server started again where a
        client knows it), else a free one."""
        prereq.check(["freeradius"])
        self.dir = tempfile.mkdtemp(prefix="raven-radius-")
        self.port, self.acct_port = port or free_port(), free_port()
        self.secret = secret
        d = self.dir
        os.makedirs(f"{d}/log")
        os.makedirs(f"{d}/run")
        conf = open(os.path.join(HERE, "radius", "radiusd.conf.in")).read()
        conf = (conf.replace("@DIR@", d).replace("@PORT@", str(self.port)).replace("@ACCT_PORT@", str(self.acct_port))
                .replace("@SECRET@", secret))
        with open(f"{d}/radiusd.conf", "w") as f:
            f.write(conf)
        users = open(os.path.join(HERE, "radius", "users")).read()
        for k, v in (subst or {}).items():
            users = users.replace(f"@{k}@", v)
        with open(f"{d}/users", "w") as f:
            f.write(users)
        if users_extra:
            with open(f"{d}/users", "a") as f:
                f.write("\n" + users_extra)
        self.logf = open(f"{d}/x.log", "w")
        # -X logs every packet; -f -l stdout logs the start only (for benchmarks)
        cmd = ["freeradius", "-f", "-l", "stdout", "-d", d] if quiet else ["freeradius", "-X", "-d", d]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 20
            while "Ready to process requests" not in self.log():
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("FreeRADIUS did not start:\n" + self.log()[-3000:])
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    def log(self):
        return open(f"{self.dir}/x.log", errors="replace").read()

    def detail(self):
        """The accounting records of the detail file, as dicts (values unquoted)."""
        p = f"{self.dir}/detail"
        if not os.path.exists(p):
            return []
        recs = []
        for block in open(p).read().split("\n\n"):
            rec = {}
            for ln in block.splitlines():
                m = re.match(r"\s+([\w-]+) = (.*)$", ln)
                if m:
                    rec[m.group(1)] = m.group(2).strip('"')
            if rec:
                recs.append(rec)
        return recs

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)
