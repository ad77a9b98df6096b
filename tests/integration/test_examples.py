"""The example configurations of yang/examples/: each one is loaded with edit-config
into the candidate, committed, and read back with get-config: what comes back is the
file itself, with its secrets masked."""
import copy
import glob
import os
import re

import pytest
from lxml import etree

from conftest import NS, ROOT, cfg
from nchelpers import MASK, canon_children, get_config, parse_config_file

REQUIRES = ("ncclient",)

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "yang", "examples", "*.xml")))

# The secret leaves of raven-vpn (yang/README.md); checked against the module below.
SECRETS = [
    "ikev2/keyring/peer/pre-shared-key",
    "ikev2/keyring/peer/local-pre-shared-key",
    "ikev2/keyring/peer/remote-pre-shared-key",
    "ikev2/profile/authentication/local/pre-share/key",
    "ikev2/profile/authentication/remote/pre-share/key",
    "ikev2/ppk/key",
    "aaa/radius-server/key",
    "aaa/dynamic-author-client/key",
    "pki/trustpoint/private-key",
    "management/rest/private-key",
    "management/user/password-hash",
    "cluster/etcd/password",
    "cluster/etcd/private-key",
]

@pytest.fixture
def ravend(make_ravend, ifns):
    """The examples name a dataplane interface (eth0): ravend runs in a namespace
    that has one (conftest.ifns), never attached to the host's."""
    return make_ravend(netns=ifns)



def test_secret_list_matches_the_module():
    with open(os.path.join(ROOT, "yang", "raven-vpn.yang")) as f:
        assert len(re.findall(r"^\s*rt:secret;", f.read(), re.M)) == len(SECRETS)


def masked(tops):
    out = [copy.deepcopy(t) for t in tops]
    for t in out:
        for path in SECRETS:
            first, rest = path.split("/", 1)
            if etree.QName(t).localname != first:
                continue
            for leaf in t.xpath("/".join(f"rv:{p}" for p in rest.split("/")), namespaces={"rv": NS}):
                leaf.text = MASK
    return out


def test_examples_exist():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_roundtrip(ravend, path):
    tops = parse_config_file(path)
    assert tops and all(etree.QName(t).namespace == NS for t in tops)
    body = "".join(etree.tostring(t, encoding="unicode") for t in tops)
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(body))
    m.commit()
    names = sorted({etree.QName(t).localname for t in tops})
    data = get_config(m, "running", [f'<{n} xmlns="{NS}"/>' for n in names])
    assert sorted(etree.QName(c).localname for c in data) == names
    expected = masked(tops)
    assert canon_children(data) == tuple(sorted(
        (c for c in canon_children_of(expected)), key=repr)), _diff(expected, data)
    # the secrets themselves were stored
    for t in tops:
        for leaf in t.iter(f"{{{NS}}}key", f"{{{NS}}}private-key"):
            assert max(leaf.text.strip().splitlines(), key=len) in ravend.running_file()


def canon_children_of(elements):
    root = etree.Element("data")
    for e in elements:
        root.append(copy.deepcopy(e))
    return canon_children(root)


def _diff(expected, data):
    exp = "\n".join(etree.tostring(e, encoding="unicode", pretty_print=True) for e in expected)
    got = etree.tostring(data, encoding="unicode", pretty_print=True)
    return f"read back differs from the file\n--- file (masked)\n{exp}\n--- get-config\n{got}"
