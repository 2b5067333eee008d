"""The units and association bodies notifications knows, by name: kept from the registry's
unit_changed and association_body_changed events; units announced before notifications kept
them are asked of the registry (export_units) once, when a message first needs one.

SQL lives here; what a message says of them is wording.py's.
"""
import logging

from nameko.extensions import DependencyProvider
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.notifications import wording
from services.notifications.models import AssociationBody, Unit

log = logging.getLogger(__name__)
DECIDING_BODY = "commune_association"


def _unit_values(data):
    return {"unit_path": list(data["unit_path"]), "unit_name": data["unit_name"],
            "kind": data["kind"], "valid_from": data.get("valid_from"),
            "valid_to": data.get("valid_to"),
            "closed": bool(data.get("closed", data.get("change") == "closed"))}


def record_unit(session, data):
    """A unit_changed event: the unit as it is now (the latest event wins)."""
    values = _unit_values(data)
    stmt = insert(Unit).values(unit_code=data["unit_code"], **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["unit_code"], set_=values))


def path_of(session, unit_code):
    """The unit's path as last told, or None for a unit not known here."""
    path = session.scalar(select(Unit.unit_path).where(Unit.unit_code == unit_code))
    return None if path is None else list(path)


def import_units(session, units):
    """The registry's export: units an event already told of keep what the event said.
    How many were new."""
    rows = [{"unit_code": u["unit_code"], **_unit_values(u)} for u in units]
    if not rows:
        return 0
    result = session.execute(insert(Unit).values(rows).on_conflict_do_nothing()
                             .returning(Unit.unit_code))
    return len(result.all())


def record_body(session, data):
    """An association_body_changed event (a removed body stops signing)."""
    values = {"kind": data["kind"], "body_name": data["body_name"],
              "parent_id": data.get("parent_id"), "unit_code": data["unit_code"],
              "unit_path": list(data["unit_path"]), "removed": data["change"] == "removed"}
    stmt = insert(AssociationBody).values(body_id=data["body_id"], **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["body_id"], set_=values))


def codes_in(paths):
    return sorted({code for path in paths for code in path if code})


def unknown(session, codes):
    """The codes of ``codes`` no unit is known for."""
    known = set(session.scalars(select(Unit.unit_code).where(Unit.unit_code.in_(codes))))
    return set(codes) - known


def load(session, codes, level):
    """wording.Places for the units ``codes``: names, kinds, commune associations' names."""
    units = {row.unit_code: {"unit_name": row.unit_name, "kind": row.kind}
             for row in session.execute(select(Unit.unit_code, Unit.unit_name, Unit.kind)
                                        .where(Unit.unit_code.in_(codes)))}
    bodies = {}
    for unit_code, name in session.execute(
            select(AssociationBody.unit_code, AssociationBody.body_name)
            .where(AssociationBody.unit_code.in_(codes),
                   AssociationBody.kind == DECIDING_BODY, AssociationBody.removed.is_(False))
            .order_by(AssociationBody.unit_code, AssociationBody.updated_at)):
        bodies[unit_code] = name  # the latest of a unit's (normally one) association
    return wording.Places(units, bodies, level)


class UnitDirectory(DependencyProvider):
    """Per service process: the approval level (APPROVAL_LEVEL), the unit codes already known
    to have a name here, and whether the registry's export_units has been fetched (once, the
    first time a message names a unit that no event told of; a failed fetch is tried again by
    the next such message). Units are never deleted here, so once every code of a message is
    known, preparing it costs no query."""

    def setup(self):
        level = str(self.container.config.get("APPROVAL_LEVEL") or wording.COMMUNE)
        self.level = level.strip().lower()
        if self.level not in (wording.COMMUNE, wording.PROVINCE):
            raise ValueError(f"APPROVAL_LEVEL={level!r}: must be commune or province")
        self.imported = False
        self.known = set()

    def get_dependency(self, worker_ctx):
        return self

    def learn(self, db, paths, export_units):
        """Make sure the units on ``paths`` can be named, before the transaction that sends:
        ``export_units()`` asks the registry for those no event told of. A registry that does
        not answer leaves codes in place of names: the message still goes."""
        codes = set(codes_in(paths)) - self.known
        if not codes or self.imported:
            return
        with db.read() as session:
            missing = unknown(session, codes)
        self.known |= codes - missing
        if missing:
            self._import(db, export_units, missing)

    def places(self, session, paths):
        """wording.Places for the units on ``paths``, read in the caller's ``session``."""
        codes = codes_in(paths)
        if not codes:
            return wording.Places(level=self.level)
        return load(session, codes, self.level)

    def _import(self, db, export_units, missing):
        try:
            units = export_units()
        except Exception as exc:  # RpcUnavailable, a registry without export_units, ...
            log.warning("unit names of %s unknown and the registry's export_units failed "
                        "(%s: %s): codes shown instead", ", ".join(sorted(missing)),
                        type(exc).__name__, exc)
            return
        with db.transaction() as session:
            added = import_units(session, units or [])
        self.imported = True
        log.info("unit names: %d units from the registry's export_units", added)
