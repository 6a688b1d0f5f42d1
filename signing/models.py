from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class ServiceKey(SQLModel, table=True):
    """A key this service signs with. Kept in the database so every process on every host
    signs and publishes the same keys; the private half is encrypted with the key passphrase."""

    __tablename__ = "service_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=16)
    public_jwk: str
    private_key_pem: str  # PKCS#8 PEM, encrypted (BestAvailableEncryption)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Set when a newer key took over: the key no longer signs...
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # ...and is published until the last token it may have signed has expired.
    publish_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PkiCertificate(SQLModel, table=True):
    """A certificate of the development PKI with its encrypted private key. `name` is "root",
    "agency-ca", "tsa", or the owner of a signing identity (an agency code)."""

    __tablename__ = "pki_certificates"

    name: str = Field(primary_key=True, max_length=64)
    issuer: str | None = Field(default=None, max_length=64, index=True)
    serial: str = Field(max_length=64, index=True)  # hex
    cert_pem: str
    key_pem: str  # PKCS#8 PEM, encrypted with the key passphrase
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
