"""The unit tree over HTTP (a mixin of RegistryService): create, list, read, change, delete
and merge units. A change that would move people's unit paths is a merge, never an edit:
one ``units_merged`` event then tells every consumer at once."""
from datetime import date

from cdht.auth import EVERYONE, PROVINCE, REVIEWERS
from cdht.resources import Routes
from cdht.web import ApiError, api, caller_of, load_json
from services.registry import domain, structure_events as announce
from services.registry.handlers import (
    Resource, audit, changing, dumped, invalid, now, patch, rules, unit_in_scope,
)
from services.registry.models import Unit, UnitChange
from services.registry.schemas import (
    MergeResultSchema, MergeSchema, UnitChangeSchema, UnitDetailSchema, UnitPatchSchema,
    UnitQuery, UnitSchema,
)


def unit_detail(store, unit):
    changes = store.unit_changes_of(unit.code)
    dump = UnitChangeSchema(many=True).dump
    return UnitSchema().dump(unit) | {
        "path": store.unit_path(unit.code),
        "merged_from": dump([c for c in changes if unit.code in c.to_codes]),
        "merged_into": dump([c for c in changes if unit.code in c.from_codes]),
    }


def _in_scope(request, store, unit):
    unit_in_scope(request, store, unit.code)


UNIT = Resource(Unit, "unit", _in_scope, "list_units")
UNITS = Routes("/units", "/units/<string:code>", UnitSchema, rows=UNIT)


def _parent(store, code):
    """(the parent unit or None, whether it is known): no code is a known "no parent"."""
    parent = store.row(Unit, code) if code else None
    return parent, not code or (parent is not None and parent.deleted_at is None)


STRUCTURE = ("kind", "parent_code")
"""What places a unit in the tree: only an admin changes it (staff rename, date, delete)."""


def _structure_by_admin(request, unit, data):
    """403 (``unit_structure_admin_only``) when a non-admin would change a unit's kind or
    parent: a province's staff could otherwise make a province of a commune, or move a unit
    out of their province."""
    changed = [f for f in STRUCTURE if f in data and data[f] != getattr(unit, f)]
    if changed and not caller_of(request).is_admin:
        raise _admin_only("only an admin changes where a unit sits in the tree", changed)


def _admin_only(message, fields):
    return ApiError(403, message, {"code": "unit_structure_admin_only",
                                   **{f: ["only an admin sets this"] for f in fields}})


