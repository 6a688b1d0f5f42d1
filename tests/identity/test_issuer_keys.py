"""The issuer's JWKS cache, against a real HTTP issuer on loopback and a controlled clock."""

from __future__ import annotations

import time

import pytest

from identity.vneid import IdTokenRejected, IdTokenVerifier, IssuerKeys
from tests.fixtures.issuer import IssuerKey, LoopbackIssuer


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(issuer: LoopbackIssuer, clock: Clock) -> IssuerKeys:
    return IssuerKeys(
        issuer.url, refetch_interval_s=20, refetch_burst=3, max_age_s=300, clock=clock
    )


def verifier(keys: IssuerKeys) -> IdTokenVerifier:
    return IdTokenVerifier(keys, client_id="uyquyen", clock_skew_s=60)


def test_unknown_kids_draw_on_a_small_refetch_budget(issuer, keys, clock) -> None:
    v = verifier(keys)
    v.verify(issuer.id_token("ES256"), time.time())
    assert issuer.jwks_fetches() == 1
    stranger = IssuerKey.generate("not-published", "ES256")
    with pytest.raises(IdTokenRejected):  # one junk token spends one fetch of three...
        v.verify(issuer.id_token(key=stranger), time.time())
    assert issuer.jwks_fetches() == 2
    rotated = issuer.add_key(IssuerKey.generate("rotated", "ES256"))
    v.verify(issuer.id_token(key=rotated), time.time())  # ...so a real rotation is seen at once
    assert issuer.jwks_fetches() == 3
    for _ in range(20):  # a storm of forged kids costs the issuer the one fetch left
        with pytest.raises(IdTokenRejected):
            v.verify(issuer.id_token(key=stranger), time.time())
    assert issuer.jwks_fetches() == 4
    clock.t += 20  # the budget refills one fetch per 20 s
    again = issuer.add_key(IssuerKey.generate("rotated-again", "ES256"))
    v.verify(issuer.id_token(key=again), time.time())
    assert issuer.jwks_fetches() == 5


def test_keeps_working_from_cache_when_the_issuer_is_down(issuer, keys, clock) -> None:
    v = verifier(keys)
    v.verify(issuer.id_token("RS256"), time.time())
    issuer.down = True
    clock.t += 3600  # the cache is long stale
    v.verify(issuer.id_token("RS256"), time.time())
    v.verify(issuer.id_token("PS256"), time.time())
    attempts = len(issuer.requests)
    v.verify(issuer.id_token("ES256"), time.time())
    assert len(issuer.requests) == attempts  # no new attempt inside the refetch interval
    issuer.down = False
    clock.t += 21
    v.verify(issuer.id_token("ES256"), time.time())
    assert issuer.jwks_fetches() == 2


def test_stale_cache_is_refreshed_and_drops_removed_keys(issuer, keys, clock) -> None:
    v = verifier(keys)
    v.verify(issuer.id_token("PS256"), time.time())
    issuer.published = [k for k in issuer.published if k.kid != "vneid-ps256"]
    clock.t += 301
    with pytest.raises(IdTokenRejected, match="JWKS"):
        v.verify(issuer.id_token("PS256"), time.time())


def test_key_objects_are_built_once_per_kid(issuer, keys, clock) -> None:
    v = verifier(keys)
    v.verify(issuer.id_token("RS256"), time.time())
    built = keys.key_for("vneid-rs256").verifier("RS256")  # type: ignore[union-attr]
    clock.t += 301  # refresh: the same JWK keeps its key objects
    v.verify(issuer.id_token("RS256"), time.time())
    assert keys.key_for("vneid-rs256").verifier("RS256") is built  # type: ignore[union-attr]
    assert issuer.jwks_fetches() == 2


def test_discovery_naming_another_issuer_gives_no_keys(issuer, clock) -> None:
    keys = IssuerKeys(issuer.url + "/other", clock=clock)
    assert keys.key_for("vneid-es256") is None


def test_weak_rsa_and_unknown_key_types_are_ignored(issuer, keys) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = IssuerKey(
        "weak", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024)
    )
    issuer.add_key(weak)
    v = verifier(keys)
    with pytest.raises(IdTokenRejected):
        v.verify(issuer.id_token(key=weak), time.time())


def test_the_expiry_boundary_is_exp_plus_the_skew_inclusive(issuer, keys) -> None:
    v = verifier(keys)  # skew 60 s
    exp = int(time.time()) + 30
    v.verify(issuer.id_token(exp=exp, iat=exp - 300), exp + 60)  # exactly at exp + skew: accepted
    with pytest.raises(IdTokenRejected, match="token expired"):
        v.verify(issuer.id_token(exp=exp, iat=exp - 300), exp + 60.001)


def test_a_token_without_kid_is_refused_when_the_issuer_publishes_several_keys(
    issuer, keys
) -> None:
    v = verifier(keys)
    assert len(issuer.published) > 1
    token = issuer.id_token("ES256", header={"kid": ...})
    with pytest.raises(IdTokenRejected, match="signing key is not in the issuer's JWKS"):
        v.verify(token, time.time())
    issuer.published = [issuer.keys["vneid-es256"]]
    fresh = IssuerKeys(issuer.url, refetch_interval_s=20, max_age_s=300)
    verifier(fresh).verify(issuer.id_token("ES256", header={"kid": ...}), time.time())
