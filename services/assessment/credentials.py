"""The proof of a Learning Citizen title, as data: the verifiable credential (W3C Verifiable
Credentials 2.0 with Open Badges 3.0's OpenBadgeCredential, secured as a VC-JWT), the
issuing association's Open Badges Profile, the W3C Bitstring Status List that publishes
revocations, the public verification answer and the status rules. Pure: no nameko, no
database; the keys and signatures are issuer_keys.py's.

Where things live (``Urls``): the issuer is ``<ASSESSMENT_PUBLIC_URL>/issuers/<unit_code>``
(its keys at ``.../jwks``), its status lists at ``/status-lists/<unit_code>/<n>``, and a
title's public verification page at ``<VERIFY_URL><code>`` (the portal's ``/xac-minh/``).
These addresses are written into every credential: choose them once, before the first is
issued.
"""
import gzip
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from services.assessment.issuer_keys import b64url

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXTS = (VC_CONTEXT, OB_CONTEXT)
TITLE = "Công dân học tập"
ACHIEVEMENT_ID = "urn:cdht:achievement:cong-dan-hoc-tap"
ACHIEVEMENT_DESCRIPTION = (
    "Danh hiệu “Công dân học tập” của Đề án “Xây dựng mô hình Công dân học tập giai đoạn "
    "2021–2030” (Quyết định 677/QĐ-TTg ngày 3/6/2022), do Hội Khuyến học công nhận cho người "
    "đạt các tiêu chí của Hội Khuyến học Việt Nam trong năm.")
JWT_MEDIA_TYPE = "application/vc+jwt"
JWT_TYP = "vc+jwt"
STATUS_PURPOSE = "revocation"
STATUS_LIST_BITS = 131_072
"""Bits per status list: the specification's minimum (16 KiB), so that one credential's
entry hides among as many others (herd privacy)."""
CODE_BYTES = 18  # 144 bits from secrets: unguessable, URL-safe, unrelated to any id

VALID, REVOKED, SUPERSEDED = "valid", "revoked", "superseded"
STATUSES = (VALID, REVOKED, SUPERSEDED)
STATUS_LABELS = {VALID: "Còn hiệu lực", REVOKED: "Đã bị thu hồi",
                 SUPERSEDED: "Đã được thay thế bằng chứng nhận mới"}
"""How the public verification names each status, in Vietnamese."""


class SettingError(ValueError):
    """A public address the service cannot write into credentials."""


def _base(value, name):
    text = str(value or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise SettingError(f"{name}={text!r}: an http(s) address without query or fragment")
    return text


@dataclass(frozen=True)
class Urls:
    """The public addresses written into credentials (no trailing slash on ``public``;
    ``verify`` ends with one and is followed by the code)."""
    public: str
    verify: str

    @classmethod
    def from_config(cls, config):
        """ASSESSMENT_PUBLIC_URL and VERIFY_URL (default: PORTAL_PUBLIC_URL + /xac-minh/)."""
        public = _base(config.get("ASSESSMENT_PUBLIC_URL") or "http://localhost:8002",
                       "ASSESSMENT_PUBLIC_URL").rstrip("/")
        portal = str(config.get("PORTAL_PUBLIC_URL") or "http://localhost:8005").rstrip("/")
        verify = _base(config.get("VERIFY_URL") or f"{portal}/xac-minh/", "VERIFY_URL")
        return cls(public, verify if verify.endswith("/") else verify + "/")

    def issuer(self, unit_code):
        return f"{self.public}/issuers/{quote(unit_code, safe='')}"

    def jwks(self, unit_code):
        return self.issuer(unit_code) + "/jwks"

    def kid(self, unit_code, key_id):
        """A key's id in a JWS header and in the JWKS: the issuer's URL and the key."""
        return f"{self.issuer(unit_code)}#{key_id}"

    def status_list(self, unit_code, list_no):
        return f"{self.public}/status-lists/{quote(unit_code, safe='')}/{int(list_no)}"

    def verification(self, code):
        return self.verify + code


@dataclass(frozen=True)
class Issuer:
    """An issuing association as the registry named it (issuer_profile), at issuance."""
    unit_code: str
    name: str
    unit_name: str
    province_name: str


def new_code():
    """A verification code: 144 bits from ``secrets``, base64url."""
    return secrets.token_urlsafe(CODE_BYTES)


def _instant(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def profile(urls, issuer):
    """The issuer's Open Badges Profile: who it is and where."""
    return {"@context": list(CONTEXTS), "id": urls.issuer(issuer.unit_code),
            "type": ["Profile"], "name": issuer.name,
            "address": {"type": ["Address"], "addressLocality": issuer.unit_name,
                        "addressRegion": issuer.province_name,
                        "addressCountry": "Việt Nam", "addressCountryCode": "VN"}}


def credential(urls, *, credential_id, issuer, holder_name, year, criteria_version,
               granted_at, list_no, index):
    """The OpenBadgeCredential of a title: the achievement ("Công dân học tập", its criteria
    version), the holder by name, the issuing association, and its entry in the issuer's
    revocation list."""
    issued = _instant(granted_at)
    return {
        "@context": list(CONTEXTS),
        "id": f"urn:uuid:{credential_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": urls.issuer(issuer.unit_code), "type": ["Profile"],
                   "name": issuer.name},
        "validFrom": issued,
        "awardedDate": issued,
        "name": f"{TITLE} năm {int(year)}",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityType": "name",
                            "hashed": False, "identityHash": holder_name}],
            "achievement": {
                "id": ACHIEVEMENT_ID, "type": ["Achievement"], "name": TITLE,
                "description": ACHIEVEMENT_DESCRIPTION,
                "criteria": {"narrative": (
                    f"Đạt các tiêu chí đánh giá, công nhận danh hiệu “{TITLE}” năm "
                    f"{int(year)} theo bộ tiêu chí {criteria_version}.")},
            },
        },
        "credentialStatus": status_entry(urls, issuer.unit_code, list_no, index),
    }


