"""The Debian package (packaging/debian): built from this tree by
packaging/build-deb.sh (dpkg-buildpackage -b), lintian-clean of errors, installed
with dpkg -i into a throw-away root, where its files, its unit (systemd-analyze
verify), a start of ravend exactly as the unit starts it (serving NETCONF, RESTCONF
and the installed ravenctl) and a clean purge are checked; an upgrade, a removal and
a reinstall keep the state directory's configuration.

The throw-away root: a private mount, network and PID namespace (held by a `sleep`
process, the PID namespace's init: when it ends, everything in there ends), a tmpfs
with an overlay whose lower layer is the machine's / and whose upper layer is on
the tmpfs, fresh /run, /tmp, a /proc of the PID namespace, a read-only sysfs of the
network namespace and a read-only /dev of its own with null, zero, full, random,
urandom and tty bound from the machine's (and a fresh /dev/shm); every command runs
chrooted there. Nothing of the machine is written: whatever dpkg, the maintainer
scripts and ravend change lands in the tmpfs, which goes with the namespace. The
network namespace has its own loopback, so the default ports collide with nothing.

ravend is started with its unit's ExecStart (EnvironmentFile expanded), state and
runtime directories, UMask, LimitMEMLOCK (the hard limit where it cannot be raised),
CapabilityBoundingSet and NoNewPrivileges; the file system protections need systemd
itself and are left to systemd-analyze verify.

The tools are the [test] section's (dpkg-dev, debhelper, lintian, man-db) and
util-linux's unshare, nsenter and setpriv: without them the tests are skipped, naming
the packages, but fail under CI (CI=true). Building the package compiles the whole
tree (RelWithDebInfo, two jobs): about 25 s on two idle cores, a minute when they are
busy; lintian and the install tests take about 20 s more. RAVEN_DEB=PATH checks a
package built before (packaging/build-deb.sh) instead of building one."""
import ctypes
import json
import os
import pathlib
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import time

import pytest
from ncclient import manager

from conftest import ROOT, crypt_hash

PKG = os.path.join(ROOT, "packaging")
TOOLS = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "lintian": "lintian", "unshare": "util-linux",
         "nsenter": "util-linux", "setpriv": "util-linux", "systemd-analyze": "systemd", "man": "man-db",
         "curl": "curl", "openssl": "openssl"}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
ADMIN_PW = "package-admin-1"

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1


def _die_with_us():
    """In a child before exec: killed if this test process dies (a ctest timeout),
    so that no holder of the namespaces, nor a ravend in them, outlives it."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@pytest.fixture(scope="module", autouse=True)
def _tools():
    missing = sorted({f"{t} (install {p})" for t, p in TOOLS.items() if not shutil.which(t, path=PATH)})
    if missing:
        msg = "the Debian package tests need: " + ", ".join(missing) + " (packaging/install-deps.sh --test)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def list_sections():
    """packaging/debian-packages.txt: {section: [packages]}, the head as ""."""
    out, sec = {"": []}, ""
    for line in open(os.path.join(PKG, "debian-packages.txt")):
        line = line.split("#", 1)[0].strip()
        if re.fullmatch(r"\[\w+\]", line):
            sec = line[1:-1]
            out[sec] = []
        elif line:
            out[sec].append(line)
    return out


def control_field(name):
    text = open(os.path.join(PKG, "debian", "control")).read()
    m = re.search(rf"^{name}:(.*(?:\n[ \t].*)*)", text, re.M)
    names = []
    for dep in m.group(1).split(","):
        dep = dep.strip()
        if dep and not dep.startswith("$"):
            names.append(re.split(r"[\s(\[]", dep, 1)[0])
    return names


def test_control_agrees_with_the_package_list():
    """The package builds and runs with the list's head: every build dependency is
    in the head (debhelper in [test], with the package tools), every run-time one
    named in debian/control is in the list."""
    secs = list_sections()
    build = set(control_field("Build-Depends")) - {"debhelper-compat"}
    assert build and build <= set(secs[""]), build - set(secs[""])
    assert "debhelper" in secs["test"] and "lintian" in secs["test"] and "dpkg-dev" in secs["test"]
    run = set(control_field("Depends"))
    everything = {p for pkgs in secs.values() for p in pkgs}
    assert run and run <= everything, run - everything
    assert {"libyuma-base", "python3"} <= set(secs[""])


def test_versions_agree():
    """The package's version (debian/changelog) and the man pages' are the project's."""
    version = re.search(r"^project\(raven VERSION ([0-9.]+)", open(os.path.join(ROOT, "CMakeLists.txt")).read(),
                        re.M).group(1)
    changelog = open(os.path.join(PKG, "debian", "changelog")).readline()
    assert changelog.startswith(f"raven ({version})"), changelog
    for page in ("ravend.8", "ravenctl.1", "raven-netconfd.8"):
        th = open(os.path.join(PKG, "man", page)).readline()
        assert f'"raven {version}"' in th, (page, th)


