"""PAdES signing and verification over HTTP: levels, tampering, attack samples, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import parser as asn1_parser
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation.dss import DocumentSecurityStore

from signing.pades import DEV_TSA_POLICY, file_signer
from signing.sandbox import Sandbox
from tests.fixtures import pdfs
from tests.fixtures.factories import client_token
from tests.signing import sandbox_jobs as jobs

ATTACKS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "pdf-attacks"


@pytest.fixture
def agency(client, admin) -> dict[str, str]:
    created = client.post("/v1/agencies/STP-HN/clients", headers=admin).json()
    token = client_token(client, created["client_id"], created["client_secret"]).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def sign(client, agency, pdf: bytes, level: str = "B-LT", **form) -> bytes:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/v1/signatures/pdf",
        headers=agency,
        data={"level": level, **form},
        files={"file": ("doc.pdf", pdf, "application/pdf")},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    return resp.content


def verify(client, pdf: bytes, name: str = "doc.pdf"):  # type: ignore[no-untyped-def]
    return client.post("/v1/signatures/pdf/verify", files={"file": (name, pdf, "application/pdf")})


def only_signature(resp) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["signatures"]) >= 1
    return body["signatures"][-1]


class TestLevels:
    @pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
    def test_signed_document_is_valid_trusted_intact(self, client, agency, level: str) -> None:
        original = pdfs.simple_pdf()
        signed = sign(client, agency, original, level)
        assert signed.startswith(original)  # incremental: the original bytes are untouched
        body = verify(client, signed).json()
        assert body["valid"] is True
        (s,) = body["signatures"]
        assert (s["intact"], s["trusted"], s["valid"], s["modified_after_signing"]) == (
            True,
            True,
            True,
            False,
        )
        assert "Sở Tư pháp" in s["signer"]["subject"] and "Agency CA" in s["signer"]["issuer"]
        assert s["signed_at"] and s["problems"] == []
        if level == "B-B":
            assert s["timestamp"] is None
        else:
            ts = s["timestamp"]
            assert ts["valid"] and ts["trusted"] and "Timestamping" in ts["tsa"]
            assert abs(datetime.fromisoformat(ts["time"]) - datetime.now(UTC)) < timedelta(
                minutes=5
            )

    def test_b_lt_validates_from_embedded_revocation_data_alone(self, client, agency) -> None:
        pades = client.app.state.signing.pades
        lt = sign(client, agency, pdfs.simple_pdf(), "B-LT")
        bb = sign(client, agency, pdfs.simple_pdf(), "B-B")
        # hard-fail: revocation status must be known; nothing is fetched and no CRL is given.
        (lt_status,) = pades.verify(io.BytesIO(lt), extra_crls=[], revocation_mode="hard-fail")
        (bb_status,) = pades.verify(io.BytesIO(bb), extra_crls=[], revocation_mode="hard-fail")
        assert lt_status["valid"] is True
        assert bb_status["valid"] is False  # B-B carries no revocation data: the check is real

    @pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
    def test_revocation_data_is_issued_after_the_signature_timestamp(
        self, client, agency, level: str
    ) -> None:
        """ETSI freshness: the OCSP responses and CRLs in the DSS were issued no earlier than
        the signature's timestamp (its best-signature-time), read off the CMS."""
        signed = sign(client, agency, pdfs.simple_pdf(), level)
        reader = PdfFileReader(io.BytesIO(signed))
        signature = reader.embedded_regular_signatures[0]
        ((token,),) = [
            a["values"]
            for a in signature.signer_info["unsigned_attrs"]
            if a["type"].native == "signature_time_stamp_token"
        ]
        gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
        dss = DocumentSecurityStore.read_dss(reader)
        ocsps = [asn1_ocsp.OCSPResponse.load(o.get_object().data) for o in dss.ocsps]
        crls = [asn1_crl.CertificateList.load(c.get_object().data) for c in dss.crls]
        assert ocsps and len(crls) == 2  # the agency's certificate; agency CA and root CRLs
        for response in ocsps:
            basic = response.basic_ocsp_response["tbs_response_data"]
            assert basic["produced_at"].native >= gen_time
            assert all(r["this_update"].native >= gen_time for r in basic["responses"])
        for crl in crls:
            assert crl["tbs_cert_list"]["this_update"].native >= gen_time
        # and it still validates from those alone
        pades = client.app.state.signing.pades
        statuses = pades.verify(io.BytesIO(signed), extra_crls=[], revocation_mode="hard-fail")
        assert all(s["valid"] for s in statuses)

    @pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
    def test_verifies_as_trusted_with_the_network_off(
        self, client, agency, tmp_path: Path, level: str
    ) -> None:
        """The service's verifier in a process with no network at all (a new network namespace:
        not even loopback is up), trusting only the roots, demanding revocation status
        (hard-fail) and given no CRL: the document's DSS must carry everything."""
        signed = tmp_path / "signed.pdf"
        signed.write_bytes(sign(client, agency, pdfs.simple_pdf(), level))
        roots = tmp_path / "roots.pem"
        roots.write_bytes(client.get("/v1/signatures/trust-anchors").content)
        script = (
            "import json, socket, sys\n"
            "from signing.pades import verify_in_worker\n"
            "probe = socket.socket(); probe.settimeout(2)\n"
            "offline = probe.connect_ex(('127.0.0.1', 9)) != 0 and probe.connect_ex(('1.1.1.1', 80)) != 0\n"
            "pdf, roots = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()\n"
            "report, _ = verify_in_worker(pdf, roots, [], 'hard-fail')\n"
            "print(json.dumps({'offline': offline, 'report': report}))\n"
        )
        run = subprocess.run(
            ["unshare", "--net", sys.executable, "-c", script, str(signed), str(roots)],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout.splitlines()[-1])
        assert out["offline"] is True
        assert out["report"] and all(s["valid"] and s["trusted"] for s in out["report"])

    def test_b_lta_adds_a_document_timestamp_over_everything(self, client, agency) -> None:
        signed = sign(client, agency, pdfs.simple_pdf(), "B-LTA")
        body = verify(client, signed).json()
        assert body["valid"] is True
        signature, archive = body["signatures"]
        assert (signature["kind"], archive["kind"]) == ("signature", "document_timestamp")
        assert archive["valid"] and archive["trusted"] and not archive["modified_after_signing"]
        assert "Timestamping" in archive["signer"]["subject"]
        assert archive["signed_at"] >= signature["timestamp"]["time"]
        reader = PdfFileReader(io.BytesIO(signed))
        (doc_ts,) = reader.embedded_timestamp_signatures
        assert doc_ts.sig_object_type == "/DocTimeStamp"
        # the document timestamp covers the signature and its revocation data (the DSS)
        assert "/DSS" in reader.get_historical_root(doc_ts.signed_revision)
        assert "/DSS" not in reader.get_historical_root(signature_revision := 1)
        assert reader.embedded_regular_signatures[0].signed_revision == signature_revision
        b_lt = sign(client, agency, pdfs.simple_pdf(), "B-LT")
        assert PdfFileReader(io.BytesIO(b_lt)).embedded_timestamp_signatures == []

    def test_visible_signature_and_existing_signature_kept(self, client, agency) -> None:
        once = sign(client, agency, pdfs.simple_pdf(), "B-B", visible="true")
        from pyhanko.pdf_utils.reader import PdfFileReader

        widget = PdfFileReader(io.BytesIO(once)).root["/AcroForm"]["/Fields"][0]
        assert widget["/AP"]["/N"].get_object().data  # the box has an appearance
        # The stamp in Vietnamese, as a reader extracts it (the embedded font maps its glyphs
        # back to Unicode): not folded to ASCII, not mojibake.
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=once, capture_output=True, check=True
        ).stdout.decode()
        assert "Ký bởi / Signed by: Sở Tư pháp thành phố Hà Nội" in " ".join(text.split())
        twice = sign(client, agency, once, "B-T")
        body = verify(client, twice).json()
        assert [s["field"] for s in body["signatures"]] == ["uyquyen-1", "uyquyen-2"]
        assert all(s["intact"] and s["trusted"] for s in body["signatures"])
        assert body["signatures"][1]["valid"] is True

    def test_only_agencies_sign(self, client, issuer) -> None:
        from tests.fixtures.factories import citizen_headers

        resp = client.post(
            "/v1/signatures/pdf",
            headers=citizen_headers(client, issuer),
            files={"file": ("d.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        assert resp.status_code == 403 and resp.json()["code"] == "wrong_caller_kind"
        anonymous = client.post(
            "/v1/signatures/pdf", files={"file": ("d.pdf", b"%PDF-", "application/pdf")}
        )
        assert anonymous.status_code == 401

    def test_unknown_level(self, client, agency) -> None:
        resp = client.post(
            "/v1/signatures/pdf",
            headers=agency,
            data={"level": "B-LTB"},
            files={"file": ("d.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        assert resp.status_code == 422 and resp.json()["code"] == "validation_error"


class TestTampering:
    def test_one_byte_of_the_signed_range_changed(self, client, agency) -> None:
        s = only_signature(
            verify(client, pdfs.flip_signed_byte(sign(client, agency, pdfs.simple_pdf())))
        )
        assert s["intact"] is False and s["valid"] is False
        # the real cause, and only it: the chain of the agency's certificate is fine
        assert s["trusted"] is True
        assert s["problems"] == ["the signed bytes were changed"]

    def test_page_content_changed_in_an_incremental_update(self, client, agency) -> None:
        tampered = pdfs.change_page_content(sign(client, agency, pdfs.simple_pdf(), "B-B"))
        resp = verify(client, tampered)
        s = only_signature(resp)
        assert s["intact"] is True  # the signed bytes are still there...
        assert (
            s["modified_after_signing"] is True and s["valid"] is False
        )  # ...but not the whole story
        assert s["coverage"] != "entire_file" and resp.json()["valid"] is False

    def test_annotation_added_in_an_incremental_update(self, client, agency) -> None:
        tampered = pdfs.add_annotation(sign(client, agency, pdfs.simple_pdf(), "B-T"))
        s = only_signature(verify(client, tampered))
        assert s["intact"] is True and s["modified_after_signing"] is True and s["valid"] is False

    def test_signed_by_a_ca_we_do_not_trust(self, client) -> None:
        # An independent signer: a fresh key pair and self-made CA, signed with pyHanko directly.
        signed = pdfs.rogue_signed(pdfs.simple_pdf())
        s = only_signature(verify(client, signed))
        assert s["intact"] is True and s["trusted"] is False and s["valid"] is False
        assert any("trusted root" in p for p in s["problems"])

    def test_certificate_revoked_on_our_crl_before_signing(self, client, admin) -> None:
        signing = client.app.state.signing
        engine = client.app.state.engine
        from sqlmodel import Session

        with Session(engine) as session:
            identity = signing.pki.ensure_identity(
                session, "HN-REVOKED", "Cơ quan bị thu hồi", datetime.now(UTC)
            )
            session.commit()
        with Session(engine) as session:
            signing.pki.revoke(session, "HN-REVOKED", datetime.now(UTC) - timedelta(hours=1))
            session.commit()
        # Signed after the revocation, with the (compromised) key itself.
        out = io.BytesIO()
        signers.PdfSigner(
            signers.PdfSignatureMetadata(field_name="Sig", subfilter=SigSeedSubFilter.PADES),
            file_signer(identity.cert, identity.key, signing.pki.chain()),
        ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdfs.simple_pdf())), output=out)
        s = only_signature(verify(client, out.getvalue()))
        assert s["intact"] is True and s["valid"] is False
        assert any("revoked" in p for p in s["problems"])
        # And the service refuses to sign with a revoked certificate.
        created = client.post(
            "/v1/agencies", headers=admin, json={"code": "HN-REVOKED", "name": "x"}
        )
        assert created.status_code == 201
        token = client_token(
            client, created.json()["client_id"], created.json()["client_secret"]
        ).json()
        resp = client.post(
            "/v1/signatures/pdf",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            files={"file": ("d.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        assert resp.status_code == 409 and resp.json()["code"] == "no_signing_key"


class TestShadowAttacks:
    """Verdicts from ../shared/testdata/pdf-attacks/README.md."""

    def test_signed_original_is_intact_and_unmodified(self, client) -> None:
        s = only_signature(verify(client, (ATTACKS / "hide-v1-signed.pdf").read_bytes()))
        assert s["intact"] is True and s["coverage"] == "entire_file"
        assert s["modified_after_signing"] is False
        assert s["trusted"] is False and s["valid"] is False  # self-signed research certificate

    def test_hide_variant_does_not_parse_and_is_not_valid(self, client) -> None:
        resp = verify(client, (ATTACKS / "hide-v1-manipulated.pdf").read_bytes())
        if resp.status_code == 200:
            assert resp.json()["valid"] is False
            assert all(s["valid"] is False for s in resp.json()["signatures"])
        else:
            assert resp.status_code == 422 and resp.json()["code"] == "damaged_pdf"

    @pytest.mark.parametrize(
        "name", ["replace-v1-manipulated.pdf", "hide-and-replace-v1-manipulated.pdf"]
    )
    def test_manipulated_variants_are_modified_after_signing(self, client, name: str) -> None:
        resp = verify(client, (ATTACKS / name).read_bytes())
        s = only_signature(resp)
        assert s["modified_after_signing"] is True and s["valid"] is False
        assert resp.json()["valid"] is False


class TestBadInput:
    @pytest.mark.parametrize(
        ("content", "status", "code"),
        [
            (b"", 422, "empty_file"),
            (b"Just some text, not a PDF at all.\n" * 10, 422, "not_a_pdf"),
        ],
    )
    def test_not_pdfs(self, client, agency, content: bytes, status: int, code: str) -> None:
        for path, headers in (("/v1/signatures/pdf/verify", {}), ("/v1/signatures/pdf", agency)):
            resp = client.post(
                path, headers=headers, files={"file": ("x.pdf", content, "application/pdf")}
            )
            assert resp.status_code == status and resp.json()["code"] == code, (path, resp.text)

    def test_unsigned_pdf(self, client) -> None:
        resp = verify(client, pdfs.simple_pdf())
        assert resp.status_code == 422 and resp.json()["code"] == "no_signature"

    @pytest.mark.parametrize("damage", ["truncated", "unterminated_xref", "nested"])
    def test_damaged_pdfs(self, client, agency, damage: str) -> None:
        signed = sign(client, agency, pdfs.simple_pdf(), "B-B")
        bad = {
            "truncated": signed[: len(signed) // 2],
            "unterminated_xref": pdfs.unterminated_xref(signed),
            "nested": pdfs.nested_objects(10_000),
        }[damage]
        resp = verify(client, bad)
        assert 400 <= resp.status_code < 500 or resp.json()["valid"] is False, resp.text
        if resp.status_code != 200:
            assert resp.json()["code"] in ("damaged_pdf", "no_signature")
        signed_resp = client.post(
            "/v1/signatures/pdf", headers=agency, files={"file": ("x.pdf", bad, "application/pdf")}
        )
        assert 400 <= signed_resp.status_code < 500 and signed_resp.json()["code"], signed_resp.text
        assert client.get("/healthz").status_code == 200

    def test_25_mib_file(self, client, agency) -> None:
        big = b"%PDF-1.7\n" + b"0" * (25 * 1024 * 1024)
        for path, headers in (("/v1/signatures/pdf/verify", {}), ("/v1/signatures/pdf", agency)):
            resp = client.post(
                path, headers=headers, files={"file": ("big.pdf", big, "application/pdf")}
            )
            assert resp.status_code == 413 and resp.json()["code"] in (
                "payload_too_large",
                "file_too_large",
            )
        assert client.get("/healthz").status_code == 200


class TestPublicPki:
    def test_trust_anchors_are_the_dev_root(self, client) -> None:
        resp = client.get("/v1/signatures/trust-anchors")
        assert resp.status_code == 200
        (root,) = x509.load_pem_x509_certificates(resp.content)
        assert "Root CA" in root.subject.rfc4514_string()
        root.verify_directly_issued_by(root)

    def test_crl_lists_revoked_certificates(self, client) -> None:
        from sqlmodel import Session

        signing = client.app.state.signing
        with Session(client.app.state.engine) as session:
            ident = signing.pki.ensure_identity(session, "HN-X", "X", datetime.now(UTC))
            session.commit()
            signing.pki.revoke(session, "HN-X", datetime.now(UTC))
            session.commit()
        crl = x509.load_der_x509_crl(client.get("/pki/crl/agency-ca.crl").content)
        assert crl.get_revoked_certificate_by_serial_number(ident.cert.serial_number) is not None
        assert client.get("/pki/crl/nope.crl").status_code == 404

    def test_ocsp_and_tsa_answer(self, client, agency) -> None:
        from cryptography.x509 import ocsp

        signing = client.app.state.signing
        ident = signing.identity("STP-HN")
        req = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(ident.cert, ident.chain[0], hashes.SHA1())
            .build()
        )
        resp = client.post(
            "/pki/ocsp",
            content=req.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"},
        )
        answer = ocsp.load_der_ocsp_response(resp.content)
        assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
        garbage = ocsp.load_der_ocsp_response(client.post("/pki/ocsp", content=b"junk").content)
        assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST

        from asn1crypto import algos, tsp

        tsq = tsp.TimeStampReq(
            {
                "version": 1,
                "message_imprint": {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": b"\x11" * 32,
                },
                "cert_req": True,
            }
        )
        reply = tsp.TimeStampResp.load(
            client.post(
                "/pki/tsa",
                content=tsq.dump(),
                headers={"Content-Type": "application/timestamp-query"},
            ).content
        )
        assert reply["status"]["status"].native == "granted"
        assert client.post("/pki/tsa", content=b"not der").status_code == 400
        # ETSI EN 319 422: our own policy OID, and the TSA certificate named by ESSCertIDv2
        # with SHA-256 (not SHA-1 ESSCertID).
        token = reply["time_stamp_token"]["content"]
        tst_info = token["encap_content_info"]["content"].parsed
        assert tst_info["policy"].dotted == DEV_TSA_POLICY
        assert tst_info["policy"].dotted.startswith("2.25.")
        attrs = {a["type"].native: a["values"][0] for a in token["signer_infos"][0]["signed_attrs"]}
        assert "signing_certificate" not in attrs
        (cert_id,) = attrs["signing_certificate_v2"]["certs"]
        assert cert_id["hash_algorithm"]["algorithm"].native == "sha256"
        tsa_cert = next(
            c.chosen
            for c in token["certificates"]
            if "Timestamping" in c.chosen.subject.human_friendly
        )
        assert cert_id["cert_hash"].native == hashlib.sha256(tsa_cert.dump()).digest()


class TestTimeLimit:
    def test_a_check_past_its_deadline_is_stopped_and_the_service_goes_on(
        self, make_client, admin
    ) -> None:
        # A deadline no real check can meet stands in for a PDF that makes the parser spin.
        patient = make_client()
        created = patient.post("/v1/agencies/STP-HN/clients", headers=admin).json()
        token = client_token(patient, created["client_id"], created["client_secret"]).json()
        agency = {"Authorization": f"Bearer {token['access_token']}"}
        signed = sign(patient, agency, pdfs.simple_pdf(), "B-B")
        hasty = make_client(pdf_timeout_s=0.001)
        resp = verify(hasty, signed)
        assert resp.status_code == 422 and resp.json()["code"] == "pdf_too_complex"
        resp = hasty.post(
            "/v1/signatures/pdf",
            headers=agency,
            data={"level": "B-B"},
            files={"file": ("a.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        assert resp.status_code == 422 and resp.json()["code"] == "pdf_too_complex"
        assert hasty.get("/healthz").status_code == 200
        assert verify(patient, signed).json()["valid"] is True  # a fresh worker took over


def test_a_chain_longer_than_the_placeholder_still_signs(client, agency) -> None:
    """Our placeholder fits our chain; a long national chain makes pyHanko measure instead."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from signing.pades import SigningIdentity

    signing = client.app.state.signing
    ours = signing.identity("STP-HN")
    now = datetime.now(UTC)
    bulky = []
    for n in range(6):  # ~1.3 KB each: the CMS no longer fits the 8 KB reserved for B-B
        k = rsa.generate_private_key(public_exponent=65537, key_size=4096)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Bulky intermediate {n}")])
        bulky.append(
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(k.public_key())
            .serial_number(n + 1)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))
            .sign(k, hashes.SHA256())
        )
    key = signing.pki.get("STP-HN").key
    long_chain = SigningIdentity(
        "STP-HN",
        ours.display_name,
        file_signer(ours.cert, key, ours.chain + bulky),
        ours.cert,
        ours.chain,
    )
    signed = signing.pades.sign(io.BytesIO(pdfs.simple_pdf()), long_chain, "B-B")
    assert only_signature(verify(client, signed))["valid"] is True


def _length_ending_in_0x80(content_info: bytes) -> bytes:
    """The same CMS ContentInfo with a padding `crls` entry in its SignedData, so that its outer
    DER length ends in a 0x80 byte (as ~1 signature in 8 with a timestamp happened to). Built
    byte by byte: asn1crypto itself cannot re-encode such a structure in reasonable time."""
    outer = asn1_parser.parse(content_info)
    oid, explicit = _children(outer[4])
    explicit_info = asn1_parser.parse(explicit)
    signed_data = asn1_parser.parse(explicit_info[4])
    *head, signer_infos = _children(signed_data[4])
    for pad in range(1, 600):
        other = asn1_parser.emit(
            2,
            1,
            1,  # [1] IMPLICIT RevocationInfoChoices
            asn1_parser.emit(
                2,
                1,
                1,  # other [1] IMPLICIT OtherRevocationInfoFormat
                asn1_core.ObjectIdentifier("1.2.3.4.5").dump()
                + asn1_core.OctetString(b"x" * pad).dump(),
            ),
        )
        sd = asn1_parser.emit(0, 1, 16, b"".join(head) + other + signer_infos)
        der = asn1_parser.emit(0, 1, 16, oid + asn1_parser.emit(2, 1, 0, sd))
        if asn1_parser.parse(der)[3][-1:] == b"\x80":
            return der
    raise AssertionError("no padding gives such a length")


def _children(contents: bytes) -> list[bytes]:
    children, offset = [], 0
    while offset < len(contents):
        _, _, _, header, body, trailer = asn1_parser.parse(contents[offset:])
        size = len(header) + len(body) + len(trailer)
        children.append(contents[offset : offset + size])
        offset += size
    return children


def test_a_signature_whose_cms_length_ends_in_0x80_is_written_in_time(client) -> None:
    """asn1crypto took such a header for an indefinite length and re-encoded the whole tree at
    a cost doubling with depth (110 s for this one): the signing job ran into its deadline, a
    422 to the agency for ~1 timestamped signature in 8 (signing/asn1_backport.py)."""
    signing = client.app.state.signing
    identity = signing.identity("STP-HN")
    question = ("cms", b"\1" * 32, "sha256", False, True, None, True)
    cms_der = signing.pades.answer_worker(identity, question)
    answer = _length_ending_in_0x80(cms_der)
    sandbox = Sandbox(max_workers=1)
    cert = identity.cert.public_bytes(serialization.Encoding.DER)
    written = sandbox.run(
        jobs.cms_from_parent,
        (cert,),
        timeout_s=10,
        client="test",
        answer=lambda question: answer,
    )
    assert written == answer


class TestEtsiReport:
    """`?report=etsi`: an ETSI TS 119 102-2 validation report, from pyHanko's EN 319 102-1
    long-term validation of the document's own DSS and timestamps."""

    NS = {"vr": "http://uri.etsi.org/19102/v1.2.1#"}

    def _status(self, resp) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/xml")
        root = ElementTree.fromstring(resp.content)
        assert root.tag == "{http://uri.etsi.org/19102/v1.2.1#}ValidationReport"
        out = []
        for report in root.findall("vr:SignatureValidationReport", self.NS):
            main = report.findtext("vr:SignatureValidationStatus/vr:MainIndication", None, self.NS)
            sub = report.findtext("vr:SignatureValidationStatus/vr:SubIndication", None, self.NS)
            assert main is not None
            out.append((main.rsplit(":", 1)[-1], sub.rsplit(":", 1)[-1] if sub else None))
        return out

    def _report(self, client, pdf: bytes):  # type: ignore[no-untyped-def]
        return client.post(
            "/v1/signatures/pdf/verify?report=etsi",
            files={"file": ("doc.pdf", pdf, "application/pdf")},
        )

    def test_a_b_lta_result_passes_and_a_tampered_one_fails(self, client, agency) -> None:
        signed = sign(client, agency, pdfs.simple_pdf(), "B-LTA")
        assert self._status(self._report(client, signed)) == [("total-passed", "OK")]
        assert self._status(self._report(client, pdfs.flip_signed_byte(signed))) == [
            ("total-failed", "HASH_FAILURE")
        ]
        twice = sign(client, agency, sign(client, agency, pdfs.simple_pdf(), "B-B"), "B-LTA")
        assert len(self._status(self._report(client, twice))) == 2  # one per signature

    def test_refusals_are_those_of_the_json_verifier(self, client) -> None:
        assert self._report(client, b"not a pdf").json()["code"] == "not_a_pdf"
        assert self._report(client, pdfs.simple_pdf()).json()["code"] == "no_signature"
        wrong = client.post(
            "/v1/signatures/pdf/verify?report=pdf",
            files={"file": ("doc.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        assert wrong.status_code == 422 and wrong.json()["code"] == "validation_error"
