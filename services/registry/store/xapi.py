"""xAPI statements' and platform accounts' queries."""
from sqlalchemy import func, select, text

from services.registry.models import XapiAccount, XapiStatement


class XapiQueries:

    def xapi_statements(self, ids, lock=False):
        """{id: row} of the stored statements among ``ids`` (locked FOR UPDATE when asked)."""
        if not ids:
            return {}
        stmt = select(XapiStatement).where(XapiStatement.id.in_(list(ids)))
        if lock:
            stmt = stmt.with_for_update()
        return {row.id: row for row in self.session.scalars(stmt)}

    def voiding_of(self, statement_id, platform):
        """The id of a stored voiding statement of ``platform`` that voids ``statement_id``
        (one that came before its target), or None."""
        return self.session.scalar(
            select(XapiStatement.id).where(XapiStatement.voids == statement_id,
                                           XapiStatement.status == "voiding",
                                           XapiStatement.platform == platform)
            .order_by(XapiStatement.stored_at).limit(1))

    def lock_account(self, home_page, account_name):
        """Serialise the statements of one account with its linking (a transaction lock): a
        statement is never left pending beside a link committed meanwhile."""
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                             {"key": f"xapi-account {home_page} {account_name}"})

    def xapi_account(self, home_page, account_name):
        """The live link of an account to its person, or None."""
        return self.session.scalar(select(XapiAccount).where(
            XapiAccount.home_page == home_page, XapiAccount.account_name == account_name,
            XapiAccount.deleted_at.is_(None)))

    def pending_statements(self, home_page, account_name):
        """The account's statements waiting for a link (none voided), oldest first, locked."""
        return self.session.scalars(
            select(XapiStatement).where(XapiStatement.home_page == home_page,
                                        XapiStatement.account_name == account_name,
                                        XapiStatement.status == "pending",
                                        XapiStatement.voided_by.is_(None))
            .order_by(XapiStatement.stored_at, XapiStatement.id).with_for_update()).all()

    def list_xapi_accounts(self, query):
        """One page of a person's linked accounts, oldest first."""
        stmt = select(XapiAccount).where(XapiAccount.person_id == query["person_id"],
                                         XapiAccount.deleted_at.is_(None))
        return self.page(stmt, query, (XapiAccount.created_at, XapiAccount.id))

    def unlinked_accounts(self, query):
        """One page of the accounts whose statements wait for a link: per account, its
        platform, how many statements and when the first and last came."""
        stmt = (select(XapiStatement.home_page, XapiStatement.account_name,
                       XapiStatement.platform, func.count().label("statements"),
                       func.min(XapiStatement.stored_at).label("first_stored"),
                       func.max(XapiStatement.stored_at).label("last_stored"))
                .where(XapiStatement.status == "pending", XapiStatement.voided_by.is_(None))
                .group_by(XapiStatement.home_page, XapiStatement.account_name,
                          XapiStatement.platform))
        if "platform" in query:
            stmt = stmt.where(XapiStatement.platform == query["platform"])
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = self.session.execute(
            stmt.order_by(func.min(XapiStatement.stored_at), XapiStatement.home_page,
                          XapiStatement.account_name)
            .limit(query["limit"]).offset(query["offset"])).mappings().all()
        return [dict(r) for r in rows], {"total": total, "limit": query["limit"],
                                         "offset": query["offset"]}
