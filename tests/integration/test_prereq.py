"""The prerequisite table (prereq.py) against the package list: every package it
tells a user to install is one that packaging/install-deps.sh installs, and every
strongSwan plugin the lab's clients load has its package named."""
import os
import re

import prereq
from conftest import ROOT
from lab import LOAD

REQUIRES = ()


def listed_packages():
    text = open(os.path.join(ROOT, "packaging", "debian-packages.txt")).read()
    return {re.sub(r"#.*", "", line).strip() for line in text.splitlines()} - {""}


def test_every_named_package_is_installed_by_the_project():
    named = set(prereq.PLUGIN_PACKAGES.values()) | {p for _, p in prereq.PROGRAMS.values()} | set(
        prereq.PY_MODULES.values())
    # the strongSwan base libraries come with strongswan-charon/-swanctl
    brought = {"libstrongswan", "strongswan-libcharon"}
    assert named - brought <= listed_packages(), named - brought - listed_packages()


def test_every_lab_plugin_has_its_package_named():
    assert set(LOAD.split()) <= set(prereq.PLUGIN_PACKAGES)


def test_a_missing_plugin_is_named_with_its_package(monkeypatch):
    monkeypatch.setattr(prereq, "CHARON_PLUGINS", "/nonexistent")
    msgs = prereq.missing(["ping"], ["eap-mschapv2"])
    assert msgs == ["strongSwan has no eap-mschapv2 plugin: install libcharon-extauth-plugins"]
    monkeypatch.setitem(prereq.PROGRAMS, "ping", ("no-such-program-raven", "iputils-ping"))
    assert prereq.missing(["ping"]) == ["ping is not installed: install iputils-ping"]
