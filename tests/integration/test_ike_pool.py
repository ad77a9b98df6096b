"""The crypto threads with certificates, against strongSwan clients: with
--crypto-threads 1 the IKE_SA_INIT's Diffie-Hellman, the opening of the
client's IKE_AUTH request, the check of its certificate chain and signature,
the headend's ECDSA or RSA signature of its AUTH and the sealing of the
IKE_AUTH response are each a job on the thread (five, vpn-state
ike-counters/crypto-pool/jobs; a request in Encrypted Fragments is opened by
one job a fragment), and the client verifies the result; with
--crypto-threads 0 the same exchange is computed on the control thread (no
job) and succeeds alike."""
import pytest

from conftest import NS
from test_ike_certs import connect, headend, pki  # noqa: F401 (pki: the module's fixture)
from test_ike_sessions import sessions, state, t

REQUIRES = ("strongswan", "openssl")


@pytest.mark.parametrize("threads,server,client", [("1", "head-ec", "bob"), ("1", "head-rsa", "alice"),
                                                   ("0", "head-ec", "bob")])
def test_our_signature_on_the_crypto_thread(make_ravend, lab, pki, threads, server, client):  # noqa: F811
    lb = lab(1)
    d = make_ravend(headend(pki, server), netns=lb.head, start=False)
    d.extra_args = ["--crypto-threads", threads]
    d.start()
    r = connect(lb, pki, client)
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-2000:]}"
    scheme = "RSA_EMSA_PKCS1_SHA2_256" if server == "head-rsa" else "ECDSA_WITH_SHA256_DER"
    assert f"authentication of 'headend.example.org' with {scheme} successful" in log, log[-3000:]
    m = d.connect()
    assert len(sessions(m)) == 1
    c = state(m).find(f"{{{NS}}}ike-counters")
    assert t(c, "crypto-pool/threads") == threads
    frags = int(t(c, "exchanges/fragments-received"))
    if client == "alice":  # its RSA certificate chain: IKE_AUTH comes in fragments, each opened by a job
        assert frags >= 2
    assert t(c, "crypto-pool/jobs") == (str(4 + max(frags, 1)) if threads == "1" else "0")
    assert t(c, "crypto-pool/queued") == "0"
