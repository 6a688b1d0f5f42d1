"""A development stand-in for VNeID: discovery document, JWKS and an ID-token mint.

Mounted at /dev/vneid in development only. Its tokens are verified by the very same
IdTokenVerifier as real ones, fetched over HTTP like a real issuer's keys: no shortcut.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jose import jws as jose_jws
from jose.backends import ECKey
from pydantic import Field

from core.files import create_exclusive
from core.schemas import StrictModel
from signing.jws import ec_public_jwk, jwk_thumbprint

ID_TOKEN_LIFETIME_S = 300
CODE_LIFETIME_S = 120


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
        # Codes are encrypted with a key derived from the provider's own (so every process
        # of this data dir shares it).
        secret = HKDF(hashes.SHA256(), 32, None, b"uyquyen dev vneid codes").derive(
            private.private_numbers().private_value.to_bytes(32, "big")
        )
        self._codes = Fernet(base64.urlsafe_b64encode(secret))

    def mint(
        self,
        pid: str,
        loa: int,
        name: str | None = None,
        now: float | None = None,
        *,
        nonce: str | None = None,
        auth_time: int | None = None,
        jti: str | None = None,
    ) -> str:
        now = time.time() if now is None else now
        claims: dict[str, object] = {
            "iss": self.issuer,
            "sub": pid,
            "aud": self.audience,
            "iat": int(now),
            "exp": int(now) + ID_TOKEN_LIFETIME_S,
            "auth_time": auth_time if auth_time is not None else int(now),
            "acr": f"vneid:loa{loa}",
            "jti": jti or secrets.token_urlsafe(16),
        }
        if name:
            claims["name"] = name
        if nonce is not None:
            claims["nonce"] = nonce
        return jose_jws.sign(claims, self._signer, headers={"kid": self.kid}, algorithm="ES256")

    # -- the authorization code flow (a page for the developer, then the token endpoint) -----
    def issue_code(self, grant: dict[str, object]) -> str:
        """A self-contained, encrypted code (any server process can redeem it): who logged in,
        at which level, for which client, redirect URI, nonce and PKCE challenge."""
        return self._codes.encrypt(json.dumps(grant).encode()).decode()

    def redeem_code(self, code: str, client_id: str, redirect_uri: str, verifier: str) -> str:
        """The ID token for a code, or ValueError. The same code always gives the same token
        (its jti is the code's hash), so the relying party's replay check stops a reuse."""
        try:
            grant = json.loads(self._codes.decrypt(code.encode(), ttl=CODE_LIFETIME_S))
        except (InvalidToken, ValueError):
            raise ValueError("unknown or expired code") from None
        if grant["client_id"] != client_id or grant["redirect_uri"] != redirect_uri:
            raise ValueError("the code was issued to another client or redirect URI")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if not hmac.compare_digest(challenge.rstrip(b"=").decode(), grant["code_challenge"]):
            raise ValueError("PKCE verification failed")
        return self.mint(
            grant["pid"],
            grant["loa"],
            grant["name"],
            now=grant["iat"],
            nonce=grant["nonce"],
            auth_time=grant["iat"],
            jti=hashlib.sha256(code.encode()).hexdigest()[:32],
        )

    def discovery(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks.json",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "acr_values_supported": ["vneid:loa1", "vneid:loa2"],
            "claims_supported": ["sub", "name", "acr", "auth_time", "nonce"],
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


# -- the development login page and token endpoint (authorization code flow with PKCE) --------
_AUTHORIZE_FIELDS = ("client_id", "redirect_uri", "state", "nonce", "code_challenge")


def _allowed_redirect(provider: DevVneidProvider) -> str:
    """The one redirect URI this provider serves: the callback of the service it belongs to."""
    return provider.issuer.removesuffix("/dev/vneid") + "/auth/callback"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        # the service's own style sheet (same origin): a plain page a phone can use
        f'<link rel="stylesheet" href="/static/app.css">'
        f"<title>{html.escape(title)}</title></head><body>"
        '<header><p class="brand">VNeID</p></header>'
        f'<main id="main">{body}</main></body></html>',
        status_code=status,
    )


def _refuse(detail: str) -> HTMLResponse:
    return _page(
        "VNeID (phát triển): yêu cầu không hợp lệ",
        f"<h1>Yêu cầu đăng nhập không hợp lệ</h1><p>{html.escape(detail)}</p>",
        400,
    )


def _check_request(provider: DevVneidProvider, params: dict[str, str]) -> str | None:
    if params.get("response_type") != "code":
        return "response_type must be code"
    if params.get("client_id") != provider.audience:
        return "unknown client_id"
    if params.get("redirect_uri") != _allowed_redirect(provider):
        return "redirect_uri is not registered for this client"
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        return "PKCE with S256 is required"
    if not params.get("state") or not params.get("nonce"):
        return "state and nonce are required"
    return None


@router.get("/authorize", response_class=HTMLResponse)
async def authorize_page(request: Request) -> HTMLResponse:
    """The development login page: type a PID and a name, pick a level (development only)."""
    provider: DevVneidProvider = request.app.state.dev_vneid
    params = dict(request.query_params)
    problem = _check_request(provider, params)
    if problem:
        return _refuse(problem)
    # level 2 unless the service asked for level 1 only: most people log in at level 2
    level2 = "vneid:loa1" not in params.get("acr_values", "") or (
        "vneid:loa2" in params.get("acr_values", "")
    )
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in (*_AUTHORIZE_FIELDS, "response_type", "code_challenge_method")
    )
    return _page(
        "VNeID (phát triển): đăng nhập",
        "<h1>VNeID — máy chủ phát triển</h1>"
        "<p>Trang này chỉ có khi chạy thử: nhập số định danh cá nhân và chọn mức xác thực."
        ' <span lang="en">(Development only: type a PID and pick a level.)</span></p>'
        f'<form method="post" action="{provider.issuer}/authorize">{hidden}'
        '<p><label for="pid">Số định danh cá nhân (PID)</label><br>'
        '<input id="pid" name="pid" inputmode="numeric" pattern="[0-9]{12}" required'
        ' autocomplete="off" value="001099012345"></p>'
        '<p><label for="name">Họ và tên</label><br>'
        '<input id="name" name="name" maxlength="200" value="Nguyễn Văn An"></p>'
        "<fieldset><legend>Mức xác thực</legend>"
        f'<p><input type="radio" id="loa1" name="loa" value="1"{"" if level2 else " checked"}>'
        '<label for="loa1">Mức 1</label></p>'
        f'<p><input type="radio" id="loa2" name="loa" value="2"{" checked" if level2 else ""}>'
        '<label for="loa2">Mức 2</label></p></fieldset>'
        '<p><button type="submit">Đăng nhập</button></p></form>',
    )


@router.post("/authorize", response_class=HTMLResponse, response_model=None)
async def authorize(request: Request) -> Response:
    """The page's answer: back to the service with a one-time code (development only)."""
    provider: DevVneidProvider = request.app.state.dev_vneid
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    problem = _check_request(provider, form)
    if problem:
        return _refuse(problem)
    pid, loa, name = form.get("pid", ""), form.get("loa", ""), form.get("name", "").strip()
    if not (len(pid) == 12 and pid.isdigit()) or loa not in ("1", "2") or len(name) > 200:
        return _refuse("a 12-digit PID and a level (1 or 2) are needed")
    code = provider.issue_code(
        {
            "pid": pid,
            "loa": int(loa),
            "name": name or None,
            "nonce": form["nonce"],
            "code_challenge": form["code_challenge"],
            "client_id": form["client_id"],
            "redirect_uri": form["redirect_uri"],
            "iat": int(time.time()),
        }
    )
    query = urlencode({"code": code, "state": form["state"]})
    return RedirectResponse(f"{form['redirect_uri']}?{query}", status_code=303)


@router.post(
    "/token",
    responses={
        400: {
            "description": "RFC 6749 5.2: unsupported_grant_type or invalid_grant",
            "content": {"application/json": {}},
        }
    },
)
async def token(request: Request) -> JSONResponse:
    """The token endpoint: a code and its PKCE verifier for an ID token (development only)."""
    provider: DevVneidProvider = request.app.state.dev_vneid
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    headers = {"Cache-Control": "no-store"}
    if form.get("grant_type") != "authorization_code":
        return JSONResponse({"error": "unsupported_grant_type"}, 400, headers)
    try:
        id_token = provider.redeem_code(
            form.get("code", ""),
            form.get("client_id", ""),
            form.get("redirect_uri", ""),
            form.get("code_verifier", ""),
        )
    except ValueError as exc:
        return JSONResponse({"error": "invalid_grant", "error_description": str(exc)}, 400, headers)
    body = {
        "access_token": secrets.token_urlsafe(24),
        "token_type": "Bearer",
        "expires_in": ID_TOKEN_LIFETIME_S,
        "id_token": id_token,
    }
    return JSONResponse(body, headers=headers)
