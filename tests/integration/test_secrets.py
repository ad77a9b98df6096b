"""Secret leaves (raven-types:secret): every read returns the mask "********", writing
the mask back keeps the stored value, the mask for a secret that has no stored value
is refused, and the real value is what ravend keeps and persists."""
from lxml import etree

from conftest import ADMIN_PW, READER_PW, cfg
from nchelpers import (MASK, aaa, assert_unchanged, expect_error, get_config, inline_source, keyring,
                       radius, running_state, subtree, texts, user)

REQUIRES = ("ncclient",)

RADIUS_PATH = "aaa/radius-server/key"
PSK_PATH = "ikev2/keyring/peer/pre-shared-key"


def _add_radius(m, key="s3cret-radius"):
    m.edit_config(target="candidate", config=cfg(aaa(radius("r1", key=key))))
    m.commit()


def test_secret_reads_back_masked_everywhere(ravend):
    m = ravend.connect()
    _add_radius(m)
    assert texts(get_config(m, "running"), RADIUS_PATH) == [MASK]
    assert texts(get_config(m, "candidate"), RADIUS_PATH) == [MASK]
    assert texts(get_config(m, "running", subtree("aaa")), RADIUS_PATH) == [MASK]
    reader = ravend.connect(user="reader", password=READER_PW)
    assert texts(get_config(reader, "running"), RADIUS_PATH) == [MASK]
    users = get_config(m, "running", subtree("management"))
    assert set(texts(users, "management/user/password-hash")) == {MASK}
    got = m.get(filter=subtree("aaa")).data_xml
    assert MASK in got and "s3cret-radius" not in got
    # the real value is kept (and persisted) by the daemon
    assert "s3cret-radius" in ravend.running_file()


def test_masked_value_written_back_keeps_the_secret(ravend):
    m = ravend.connect()
    _add_radius(m)
    # merge of the mask, with another change next to it
    m.edit_config(target="candidate", config=cfg(aaa(radius("r1", key=MASK, extra="<timeout>9</timeout>"))))
    m.commit()
    assert "s3cret-radius" in ravend.running_file()
    assert "<timeout>9</timeout>" in ravend.running_file()
    # replace of the whole entry with the mask keeps it too
    m.edit_config(target="candidate", config=cfg(aaa(radius("r1", key=MASK, address="192.0.2.7", op="replace"))))
    m.commit()
    assert "s3cret-radius" in ravend.running_file()
    assert "192.0.2.7" in ravend.running_file()
    # and so does a direct edit of running
    m.edit_config(target="running", config=cfg(aaa(radius("r1", key=MASK))))
    assert "s3cret-radius" in ravend.running_file()


def test_new_value_replaces_the_secret(ravend):
    m = ravend.connect()
    _add_radius(m)
    m.edit_config(target="candidate", config=cfg(aaa(radius("r1", key="other-secret"))))
    m.commit()
    assert "other-secret" in ravend.running_file()
    assert "s3cret-radius" not in ravend.running_file()
    assert texts(get_config(m, "running"), RADIUS_PATH) == [MASK]


def test_mask_without_stored_value_is_invalid(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    expect_error(lambda: m.edit_config(target="candidate", config=cfg(aaa(radius("r1", key=MASK)))),
                 "invalid-value", path_contains="radius-server[name='r1']/key")
    assert texts(get_config(m, "candidate"), "aaa/radius-server/name") == []
    expect_error(lambda: m.edit_config(target="running", config=cfg(aaa(radius("r1", key=MASK)))),
                 "invalid-value", path_contains="radius-server[name='r1']/key")
    assert_unchanged(ravend, m, before)


def test_keyring_pre_shared_key_is_a_secret(ravend):
    m = ravend.connect()
    expect_error(lambda: m.edit_config(target="candidate", config=cfg(keyring("kr1", "peer1", MASK))),
                 "invalid-value", path_contains="pre-shared-key")
    m.edit_config(target="candidate", config=cfg(keyring("kr1", "peer1", "psk-value-1")))
    m.commit()
    assert texts(get_config(m, "running"), PSK_PATH) == [MASK]
    m.edit_config(target="candidate", config=cfg(keyring("kr1", "peer1", MASK)))
    m.commit()
    assert "psk-value-1" in ravend.running_file()
    # deleting the leaf deletes the secret (here: in favour of asymmetric keys)
    m.edit_config(target="candidate", config=cfg(
        '<ikev2 xmlns="urn:raven:params:xml:ns:yang:raven-vpn"><keyring><name>kr1</name><peer><name>peer1</name>'
        '<pre-shared-key nc:operation="delete">' + MASK + '</pre-shared-key>'
        '<local-pre-shared-key>local-psk-2</local-pre-shared-key>'
        '<remote-pre-shared-key>remote-psk-3</remote-pre-shared-key></peer></keyring></ikev2>'))
    m.commit()
    data = get_config(m, "running")
    assert texts(data, PSK_PATH) == []
    assert texts(data, "ikev2/keyring/peer/local-pre-shared-key") == [MASK]
    assert texts(data, "ikev2/keyring/peer/remote-pre-shared-key") == [MASK]
    running = ravend.running_file()
    assert "psk-value-1" not in running
    assert "local-psk-2" in running and "remote-psk-3" in running


def test_password_hash_written_back_masked_keeps_the_login(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(user("admin", pw_hash=MASK, role="admin")))
    m.commit()
    ravend.connect(password=ADMIN_PW).close_session()
    expect_error(lambda: m.edit_config(target="candidate", config=cfg(user("newbie", pw_hash=MASK))),
                 "invalid-value", path_contains="password-hash")


def test_read_modify_write_of_a_whole_config_keeps_all_secrets(ravend):
    """A client reads running (secrets masked), changes one thing and writes the
    whole configuration back with copy-config: the secrets stay as they were."""
    m = ravend.connect()
    _add_radius(m)
    m.edit_config(target="candidate", config=cfg(keyring("kr1", "peer1", "psk-value-1")))
    m.commit()
    data = get_config(m, "running")
    body = "".join(etree.tostring(c, encoding="unicode") for c in data)
    assert MASK in body
    m.copy_config(source=inline_source(body), target="candidate")
    m.commit()
    running = ravend.running_file()
    assert "s3cret-radius" in running and "psk-value-1" in running
    # the users' password hashes are intact: both can still log in
    ravend.connect(password=ADMIN_PW).close_session()
    ravend.connect(user="reader", password=READER_PW).close_session()


def test_filters_cannot_probe_a_secret(ravend):
    """A filter sees secrets only masked, so it cannot test a secret character by
    character (here: a read-only user probing the admin's password hash)."""
    from conftest import NS
    reader = ravend.connect(user="reader", password=READER_PW)
    probe = ("xpath", ({"rv": NS}, "/rv:management/rv:user[starts-with(rv:password-hash,'$6$')]"))
    assert len(get_config(reader, "running", probe)) == 0
    masked = ("xpath", ({"rv": NS}, f"/rv:management/rv:user[rv:password-hash='{MASK}']/rv:name"))
    names = [e.text for e in get_config(reader, "running", masked).iter(f"{{{NS}}}name")]
    assert "admin" in names
    subtree = ("subtree", f'<management xmlns="{NS}"><user><password-hash>hunter2</password-hash></user></management>')
    assert len(get_config(reader, "running", subtree)) == 0