def _help_options(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))


def _man_text(path):
    # roff escapes the hyphens of options as \-; ".BR -m ", " --mgmt" reads "-m, --mgmt"
    return open(path).read().replace("\\-", "-").replace(' ", " ', ", ")


def test_man_pages_name_every_option(tmp_path):
    """ravend(8) and ravenctl(1) name each option of their --help (and each command
    of ravenctl's), and man reads them without a warning."""
    ravend_c = open(os.path.join(ROOT, "daemon", "ravend", "ravend.c")).read()
    usage = ravend_c[ravend_c.index("static void usage"):ravend_c.index("RAVEN_YANG_DIR, RAVEN_WEB_DIR")]
    man8 = _man_text(os.path.join(PKG, "man", "ravend.8"))
    opts = _help_options(usage)
    assert len(opts) >= 12, opts
    assert not {o for o in opts if o not in man8}, {o for o in opts if o not in man8}
    for short in re.findall(r"^\s+\"  (-\w),", usage, re.M):
        assert short in man8, short
    for env in re.findall(r"(RAVEN_[A-Z_]+)=", usage):
        assert env in man8, env

    ctl = [os.path.join(ROOT, "api", "cli", "ravenctl")]
    top = subprocess.run(ctl + ["--help"], capture_output=True, text=True, timeout=30).stdout
    man1 = _man_text(os.path.join(PKG, "man", "ravenctl.1"))
    # the commands, as argparse lists them under COMMAND
    commands = re.findall(r"^    ([a-z][a-z-]+) ", top, re.M)
    assert len(commands) >= 15, top
    missing = [c for c in commands if not re.search(rf"^\.B[RI]? \"?{re.escape(c)}\b", man1, re.M)]
    assert not missing, missing
    opts = _help_options(top)
    for c in commands:
        opts |= _help_options(subprocess.run(ctl + [c, "--help"], capture_output=True, text=True, timeout=30).stdout)
    assert not {o for o in opts if o not in man1}, {o for o in opts if o not in man1}

    # the front ends' page names the options of both
    fe_man = _man_text(os.path.join(PKG, "man", "raven-netconfd.8"))
    assert open(os.path.join(PKG, "man", "raven-restd.8")).read() == ".so man8/raven-netconfd.8\n"
    for src in (("api", "netconf", "netconfd.c"), ("api", "rest", "restd.c")):
        code = open(os.path.join(ROOT, *src)).read()
        longopts = set(re.findall(r'\{"([a-z-]+)", (?:required|no)_argument, NULL, \'(\w)\'\}', code))
        assert len(longopts) >= 5, (src, longopts)
        for name, short in longopts:
            assert f"-{short}, --{name}" in fe_man, (src, name)

    for page in ("ravend.8", "ravenctl.1", "raven-netconfd.8"):
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", os.path.join(PKG, "man", page)],
                           capture_output=True, text=True, timeout=30, env={"PATH": PATH, "LC_ALL": "C.UTF-8",
                                                                             "MANWIDTH": "80"})
        assert r.returncode == 0 and not r.stderr.strip(), (page, r.stderr)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if os.environ.get("RAVEN_DEB"):
        # a package built before from this tree (packaging/build-deb.sh), to check it again
        return pathlib.Path(os.environ["RAVEN_DEB"])
    out = tmp_path_factory.mktemp("deb")
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(PKG, "build-deb.sh"), str(out)], capture_output=True, text=True, timeout=1500,
                       env={**os.environ, "DEB_BUILD_OPTIONS": "nocheck parallel=2"})
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    print(f"package built in {time.monotonic() - t0:.0f} s")
    debs = [p for p in out.iterdir() if re.fullmatch(r"raven_[^_]+_\w+\.deb", p.name)]
    assert len(debs) == 1, list(out.iterdir())
    return debs[0]


