"""The proof of a title against real PostgreSQL and the real registry: one credential per
title however many ask at once, signed with the issuing association's key and verifiable
with its JWKS; a revocation sets the credential's bit in the signed status list in the same
transaction; a rotated key stays published, so what it signed still verifies; the service
refuses to start without its key-encryption secret."""
import base64
import gzip
import json

import eventlet
import pytest
from sqlalchemy import text

from services.assessment import issuer_keys
from services.assessment.service import AssessmentService
from tests.integration.assessment.conftest import SCORES


def _claims(token):
    head, body, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(head), decode(body)


def _bit(status_list_jwt, index):
    """The status bit at ``index`` of a signed status list, decoded here by hand: multibase
    "u" + base64url (no padding) of the GZIP of the bitstring, index 0 the left-most bit."""
    _, claims = _claims(status_list_jwt)
    encoded = claims["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(bits) * 8 >= 131_072
    return (bits[index // 8] >> (7 - index % 8)) & 1


def _status_list(assessment, credential):
    entry = credential["credential"]["credentialStatus"]
    path = "/status-lists/" + entry["statusListCredential"].split("/status-lists/", 1)[1]
    response = assessment.call("GET", path, None, 200)
    assert response.headers["Content-Type"] == "application/vc+jwt"
    return response.text, int(entry["statusListIndex"])


def _jwks(assessment, unit_code):
    return assessment.get(f"/issuers/{unit_code}/jwks")["keys"]


def _titled(assessment, commune, person=None):
    decided = assessment.recognise(person or commune.citizen, commune.reviewer, commune.chair)
    return decided["recognition_id"]


def test_one_credential_per_title_even_when_asked_at_once(assessment, commune, registry,
                                                          web_session, sql, engines):
    recognition_id = _titled(assessment, commune)
    path = f"/recognitions/{recognition_id}/credential"

    def ask(_):
        response = web_session(assessment.config).get(path)
        assert response.status_code == 200, response.text
        return response.json()
    answers = list(eventlet.GreenPool(8).imap(ask, range(8)))
    assert len({a["credential_id"] for a in answers}) == 1
    assert len({a["verification_code"] for a in answers}) == 1
    assert sql("SELECT count(*) FROM credentials")[0][0] == 1
    first = answers[0]

    assert first["status"] == "valid"
    assert first["issuer"] == {"unit_code": "AG.LX", "name": "Hội Khuyến học phường"}
    assert first["verify_url"] == "http://localhost:8005/xac-minh/" + first["verification_code"]
    assert len(first["verification_code"]) >= 22  # >= 128 bits, base64url
    document = first["credential"]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert document["issuer"]["id"] == "http://localhost:8002/issuers/AG.LX"
    subject = document["credentialSubject"]
    assert subject["identifier"][0]["identityHash"] == commune.citizen["full_name"]
    assert subject["achievement"]["name"] == "Công dân học tập"
    assert "324/QĐ-KHVN" in subject["achievement"]["criteria"]["narrative"]
    assert document["credentialStatus"]["statusPurpose"] == "revocation"

    header, payload = issuer_keys.verify(first["jwt"], _jwks(assessment, "AG.LX"))
    assert header["typ"] == "vc+jwt" and header["alg"] == "EdDSA"
    assert header["kid"] == "http://localhost:8002/issuers/AG.LX#key-1"
    assert payload["iss"] == document["issuer"]["id"] and payload["jti"] == document["id"]
    assert {k: payload[k] for k in document} == document

    profile = assessment.get("/issuers/AG.LX")
    assert profile["type"] == ["Profile"] and profile["name"] == "Hội Khuyến học phường"
    assert profile["address"]["addressRegion"] == "Tỉnh An Giang"
    # each time the registry answered the holder's name (to the callers that came before the
    # credential existed), it audited the answer as a certificate's
    with engines["registry"].connect() as conn:
        rows = conn.execute(text("SELECT actor, person_id::text, fields FROM "
                                 "personal_data_audit WHERE action = 'certificate'")).all()
    assert rows and all(tuple(row) == ("service:assessment", commune.citizen["id"],
                                       ["full_name"]) for row in rows)
    # the private key is stored encrypted
    [(stored,)] = sql("SELECT private_key FROM issuer_keys")
    assert stored.startswith("dd0895f1.")


def test_a_revocation_sets_the_bit_and_the_verification_says_so(assessment, commune, registry,
                                                                sql):
    other = registry.person(unit="AG.LX", full_name="Lê Thị Hoa")
    revoked_id, kept_id = _titled(assessment, commune), _titled(assessment, commune, other)
    revoked = assessment.get(f"/recognitions/{revoked_id}/credential")
    kept = assessment.get(f"/recognitions/{kept_id}/credential")
    token, index = _status_list(assessment, revoked)
    assert _bit(token, index) == 0
    verified = assessment.get(f"/verifications/{revoked['verification_code']}")
    assert verified == {"holder_name": commune.citizen["full_name"], "title": "Công dân học tập",
                        "year": 2025, "issuer_name": "Hội Khuyến học phường",
                        "status": "valid", "status_label": "Còn hiệu lực"}

    assessment.post(f"/recognitions/{revoked_id}/revoke", {"reason": "khai sai"}, status=200)
    assert sql("SELECT revoked_at IS NOT NULL FROM credentials WHERE recognition_id = "
               f"'{revoked_id}'") == [(True,)]
    token, index = _status_list(assessment, revoked)
    assert _bit(token, index) == 1
    _, kept_index = _status_list(assessment, kept)
    assert _bit(token, kept_index) == 0
    header, claims = issuer_keys.verify(token, _jwks(assessment, "AG.LX"))
    assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert claims["credentialSubject"]["statusPurpose"] == "revocation"
    assert assessment.get(f"/verifications/{revoked['verification_code']}")["status"] == \
        "revoked"
    again = assessment.get(f"/recognitions/{revoked_id}/credential")
    assert again["status"] == "revoked" and again["jwt"] == revoked["jwt"]


def test_a_regranted_title_supersedes_the_old_credential(assessment, commune):
    recognition_id = _titled(assessment, commune)
    old = assessment.get(f"/recognitions/{recognition_id}/credential")
    title = assessment.get(f"/recognitions/{recognition_id}")
    assessment.post(f"/assessments/{title['assessment_id']}/re-evaluate", {
        "criteria_version": "244/QĐ-KHVN", "reason": "áp dụng lại bộ tiêu chí",
        "scores": SCORES | {"TC2.1": 7, "TC1.1": 10}})  # basic digital skills now
    shown = assessment.get(f"/verifications/{old['verification_code']}")
    assert shown["status"] == "superseded" and shown["status_label"].startswith("Đã được thay")
    token, index = _status_list(assessment, old)
    assert _bit(token, index) == 1  # no longer valid


def test_a_revoked_title_without_a_credential_gets_none(assessment, commune, sql):
    recognition_id = _titled(assessment, commune)
    assessment.post(f"/recognitions/{recognition_id}/revoke", {"reason": "khai sai"},
                    status=200)
    refused = assessment.call("GET", f"/recognitions/{recognition_id}/credential", None, 409)
    assert "revoked" in refused.json()["error"]
    assessment.call("GET", f"/recognitions/{recognition_id}/certificate.pdf", None, 409)
    assert sql("SELECT count(*) FROM credentials")[0][0] == 0
    assert sql("SELECT count(*) FROM credential_issuers")[0][0] == 0


def test_only_the_holder_and_staff_in_scope_get_a_credential(assessment, commune, web_session):
    recognition_id = _titled(assessment, commune)
    path = f"/recognitions/{recognition_id}/credential"
    config = assessment.config
    holder = web_session(config, role="citizen", unit_code="AG.LX",
                         subject=commune.citizen["id"])
    assert holder.get(path).status_code == 200
    stranger = web_session(config, role="citizen", unit_code="AG.LX",
                           subject=commune.chair["id"])
    assert stranger.get(path).status_code == 403
    outsider = web_session(config, role="commune_staff", unit_code="AG.MB",
                           subject=commune.outsider["id"])
    assert outsider.get(path).status_code == 403
    anonymous = web_session(config, auth=False)
    assert anonymous.get(path).status_code == 401
    assert anonymous.get("/verifications/not-a-code").status_code == 404


def test_a_rotated_key_still_verifies_what_it_signed(assessment, commune, registry,
                                                     web_session):
    first = assessment.get(f"/recognitions/{_titled(assessment, commune)}/credential")
    config = assessment.config
    province = web_session(config, role="province_staff", unit_code="AG")
    commune_staff = web_session(config, role="commune_staff", unit_code="AG.LX")
    elsewhere = web_session(config, role="province_staff", unit_code="KG")
    assert commune_staff.post("/issuers/AG.LX/keys").status_code == 403
    assert elsewhere.post("/issuers/AG.LX/keys").status_code == 403
    assert province.post("/issuers/AG.MB/keys").status_code == 404  # has signed nothing
    rotated = province.post("/issuers/AG.LX/keys")
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["retired_kid"].endswith("#key-1")
    assert rotated.json()["key"]["kid"].endswith("#key-2")

    other = registry.person(unit="AG.LX", full_name="Phạm Văn Bình")
    second = assessment.get(f"/recognitions/{_titled(assessment, commune, other)}/credential")
    keys = _jwks(assessment, "AG.LX")
    assert [(k["kid"].rsplit("#", 1)[1], k["status"]) for k in keys] == [
        ("key-1", "retired"), ("key-2", "active")]
    old_header, _ = issuer_keys.verify(first["jwt"], keys)
    new_header, _ = issuer_keys.verify(second["jwt"], keys)
    assert old_header["kid"].endswith("#key-1") and new_header["kid"].endswith("#key-2")
    with pytest.raises(issuer_keys.BadSignature):  # a key alone verifies what it signed
        issuer_keys.verify(first["jwt"], [k for k in keys if k["status"] == "active"])
    token, _ = _status_list(assessment, first)  # lists are signed with the active key
    assert _claims(token)[0]["kid"].endswith("#key-2")


@pytest.mark.parametrize("secret, message", [
    ("", "CREDENTIAL_KEY_SECRET is empty"),
    ("not-a-secret", "CREDENTIAL_KEY_SECRET: secret number 1 is not 32 bytes"),
])
def test_no_start_without_the_key_encryption_secret(container_factory, service_config,
                                                    secret, message):
    config = service_config("assessment", CREDENTIAL_KEY_SECRET=secret)
    container = container_factory(AssessmentService, config)
    with pytest.raises(ValueError, match=message):
        container.start()
