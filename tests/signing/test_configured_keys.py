"""Production keys: a PKCS#12 file per agency, an external RFC 3161 TSA over HTTP, trust anchors
from a PEM file; no development PKI anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from core.settings import ConfigurationError
from tests.fixtures import pdfs
from tests.fixtures.factories import client_token
from tests.fixtures.server import ADMIN_TOKEN, clean_env, free_port, running_server

PRODUCTION = {
    "env": "production",
    "vneid_issuer": "https://vneid.gov.vn",
    "key_passphrase": "p" * 32,
}


def national_ca(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for a licensed CA: root + agency certificate, exported as PKCS#12."""
    now = datetime.now(UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "National Root CA (test)")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sở Nội vụ (test)")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    p12 = tmp_path / "agency.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"agency", key, leaf, [root], serialization.BestAvailableEncryption(b"p12-password")
        )
    )
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return p12, anchors


@pytest.mark.slow
def test_pkcs12_key_external_tsa_and_trust_anchor_file(make_client, admin, tmp_path: Path) -> None:
    p12, anchors = national_ca(tmp_path)
    # Another uyquyen in development mode plays the external timestamping authority.
    with running_server(
        tmp_path, free_port(), env=clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)
    ) as tsa:
        tsa_root = httpx.get(f"{tsa.base}/v1/signatures/trust-anchors").content
        anchors.write_bytes(anchors.read_bytes() + tsa_root)
        client = make_client(
            **PRODUCTION,
            tsa_url=f"{tsa.base}/pki/tsa",
            trust_anchors_file=anchors,
            pkcs12_keys={"HN-NOIVU": {"path": str(p12), "password": "p12-password"}},
        )
        created = client.post(
            "/v1/agencies", headers=admin, json={"code": "HN-NOIVU", "name": "Sở Nội vụ"}
        )
        token = client_token(
            client, created.json()["client_id"], created.json()["client_secret"]
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for level in ("B-B", "B-T"):
            signed = client.post(
                "/v1/signatures/pdf",
                headers=headers,
                data={"level": level},
                files={"file": ("d.pdf", pdfs.simple_pdf(), "application/pdf")},
            )
            assert signed.status_code == 200, signed.text
            verdict = client.post(
                "/v1/signatures/pdf/verify",
                files={"file": ("s.pdf", signed.content, "application/pdf")},
            ).json()
            assert verdict["valid"] is True, verdict
            s = verdict["signatures"][0]
            assert "National Root CA" in s["signer"]["issuer"]
            if level == "B-T":
                assert s["timestamp"]["valid"] and s["timestamp"]["trusted"]

    assert (
        len(x509.load_pem_x509_certificates(client.get("/v1/signatures/trust-anchors").content))
        == 2
    )
    assert client.get("/pki/crl/root.crl").status_code == 404  # no development PKI here
    other = client.post("/v1/agencies/STP-HN/clients", headers=admin).json()
    other_token = client_token(client, other["client_id"], other["client_secret"]).json()[
        "access_token"
    ]
    refused = client.post(
        "/v1/signatures/pdf",
        headers={"Authorization": f"Bearer {other_token}"},
        files={"file": ("d.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "no_signing_key"


def test_wrong_pkcs12_password_stops_start_up(make_settings, tmp_path: Path) -> None:
    from main import bootstrap, create_app

    p12, anchors = national_ca(tmp_path)
    settings = make_settings(
        **PRODUCTION,
        trust_anchors_file=anchors,
        pkcs12_keys={"HN-NOIVU": {"path": str(p12), "password": "wrong"}},
    )
    bootstrap(settings)
    with pytest.raises(ConfigurationError, match="HN-NOIVU"):
        create_app(settings)
    missing = make_settings(
        **PRODUCTION, pkcs12_keys={"HN-NOIVU": {"path": str(tmp_path / "nope.p12")}}
    )
    with pytest.raises(ConfigurationError, match="cannot read"):
        create_app(missing)