def test_lintian_reports_no_error(deb):
    r = subprocess.run(["lintian", "--fail-on", "error", str(deb)], capture_output=True, text=True, timeout=600)
    errors = [ln for ln in r.stdout.splitlines() if ln.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


class Ravend:
    """ravend started through nsenter (the Popen's process), which forks it into
    the root's PID namespace: .pid is ravend's pid there, kill() signals ravend
    itself, and the exit status is ravend's (nsenter passes it on)."""

    def __init__(self, popen):
        self.popen = popen
        self.pid = self.host_pid = None
        deadline = time.time() + 10
        while not _children(popen.pid):
            if popen.poll() is not None:
                return          # it ended at once: the caller reads its status and log
            assert time.time() < deadline, "nsenter did not start ravend"
            time.sleep(0.01)
        self.host_pid = _children(popen.pid)[0]
        with open(f"/proc/{self.host_pid}/status") as f:
            self.pid = int(re.search(r"^NSpid:.*\s(\d+)$", f.read(), re.M).group(1))

    def poll(self):
        return self.popen.poll()

    def wait(self, timeout=None):
        return self.popen.wait(timeout)

    @property
    def returncode(self):
        return self.popen.returncode

    def kill(self, sig):
        if self.popen.poll() is None and self.host_pid:
            try:
                os.kill(self.host_pid, sig)
            except ProcessLookupError:
                pass


class Root:
    """The throw-away root (see the module's docstring). run() runs a shell command
    chrooted there; start_unit() starts ravend as the installed unit does."""

    def __init__(self, base):
        self.base = str(base)
        self.path = os.path.join(self.base, "root")
        self.upper = os.path.join(self.base, "upper")
        self.procs = []
        # unshare forks the namespaces' init (sleep), killed when unshare dies
        self.holder = subprocess.Popen(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                                        "--propagation", "private", "sleep", "infinity"], preexec_fn=_die_with_us)
        self.init = None
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self):
        # the init is in the namespaces once it runs sleep
        deadline = time.time() + 10
        while True:
            assert time.time() < deadline and self.holder.poll() is None, "unshare failed"
            kids = _children(self.holder.pid)
            if kids and os.readlink(f"/proc/{kids[0]}/exe").endswith("/sleep"):
                self.init = kids[0]
                break
            time.sleep(0.02)
        b, r = shlex.quote(self.base), shlex.quote(self.path)
        devs = " ".join(f"touch {r}/dev/{n} && mount --bind /dev/{n} {r}/dev/{n};"
                        for n in ("null", "zero", "full", "random", "urandom", "tty"))
        self.host(f"""set -e
            mount -t tmpfs -o mode=0755 raven-deb-test {b}
            mkdir {b}/upper {b}/work {r}
            mount -t overlay overlay -o lowerdir=/,upperdir={b}/upper,workdir={b}/work {r}
            mount -t tmpfs -o mode=0755,nosuid tmpfs {r}/dev
            {devs}
            ln -s /proc/self/fd {r}/dev/fd
            ln -s /proc/self/fd/0 {r}/dev/stdin
            ln -s /proc/self/fd/1 {r}/dev/stdout
            ln -s /proc/self/fd/2 {r}/dev/stderr
            mkdir {r}/dev/shm
            mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {r}/dev/shm
            mount -o remount,ro,nosuid {r}/dev
            mount -t proc -o nosuid,nodev,noexec proc {r}/proc
            mount -t sysfs -o ro,nosuid,nodev,noexec sysfs {r}/sys
            mount -t tmpfs -o mode=0755 tmpfs {r}/run
            mount -t tmpfs -o mode=1777 tmpfs {r}/tmp
            ip link set lo up""")
        # a machine's own Raven (a package, a state directory from ./run.sh) is
        # hidden here: each test sets up what it needs
        self.run("if dpkg-query -W -f='${Status}' raven 2>/dev/null | grep -q 'ok installed'; then "
                 "dpkg --purge raven >/dev/null; fi; rm -rf /var/lib/raven /etc/default/raven; "
                 # no man-db index update after each dpkg run (seconds each)
                 "rm -f /var/lib/man-db/auto-update")

    def host(self, script, timeout=60):
        """@script in the namespaces, outside the chroot."""
        r = subprocess.run(["nsenter", "-t", str(self.init), "-m", "-n", "-p", "sh", "-c", script],
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, (script, r.stdout, r.stderr)
        return r.stdout

    def cmd(self, argv):
        # nsenter forks into the PID namespace; its child execs chroot, then argv
        return ["nsenter", "-t", str(self.init), "-m", "-n", "-p", "--", "chroot", self.path, *argv]

    def run(self, script, check=True, timeout=300):
        r = subprocess.run(self.cmd(["sh", "-c", script]), capture_output=True, text=True, timeout=timeout,
                           env={"PATH": PATH, "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"})
        if check:
            assert r.returncode == 0, (script, r.stdout, r.stderr)
        return r

    def read(self, path):
        return self.run(f"cat {shlex.quote(path)}").stdout

    def write(self, path, text, mode="0644"):
        subprocess.run(self.cmd(["sh", "-c", f"cat > {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}"]),
                       input=text, text=True, check=True, timeout=30)

    def install(self, deb):
        self.host(f"cp {shlex.quote(str(deb))} {shlex.quote(self.path)}/tmp/")
        return self.run(f"dpkg -i /tmp/{deb.name}")

    def start_unit(self, log, unit="/lib/systemd/system/ravend.service"):
        """Runs the unit's ExecStart as systemd would: its EnvironmentFile's
        variables expanded ($X: split into words) and set, the state and runtime
        directories made with their modes, its UMask, LimitMEMLOCK, bounding set
        and no-new-privs. Returns (process, argv); the process is ravend, its pid
        the one in the root's PID namespace."""
        text = self.read(unit)
        s = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
        env = {"PATH": PATH, "LANG": "C.UTF-8"}
        for m in re.findall(r"^EnvironmentFile=(.*)$", text, re.M):
            optional, path = m.startswith("-"), m.lstrip("-")
            r = self.run(f"cat {shlex.quote(path)}", check=not optional)
            for line in r.stdout.splitlines():
                mm = re.match(r"^\s*([A-Za-z_]\w*)=(.*)$", line)
                if mm and not line.lstrip().startswith("#"):
                    words = shlex.split(mm.group(2))
                    env[mm.group(1)] = words[0] if words else ""
        argv = []
        for w in shlex.split(s["ExecStart"]):
            if re.fullmatch(r"\$\w+", w):
                argv += env.get(w[1:], "").split()
            elif re.fullmatch(r"\$\{\w+\}", w):
                argv.append(env.get(w[2:-1], ""))
            else:
                argv.append(w)
        self.run(f"mkdir -p /var/lib/{s['StateDirectory']} && chmod {s['StateDirectoryMode']} "
                 f"/var/lib/{s['StateDirectory']} && mkdir -p /run/{s['RuntimeDirectory']} && "
                 f"chmod {s['RuntimeDirectoryMode']} /run/{s['RuntimeDirectory']}")
        caps = ",".join("+" + c[len("CAP_"):].lower() for c in s["CapabilityBoundingSet"].split())
        sandbox = ["/usr/bin/setpriv", f"--bounding-set=-all,{caps}"]
        if s.get("NoNewPrivileges") == "yes":
            sandbox.append("--no-new-privs")
        umask = int(s.get("UMask", "0022"), 8)

        def child():
            _die_with_us()
            os.umask(umask)
            if s.get("LimitMEMLOCK") == "infinity":
                try:
                    resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                except (ValueError, OSError):
                    # without CAP_SYS_RESOURCE (a container): the hard limit, which
                    # no AF_XDP socket needs here (no dataplane interface is configured)
                    hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
                    resource.setrlimit(resource.RLIMIT_MEMLOCK, (hard, hard))

        p = Ravend(subprocess.Popen(self.cmd(sandbox + ["--"] + argv), stdout=log, stderr=subprocess.STDOUT,
                                    env=env, preexec_fn=child))
        self.procs.append(p)
        return p, argv

    def stop(self, p):
        if p.poll() is None:
            p.kill(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill(signal.SIGKILL)
                p.wait()

    def connect(self, port):
        """A TCP connection to 127.0.0.1:@port in the root's network namespace."""
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{self.init}/ns/net", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns")
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=10)
            finally:
                if _libc.setns(own, CLONE_NEWNET):
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(own)
            os.close(target)

    def close(self):
        for p in self.procs:
            self.stop(p)
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "throwaway"
    base.mkdir()
    r = Root(base)
    yield r
    r.close()


