"""Fixtures of the dashboard's end-to-end test: the integration tests' own (users,
keys, the namespace lab, make_ravend with rest=True for a ravend that also serves
HTTPS and the dashboard) reused from tests/integration, which goes on sys.path;
and playwright-core from npm.

The integration helpers import their fixtures' module by the name "conftest",
which inside this directory is this file: the names they take from it are
re-exported here."""
import importlib.util
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
INTEGRATION = os.path.join(ROOT, "tests", "integration")
sys.path.insert(0, INTEGRATION)

_spec = importlib.util.spec_from_file_location("raven_integration_conftest", os.path.join(INTEGRATION, "conftest.py"))
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)

# what tests/integration's modules import from "conftest"
NS, NC_NS, cfg, ADMIN_PW, READER_PW, free_port = it.NS, it.NC_NS, it.cfg, it.ADMIN_PW, it.READER_PW, it.free_port
# fixtures
keypair, hashes, hostkey, lab, make_ravend = it.keypair, it.hashes, it.hostkey, it.lab, it.make_ravend


@pytest.fixture(scope="session")
def node_modules():
    """tests/e2e/node_modules, installed from package-lock.json by
    packaging/install-deps.sh --test (nothing is downloaded at test time)."""
    if not shutil.which("node"):
        pytest.fail("node is needed for the dashboard test")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        pytest.fail("tests/e2e/node_modules is missing: run packaging/install-deps.sh --test (npm ci)")
    return os.path.join(HERE, "node_modules")
