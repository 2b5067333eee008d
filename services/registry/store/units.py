"""The unit tree's queries: lists, history, what stands under a unit, and a merge's moves."""
from sqlalchemy import or_, select, text, update

from services.registry.models import AssociationBody, Group, Person, Unit, UnitChange

_BELOW_SQL = text("""
    WITH RECURSIVE down(code, depth) AS (
        SELECT code, 0 FROM units WHERE parent_code = :code
        UNION ALL
        SELECT u.code, down.depth + 1 FROM units u JOIN down ON u.parent_code = down.code
        WHERE down.depth < 16)
    SELECT code FROM down ORDER BY code""")


class UnitQueries:

    def list_units(self, query, scope):
        stmt = select(Unit).where(Unit.deleted_at.is_(None))
        if "as_of" in query:
            day = query["as_of"]
            stmt = stmt.where(or_(Unit.valid_from.is_(None), Unit.valid_from <= day),
                              or_(Unit.valid_to.is_(None), Unit.valid_to >= day))
        if "parent_code" in query:
            stmt = stmt.where(Unit.parent_code == query["parent_code"])
        if "kind" in query:
            stmt = stmt.where(Unit.kind == query["kind"])
        if "q" in query:
            stmt = stmt.where(or_(Unit.name.icontains(query["q"], autoescape=True),
                                  Unit.code.icontains(query["q"], autoescape=True)))
        return self.page(self.within(stmt, Unit.code, scope), query, (Unit.code,))

    def unit_changes_of(self, code):
        """The merges a unit took part in, either side, oldest first."""
        return self.session.scalars(select(UnitChange).where(or_(
            UnitChange.from_codes.any(code), UnitChange.to_codes.any(code)))
            .order_by(UnitChange.effective_on, UnitChange.created_at)).all()

    def successor_of(self, code):
        """The codes the unit was last merged into, or None."""
        return self.session.scalar(select(UnitChange.to_codes).where(
            UnitChange.from_codes.any(code)).order_by(UnitChange.effective_on.desc()))

    def child_kinds(self, code):
        return list(self.session.scalars(select(Unit.kind).where(
            Unit.parent_code == code, Unit.deleted_at.is_(None))))

    def unit_parents(self):
        """{code: parent_code} of every unit (a province has a few hundred)."""
        return dict(self.session.execute(select(Unit.code, Unit.parent_code)).all())

    def people_under(self, code):
        """Whether anyone is registered in the unit or below it."""
        return self.session.scalar(select(Person.id).where(
            Person.unit_code.in_(self.subtree(code)), Person.deleted_at.is_(None))
            .limit(1)) is not None

    def unit_in_use(self, code):
        """What still stands directly under the unit: names of the kinds, [] when nothing."""
        return [what for what, stmt in (
            ("units", select(Unit.code).where(Unit.parent_code == code,
                                              Unit.deleted_at.is_(None))),
            ("people", select(Person.id).where(Person.unit_code == code,
                                               Person.deleted_at.is_(None))),
            ("groups", select(Group.id).where(Group.unit_code == code,
                                              Group.deleted_at.is_(None))),
            ("association bodies", select(AssociationBody.id).where(
                AssociationBody.unit_code == code, AssociationBody.deleted_at.is_(None))),
        ) if self.session.scalar(stmt.limit(1)) is not None]

    def lock_units(self, codes):
        """The live units among ``codes``, locked FOR UPDATE."""
        return self.session.scalars(select(Unit).where(
            Unit.code.in_(codes), Unit.deleted_at.is_(None)).with_for_update()).all()

    def with_open_children(self, codes, on):
        """Those of ``codes`` with a live child still valid on ``on``."""
        return set(self.session.scalars(select(Unit.parent_code).where(
            Unit.parent_code.in_(codes), Unit.deleted_at.is_(None),
            or_(Unit.valid_to.is_(None), Unit.valid_to >= on))))

    def move_to_unit(self, codes, code, now):
        """Move the live people, groups and bodies of ``codes`` to ``code``; how many each,
        and the ids of the people moved (``person_ids``, for the audit)."""
        moved = {}
        for model, key in ((Person, "people"), (Group, "groups"), (AssociationBody, "bodies")):
            ids = self.session.scalars(
                update(model).where(model.unit_code.in_(codes), model.deleted_at.is_(None))
                .values(unit_code=code, updated_at=now).returning(model.id)
                .execution_options(synchronize_session=False)).all()
            moved[key] = len(ids)
            if model is Person:
                moved["person_ids"] = sorted(ids)
        return moved

    def units(self, codes):
        """The units ``codes`` (deleted or not), by code."""
        return self.session.scalars(select(Unit).where(Unit.code.in_(codes))
                                    .order_by(Unit.code)).all()

    def units_below(self, code):
        """Every unit under ``code``, at any depth, by code."""
        return self.units(list(self.session.scalars(_BELOW_SQL, {"code": code})))

    def all_units(self):
        """Every unit, current, closed and deleted, by code."""
        return self.session.scalars(select(Unit).order_by(Unit.code)).all()

    def is_root(self, code):
        """Whether ``code`` is a unit without a parent (a province)."""
        return self.session.scalar(select(Unit.code).where(
            Unit.code == code, Unit.parent_code.is_(None))) is not None
