"""In-process hot paths against the raw `cryptography` operation underneath, same run."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlmodel import Session

from benchmarks.common import Row, paired_ratio, per_op_us
from core.canonical import canonical_json
from core.db import make_engine, upgrade_schema
from delegation import status_list
from delegation.offline import OfflineVerifier
from identity.vneid import IdTokenVerifier, IssuerKeys
from signing.jws import b64url_decode, b64url_encode, ec_public_jwk
from signing.keyring import Keyring, ensure_current_key

ISSUER = "https://vneid.example"


def _jws(header: dict[str, Any], claims: dict[str, Any], sign) -> str:  # type: ignore[no-untyped-def]
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(claims).encode())
    return f"{h}.{p}.{b64url_encode(sign(f'{h}.{p}'.encode()))}"


def run(quick: bool) -> list[Row]:
    number, repeats = (300, 5) if quick else (2000, 9)
    rows: list[Row] = []
    now = time.time()

    # An issuer with one ES256 and one RS256 key, served from memory (the cache is warm).
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = rsa_key.public_key().public_numbers()
    jwks = {
        "keys": [
            {**ec_public_jwk(ec_key.public_key()), "kid": "es", "alg": "ES256", "use": "sig"},
            {
                "kty": "RSA",
                "kid": "rs",
                "alg": "RS256",
                "use": "sig",
                "n": b64url_encode(n.n.to_bytes(256, "big")),
                "e": b64url_encode(n.e.to_bytes(3, "big")),
            },
        ]
    }
    docs = {
        f"{ISSUER}/.well-known/openid-configuration": {
            "issuer": ISSUER,
            "jwks_uri": f"{ISSUER}/jwks",
        },
        f"{ISSUER}/jwks": jwks,
    }
    verifier = IdTokenVerifier(
        IssuerKeys(ISSUER, fetch_json=docs.__getitem__), client_id="uyquyen", clock_skew_s=60
    )
    claims = {
        "iss": ISSUER,
        "sub": "001099012345",
        "aud": "uyquyen",
        "iat": int(now),
        "exp": int(now) + 3600,
        "acr": "vneid:loa2",
        "name": "Nguyễn Thị Lan",
        "jti": "x1",
    }

    def es_sign(data: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    es_token = _jws({"alg": "ES256", "kid": "es", "typ": "JWT"}, claims, es_sign)
    rs_token = _jws(
        {"alg": "RS256", "kid": "rs", "typ": "JWT"},
        claims,
        lambda d: rsa_key.sign(d, padding.PKCS1v15(), hashes.SHA256()),
    )

    def raw_verify_es(token: str):  # type: ignore[no-untyped-def]
        h, p, s = token.split(".")
        raw = b64url_decode(s)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        pub = ec_key.public_key()
        return lambda: pub.verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))

    h, p, s = rs_token.split(".")
    rs_sig, rs_input, rs_pub = b64url_decode(s), f"{h}.{p}".encode(), rsa_key.public_key()
    raw_es_fn = raw_verify_es(es_token)
    raw_rs_fn = lambda: rs_pub.verify(rs_sig, rs_input, padding.PKCS1v15(), hashes.SHA256())
    raw_es = per_op_us(raw_es_fn, number=number, repeats=repeats)
    raw_rs = per_op_us(raw_rs_fn, number=number, repeats=repeats)
    rows.append(
        Row(
            "in-process",
            "raw ES256 verify (cryptography)",
            raw_es[0],
            "us/op",
            f"{raw_es[1]:.1f}..{raw_es[2]:.1f}",
        )
    )
    rows.append(
        Row(
            "in-process",
            "raw RS256 verify (cryptography)",
            raw_rs[0],
            "us/op",
            f"{raw_rs[1]:.1f}..{raw_rs[2]:.1f}",
        )
    )
    for label, token, raw, limit in (
        ("ES256", es_token, raw_es_fn, 1.5),
        ("RS256", rs_token, raw_rs_fn, 3.0),
    ):
        t, ratio = paired_ratio(
            lambda token=token: verifier.verify(token, now),  # type: ignore[misc]
            raw,
            number=number,
            repeats=repeats,
        )
        rows.append(
            Row(
                "in-process",
                f"ID-token verify {label} (warm JWKS)",
                t[0],
                "us/op",
                f"{t[1]:.1f}..{t[2]:.1f}",
                f"raw {label} verify",
                ratio,
                f"<= {limit}x",
                ratio <= limit,
            )
        )

    # The service keyring on a throwaway database: delegation tokens, status lists, receipts.
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade_schema(engine)
        with Session(engine) as session:
            ensure_current_key(session, b"bench-passphrase", datetime.now(UTC))
            session.commit()
        keyring = Keyring(engine, b"bench-passphrase", refresh_s=3600)
        uri = "http://127.0.0.1:8000/v1/status-lists/1"
        delegation = keyring.sign(
            {
                "iss": "http://127.0.0.1:8000",
                "jti": "dlg_bench",
                "sub": "001099012345",
                "iat": int(now),
                "nbf": int(now),
                "exp": int(now) + 86400,
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "max_uses": 1,
                "status": {"status_list": {"idx": 4242, "uri": uri}},
            },
            "delegation+jwt",
        )
        lst = keyring.sign(
            {
                "sub": uri,
                "iat": int(now),
                "exp": int(now) + 3600,
                "ttl": 60,
                "status_list": {"bits": 2, "lst": status_list.encode({7: 1}, 65_536)},
            },
            "statuslist+jwt",
        )
        offline = OfflineVerifier(json.loads(keyring.jwks_json()), {uri: lst})
        assert offline.verify(delegation, now).valid
        t, ratio = paired_ratio(
            lambda: offline.verify(delegation, now), raw_es_fn, number=number, repeats=repeats
        )
        rows.append(
            Row(
                "in-process",
                "delegation-token verify + status-list lookup",
                t[0],
                "us/op",
                f"{t[1]:.1f}..{t[2]:.1f}",
                "raw ES256 verify",
                ratio,
                "<= 1.5x",
                ratio <= 1.5,
            )
        )

        receipt = {
            "iss": "http://127.0.0.1:8000",
            "jti": "sub_bench",
            "iat": int(now),
            "sub": "001099012345",
            "delegation": "dlg_bench",
            "delegate": {"type": "agent", "code": "VNPOST"},
            "procedure": "1.001612",
            "dossier_sha256": "0" * 64,
        }
        sign_key = ec.generate_private_key(ec.SECP256R1())
        raw_sign_fn = lambda: sign_key.sign(b"x" * 300, ec.ECDSA(hashes.SHA256()))
        raw_sign = per_op_us(raw_sign_fn, number=number, repeats=repeats)
        t, sign_ratio = paired_ratio(
            lambda: keyring.sign(receipt, "receipt+jwt"),
            raw_sign_fn,
            number=number,
            repeats=repeats,
        )
        rows.append(
            Row(
                "in-process",
                "raw ES256 sign (cryptography)",
                raw_sign[0],
                "us/op",
                f"{raw_sign[1]:.1f}..{raw_sign[2]:.1f}",
            )
        )
        rows.append(
            Row(
                "in-process",
                "receipt signing (JWS)",
                t[0],
                "us/op",
                f"{t[1]:.1f}..{t[2]:.1f}",
                "raw ES256 sign",
                sign_ratio,
            )
        )
        engine.dispose()

    dossier = {
        "applicant": "Nguyễn Thị Lan",
        "address": "Hà Đông, Hà Nội",
        "items": [{"n": i, "text": "giấy tờ kèm theo " * 8, "ok": True} for i in range(600)],
    }
    size = len(rfc8785.dumps(dossier))  # type: ignore[arg-type]
    blob = b"x" * size
    few = max(number // 20, 10)
    t, hash_ratio = paired_ratio(
        lambda: hashlib.sha256(canonical_json(dossier)).digest(),
        lambda: hashlib.sha256(blob).digest(),
        number=few,
        repeats=repeats,
    )
    rows.append(
        Row(
            "in-process",
            f"RFC 8785 canonical JSON + SHA-256, {size // 1024} KB dossier",
            t[0],
            "us/op",
            f"{t[1]:.0f}..{t[2]:.0f}",
            f"raw SHA-256 of {size // 1024} KB",
            hash_ratio,
        )
    )
    return rows
