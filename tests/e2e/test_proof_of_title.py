"""The proof of a title through the real processes: a title is granted, its certificate PDF
downloaded and its QR code decoded; the code's public verification says valid, then revoked
once the title is revoked, superseded once a re-evaluation re-grants it; an unknown code is
a 404, and too many verifications from one address a 429. An independent verifier (node and
jose, tests/verifier) checks the VC-JWT against the issuer's published keys and reads its bit
in the signed status list, refuses a credential changed by one byte, and sees the revocation.
"""
import base64
import io
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
import zxingcpp
from pypdf import PdfReader

from tests.e2e import test_central_flow as central
from tests.e2e.test_central_flow import SCORES_PASS, assess, register

pytestmark = pytest.mark.e2e
units, officials = central.units, central.officials  # the same province and associations
VERIFIER = Path(__file__).resolve().parents[1] / "verifier"


def verifier(token):
    """The independent verifier's answer about a VC-JWT (tests/verifier/verify.mjs)."""
    if not shutil.which("node") or not (VERIFIER / "node_modules" / "jose").is_dir():
        pytest.skip("node and tests/verifier's packages (bin/setup installs them) are needed")
    done = subprocess.run(["node", str(VERIFIER / "verify.mjs"), token], capture_output=True,
                          text=True, timeout=60)
    return done.returncode, json.loads(done.stdout)


def public(system, path):
    """A public route, asked without a token."""
    return requests.get(system.url("assessment", path), timeout=10)


def qr_of(pdf):
    [image] = PdfReader(io.BytesIO(pdf)).pages[0].images
    [barcode] = zxingcpp.read_barcodes(image.image)
    return barcode.text


def one_byte_changed(token):
    """The VC-JWT with its payload changed by one byte (the year), its signature kept."""
    head, body, signature = token.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    changed = payload.replace(b'"name":"C\xc3\xb4ng d\xc3\xa2n h\xe1\xbb\x8dc t\xe1\xba\xadp '
                              b'n\xc4\x83m 2025"', b'"name":"C\xc3\xb4ng d\xc3\xa2n h\xe1\xbb\x8dc'
                              b' t\xe1\xba\xadp n\xc4\x83m 2026"')
    assert changed != payload and len(changed) == len(payload)
    return ".".join((head, base64.urlsafe_b64encode(changed).rstrip(b"=").decode(), signature))


def test_certificate_qr_verification_and_an_independent_verifier(system, officials):
    person_id, _ = register(system, name="Đặng Thị Thu Hà")
    recognition_id = assess(system, officials, person_id, SCORES_PASS)["recognition_id"]

    pdf = system.get("assessment", f"/recognitions/{recognition_id}/certificate.pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == \
        'attachment; filename="chung-nhan-cong-dan-hoc-tap-2025.pdf"'
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Đặng Thị Thu Hà" in text and "GIẤY CHỨNG NHẬN" in text and "2025" in text
    assert "Hội Khuyến học phường Long Xuyên".upper() in text
    verify_url = qr_of(pdf.content)
    credential = system.get("assessment", f"/recognitions/{recognition_id}/credential").json()
    assert verify_url == credential["verify_url"]
    code = verify_url.rsplit("/", 1)[1]
    assert code == credential["verification_code"] and code in text

    answer = public(system, f"/verifications/{code}")
    assert answer.status_code == 200
    assert answer.json() == {"holder_name": "Đặng Thị Thu Hà", "title": "Công dân học tập",
                             "year": 2025, "issuer_name": "Hội Khuyến học phường Long Xuyên",
                             "status": "valid", "status_label": "Còn hiệu lực"}

    code_, verified = verifier(credential["jwt"])
    assert code_ == 0 and verified["verified"], verified
    assert (verified["status_bit"], verified["revoked"]) == (0, False)
    assert verified["credential_id"] == credential["credential_id"]
    code_, refused = verifier(one_byte_changed(credential["jwt"]))
    assert code_ == 1 and not refused["verified"] and "signature" in refused["error"]

    revoked = system.post("assessment", f"/recognitions/{recognition_id}/revoke",
                          {"reason": "hồ sơ khai không đúng"})
    assert revoked.status_code == 200, revoked.text
    assert public(system, f"/verifications/{code}").json()["status"] == "revoked"
    code_, after = verifier(credential["jwt"])
    assert code_ == 0 and after["verified"] and (after["status_bit"], after["revoked"]) == (1, True)


def test_a_regranted_title_is_superseded(system, officials):
    person_id, _ = register(system, name="Huỳnh Văn Lộc")
    decided = assess(system, officials, person_id, SCORES_PASS)
    credential = system.get("assessment",
                            f"/recognitions/{decided['recognition_id']}/credential").json()
    again = system.post("assessment", f"/assessments/{decided['assessment_id']}/re-evaluate", {
        "criteria_version": "244/QĐ-KHVN", "reason": "áp dụng lại bộ tiêu chí",
        "scores": SCORES_PASS | {"TC2.1": 7, "TC1.1": 10}})  # basic digital skills now
    assert again.status_code == 201, again.text
    shown = public(system, f"/verifications/{credential['verification_code']}").json()
    assert (shown["status"], shown["status_label"]) == (
        "superseded", "Đã được thay thế bằng chứng nhận mới")
    titles = system.get("assessment", "/recognitions",
                        params={"person_id": person_id}).json()["items"]
    [current] = [t for t in titles if t["revoked_at"] is None]
    renewed = system.get("assessment",
                         f"/recognitions/{current['recognition_id']}/credential").json()
    assert renewed["status"] == "valid" and renewed["verification_code"] != \
        credential["verification_code"]


def test_unknown_codes_are_404_and_a_flood_is_429(system):
    unknown = public(system, f"/verifications/{uuid.uuid4().hex}")
    malformed = public(system, "/verifications/" + "x" * 300)
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.json() == malformed.json() == {"error": "verification code not found"}
    for _ in range(200):
        answer = public(system, f"/verifications/{uuid.uuid4().hex}")
        if answer.status_code == 429:
            break
        assert answer.status_code == 404
    assert answer.status_code == 429, "no rate limit after 200 verifications"
    assert int(answer.headers["Retry-After"]) >= 1 and answer.json()["error"]
