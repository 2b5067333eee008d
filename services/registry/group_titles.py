"""Group titles recorded from their paper decisions, over HTTP (a mixin of RegistryService).

    POST   /groups/<id>/titles              {year, decision_number, decision_date, issued_by}
    GET    /groups/<id>/titles              the group's recorded titles, by year
    DELETE /groups/<id>/titles/<title_id>   withdraw a record entered by mistake

A province holds hundreds of thousands of these on paper from before CDHT; they are facts
kept here (the registry), not decisions of the assessment service, and each change leaves as
``group_titles_recorded`` (one item; a bulk import sends up to 5,000 per event). The rules
are in title_rules.py, shared with the import.
"""
import uuid

from marshmallow import Schema, fields, validate

from cdht.auth import REVIEWERS, STAFF
from cdht.contracts.events import StrictDate
from cdht.resources import Routes
from cdht.web import NotFound, load_json
from services.registry import title_rules
from services.registry.groups import GROUP
from services.registry.handlers import changing, now, reading, rules
from services.registry.models import GroupTitle


class NewTitleSchema(Schema):
    """A title as its decision reads: the year it is for, the decision's number and date,
    and who issued it (e.g. "UBND xã Mỹ Hòa Hưng")."""
    year = fields.Integer(required=True, strict=True,
                          validate=validate.Range(min=title_rules.FIRST_YEAR))
    decision_number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    decision_date = StrictDate(required=True)
    issued_by = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TitleSchema(Schema):
    id = fields.UUID()
    group_id = fields.UUID()
    year = fields.Integer()
    decision_number = fields.String()
    decision_date = fields.Date()
    issued_by = fields.String()
    import_id = fields.UUID(allow_none=True, metadata={
        "description": "the groups import that recorded it; null when entered by hand"})
    created_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)


class TitleListSchema(Schema):
    group_id = fields.UUID()
    items = fields.List(fields.Nested(TitleSchema))


TITLES = Routes("/groups/<uuid:group_id>/titles",
                "/groups/<uuid:group_id>/titles/<uuid:title_id>", TitleSchema, tag="groups")


def title_item(title, group, unit_path, change):
    """One entry of group_titles_recorded (and of export_group_titles, without change)."""
    return {"title_id": title.id, "group_id": group.id, "group_kind": group.kind,
            "year": title.year, "decision_number": title.decision_number,
            "decision_date": title.decision_date, "issued_by": title.issued_by,
            "change": change, "unit_code": group.unit_code, "unit_path": unit_path}


def _title_event(store, title, group, change):
    store.stage("group_titles_recorded", {
        "import_id": None, "batch": 1,
        "titles": [title_item(title, group, store.unit_path(group.unit_code), change)],
    })


class TitleEndpoints:

    @TITLES.create(STAFF, "Record a group's title from its paper decision", body=NewTitleSchema,
                   errors=(409,),
                   description="Year 2000 to this year; the decision dated within the year or "
                               "later, not in the future. At most one recorded title per group "
                               "and year. Publishes group_titles_recorded.")
    def record_group_title(self, request, group_id):
        data = load_json(request, NewTitleSchema())
        data["decision_number"] = data["decision_number"].strip()
        data["issued_by"] = " ".join(data["issued_by"].split())
        with rules():
            title_rules.check_title(data["year"], data["decision_number"],
                                    data["decision_date"], data["issued_by"])
        with changing(self.store, request, GROUP, group_id) as (store, group):
            title_rules.check_one_per_year(store.title_years(group.id), data["year"])
            title = GroupTitle(id=uuid.uuid4(), group_id=group.id, **data)
            store.add(title)
            store.flush()
            _title_event(store, title, group, "recorded")
            return 201, TitleSchema().dump(title)

    @TITLES.lists(REVIEWERS, "A group's recorded titles", response=TitleListSchema)
    def list_group_titles(self, request, group_id):
        with reading(self.store, request, GROUP, group_id) as (store, group):
            return {"group_id": group.id,
                    "items": TitleSchema(many=True).dump(store.titles_of(group.id))}

    @TITLES.delete(STAFF, "Withdraw a recorded title entered by mistake",
                   description="The record is kept, marked withdrawn; group_titles_recorded "
                               "tells the others (change: withdrawn).")
    def withdraw_group_title(self, request, group_id, title_id):
        with changing(self.store, request, GROUP, group_id) as (store, group):
            title = store.row(GroupTitle, title_id, lock="update")
            if title is None or title.group_id != group.id or title.withdrawn_at is not None:
                raise NotFound("recorded title")
            title.withdrawn_at = now()
            _title_event(store, title, group, "withdrawn")
            return TitleSchema().dump(title)
