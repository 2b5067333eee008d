"""The rows behind the proof of a title (models: CredentialIssuer, IssuerKey, Credential) as
issuance.py and the routes read and write them, in the caller's transaction; and the one
write a revocation adds (``set_status_bit``), called where a title is revoked
(titles.revoke), so that the status list says so in the same commit."""
from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.assessment.models import Credential, CredentialIssuer, IssuerKey, Recognition


def set_status_bit(session, recognition_id, at):
    """The revoked title's credential (if one was issued) has its status bit set."""
    session.execute(update(Credential).where(Credential.recognition_id == recognition_id,
                                             Credential.revoked_at.is_(None))
                    .values(revoked_at=at).execution_options(synchronize_session=False))


class CredentialStore:
    """Credentials, their issuers and keys, in the caller's session."""

    def __init__(self, session):
        self.session = session

    # -- credentials -------------------------------------------------------------------------
    def of_recognition(self, recognition_id):
        return self.session.scalar(select(Credential).where(
            Credential.recognition_id == recognition_id))

    def by_code(self, code):
        return self.session.scalar(select(Credential).where(
            Credential.verification_code == code))

    def add_credential(self, **columns):
        credential = Credential(**columns)
        self.session.add(credential)
        self.session.flush()
        return credential

    def newer_title_held(self, recognition_id):
        """Whether the person of a (revoked) title holds another, current one for its year:
        a re-evaluation or a digital-skills re-grant replaced it."""
        this = select(Recognition.person_id, Recognition.year).where(
            Recognition.id == recognition_id).subquery()
        return bool(self.session.scalar(select(exists().where(
            Recognition.person_id == this.c.person_id, Recognition.year == this.c.year,
            Recognition.revoked_at.is_(None), Recognition.id != recognition_id))))

    # -- status lists ------------------------------------------------------------------------
    def used_indexes(self, unit_code, list_no):
        return set(self.session.scalars(select(Credential.status_index).where(
            Credential.issuer_code == unit_code, Credential.list_no == list_no)))

    def revoked_indexes(self, unit_code, list_no):
        return list(self.session.scalars(select(Credential.status_index).where(
            Credential.issuer_code == unit_code, Credential.list_no == list_no,
            Credential.revoked_at.is_not(None))))

    # -- issuers and their keys --------------------------------------------------------------
    def issuer(self, unit_code, lock=False):
        return self.session.get(CredentialIssuer, unit_code, with_for_update=lock or None)

    def record_issuer(self, unit_code, unit_path, names, at):
        """The issuer row (made on its first credential, its names refreshed from the
        registry's), locked until the transaction ends: one issuance or key rotation of an
        issuer at a time."""
        stmt = insert(CredentialIssuer).values(unit_code=unit_code, unit_path=unit_path,
                                               **names)
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=["unit_code"], set_={**names, "updated_at": at}))
        return self.session.get(CredentialIssuer, unit_code, with_for_update=True,
                                populate_existing=True)

    def keys(self, unit_code):
        """Every key of the issuer, oldest first."""
        return self.session.scalars(select(IssuerKey).where(IssuerKey.unit_code == unit_code)
                                    .order_by(IssuerKey.created_at, IssuerKey.key_id)).all()

    def active_key(self, unit_code):
        return self.session.scalar(select(IssuerKey).where(
            IssuerKey.unit_code == unit_code, IssuerKey.retired_at.is_(None)))

    def key(self, unit_code, key_id):
        return self.session.get(IssuerKey, (unit_code, key_id))

    def key_count(self, unit_code):
        return self.session.scalar(select(func.count()).select_from(IssuerKey).where(
            IssuerKey.unit_code == unit_code))

    def add_key(self, unit_code, key_id, public_key, private_key):
        key = IssuerKey(unit_code=unit_code, key_id=key_id, public_key=public_key,
                        private_key=private_key)
        self.session.add(key)
        self.session.flush()
        return key

    def retire_keys(self, unit_code, at):
        """The issuer's active key no longer signs (it stays published)."""
        self.session.execute(update(IssuerKey).where(
            IssuerKey.unit_code == unit_code, IssuerKey.retired_at.is_(None))
            .values(retired_at=at).execution_options(synchronize_session=False))
        self.session.flush()
