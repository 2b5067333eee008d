"""Every query of the registry's HTTP and RPC handlers, one module per resource, composed
into ``Store``: the handlers ask it and never write SQL (as reporting keeps its SQL in
projection.py and reads.py), so they can be tested against an in-memory fake of it.

``Stores`` is the nameko dependency: ``with self.store.transaction() as store`` commits once
(or rolls back), ``with self.store.read() as store`` only reads. A unique index that backs a
rule the handlers check first still gives the same clear 409 (``domain.Conflict``) to a
concurrent writer that slipped in between the check and the insert.
"""
from contextlib import contextmanager

from nameko.extensions import DependencyProvider
from sqlalchemy.exc import IntegrityError

from cdht.db import Database
from services.registry import domain
from services.registry.store.activities import ActivityQueries
from services.registry.store.association import AssociationQueries
from services.registry.store.base import PRODUCER, BaseStore, Scope
from services.registry.store.exports import ExportQueries
from services.registry.store.groups import GroupQueries
from services.registry.store.people import PeopleQueries
from services.registry.store.units import UnitQueries
from services.registry.store.xapi import XapiQueries

__all__ = ("PRODUCER", "Scope", "Store", "Stores", "UNIQUE")

UNIQUE = {
    "people_national_id_key": ("national_id", "a person with this national ID exists"),
    "units_pkey": ("code", "a unit with this code exists"),
    "uq_memberships_one_open_family": ("person_id", "already belongs to a family"),
    "uq_association_members_open": ("person_id", "already holds a position in this body"),
    "uq_groups_kind_code": ("code", "a group of this kind with this code exists"),
    "uq_group_titles_group_year": ("year", "the group already has a recorded title for "
                                           "this year"),
    "xapi_statements_pkey": ("statementId", "a statement with this id is already stored"),
    "uq_xapi_accounts_account": ("name", "this account is already linked to a person"),
}
"""Unique index -> (field, message) of the 409 a violation of it becomes."""


class Store(UnitQueries, PeopleQueries, GroupQueries, AssociationQueries, ActivityQueries,
            XapiQueries, ExportQueries, BaseStore):
    """The registry's queries over one session."""


class Access:
    """What a worker gets: stores bound to a transaction or a read of the service's database."""

    def __init__(self, transactions):
        self._transactions = transactions

    @contextmanager
    def transaction(self):
        try:
            with self._transactions.transaction() as session:
                yield Store(session)
        except IntegrityError as exc:
            name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
            if name not in UNIQUE:
                raise
            field, message = UNIQUE[name]
            raise domain.Conflict({field: [message]}) from None

    @contextmanager
    def read(self):
        with self._transactions.read() as session:
            yield Store(session)


class Stores(DependencyProvider):
    """The registry's store, over the service's ``Database`` dependency (its engine, and the
    outbox relay woken after a commit that staged events)."""

    def get_dependency(self, worker_ctx):
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        return Access(database.get_dependency(worker_ctx))
