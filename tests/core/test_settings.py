from __future__ import annotations

import pytest

from core.settings import ConfigurationError, load_settings


def test_development_defaults(monkeypatch) -> None:
    s = load_settings()
    assert s.env == "development"
    assert s.effective_vneid_issuer == "http://127.0.0.1:8000/dev/vneid"
    assert s.effective_database_url.startswith("sqlite:///") and s.effective_database_url.endswith(
        "data/uyquyen.db"
    )
    assert s.vneid_client_id == "uyquyen" and s.clock_skew_s == 60


def test_production_names_every_missing_setting(monkeypatch) -> None:
    monkeypatch.setenv("UYQUYEN_ENV", "production")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    for name in ("UYQUYEN_ADMIN_TOKEN", "UYQUYEN_VNEID_ISSUER", "UYQUYEN_KEY_PASSPHRASE"):
        assert name in message


def test_production_refuses_a_plain_http_issuer_and_a_short_admin_token(monkeypatch) -> None:
    monkeypatch.setenv("UYQUYEN_ENV", "production")
    monkeypatch.setenv("UYQUYEN_KEY_PASSPHRASE", "p" * 32)
    monkeypatch.setenv("UYQUYEN_ADMIN_TOKEN", "short")
    monkeypatch.setenv("UYQUYEN_VNEID_ISSUER", "https://vneid.gov.vn")
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_settings()
    monkeypatch.setenv("UYQUYEN_ADMIN_TOKEN", "a" * 40)
    monkeypatch.setenv("UYQUYEN_VNEID_ISSUER", "http://vneid.gov.vn")
    with pytest.raises(ConfigurationError, match="https"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UYQUYEN_ENV", "staging"),
        ("UYQUYEN_CLOCK_SKEW_S", "-5"),
        ("UYQUYEN_CLOCK_SKEW_S", "lots"),
        ("UYQUYEN_PUBLIC_URL", "ftp://x"),
    ],
)
def test_bad_values_are_named(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()
