"""A development stand-in for VNeID: discovery document, JWKS and an ID-token mint.

Mounted at /dev/vneid in development only. Its tokens are verified by the very same
IdTokenVerifier as real ones, fetched over HTTP like a real issuer's keys: no shortcut.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from jose import jws as jose_jws
from jose.backends import ECKey
from pydantic import Field

from core.files import create_exclusive
from core.schemas import StrictModel
from signing.jws import ec_public_jwk, jwk_thumbprint

ID_TOKEN_LIFETIME_S = 300


class DevVneidProvider:
    def __init__(self, data_dir: Path, issuer: str, audience: str):
        self.issuer = issuer
        self.audience = audience
        key_path = data_dir / "dev-vneid" / "signing-key.pem"
        if not key_path.exists():
            private = ec.generate_private_key(ec.SECP256R1())
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),  # a throwaway development issuer
            )
            create_exclusive(key_path, pem)
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        private = loaded
        self._signer = ECKey(private, "ES256")
        jwk = ec_public_jwk(private.public_key())
        self.kid = jwk_thumbprint(jwk)
        self.jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def mint(self, pid: str, loa: int, name: str | None = None, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims = {
            "iss": self.issuer,
            "sub": pid,
            "aud": self.audience,
            "iat": int(now),
            "exp": int(now) + ID_TOKEN_LIFETIME_S,
            "auth_time": int(now),
            "acr": f"vneid:loa{loa}",
            "jti": secrets.token_urlsafe(16),
        }
        if name:
            claims["name"] = name
        return jose_jws.sign(claims, self._signer, headers={"kid": self.kid}, algorithm="ES256")

    def discovery(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks.json",
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
            "acr_values_supported": ["vneid:loa1", "vneid:loa2"],
            "claims_supported": ["sub", "name", "acr", "auth_time"],
        }


class MintRequest(StrictModel):
    pid: str = Field(pattern=r"^[0-9]{12}$", examples=["001099012345"])
    loa: Literal[1, 2] = 2
    name: str | None = Field(default=None, max_length=200)


router = APIRouter(prefix="/dev/vneid", tags=["development VNeID"])


@router.get("/.well-known/openid-configuration")
async def discovery(request: Request) -> dict[str, object]:
    """OIDC discovery document of the development issuer."""
    return request.app.state.dev_vneid.discovery()


@router.get("/jwks.json")
async def jwks(request: Request) -> dict[str, object]:
    """Public keys of the development issuer."""
    return request.app.state.dev_vneid.jwks


@router.post("/id-token")
async def mint_id_token(body: MintRequest, request: Request) -> dict[str, str]:
    """Mint an ID token for any PID and level (development only)."""
    provider: DevVneidProvider = request.app.state.dev_vneid
    return {"id_token": provider.mint(body.pid, body.loa, body.name)}