class UnitEndpoints:
    list_units = UNITS.list(REVIEWERS, "List units (valid on a day with as_of)",
                            query=UnitQuery, view=dumped(UnitSchema))
    # everyone: a citizen reads their own unit's name (a unit outside one's subtree is a 403)
    get_unit = UNITS.read(EVERYONE, "Read a unit, its path and its merge history",
                          view=unit_detail, response=UnitDetailSchema)

    @UNITS.create(PROVINCE, "Create a unit", body=UnitSchema, errors=(409,))
    def create_unit(self, request):
        data = load_json(request, UnitSchema())
        with rules(), self.store.transaction() as store:
            if store.row(Unit, data["code"]):
                raise invalid({"code": ["a unit with this code exists"]}, 409)
            parent, known = _parent(store, data["parent_code"])
            if not data["parent_code"] and not caller_of(request).is_admin:
                raise _admin_only("only an admin creates a province (a unit without a parent)",
                                  ["parent_code"])
            unit_in_scope(request, store, data["parent_code"], "the parent unit")
            domain.check_unit(data["kind"], parent.kind if parent else None,
                              data["valid_from"], data["valid_to"], parent_known=known)
            store.add(unit := Unit(**data))
            announce.unit_changed(store, unit, "created")
        return 201, UnitSchema().dump(data)

    @UNITS.update(PROVINCE, "Change a unit (its kind and parent: admins only)",
                  body=UnitPatchSchema, response=UnitDetailSchema, errors=(409,))
    def update_unit(self, request, code):
        data = load_json(request, UnitPatchSchema())
        with changing(self.store, request, UNIT, code) as (store, unit):
            _structure_by_admin(request, unit, data)
            if data.get("parent_code"):
                unit_in_scope(request, store, data["parent_code"], "the new parent unit")
            merged = {f: getattr(unit, f) for f in ("kind", "parent_code", "valid_from",
                                                   "valid_to")} | data
            parent, known = _parent(store, merged["parent_code"])
            reparented = data.get("parent_code", unit.parent_code) != unit.parent_code
            domain.check_unit(merged["kind"], parent.kind if parent else None,
                              merged["valid_from"], merged["valid_to"], parent_known=known)
            domain.check_children(merged["kind"], store.child_kinds(code))
            if reparented:
                domain.check_reparent(code, data["parent_code"], store.unit_parents())
            closed = merged["valid_to"] is not None and merged["valid_to"] < date.today()
            if (reparented or closed) and store.people_under(code):
                # every person below would change unit_path, or count in a closed unit:
                # that is a merge (one event for all), not an edit
                field = "parent_code" if reparented else "valid_to"
                raise invalid({field: ["people are registered under this unit; "
                                       "use POST /units/merge"]}, 409)
            before = announce.unit_state(unit)
            patch(unit, data)
            announce.unit_updated(store, unit, before, reparented)
            store.flush()
            return unit_detail(store, unit)

    @UNITS.delete(PROVINCE, "Delete a unit entered by mistake (soft)", errors=(409,))
    def delete_unit(self, request, code):
        with changing(self.store, request, UNIT, code) as (store, unit):
            in_use = store.unit_in_use(code)
            if in_use:
                raise invalid({"code": ["still has " + ", ".join(in_use) + " under it"]}, 409)
            unit.deleted_at = now()
            announce.unit_deleted(store, unit)
            return UnitSchema().dump(unit)

    @api("POST", "/units/merge",
         roles=PROVINCE,
         summary="Merge units into one, moving their people and groups",
         body=MergeSchema,
         response=MergeResultSchema,
         status=201,
         errors=(409,),
         description="One transaction: creates or uses the target, closes the old units the "
                     "day before effective_on, moves people, groups and association bodies, "
                     "records the history and publishes units_merged.")
    def merge_units(self, request):
        data = load_json(request, MergeSchema())
        into, effective_on, from_codes = data["into"], data["effective_on"], data["from_codes"]
        with rules(), self.store.transaction() as store:
            for code in from_codes:
                unit_in_scope(request, store, code, f"unit {code}")
            unit_in_scope(request, store, into["parent_code"] if into["new"] else into["code"],
                          "the unit merged into")
            if into["new"] and not into["parent_code"] and not caller_of(request).is_admin:
                raise _admin_only("only an admin creates a province (a unit without a parent)",
                                  ["into"])
            rows = store.lock_units(from_codes)
            self._check_merge(store, rows, data)
            if into["new"]:
                self._new_merge_target(store, into, effective_on)
            code, moment = into["code"], now()
            from_paths = [store.unit_path(c) for c in from_codes]
            for unit in rows:
                unit.valid_to = domain.closing_date(effective_on)
                unit.updated_at = moment
            body_ids = store.body_ids_in(from_codes)
            moved = store.move_to_unit(from_codes, code, moment)
            envelope = store.stage("units_merged", {
                "unit_code": code, "unit_path": store.unit_path(code),
                "from_unit_paths": from_paths, "effective_on": effective_on,
                "people_moved": moved["people"],
            })
            announce.merged(store, [u.code for u in rows], body_ids)
            if moved["people"]:
                audit(store, request, "merge", None, ["unit_code"], people=moved["people"],
                      person_ids=moved["person_ids"])
            change = UnitChange(id=envelope.event_id, kind="merge", effective_on=effective_on,
                                from_codes=from_codes, to_codes=[code], note=data["note"],
                                people_moved=moved["people"], created_at=moment)
            store.add(change)
            store.flush()
            result = {"change": UnitChangeSchema().dump(change),
                      "unit": UnitSchema().dump(store.row(Unit, code)),
                      "people_moved": moved["people"], "groups_moved": moved["groups"],
                      "bodies_moved": moved["bodies"]}
        return 201, result

    @staticmethod
    def _check_merge(store, rows, data):
        """The merge's rules (domain.check_merge) against the units as locked now."""
        into, effective_on = data["into"], data["effective_on"]
        by_code = {u.code: u for u in rows}
        with_children = store.with_open_children(data["from_codes"], effective_on)
        from_units = {c: None if c not in by_code else {
            "valid_from": by_code[c].valid_from, "valid_to": by_code[c].valid_to,
            "open_children": c in with_children} for c in data["from_codes"]}
        existing = store.row(Unit, into["code"], lock="update")
        if existing is not None and existing.deleted_at is not None:
            existing = None
        if into["new"]:
            target = {"code": into["code"], "valid_from": effective_on, "valid_to": None}
        else:
            target = existing and {"code": existing.code, "valid_from": existing.valid_from,
                                   "valid_to": existing.valid_to}
        domain.check_merge(from_units, target, effective_on, target_is_new=into["new"])

    @staticmethod
    def _new_merge_target(store, into, effective_on):
        """The unit a merge creates, valid from the merge's day, announced as created."""
        if store.row(Unit, into["code"]) is not None:
            raise invalid({"into": {"code": ["a unit with this code exists"]}}, 409)
        parent, known = _parent(store, into["parent_code"])
        with rules(nest="into"):
            domain.check_unit(into["kind"], parent.kind if parent else None,
                              parent_known=known)
        store.add(new := Unit(code=into["code"], name=into["name"], kind=into["kind"],
                              parent_code=into["parent_code"], valid_from=effective_on))
        announce.unit_changed(store, new, "created")
