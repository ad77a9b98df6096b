"""curl as the REST client of the tests: every request is one curl process, so what
is tested is what a script would see."""
import json
import os
import subprocess
import tempfile

from conftest import ADMIN_PW, READER_PW

JSON = "application/yang-data+json"
XML = "application/yang-data+xml"


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body

    def json(self):
        return json.loads(self.body)

    def errors(self):
        """The ietf-restconf:errors list of a JSON error body."""
        return self.json()["ietf-restconf:errors"]["error"]

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:500]!r}>"


class Rest:
    def __init__(self, url, user="admin", password=ADMIN_PW, netns=None):
        self.url = url
        self.user = user
        self.password = password
        self.netns = netns

    def req(self, method, path, body=None, ctype=JSON, accept=JSON, auth="basic", headers=(), user=None,
            password=None, timeout=20, extra=()):
        """auth: "basic", "none", or ("bearer", TOKEN) / ("cookie", TOKEN)."""
        with tempfile.NamedTemporaryFile(prefix="rest-h-", delete=False) as hf:
            hpath = hf.name
        cmd = ["curl", "-sk", "-X", method, "-D", hpath, "-o", "-", "--max-time", str(timeout),
               "-w", "\n%{http_code}"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        if accept:
            cmd += ["-H", f"Accept: {accept}"]
        if auth == "basic":
            cmd += ["-u", f"{user or self.user}:{password or self.password}"]
        elif isinstance(auth, tuple) and auth[0] == "bearer":
            cmd += ["-H", f"Authorization: Bearer {auth[1]}"]
        elif isinstance(auth, tuple) and auth[0] == "cookie":
            cmd += ["-b", f"raven_token={auth[1]}"]
        for h in headers:
            cmd += ["-H", h]
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if ctype:
                cmd += ["-H", f"Content-Type: {ctype}"]
            cmd += ["--data-binary", "@-"]
        cmd += list(extra)
        cmd.append(self.url + path)
        try:
            p = subprocess.run(cmd, input=body.encode() if isinstance(body, str) else body,
                               capture_output=True, timeout=timeout + 5)
            out = p.stdout.decode(errors="replace")
            body_text, _, code = out.rpartition("\n")
            headers_d = {}
            with open(hpath, errors="replace") as f:
                for line in f:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers_d[k.strip().lower()] = v.strip()
            return Resp(int(code or 0), headers_d, body_text)
        finally:
            os.unlink(hpath)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def put(self, path, body, **kw):
        return self.req("PUT", path, body, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def patch(self, path, body, **kw):
        return self.req("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def token(self, user="admin", password=ADMIN_PW):
        r = self.req("POST", "/auth/token", {"username": user, "password": password}, ctype="application/json",
                     accept=None, auth="none")
        assert r.status == 200, r
        return r.json()["token"]


def pool_body(name, start, end, **extra):
    d = {"name": name, "range": [{"start": start, "end": end}]}
    d.update(extra)
    return {"raven-vpn:ipv4-pool": [d]}


__all__ = ["Rest", "Resp", "JSON", "XML", "pool_body", "ADMIN_PW", "READER_PW"]
