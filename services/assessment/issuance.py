"""Issuing the proof of a title, rotating an issuer's key, and signing its status lists: the
steps the routes (credentials_api.py) take on a ``store`` (credential_store.CredentialStore),
in the caller's transaction. Plain Python: the credential's content is credentials.py's, the
keys and signatures issuer_keys.py's.

One credential per title, whatever the number of concurrent requests: the title's row is
locked before the credential is looked for, and the issuer's row while its key and a status
index are taken.
"""
import secrets as randomness
import uuid
from dataclasses import dataclass

from services.assessment import credentials, issuer_keys


@dataclass(frozen=True)
class Signing:
    """What signing needs: the key-encryption secrets and the public addresses."""
    secrets: issuer_keys.Secrets
    urls: credentials.Urls


def issuer_of(row):
    return credentials.Issuer(row.unit_code, row.name, row.unit_name, row.province_name)


def status(store, credential, recognition):
    """The credential's status now, from its title (credentials.status_of)."""
    revoked = recognition.revoked_at
    return credentials.status_of(revoked, revoked is not None
                                 and store.newer_title_held(recognition.id))


def _new_key(store, signing, unit_code):
    key_id = f"key-{store.key_count(unit_code) + 1}"
    private, public = issuer_keys.generate(signing.secrets, unit_code, key_id)
    return store.add_key(unit_code, key_id, public, private)


def _signing_key(store, signing, unit_code):
    """(IssuerKey, private key) of the issuer's active key, made if it has none."""
    key = store.active_key(unit_code) or _new_key(store, signing, unit_code)
    return key, issuer_keys.decrypt(signing.secrets, key.private_key, unit_code, key.key_id)


def _status_entry(store, issuer, rand):
    """(list, index) of a free entry, at random in the issuer's current list; the next list
    is opened when that one is half full."""
    while True:
        index = credentials.pick_index(store.used_indexes(issuer.unit_code,
                                                          issuer.current_list),
                                       credentials.STATUS_LIST_BITS, rand)
        if index is not None:
            return issuer.current_list, index
        issuer.current_list += 1


def issue(store, signing, recognition, *, issuer_code, issuer_path, names, holder_name,
          rand=randomness.randbelow):
    """The credential of a (locked, current) title, signed with the issuer's key: made now,
    or the one issued already. ``names``: the issuer's (name, unit_name, province_name) as
    the registry gives them now; they and ``holder_name`` are kept as issued."""
    existing = store.of_recognition(recognition.id)
    if existing is not None:
        return existing
    now = credentials.now()
    row = store.record_issuer(issuer_code, issuer_path, names, now)
    issuer = issuer_of(row)
    key, private = _signing_key(store, signing, issuer_code)
    list_no, index = _status_entry(store, row, rand)
    credential_id = uuid.uuid4()
    document = credentials.credential(
        signing.urls, credential_id=credential_id, issuer=issuer, holder_name=holder_name,
        year=recognition.year, criteria_version=recognition.criteria_version,
        granted_at=recognition.granted_at, list_no=list_no, index=index)
    token = issuer_keys.sign(private, credentials.jwt_header(
        signing.urls.kid(issuer_code, key.key_id)),
        credentials.jwt_payload(document, recognition.granted_at))
    return store.add_credential(
        id=credential_id, recognition_id=recognition.id,
        verification_code=credentials.new_code(), issuer_code=issuer_code, key_id=key.key_id,
        list_no=list_no, status_index=index, holder_name=holder_name, issuer_name=issuer.name,
        year=recognition.year, criteria_version=recognition.criteria_version,
        document=document, jwt=token, issued_at=now)


def rotate(store, signing, unit_code):
    """A new signing key for an issuer, its active one retired (still published: what it
    signed still verifies). None for an issuer that has signed nothing yet."""
    if store.issuer(unit_code, lock=True) is None:
        return None
    retired = store.active_key(unit_code)
    store.retire_keys(unit_code, credentials.now())
    return retired, _new_key(store, signing, unit_code)


def jwks(store, signing, unit_code):
    """The issuer's JWKS: every key it ever had, the retired ones marked."""
    return {"keys": [issuer_keys.jwk(k.public_key, signing.urls.kid(unit_code, k.key_id),
                                     k.retired_at) for k in store.keys(unit_code)]}


def status_list(store, signing, unit_code, list_no):
    """The signed BitstringStatusListCredential of one of an issuer's lists (as of now), or
    None for a list it does not have."""
    row = store.issuer(unit_code)
    if row is None or not 0 <= list_no <= row.current_list:
        return None
    key = store.active_key(unit_code)
    if key is None:
        return None
    private = issuer_keys.decrypt(signing.secrets, key.private_key, unit_code, key.key_id)
    now = credentials.now()
    document = credentials.status_list_credential(
        signing.urls, issuer_of(row), list_no, store.revoked_indexes(unit_code, list_no), now)
    return issuer_keys.sign(private, credentials.jwt_header(
        signing.urls.kid(unit_code, key.key_id)), credentials.jwt_payload(document, now))
