"""The credential of a title as data (Open Badges 3.0 over W3C VC 2.0), its status list's
encoding (decoded back here by hand: base64url, then gzip), the status rules and the public
addresses."""
import base64
import gzip
import random
import uuid
from datetime import datetime, timezone

import pytest

from services.assessment import credentials

URLS = credentials.Urls("https://kh.example.vn/api", "https://cdht.example.vn/xac-minh/")
ISSUER = credentials.Issuer("AG.LX", "Hội Khuyến học phường Long Xuyên", "Phường Long Xuyên",
                            "Tỉnh An Giang")
GRANTED = datetime(2025, 11, 20, 3, 4, 5, tzinfo=timezone.utc)


def decoded(encoded):
    assert encoded.startswith("u") and "=" not in encoded
    return gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))


def test_the_credential_is_an_open_badge_naming_its_holder_issuer_and_status_entry():
    credential_id = uuid.uuid4()
    document = credentials.credential(
        URLS, credential_id=credential_id, issuer=ISSUER, holder_name="Nguyễn Văn An",
        year=2025, criteria_version="324/QĐ-KHVN", granted_at=GRANTED, list_no=0, index=4242)
    assert document["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert document["id"] == f"urn:uuid:{credential_id}"
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["issuer"] == {"id": "https://kh.example.vn/api/issuers/AG.LX",
                                  "type": ["Profile"], "name": ISSUER.name}
    assert document["validFrom"] == "2025-11-20T03:04:05Z"
    assert document["name"] == "Công dân học tập năm 2025"
    subject = document["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"] == [{"type": "IdentityObject", "identityType": "name",
                                      "hashed": False, "identityHash": "Nguyễn Văn An"}]
    achievement = subject["achievement"]
    assert (achievement["type"], achievement["name"]) == (["Achievement"], "Công dân học tập")
    assert achievement["description"] and "324/QĐ-KHVN" in achievement["criteria"]["narrative"]
    assert document["credentialStatus"] == {
        "id": "https://kh.example.vn/api/status-lists/AG.LX/0#4242",
        "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
        "statusListIndex": "4242",
        "statusListCredential": "https://kh.example.vn/api/status-lists/AG.LX/0"}
    payload = credentials.jwt_payload(document, GRANTED)
    assert payload["iss"] == document["issuer"]["id"] and payload["jti"] == document["id"]
    assert payload["iat"] == payload["nbf"] == int(GRANTED.timestamp())
    assert credentials.jwt_header("k") == {"kid": "k", "typ": "vc+jwt"}


def test_the_status_list_sets_the_bits_of_revoked_entries_left_most_first():
    bits = decoded(credentials.encode_list([0, 9, 131_071]))
    assert len(bits) * 8 == credentials.STATUS_LIST_BITS == 131_072
    assert bits[0] == 0b1000_0000 and bits[1] == 0b0100_0000 and bits[-1] == 0b0000_0001
    assert sum(bin(b).count("1") for b in bits) == 3
    assert not any(decoded(credentials.encode_list([])))
    with pytest.raises(ValueError):
        credentials.encode_list([131_072])
    document = credentials.status_list_credential(URLS, ISSUER, 3, [5], GRANTED)
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["id"] == "https://kh.example.vn/api/status-lists/AG.LX/3"
    subject = document["credentialSubject"]
    assert (subject["type"], subject["statusPurpose"]) == ("BitstringStatusList", "revocation")
    assert decoded(subject["encodedList"])[0] == 0b0000_0100


def test_an_index_is_drawn_at_random_among_the_free_ones_until_the_list_is_half_full():
    rand = random.Random(7).randrange
    assert credentials.pick_index({1, 2, 3}, 8, lambda n: 3 if rand(2) else 5) == 5
    drawn = {credentials.pick_index(set(), 131_072, rand) for _ in range(50)}
    assert len(drawn) > 45  # not sequential: the index says nothing of the order
    assert credentials.pick_index({0, 1, 2, 3}, 8, rand) is None


@pytest.mark.parametrize("revoked_at, newer, status", [
    (None, False, "valid"), (None, True, "valid"),
    (GRANTED, False, "revoked"), (GRANTED, True, "superseded")])
def test_status_rules(revoked_at, newer, status):
    assert credentials.status_of(revoked_at, newer) == status
    shown = credentials.verification("Nguyễn Văn An", 2025, ISSUER.name, status)
    assert set(shown) == {"holder_name", "title", "year", "issuer_name", "status",
                          "status_label"}
    assert shown["status_label"] == credentials.STATUS_LABELS[status]


def test_public_addresses_from_the_settings():
    urls = credentials.Urls.from_config({})
    assert urls.issuer("AG") == "http://localhost:8002/issuers/AG"
    assert urls.verification("abc") == "http://localhost:8005/xac-minh/abc"
    urls = credentials.Urls.from_config({"ASSESSMENT_PUBLIC_URL": "https://a.vn/x/",
                                         "PORTAL_PUBLIC_URL": "https://p.vn"})
    assert urls.kid("AG", "key-1") == "https://a.vn/x/issuers/AG#key-1"
    assert urls.verification("abc") == "https://p.vn/xac-minh/abc"
    assert credentials.Urls.from_config({"VERIFY_URL": "https://v.vn/check"}).verify == \
        "https://v.vn/check/"
    for bad in ({"ASSESSMENT_PUBLIC_URL": "ftp://a"}, {"VERIFY_URL": "https://v.vn/?x=1"}):
        with pytest.raises(credentials.SettingError):
            credentials.Urls.from_config(bad)


def test_codes_are_long_random_and_url_safe():
    codes = {credentials.new_code() for _ in range(100)}
    assert len(codes) == 100
    assert all(len(c) == 24 and set(c) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                               "0123456789-_") for c in codes)
