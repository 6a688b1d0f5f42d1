"""Production keys: certificates and keys from configuration instead of the development PKI.

PKCS#12 files (key + certificate + chain) or PKCS#11 tokens (key in the token, certificate from
a PEM file) per owner; an RFC 3161 timestamping authority by URL; trust anchors from a PEM file.
Revocation data for B-LT is fetched from the CA's own CRL/OCSP URLs when signing.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from core.settings import ConfigurationError, Settings
from signing.pades import RevocationSource
from signing.pki import Identity


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{what}: cannot read {path}: {exc.strerror}") from None


class ConfiguredKeys:
    def __init__(self, settings: Settings):
        self._identities: dict[str, Identity] = {}
        self._chains: dict[str, list[x509.Certificate]] = {}
        for owner, ref in settings.pkcs12_keys.items():
            password = ref.password.get_secret_value().encode() if ref.password else None
            try:
                key, cert, extra = pkcs12.load_key_and_certificates(
                    _read(ref.path, f"PKCS#12 of {owner}"), password
                )
            except ValueError as exc:
                raise ConfigurationError(f"PKCS#12 of {owner} ({ref.path}): {exc}") from None
            if key is None or cert is None:
                raise ConfigurationError(
                    f"PKCS#12 of {owner} ({ref.path}) has no key or no certificate"
                )
            self._identities[owner] = Identity(owner, cert, key)  # type: ignore[arg-type]
            self._chains[owner] = list(extra)
        for owner, hsm_ref in settings.pkcs11_keys.items():
            if hsm_ref.cert_file is None:
                raise ConfigurationError(
                    f"PKCS#11 key of {owner} needs cert_file without the development PKI"
                )
            certs = x509.load_pem_x509_certificates(
                _read(hsm_ref.cert_file, f"certificate of {owner}")
            )
            self._identities[owner] = Identity(owner, certs[0], None)
            self._chains[owner] = certs[1:]
        self._anchors: list[x509.Certificate] = []
        if settings.trust_anchors_file is not None:
            self._anchors = x509.load_pem_x509_certificates(
                _read(settings.trust_anchors_file, "UYQUYEN_TRUST_ANCHORS_FILE")
            )
        self._timestamper = HTTPTimeStamper(settings.tsa_url) if settings.tsa_url else None

    # -- the key source interface (as DevPki) ---------------------------------------------
    def get(self, owner: str) -> Identity | None:
        return self._identities.get(owner)

    def chain_for(self, owner: str) -> list[x509.Certificate]:
        return self._chains.get(owner, [])

    def trust_anchors(self) -> list[x509.Certificate]:
        return self._anchors

    def timestamper(self) -> TimeStamper | None:
        return self._timestamper

    def revocation(self) -> RevocationSource | None:
        return None  # fetched from the issuing CA when signing at B-LT

    def verification_crls(self) -> list[bytes]:
        return []
