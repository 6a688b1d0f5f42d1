"""Once warm, no request path loads a private key, builds a key object, or reads a file: that
work is done once per key (issue 6's rule). Each hot request is sent once to warm up, then again
while the loaders are watched; the second round must not call any of them."""

from __future__ import annotations

import builtins
import pathlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jose.backends import cryptography_backend

from tests.fixtures import pdfs
from tests.fixtures.factories import TOKEN_EXCHANGE, client_token, grant, submit


def _watch(monkeypatch: pytest.MonkeyPatch, calls: Counter[str], owner: Any, name: str) -> None:
    real: Callable[..., Any] = getattr(owner, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        calls[f"{getattr(owner, '__name__', owner)}.{name}"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)


def test_warm_hot_paths_load_no_key_and_read_no_file(world, issuer, monkeypatch) -> None:
    client = world.client
    counter = client.post(
        "/v1/agents/VNPOST/counters",
        headers=world.admin,
        json={"name": "Quầy 2", "ward_code": "09552"},
    ).json()
    delegation = grant(world.client, world.citizen, max_uses=10)["token"]
    pdf = pdfs.simple_pdf()

    def one_round() -> None:
        assert (
            client.post(
                "/oauth/token", data={**TOKEN_EXCHANGE, "subject_token": issuer.id_token()}
            ).status_code
            == 200
        )
        assert (
            client_token(client, counter["client_id"], counter["client_secret"]).status_code == 200
        )
        assert client.get("/v1/me", headers=world.vnpost).status_code == 200
        assert grant(world.client, world.citizen)["token"]
        assert submit(client, world.vnpost, delegation).status_code == 201
        assert client.post("/v1/delegations/verify", json={"token": delegation}).json()["valid"]
        assert client.get("/.well-known/jwks.json").status_code == 200
        for level in ("B-B", "B-T", "B-LT"):  # B-T and B-LT: the dev TSA, OCSP and CRL too
            signed = client.post(
                "/v1/signatures/pdf",
                headers=world.agency,
                data={"level": level},
                files={"file": ("d.pdf", pdf, "application/pdf")},
            )
            assert signed.status_code == 200, signed.text

    one_round()  # warm: keys loaded, key objects built, caches filled
    calls: Counter[str] = Counter()
    _watch(monkeypatch, calls, serialization, "load_pem_private_key")
    _watch(monkeypatch, calls, serialization, "load_der_private_key")
    _watch(monkeypatch, calls, cryptography_backend.CryptographyECKey, "__init__")
    _watch(monkeypatch, calls, cryptography_backend.CryptographyRSAKey, "__init__")
    _watch(monkeypatch, calls, builtins, "open")
    _watch(monkeypatch, calls, pathlib.Path, "read_bytes")
    _watch(monkeypatch, calls, pathlib.Path, "read_text")

    one_round()

    assert calls == Counter(), calls
