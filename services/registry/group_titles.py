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
from datetime import datetime, timezone

from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cdht.auth import REVIEWERS, STAFF
from cdht.contracts.events import StrictDate
from cdht.outbox import add_event
from cdht.web import ApiError, NotFound, api, correlation_id, load_json
from services.registry import domain, title_rules
from services.registry.models import Group, GroupTitle


class NewTitleSchema(Schema):
    """A title as its decision reads: the year it is for, the decision's number and date,
    and who issued it (e.g. "UBND xã Mỹ Hòa Hưng")."""
    year = fields.Integer(required=True, strict=True)
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


def title_item(title, group, unit_path, change):
    """One entry of group_titles_recorded (and of export_group_titles, without change)."""
    return {"title_id": title.id, "group_id": group.id, "group_kind": group.kind,
            "year": title.year, "decision_number": title.decision_number,
            "decision_date": title.decision_date, "issued_by": title.issued_by,
            "change": change, "unit_code": group.unit_code, "unit_path": unit_path}


class TitleEndpoints:

    def _titled_group(self, request, session, group_id, *, lock=False):
        from services.registry.service import _found, _unit_in_scope
        group = _found(session, Group, group_id, "group", lock=lock)
        _unit_in_scope(request, session, group.unit_code, "the group")
        return group

    def _title_event(self, session, title, group, change, request):
        from services.registry.service import _unit_path
        add_event(session, "group_titles_recorded", {
            "import_id": None, "batch": 1,
            "titles": [title_item(title, group, _unit_path(session, group.unit_code), change)],
        }, producer=self.name, correlation_id=correlation_id(request))

    @api("POST", "/groups/<uuid:group_id>/titles",
         roles=STAFF,
         summary="Record a group's title from its paper decision",
         body=NewTitleSchema,
         response=TitleSchema,
         status=201,
         errors=(409,),
         tag="groups",
         description="Year 2000 to this year; the decision dated within the year or later, "
                     "not in the future. At most one recorded title per group and year. "
                     "Publishes group_titles_recorded.")
    def record_group_title(self, request, group_id):
        data = load_json(request, NewTitleSchema())
        data["decision_number"] = data["decision_number"].strip()
        data["issued_by"] = " ".join(data["issued_by"].split())
        try:
            title_rules.check_title(data["year"], data["decision_number"],
                                    data["decision_date"], data["issued_by"])
        except domain.Invalid as exc:
            raise ApiError(exc.status, "invalid input", exc.errors) from None
        try:
            with self.db.transaction() as session:
                group = self._titled_group(request, session, group_id, lock=True)
                try:
                    title_rules.check_one_per_year(session.scalars(select(GroupTitle.year).where(
                        GroupTitle.group_id == group.id, GroupTitle.withdrawn_at.is_(None))),
                        data["year"])
                except domain.Invalid as exc:
                    raise ApiError(exc.status, "invalid input", exc.errors) from None
                title = GroupTitle(id=uuid.uuid4(), group_id=group.id, **data)
                session.add(title)
                session.flush()
                self._title_event(session, title, group, "recorded", request)
                return 201, TitleSchema().dump(title)
        except IntegrityError as exc:  # a concurrent record of the same year slipped in
            if "uq_group_titles_group_year" not in str(exc.orig):
                raise
            raise ApiError(409, "invalid input", {"year": [
                f"the group already has a recorded title for {data['year']}"]}) from None

    @api("GET", "/groups/<uuid:group_id>/titles",
         roles=REVIEWERS,
         summary="A group's recorded titles",
         response=TitleListSchema,
         tag="groups")
    def list_group_titles(self, request, group_id):
        with self.db.read() as session:
            group = self._titled_group(request, session, group_id)
            titles = session.scalars(select(GroupTitle).where(
                GroupTitle.group_id == group.id, GroupTitle.withdrawn_at.is_(None))
                .order_by(GroupTitle.year)).all()
            return {"group_id": group.id, "items": TitleSchema(many=True).dump(titles)}

    @api("DELETE", "/groups/<uuid:group_id>/titles/<uuid:title_id>",
         roles=STAFF,
         summary="Withdraw a recorded title entered by mistake",
         response=TitleSchema,
         tag="groups",
         description="The record is kept, marked withdrawn; group_titles_recorded tells the "
                     "others (change: withdrawn).")
    def withdraw_group_title(self, request, group_id, title_id):
        with self.db.transaction() as session:
            group = self._titled_group(request, session, group_id, lock=True)
            title = session.get(GroupTitle, title_id, with_for_update=True)
            if title is None or title.group_id != group.id or title.withdrawn_at is not None:
                raise NotFound("recorded title")
            title.withdrawn_at = datetime.now(timezone.utc)
            self._title_event(session, title, group, "withdrawn", request)
            return TitleSchema().dump(title)
