"""An independent verifier: poppler's pdfsig (NSS), with the dev root imported into an NSS
database and the service running, so that pdfsig can ask its OCSP responder."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.fixtures import pdfs
from tests.fixtures.server import ADMIN_TOKEN, clean_env, free_port, running_server

pytestmark = pytest.mark.slow
TOOLS = ("pdfsig", "certutil")


@pytest.fixture
def tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"CI must have {missing} (.ci/run installs poppler-utils and libnss3-tools)")
    if missing:
        pytest.skip(f"{missing} not installed (Debian: poppler-utils, libnss3-tools)")


def test_pdfsig_finds_each_level_valid_and_trusted(tmp_path: Path, tools: None) -> None:
    port = free_port()
    env = clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)
    with running_server(tmp_path, port, env=env) as server:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        creds = httpx.post(f"{server.base}/v1/agencies/STP-HN/clients", headers=admin).json()
        token = httpx.post(
            f"{server.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        ).json()["access_token"]
        nss = tmp_path / "nss"
        nss.mkdir()
        (tmp_path / "root.pem").write_bytes(
            httpx.get(f"{server.base}/v1/signatures/trust-anchors").content
        )
        subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{nss}",
                "-n",
                "uyquyen-dev-root",
                "-t",
                "CT,C,C",
                "-i",
                str(tmp_path / "root.pem"),
            ],
            check=True,
        )
        for level in ("B-B", "B-T", "B-LT"):
            signed = httpx.post(
                f"{server.base}/v1/signatures/pdf",
                headers={"Authorization": f"Bearer {token}"},
                data={"level": level},
                files={"file": ("d.pdf", pdfs.simple_pdf())},
            )
            assert signed.status_code == 200, signed.text
            path = tmp_path / f"{level}.pdf"
            path.write_bytes(signed.content)
            out = subprocess.run(
                ["pdfsig", "-nssdir", f"sql:{nss}", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            assert "Signature Validation: Signature is Valid." in out, out
            assert "Certificate Validation: Certificate is Trusted." in out, out
            assert "uyquyen-1" in out
        # The same check with a root pdfsig does not know: not trusted.
        other = tmp_path / "empty-nss"
        other.mkdir()
        subprocess.run(["certutil", "-N", "-d", f"sql:{other}", "--empty-password"], check=True)
        out = subprocess.run(
            ["pdfsig", "-nssdir", f"sql:{other}", str(tmp_path / "B-B.pdf")],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        assert "Certificate is Trusted." not in out