def status_entry(urls, unit_code, list_no, index):
    """A BitstringStatusListEntry: the credential's bit in one of its issuer's lists."""
    url = urls.status_list(unit_code, list_no)
    return {"id": f"{url}#{int(index)}", "type": "BitstringStatusListEntry",
            "statusPurpose": STATUS_PURPOSE, "statusListIndex": str(int(index)),
            "statusListCredential": url}


def jwt_header(kid):
    return {"kid": kid, "typ": JWT_TYP}


def jwt_payload(document, issued_at):
    """The JWT claims of a credential: the credential itself, with the registered claims
    that restate it (iss = its issuer, jti = its id, iat and nbf = when it became valid)."""
    moment = int(issued_at.timestamp())
    return {**document, "iss": document["issuer"]["id"], "jti": document["id"],
            "iat": moment, "nbf": moment}


# -- the status list --------------------------------------------------------------------------
def encode_list(revoked, size=STATUS_LIST_BITS):
    """encodedList of a list whose set bits are ``revoked`` (indexes): the bitstring (index
    0 the left-most bit of the first byte), GZIP-compressed, as multibase base64url ("u",
    no padding)."""
    bits = bytearray(size // 8)
    for index in revoked:
        index = int(index)
        if not 0 <= index < size:
            raise ValueError(f"status index {index} is outside a list of {size} bits")
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + b64url(gzip.compress(bytes(bits), mtime=0))


def status_list_credential(urls, issuer, list_no, revoked, now, size=STATUS_LIST_BITS):
    """The BitstringStatusListCredential of one of an issuer's lists, as of ``now``."""
    url = urls.status_list(issuer.unit_code, list_no)
    return {
        "@context": [VC_CONTEXT], "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": urls.issuer(issuer.unit_code), "name": issuer.name},
        "validFrom": _instant(now),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                              "statusPurpose": STATUS_PURPOSE,
                              "encodedList": encode_list(revoked, size)},
    }


def pick_index(used, size, rand):
    """A free index of a list (``used``: the taken ones), drawn at random (``rand(n)`` an
    int in [0, n)) so that an index tells nothing of when a title was certified; None when
    the list is half full (the next list is opened then, keeping the lists sparse)."""
    used = set(used)
    if len(used) >= size // 2:
        return None
    while True:
        index = rand(size)
        if index not in used:
            return index


# -- the status rules -------------------------------------------------------------------------
def status_of(revoked_at, newer_title_held):
    """valid while the title stands; superseded when it was revoked and the person holds a
    newer title for the same year (a re-evaluation, a digital-skills re-grant); else revoked."""
    if revoked_at is None:
        return VALID
    return SUPERSEDED if newer_title_held else REVOKED


def verification(holder_name, year, issuer_name, status):
    """The public verification answer: what a certificate's reader may check, nothing more."""
    return {"holder_name": holder_name, "title": TITLE, "year": int(year),
            "issuer_name": issuer_name, "status": status,
            "status_label": STATUS_LABELS[status]}


def now():
    return datetime.now(timezone.utc)
