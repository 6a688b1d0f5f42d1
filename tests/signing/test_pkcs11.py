"""An agency whose key lives in a PKCS#11 token (SoftHSM2): the service signs through the token."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from tests.fixtures import pdfs
from tests.fixtures.factories import client_token

LIBS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
TOKEN, PIN, KEY = "uyquyen-test", "1234", "HN-HSM"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    """A fresh SoftHSM2 token with one P-256 key pair generated inside it (not extractable)."""
    lib = next((p for p in LIBS if Path(p).exists()), None)
    if lib is None or shutil.which("softhsm2-util") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have SoftHSM2 (.ci/run installs softhsm2)")
        pytest.skip("SoftHSM2 is not installed (Debian: softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "5678",
        ],
        check=True,
        capture_output=True,
    )
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    token = pkcs11.lib(lib).get_token(token_label=TOKEN)
    with token.open(rw=True, user_pin=PIN) as session:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, private = params.generate_keypair(store=True, label=KEY)
        assert private[Attribute.SENSITIVE] is True and private[Attribute.EXTRACTABLE] is False
        public_der = encode_ec_public_key(public)
    yield lib, public_der
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def test_agency_key_in_softhsm_signs_valid_documents(make_client, admin, softhsm) -> None:
    lib, public_der = softhsm
    client = make_client(
        pkcs11_module=lib, pkcs11_keys={KEY: {"token_label": TOKEN, "key_label": KEY, "pin": PIN}}
    )
    created = client.post("/v1/agencies", headers=admin, json={"code": KEY, "name": "Sở HSM"})
    assert created.status_code == 201, created.text
    token = client_token(
        client, created.json()["client_id"], created.json()["client_secret"]
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    for level in ("B-B", "B-LT"):
        resp = client.post(
            "/v1/signatures/pdf",
            headers=headers,
            data={"level": level},
            files={"file": ("d.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        assert resp.status_code == 200, resp.text
        verdict = client.post(
            "/v1/signatures/pdf/verify", files={"file": ("s.pdf", resp.content, "application/pdf")}
        ).json()
        assert verdict["valid"] is True, verdict
        assert "Sở HSM" in verdict["signatures"][0]["signer"]["subject"]

    # The certificate certifies the token's key, and no private key was stored anywhere else.
    identity = client.app.state.signing.identity(KEY)
    assert (
        identity.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public_der
    )
    with client.app.state.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT key_pem FROM pki_certificates WHERE name = :n"), {"n": KEY}
        ).scalar_one()
    assert stored == ""
