"""Agency keys held in a PKCS#11 token (an HSM; SoftHSM2 in tests), through pyHanko's
PKCS11Signer. The private key never leaves the token: we read its public half to certify it,
and the token computes every signature."""

from __future__ import annotations

import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign import pkcs11 as pyhanko_pkcs11
from pyhanko.sign import signers

from core.settings import Pkcs11KeyRef
from signing.pades import asn1_cert


class Pkcs11Keys:
    def __init__(self, module_path: str, keys: dict[str, Pkcs11KeyRef]):
        self.module_path = module_path
        self.keys = keys
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        # One session per token, shared: PKCS#11 sessions are not safe for concurrent use.
        self.sign_lock = threading.Lock()

    def __contains__(self, owner: str) -> bool:
        return owner in self.keys

    def _session(self, owner: str) -> Any:
        ref = self.keys[owner]
        with self._lock:
            session = self._sessions.get(ref.token_label)
            if session is None:
                from pkcs11.exceptions import UserAlreadyLoggedIn

                criteria = TokenCriteria(label=ref.token_label)
                try:
                    session = pyhanko_pkcs11.open_pkcs11_session(
                        self.module_path,
                        token_criteria=criteria,
                        user_pin=ref.pin.get_secret_value(),
                    )
                except UserAlreadyLoggedIn:
                    # Login is per process and token, not per session: another session of this
                    # process logged in already.
                    session = pyhanko_pkcs11.open_pkcs11_session(
                        self.module_path, token_criteria=criteria
                    )
                self._sessions[ref.token_label] = session
            return session

    def public_key(self, owner: str) -> Any:
        """The owner's public key, read from the token (to be certified)."""
        from pkcs11 import KeyType, ObjectClass
        from pkcs11.util.ec import encode_ec_public_key

        session = self._session(owner)
        key = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=self.keys[owner].key_label)
        if key.key_type != KeyType.EC:
            raise ValueError("only EC (P-256) keys are supported in the token")
        return serialization.load_der_public_key(encode_ec_public_key(key))

    def signer(
        self, owner: str, cert: x509.Certificate, chain: list[x509.Certificate]
    ) -> signers.Signer:
        return pyhanko_pkcs11.PKCS11Signer(
            self._session(owner),
            key_label=self.keys[owner].key_label,
            signing_cert=asn1_cert(cert),
            ca_chain=[asn1_cert(c) for c in chain],
            # Hash here, sign the digest in the token (CKM_ECDSA): not every token (SoftHSM2
            # among them) offers the combined CKM_ECDSA_SHA256 mechanism.
            use_raw_mechanism=True,
        )
