"""The daemon starts from a configuration file, authenticates by password and by
public key, and takes a candidate edit through commit."""
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
