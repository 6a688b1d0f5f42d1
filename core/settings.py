"""Settings from `UYQUYEN_*` environment variables, validated once at start-up.

Security choices (issuer, audience, clock skew, token lifetimes) are explicit here, never
library defaults.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class Pkcs11KeyRef(BaseModel):
    """Where one owner's signing key lives in a PKCS#11 token. Without the development PKI the
    certificate (and its chain) comes from `cert_file` (PEM, leaf first)."""

    token_label: str
    key_label: str
    pin: SecretStr
    cert_file: Path | None = None


class Pkcs12KeyRef(BaseModel):
    """An owner's key and certificate chain in a PKCS#12 file."""

    path: Path
    password: SecretStr | None = None


class ConfigurationError(Exception):
    """The environment does not describe a service that may start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UYQUYEN_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str | None = None
    data_dir: Path = Path("./data")
    public_url: str = "http://127.0.0.1:8000"
    admin_token: SecretStr | None = None
    # Bearer token a Prometheus scraper sends to /metrics; unset: loopback callers only.
    metrics_token: SecretStr | None = None
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the caller;
    # from anyone else the header is ignored.
    trusted_proxies: str = "127.0.0.1,::1"
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_max_overflow: int = Field(default=5, ge=0, le=100)
    vneid_issuer: str | None = None
    vneid_client_id: str = Field(default="uyquyen", min_length=1)
    # A real provider authenticates this service at its token endpoint (client_secret_basic);
    # the development provider takes a public client with PKCE.
    vneid_client_secret: SecretStr | None = None
    # Browser sessions (database): ended after this long without a request, and after this
    # long whatever happens.
    session_idle_s: int = Field(default=900, ge=60, le=86_400)
    session_max_s: int = Field(default=28_800, ge=300, le=7 * 86_400)
    clock_skew_s: int = Field(default=60, ge=0, le=600)

    # Passphrase that encrypts the service's private keys at rest. Development generates one
    # in the data dir; production must be given one (from a secret store, not the disk).
    key_passphrase: SecretStr | None = None

    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    max_delegation_days: int = Field(default=365, ge=1, le=3650)
    # Unknown-`kid` refetches of the issuer's JWKS: a budget of `jwks_refetch_burst` fetches,
    # refilled one per `jwks_refetch_interval_s` (3 a minute by default).
    jwks_refetch_interval_s: float = Field(default=20.0, ge=0)
    jwks_refetch_burst: int = Field(default=3, ge=1, le=20)
    # A JWKS older than this is refreshed in the background of the next verification; if the
    # issuer is unreachable the cached keys stay in use.
    jwks_max_age_s: float = Field(default=300.0, ge=1)
    # How often each process looks for keys rotated by another process.
    keyring_refresh_s: float = Field(default=60.0, ge=0)
    # Uploaded PDFs (results, documents to sign or verify); larger ones get 413.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    # How often each process tries to sequence new audit events and sign a checkpoint.
    audit_interval_s: float = Field(default=2.0, gt=0, le=60)
    # Checking an uploaded PDF may take this long before its worker is killed (422).
    pdf_timeout_s: float = Field(default=20.0, gt=0, le=600)
    # Each upload is parsed in a worker process of its own with this address-space cap; at most
    # `pdf_workers` at once per server process, and `pdf_per_sender` per sender (address for
    # verification, agency for signing), so one sender of hostile files cannot hold them all.
    # Counter-initiated authorization requests: how long one waits for the citizen, how many a
    # counter may have open, and how many codes a citizen may look up a minute.
    request_ttl_s: int = Field(default=600, ge=30, le=86_400)
    max_open_requests: int = Field(default=20, ge=1, le=10_000)
    request_lookups_per_minute: int = Field(default=10, ge=1, le=10_000)
    # Per address, for every account behind it: loose enough for a shared NAT.
    request_lookups_per_address_per_minute: int = Field(default=60, ge=1, le=100_000)
    # Requests a counter may make per hour, and requests bound to one citizen per hour.
    requests_per_counter_per_hour: int = Field(default=120, ge=1, le=100_000)
    requests_per_citizen_per_hour: int = Field(default=6, ge=1, le=10_000)
    # Failed logins, counted in the database per window: a client id (client credentials) is
    # refused for the rest of the window after `login_failures_per_client`, an address after
    # `login_failures_per_address` (token exchange and client credentials together: far looser,
    # counters share NATs) and after `admin_failures_per_address` wrong admin tokens.
    login_window_s: int = Field(default=300, ge=10, le=86_400)
    login_failures_per_client: int = Field(default=10, ge=1, le=10_000)
    login_failures_per_address: int = Field(default=200, ge=1, le=100_000)
    admin_failures_per_address: int = Field(default=20, ge=1, le=10_000)
    # Connections: request line and headers at most this large and this many, headers within
    # `header_timeout_s` of the request's first byte, and no pause of `body_idle_timeout_s` in
    # a body (431 and 408 beyond; see core.server).
    header_max_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    header_max_count: int = Field(default=100, ge=10, le=1000)
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_idle_timeout_s: float = Field(default=20.0, gt=0, le=600)
    # A body's deadline: this long, plus its length at this rate (20 MB at 32 KB/s: 11 min).
    body_base_s: float = Field(default=30.0, gt=0, le=3600)
    body_min_rate: int = Field(default=32 * 1024, ge=1, le=1024 * 1024 * 1024)
    pdf_memory_mb: int = Field(default=1024, ge=256, le=65_536)
    pdf_workers: int = Field(default=4, ge=1, le=64)
    pdf_per_sender: int = Field(default=1, ge=1, le=64)
    # Agency keys in an HSM: the PKCS#11 module, and per agency code which token and key, e.g.
    # UYQUYEN_PKCS11_KEYS='{"HN-TUPHAP": {"token_label": "t", "key_label": "k", "pin": "..."}}'.
    pkcs11_module: str | None = None
    pkcs11_keys: dict[str, Pkcs11KeyRef] = Field(default_factory=dict)
    # Production PKI (no development PKI there): agency keys in PKCS#12 files, e.g.
    # UYQUYEN_PKCS12_KEYS='{"HN-TUPHAP": {"path": "/etc/uyquyen/tuphap.p12", "password": "..."}}',
    # an RFC 3161 timestamping authority, and the PEM bundle of roots the verifier trusts.
    pkcs12_keys: dict[str, Pkcs12KeyRef] = Field(default_factory=dict)
    tsa_url: str | None = None
    trust_anchors_file: Path | None = None

    @field_validator("public_url", "vneid_issuer")
    @classmethod
    def _http_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if info.field_name == "public_url":
            v = v.rstrip("/")  # our own base: paths are appended to it
        # An issuer stays exactly as configured: ID tokens' `iss` must equal it byte for byte.
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: str) -> str:
        for part in v.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad one
        return v

    @model_validator(mode="after")
    def _pkcs11_needs_a_module(self) -> Settings:
        if self.pkcs11_keys and not self.pkcs11_module:
            raise ValueError("UYQUYEN_PKCS11_KEYS is set but UYQUYEN_PKCS11_MODULE is not")
        return self

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.env != "production":
            return self
        missing = []
        if self.admin_token is None or not self.admin_token.get_secret_value():
            missing.append("UYQUYEN_ADMIN_TOKEN (bearer token for admin calls)")
        if not self.vneid_issuer:
            missing.append("UYQUYEN_VNEID_ISSUER (issuer of accepted VNeID ID tokens)")
        if self.key_passphrase is None or not self.key_passphrase.get_secret_value():
            missing.append("UYQUYEN_KEY_PASSPHRASE (encrypts the service keys at rest)")
        if missing:
            raise ValueError(
                "production needs these settings, which are not set: " + "; ".join(missing)
            )
        if self.admin_token is not None and len(self.admin_token.get_secret_value()) < 32:
            raise ValueError("UYQUYEN_ADMIN_TOKEN must be at least 32 characters in production")
        if self.vneid_issuer and not self.vneid_issuer.startswith("https://"):
            raise ValueError("UYQUYEN_VNEID_ISSUER must be an https:// URL in production")
        return self

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'uyquyen.db').resolve()}"

    @property
    def effective_vneid_issuer(self) -> str:
        return self.vneid_issuer or f"{self.public_url}/dev/vneid"


def load_settings(**overrides: object) -> Settings:
    """Read the environment; raise ConfigurationError with a message a person can act on."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"UYQUYEN_{field.upper()}" if field else "configuration"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {msg}")
        raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines)) from None
