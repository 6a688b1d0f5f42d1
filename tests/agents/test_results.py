"""The results flow over HTTP: submission -> agency inbox -> result -> signed PDF -> verified."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from signing.mandate import Mandate, embed_mandate
from tests.fixtures import pdfs
from tests.fixtures.factories import grant, submit
from tests.fixtures.world import World


def test_result_flow(world: World) -> None:
    w = world
    d = grant(w.client, w.citizen)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    inbox = w.client.get("/v1/agency/submissions?status=received", headers=w.agency).json()
    assert [s["id"] for s in inbox] == [sub["id"]]

    original = pdfs.simple_pdf(text="PHIEU LY LICH TU PHAP so 123")
    posted = w.client.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=w.agency,
        files={"file": ("result.pdf", original, "application/pdf")},
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["status"] == "completed"

    assert (
        w.client.get(f"/v1/submissions/{sub['id']}", headers=w.citizen).json()["status"]
        == "completed"
    )
    assert w.client.get("/v1/agency/submissions?status=received", headers=w.agency).json() == []

    downloads = [
        w.client.get(f"/v1/submissions/{sub['id']}/result.pdf", headers=h)
        for h in (w.citizen, w.vnpost, w.agency)
    ]
    assert all(
        r.status_code == 200 and r.headers["content-type"] == "application/pdf" for r in downloads
    )
    signed = downloads[0].content
    assert signed.startswith(original) and len({r.content for r in downloads}) == 1

    verdict = w.client.post(
        "/v1/signatures/pdf/verify", files={"file": ("r.pdf", signed, "application/pdf")}
    ).json()
    assert verdict["valid"] is True
    s, archive = verdict["signatures"]  # B-LTA: the signature, and the document timestamp
    assert s["trusted"] and s["intact"] and s["timestamp"]["valid"]
    assert archive["kind"] == "document_timestamp" and archive["valid"]
    assert "STP-HN" in s["signer"]["subject"]


def test_result_rules(world: World) -> None:
    w = world
    d = grant(w.client, w.citizen, max_uses=2)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    path = f"/v1/submissions/{sub['id']}/result"
    pdf = ("r.pdf", pdfs.simple_pdf(), "application/pdf")
    # Only the responsible agency posts it; nobody downloads before it exists.
    assert (
        w.client.post(path, headers=w.other_agency, files={"file": pdf}).json()["code"]
        == "submission_not_found"
    )
    assert (
        w.client.post(path, headers=w.vnpost, files={"file": pdf}).json()["code"]
        == "wrong_caller_kind"
    )
    assert w.client.get(f"{path}.pdf", headers=w.citizen).json()["code"] == "result_not_ready"
    bad = w.client.post(
        path, headers=w.agency, files={"file": ("r.pdf", b"not a pdf", "application/pdf")}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "not_a_pdf"
    assert (
        w.client.get(f"/v1/submissions/{sub['id']}", headers=w.agency).json()["status"]
        == "received"
    )
    assert w.client.post(path, headers=w.agency, files={"file": pdf}).status_code == 201
    again = w.client.post(path, headers=w.agency, files={"file": pdf})
    assert again.status_code == 409 and again.json()["code"] == "already_completed"
    for outsider in (w.stranger, w.fpt, w.other_agency):
        assert w.client.get(f"{path}.pdf", headers=outsider).status_code == 404


def _verified(w: World, pdf: bytes) -> dict:
    resp = w.client.post(
        "/v1/signatures/pdf/verify", files={"file": ("r.pdf", pdf, "application/pdf")}
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_a_result_carries_the_mandate_it_was_filed_under(world: World) -> None:
    """The receipt is embedded and the ids written before signing, so the agency's signature
    covers them; verification reports them with the receipt checked. A direct signature has
    none; a result whose embedded receipt names another dossier reads receipt_valid: false;
    a receipt swapped in after signing does not change what was signed."""
    w = world
    d = grant(w.client, w.citizen, max_uses=2)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    other = submit(w.client, w.vnpost, d["token"]).json()
    w.client.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=w.agency,
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    signed = w.client.get(f"/v1/submissions/{sub['id']}/result.pdf", headers=w.citizen).content
    report = _verified(w, signed)
    assert report["valid"] is True
    counter = w.client.get("/v1/me", headers=w.vnpost).json()["counter"]
    assert report["filed_under"] == {
        "submission": sub["id"],
        "delegation": d["id"],
        "procedure": "1.001612",
        "agent": "VNPOST",
        "counter": counter,
        "act": {"sub": "NV-0042", "counter": counter, "authenticated": False},
        "receipt_valid": True,
        "mismatch": None,
    }

    direct = w.client.post(
        "/v1/signatures/pdf",
        headers=w.agency,
        data={"level": "B-B"},
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    ).content
    assert "filed_under" not in _verified(w, direct)

    signing = w.client.app.state.signing
    swapped = signing.sign(  # the other dossier's genuine receipt, under this one's ids
        io.BytesIO(pdfs.simple_pdf()),
        "STP-HN",
        "B-B",
        mandate=Mandate(other["receipt"], sub["id"], d["id"]),
    )
    mismatch = _verified(w, swapped)["filed_under"]
    assert mismatch["receipt_valid"] is False and mismatch["act"] is None
    assert mismatch["mismatch"] == "receipt_not_genuine"
    forged = signing.sign(
        io.BytesIO(pdfs.simple_pdf()),
        "STP-HN",
        "B-B",
        mandate=Mandate(sub["receipt"][:-8] + "AAAAAAAA", sub["id"], d["id"]),
    )
    assert _verified(w, forged)["filed_under"]["receipt_valid"] is False

    # Another receipt and ids appended after the signature: the report still shows what the
    # signature covers, and says the document changed after signing.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    embed_mandate(writer, Mandate(other["receipt"], other["id"], d["id"]))
    out = io.BytesIO()
    writer.write(out)
    later = _verified(w, out.getvalue())
    assert later["filed_under"]["submission"] == sub["id"]
    assert later["valid"] is False and later["signatures"][0]["modified_after_signing"] is True


def test_results_renew_adds_archive_timestamps_that_keep_the_result_valid(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python main.py results renew`: a result whose timestamp or certificates expire within
    the window gets an archive timestamp (B-LTA) over it, again and again (the chain), and
    still verifies, with what it was filed under; one that does not is left alone."""
    import main

    w = world
    settings = w.client.app.state.settings
    monkeypatch.setenv("UYQUYEN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("UYQUYEN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("UYQUYEN_PUBLIC_URL", settings.public_url)
    d = grant(w.client, w.citizen)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    w.client.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=w.agency,
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    path = f"/v1/submissions/{sub['id']}/result.pdf"
    signed = w.client.get(path, headers=w.citizen).content

    # The dev TSA's and the agency's certificates last 3 years: nothing is due within one.
    assert main.main(["results", "renew", "--within-days", "365"]) == 0
    assert "checked: 1; renewed with an archive timestamp: 0" in capsys.readouterr().out
    assert w.client.get(path, headers=w.citizen).content == signed

    versions = [signed]
    for _ in range(2):  # within ten years: due, twice (the second stamps over the first)
        assert main.main(["results", "renew", "--within-days", "3650"]) == 0
        assert "renewed with an archive timestamp: 1;" in capsys.readouterr().out
        versions.append(w.client.get(path, headers=w.citizen).content)
        assert versions[-1].startswith(versions[-2])  # incremental: nothing signed is touched
        report = _verified(w, versions[-1])
        assert report["valid"] is True and report["filed_under"]["receipt_valid"] is True
        kinds = [s["kind"] for s in report["signatures"]]
        assert kinds == ["signature"] + ["document_timestamp"] * len(
            versions
        )  # B-LTA's own + renewals
        assert all(s["valid"] and s["trusted"] for s in report["signatures"])
    trail = w.client.get("/v1/audit/events", headers=w.citizen).json()
    assert [e["kind"] for e in trail].count("result.renewed") == 2


def _carrying(receipt: str, submission: str, delegation: str) -> bytes:
    """A PDF that carries a genuine receipt and its ids in its first revision, as anyone
    holding the receipt (the citizen, the counter, a reader of the paper QR) can make."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdfs.simple_pdf(text="KET QUA GIA MAO")))
    embed_mandate(writer, Mandate(receipt, submission, delegation))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_genuine_receipt_in_another_document_claims_no_dossier(world: World) -> None:
    """Receipts are not secret: a document signed by another agency, a second "result" the
    responsible agency signed outside the result route, and a self-signed one all carry X's
    genuine receipt; none is reported as answering X, and each says why."""
    w = world
    d = grant(w.client, w.citizen, max_uses=2)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    forged = _carrying(sub["receipt"], sub["id"], d["id"])
    cases = {}
    for name, agency in (("other agency", w.other_agency), ("outside the route", w.agency)):
        signed = w.client.post(
            "/v1/signatures/pdf",
            headers=agency,
            data={"level": "B-T"},
            files={"file": ("r.pdf", forged, "application/pdf")},
        )
        assert signed.status_code == 200, signed.text
        cases[name] = _verified(w, signed.content)
    cases["self-signed"] = _verified(w, pdfs.rogue_signed(forged))

    for name, report in cases.items():
        f = report["filed_under"]
        assert f["submission"] == sub["id"], name  # what the document claims, shown as such
        assert f["receipt_valid"] is False, name
        assert f["procedure"] is None and f["agent"] is None and f["act"] is None, name
    assert cases["other agency"]["valid"] is True  # CA-HN's signature is genuine, not X's result
    assert cases["other agency"]["filed_under"]["mismatch"] == "no_result_stored"
    assert cases["self-signed"]["valid"] is False
    assert cases["self-signed"]["filed_under"]["mismatch"] == "signature_not_valid"

    # Once X has its real result, another document still is not it.
    w.client.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=w.agency,
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    again = w.client.post(
        "/v1/signatures/pdf",
        headers=w.agency,
        data={"level": "B-B"},
        files={"file": ("r.pdf", forged, "application/pdf")},
    ).content
    f = _verified(w, again)["filed_under"]
    assert f["receipt_valid"] is False and f["mismatch"] == "not_the_stored_result"
    real = w.client.get(f"/v1/submissions/{sub['id']}/result.pdf", headers=w.citizen).content
    assert _verified(w, real)["filed_under"]["receipt_valid"] is True


def test_a_result_with_many_attachments_keeps_its_mandate(world: World) -> None:
    """The agency's PDF already carries 250 attachments: the service's receipt is found
    wherever it lands in the name tree (it was lost past the 200th entry)."""
    from pyhanko.pdf_utils import embed

    w = world
    writer = IncrementalPdfFileWriter(io.BytesIO(pdfs.simple_pdf()))
    for i in range(250):
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string=f"a-{i:03d}.txt",
                embedded_data=embed.EmbeddedFileObject.from_file_data(writer, data=b"x"),
            ),
        )
    crowded = io.BytesIO()
    writer.write(crowded)
    d = grant(w.client, w.citizen)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    posted = w.client.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=w.agency,
        files={"file": ("r.pdf", crowded.getvalue(), "application/pdf")},
    )
    assert posted.status_code == 201, posted.text
    signed = w.client.get(f"/v1/submissions/{sub['id']}/result.pdf", headers=w.citizen).content
    f = _verified(w, signed)["filed_under"]
    assert f["submission"] == sub["id"] and f["receipt_valid"] is True, f


def test_the_verify_page_never_shows_green_for_a_document_that_is_not_the_result(
    world: World,
) -> None:
    d = grant(world.client, world.citizen, max_uses=2)
    sub = submit(world.client, world.vnpost, d["token"]).json()
    forged = pdfs.rogue_signed(_carrying(sub["receipt"], sub["id"], d["id"]))
    page = world.client.post(
        "/verify/pdf", files={"file": ("ket-qua.pdf", forged, "application/pdf")}
    )
    assert page.status_code == 200
    assert "Chữ ký số của văn bản không hợp lệ" in page.text
    assert 'class="verdict ok"' not in page.text
    assert "chữ ký số của nó không hợp lệ: đây không phải kết quả của hồ sơ đó" in page.text
    assert "Hồ sơ mà văn bản ghi" in page.text

    other = world.client.post(
        "/v1/signatures/pdf",
        headers=world.other_agency,
        data={"level": "B-B"},
        files={"file": ("r.pdf", _carrying(sub["receipt"], sub["id"], d["id"]), "application/pdf")},
    ).content
    page = world.client.post("/verify/pdf", files={"file": ("r.pdf", other, "application/pdf")})
    assert "chưa được trả kết quả" in page.text
    assert page.text.count('class="verdict ok"') == 1  # CA-HN's signature itself holds


def test_a_fresh_result_passes_an_etsi_long_term_validation(world: World) -> None:
    """The ETSI report rated every freshly stored B-LT result indeterminate/NO_POE (no proof
    of existence for the CA certificate and revocation data in the DSS) while the JSON
    verifier said valid. Results are signed at B-LTA: the document timestamp is that proof."""
    from xml.etree import ElementTree

    w = world
    d = grant(w.client, w.citizen)
    sub = submit(w.client, w.vnpost, d["token"]).json()
    posted = w.client.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=w.agency,
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    assert posted.status_code == 201 and posted.json()["level"] == "B-LTA"
    signed = w.client.get(f"/v1/submissions/{sub['id']}/result.pdf", headers=w.citizen).content
    assert _verified(w, signed)["valid"] is True
    report = w.client.post(
        "/v1/signatures/pdf/verify?report=etsi",
        files={"file": ("r.pdf", signed, "application/pdf")},
    )
    ns = {"vr": "http://uri.etsi.org/19102/v1.2.1#"}
    root = ElementTree.fromstring(report.content)
    (status,) = root.findall("vr:SignatureValidationReport/vr:SignatureValidationStatus", ns)
    main = status.findtext("vr:MainIndication", "", ns).rsplit(":", 1)[-1]
    sub_indication = status.findtext("vr:SubIndication", "", ns).rsplit(":", 1)[-1]
    assert (main, sub_indication) == ("total-passed", "OK")