def test_throwaway_root_is_confined(root):
    """The root sees its own PID namespace (the holder's sleep as init), a
    read-only sysfs and a read-only /dev of a few devices, and its writes land in
    the tmpfs."""
    assert root.run("cat /proc/1/comm").stdout.strip() == "sleep"
    assert int(root.run("ls /proc | grep -c '^[0-9]'").stdout) < 10
    mounts = {f[1]: f[3].split(",") for f in (ln.split() for ln in root.read("/proc/mounts").splitlines())}
    assert "ro" in mounts["/sys"] and "ro" in mounts["/dev"], mounts
    assert set(root.run("ls /dev").stdout.split()) == {"full", "null", "random", "shm", "tty", "urandom", "zero",
                                                       "fd", "stdin", "stdout", "stderr"}
    assert root.run("echo x > /dev/null && head -c 4 /dev/urandom | wc -c").stdout.strip() == "4"
    assert root.run("touch /sys/x", check=False).returncode != 0
    assert root.run("touch /dev/x", check=False).returncode != 0
    root.run("touch /etc/raven-throwaway-probe")
    assert not os.path.exists("/etc/raven-throwaway-probe")


def wait_ready(p, log, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = open(log.name, errors="replace").read()
        if "ravend: ready" in text:
            return text
        assert p.poll() is None, "ravend exited (%s):\n%s" % (p.returncode, text)
        time.sleep(0.1)
    raise AssertionError("ravend not ready:\n" + open(log.name, errors="replace").read())


def restconf(root, port, path, user="admin", pw=ADMIN_PW, method="GET", data=None):
    args = ["curl", "-sS", "--cacert", "/var/lib/raven/rest_cert.pem", "-u", f"{user}:{pw}",
            "-o", "/dev/stdout", "-w", "\n%{http_code}", "-X", method,
            "-H", "Content-Type: application/yang-data+json", "-H", "Accept: application/yang-data+json"]
    if data is not None:
        args += ["--data", data]
    r = subprocess.run(root.cmd(args + [f"https://127.0.0.1:{port}{path}"]), capture_output=True, text=True,
                       timeout=60)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body or r.stderr


def netconf(root, port, pw):
    return manager.connect(host="127.0.0.1", port=port, sock=root.connect(port), username="admin", password=pw,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)


def test_install_start_purge(root, deb, tmp_path):
    """dpkg -i gives the files where they belong, a unit that verifies, and a ravend
    that, started as the unit starts it, serves the built-in default configuration
    (NETCONF on 127.0.0.1:830, RESTCONF on 127.0.0.1:8443) with the YANG modules,
    front ends and dashboard of the package; purge leaves nothing behind."""
    root.install(deb)
    for path, mode in (("/usr/sbin/ravend", "755"), ("/usr/sbin/raven-netconfd", "755"),
                       ("/usr/sbin/raven-restd", "755"), ("/usr/share/raven/cli/ravenctl", "755"),
                       ("/usr/share/raven/cli/raven_ios.py", "644"),
                       ("/usr/share/yang/modules/raven/raven-vpn.yang", "644"),
                       ("/usr/share/yang/modules/raven/raven-types.yang", "644"),
                       ("/usr/share/raven/web/index.html", "644"), ("/usr/lib/raven/raven_xdp.bpf.o", "644"),
                       ("/lib/systemd/system/ravend.service", "644"), ("/usr/lib/sysusers.d/raven.conf", "644"),
                       ("/usr/lib/tmpfiles.d/raven.conf", "644"), ("/etc/default/raven", "644"),
                       ("/usr/share/man/man8/ravend.8.gz", "644"), ("/usr/share/man/man1/ravenctl.1.gz", "644"),
                       ("/usr/share/man/man8/raven-netconfd.8.gz", "644")):
        assert root.run(f"stat -c %a {path}").stdout.strip() == mode, path
    assert root.run("readlink -f /usr/bin/ravenctl").stdout.strip() == "/usr/share/raven/cli/ravenctl"
    assert "/etc/default/raven" in root.read("/var/lib/dpkg/info/raven.conffiles")
    # the maintainer scripts: the front ends' user, the state directory, the unit enabled
    assert re.search(r"^raven:x:\d+:\d+:Raven management front ends:/nonexistent:", root.read("/etc/passwd"), re.M)
    assert root.run("stat -c '%a %U' /var/lib/raven").stdout.split() == ["700", "root"]
    assert root.run("test -L /etc/systemd/system/multi-user.target.wants/ravend.service", check=False).returncode == 0
    # the installed ravend's defaults are the installed paths
    helptext = root.run("/usr/sbin/ravend --help").stdout
    assert "[/usr/share/yang/modules/raven]" in helptext and "[/usr/share/raven/web]" in helptext, helptext
    assert root.run("man -w ravend ravenctl raven-restd").stdout.split() == [
        "/usr/share/man/man8/ravend.8.gz", "/usr/share/man/man1/ravenctl.1.gz",
        "/usr/share/man/man8/raven-netconfd.8.gz"]
    assert root.run("readlink /usr/share/man/man8/raven-restd.8.gz").stdout.strip() == "raven-netconfd.8.gz"

    r = root.run("systemd-analyze verify /lib/systemd/system/ravend.service", check=False)
    ours = [ln for ln in (r.stdout + r.stderr).splitlines() if "ravend" in ln]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr

    log = open(tmp_path / "ravend.log", "w+")
    p, argv = root.start_unit(log)
    assert argv == ["/usr/sbin/ravend", "-f", "-d", "/var/lib/raven"], argv
    text = wait_ready(p, log)
    pw = re.search(r'created management user "admin" with password (\S+)', text).group(1)
    assert "NETCONF (SSH) listening on 127.0.0.1 port 830" in text, text
    assert "REST (HTTPS) listening on 127.0.0.1 port 8443" in text, text
    # the front ends run from /usr/sbin as raven, the YANG modules and the dashboard from /usr/share
    kids = {}
    for line in root.run(f"ps --ppid {p.pid} -o pid=,user=,args=").stdout.splitlines():
        pid, user, args = line.split(None, 2)
        kids[args.split()[0]] = (user, args, root.run(f"readlink /proc/{pid}/exe").stdout.strip())
    for fe in ("raven-netconfd", "raven-restd"):
        user, args, exe = kids[fe]
        assert exe == f"/usr/sbin/{fe}" and user == "raven" and "--yang-dir /usr/share/yang/modules/raven" in args, kids
    assert "--web-dir /usr/share/raven/web" in kids["raven-restd"][1], kids
    with netconf(root, 830, pw) as m:
        assert "<management" in m.get_config(source="running").data_xml
    code, body = restconf(root, 8443, "/restconf/data/raven-vpn:management/netconf", pw=pw)
    assert code == 200 and json.loads(body)["raven-vpn:netconf"]["endpoint"][0]["port"] == 830, (code, body)
    code, body = restconf(root, 8443, "/ui/", pw=pw)
    assert code == 200 and body == root.read("/usr/share/raven/web/index.html"), code
    r = root.run(f"RAVEN_PASSWORD={shlex.quote(pw)} ravenctl --cacert /var/lib/raven/rest_cert.pem -u admin "
                 "--json show pools")
    assert '"raven-vpn:pool": []' in r.stdout, r.stdout
    root.stop(p)
    assert p.returncode == 0, open(log.name).read()

    # the installed ravenctl converts the vendor's configuration with the
    # installed importer, run as root (no bytecode left in the package's directory)
    # (copied in: the tree may lie under a /tmp the root does not share)
    example = os.path.join(ROOT, "tests", "cli", "ios", "own-4-psk-minimal.txt")
    root.write("/tmp/own-4-psk-minimal.txt", open(example).read())
    r = root.run("cd /tmp && ravenctl import-ios /tmp/own-4-psk-minimal.txt -o /tmp/import.json && "
                 "stat -c %a /tmp/import.json && cat /tmp/import.json")
    mode, _, doc = r.stdout.partition("\n")
    assert mode == "600" and json.loads(doc)["raven-vpn:pools"]["ipv4-pool"][0]["name"] == "import-pool", r.stdout
    assert root.run("test -e /usr/share/raven/cli/__pycache__", check=False).returncode != 0

    root.run("apt-get purge -y -q raven")
    r = root.run("dpkg-query -W -f='${db:Status-Status}' raven", check=False)
    assert r.returncode != 0 or r.stdout == "not-installed", r.stdout
    # nothing of the package in the upper layer: what dpkg, the scripts, ravend and
    # ravenctl wrote is gone, except the system user (kept, as Debian does), whiteouts
    # and man's cache of formatted pages (systemd-analyze verify formats the unit's
    # Documentation= page, as man ravend would; man-db's cron job cleans that cache)
    left = root.host(f"cd {shlex.quote(root.upper)} && find . -path ./var/cache/man -prune -o -name '*raven*' "
                     "! -type c -print")
    assert not left.strip(), left


def test_upgrade_remove_reinstall_keep_the_configuration(root, deb, tmp_path):
    """A state directory that exists at install (an upgrade, a reinstall after
    remove, a first install on a machine that ran ravend before) keeps its running
    configuration: ravend started by the unit serves it, not the default; its mode
    is set to 0700.
    /etc/default/raven takes effect (-c seeds the first start only). Purge removes
    the state directory and the conffile; remove keeps both."""
    root.install(deb)
    first = f"""<management xmlns="{NS}">
  <netconf><endpoint><name>pkg</name><address>127.0.0.1</address><port>1830</port></endpoint></netconf>
  <rest><endpoint><name>pkg</name><address>127.0.0.1</address><port>18443</port></endpoint></rest>
  <user><name>admin</name><password-hash>{crypt_hash(ADMIN_PW)}</password-hash><role>admin</role></user>
</management>
"""
    root.write("/etc/raven-first.xml", first)
    root.write("/etc/default/raven", 'RAVEND_OPTS="-c /etc/raven-first.xml -l debug"\n')
    log = open(tmp_path / "ravend1.log", "w+")
    p, argv = root.start_unit(log)
    assert argv[-4:] == ["-c", "/etc/raven-first.xml", "-l", "debug"], argv
    text = wait_ready(p, log)
    assert "REST (HTTPS) listening on 127.0.0.1 port 18443" in text and "password" not in text, text
    pool = '{"raven-vpn:ipv4-pool": [{"name": "kept", "range": [{"start": "10.77.0.10", "end": "10.77.0.20"}]}]}'
    code, body = restconf(root, 18443, "/restconf/data/raven-vpn:pools/ipv4-pool=kept", method="PUT", data=pool)
    assert code in (200, 201, 204), (code, body)
    root.stop(p)

    def serves_kept(name):
        log = open(tmp_path / name, "w+")
        p, _ = root.start_unit(log)
        text = wait_ready(p, log)
        assert "port 18443" in text and "port 8443" not in text and "first start" not in text, text
        code, body = restconf(root, 18443, "/restconf/data/raven-vpn:pools/ipv4-pool=kept")
        assert code == 200 and "10.77.0.10" in body, (code, body)
        with netconf(root, 1830, ADMIN_PW) as m:
            assert "kept" in m.get_config(source="running").data_xml
        root.stop(p)

    # an upgrade (the same version again: prerm upgrade, postinst configure), the
    # state directory's mode loosened by hand before it, the -c file gone meanwhile
    root.run("chmod 0755 /var/lib/raven && rm /etc/raven-first.xml")
    root.write("/etc/default/raven", 'RAVEND_OPTS=""\n')
    before = root.run("ls /var/lib/raven").stdout
    root.install(deb)
    assert root.run("stat -c %a /var/lib/raven").stdout.strip() == "700"
    assert root.run("ls /var/lib/raven").stdout == before
    assert root.read("/etc/default/raven") == 'RAVEND_OPTS=""\n'    # the admin's conffile kept
    serves_kept("ravend2.log")

    # remove keeps the state and the conffile; a later install uses them
    root.run("dpkg -r raven")
    assert root.run("ls /var/lib/raven").stdout == before and root.read("/etc/default/raven") == 'RAVEND_OPTS=""\n'
    assert root.run("test -e /usr/sbin/ravend", check=False).returncode != 0
    root.install(deb)
    serves_kept("ravend3.log")

    # purge deletes the state and the conffile
    root.run("cp -a /var/lib/raven /root/raven-state && dpkg --purge raven")
    assert root.run("test -e /var/lib/raven || test -e /etc/default/raven", check=False).returncode != 0

    # a machine that never had the package but has a state directory (./run.sh's):
    # the first install keeps it
    root.run("mv /root/raven-state /var/lib/raven && chmod 0755 /var/lib/raven")
    root.install(deb)
    assert root.run("stat -c %a /var/lib/raven").stdout.strip() == "700"
    assert root.run("ls /var/lib/raven").stdout == before
    serves_kept("ravend4.log")
    root.run("dpkg --purge raven")
