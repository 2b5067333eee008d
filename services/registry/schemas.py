"""Payloads of the registry's HTTP API and RPC, and the query strings of its lists.

``New*`` schemas load a POST body, ``*Patch`` schemas a PATCH body (every field optional,
none defaulted, so only what the caller sent changes), the plain schemas dump responses,
``*Query`` schemas load query strings. Unknown fields are refused everywhere (marshmallow's
default), so a typo is a 400, not a silently ignored filter. The OpenAPI document is built
from these same classes, so a 400 names a rule it states; the rules it cannot state (an
unknown unit, a field against another or against what is recorded) answer 422.
"""
from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from cdht.contracts.events import ROLES, TARGET_GROUPS
from cdht.openapi import PageQuery, page_of  # noqa: F401  (page_of: for the service)
from cdht.web import UtcDateTime
from services.registry.audit_chain import AUDIT_ACTIONS
from services.registry.domain import (
    ACTIVITY_KINDS, ASSOCIATION_ROLES, BODY_KINDS, GROUP_KINDS, GROUP_ROLES,
    LEARNING_UNIT_LEVELS, MAX_ACTIVITY_HOURS, MAX_MERGED_UNITS, UNIT_KINDS, mask_national_id,
)

GENDERS = ("male", "female", "other")
UNIT_CODE = validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$",
                            error="1 to 64 letters, digits, '.', '_' or '-'")
# 12 digits, the first three a province code from 001 to 096 (domain.national_id_problems:
# whether the next three fit the birth date and gender is a rule between fields, a 422)
NATIONAL_ID = validate.Regexp(r"^(00[1-9]|0[1-8][0-9]|09[0-6])[0-9]{9}$",
                              error="12 digits, the first three a province code from 001 "
                                    "to 096")
# A link to evidence: http or https, a host name, then a path without spaces
EVIDENCE_URL = validate.Regexp(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$",
                               error="an http or https URL")


def _name(max_length=200):
    return fields.String(required=True, validate=validate.Length(min=1, max=max_length))


# -- units ------------------------------------------------------------------------------------
class UnitSchema(Schema):
    """A unit of the tree; valid_from and valid_to are inclusive, null means open."""
    code = fields.String(required=True, validate=UNIT_CODE)
    name = _name()
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    parent_code = fields.String(load_default=None, allow_none=True)
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_to = fields.Date(load_default=None, allow_none=True)


class UnitPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf(UNIT_KINDS))
    parent_code = fields.String(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)


class UnitChangeSchema(Schema):
    """A merge (or split) in the history of the tree."""
    id = fields.UUID(metadata={"description": "also the event_id of its units_merged event"})
    kind = fields.String(validate=validate.OneOf(("merge", "split")))
    effective_on = fields.Date()
    from_codes = fields.List(fields.String())
    to_codes = fields.List(fields.String())
    note = fields.String(allow_none=True)
    people_moved = fields.Integer()
    created_at = fields.DateTime()


class UnitDetailSchema(UnitSchema):
    path = fields.List(fields.String(), metadata={"description": "codes, province first"})
    merged_from = fields.List(fields.Nested(UnitChangeSchema),
                              metadata={"description": "merges that made this unit"})
    merged_into = fields.List(fields.Nested(UnitChangeSchema),
                              metadata={"description": "the merge that closed this unit"})


class UnitQuery(PageQuery):
    as_of = fields.Date(metadata={"description": "only units valid on that day"})
    parent_code = fields.String()
    kind = fields.String(validate=validate.OneOf(UNIT_KINDS))
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "part of the name or code"})


class UnitRef(fields.Field):
    """Either the code of an existing unit, or a new unit to create (the merge's target)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            UNIT_CODE(value)  # raises ValidationError
            return {"code": value, "new": False}
        if isinstance(value, dict):
            try:
                loaded = NewMergedUnitSchema().load(value)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
            return loaded | {"new": True}
        raise ValidationError("an existing unit's code, or a new unit "
                              "{code, name, kind, parent_code}")


class NewMergedUnitSchema(Schema):
    code = fields.String(required=True, validate=UNIT_CODE)
    name = _name()
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    parent_code = fields.String(load_default=None, allow_none=True)


class MergeSchema(Schema):
    """Merge units into one (e.g. the reorganisation of 1 July 2025)."""
    from_codes = fields.List(fields.String(validate=UNIT_CODE), required=True,
                             validate=validate.Length(min=1, max=MAX_MERGED_UNITS),
                             metadata={"uniqueItems": True})
    into = UnitRef(required=True, metadata={
        "oneOf": [{"type": "string", "pattern": UNIT_CODE.regex.pattern,
                   "description": "code of an existing unit"},
                  {"$ref": "#/components/schemas/NewMergedUnit"}]})
    effective_on = fields.Date(required=True, metadata={
        "description": "first day of the merged unit; the old ones close the day before"})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=2000))

    @validates_schema
    def _distinct(self, data, **kwargs):
        codes = data.get("from_codes") or []
        if len(set(codes)) != len(codes):
            raise ValidationError("a unit is named twice", "from_codes")


class MergeResultSchema(Schema):
    change = fields.Nested(UnitChangeSchema)
    unit = fields.Nested(UnitSchema)
    people_moved = fields.Integer()
    groups_moved = fields.Integer()
    bodies_moved = fields.Integer()


# -- people -----------------------------------------------------------------------------------
class NewPersonSchema(Schema):
    national_id = fields.String(required=True, load_only=True, validate=NATIONAL_ID,
                                metadata={"description": "12-digit citizen ID (căn cước công "
                                                         "dân); never shown back, only masked"})
    full_name = _name()
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    birth_date = fields.Date(required=True)
    ethnicity = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=50))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9]{9,15}$"))
    email = fields.Email(load_default=None, allow_none=True)
    language = fields.String(load_default="vi", validate=validate.OneOf(("vi", "en")))
    unit_code = fields.String(required=True)
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), load_default=list)


class PersonPatchSchema(Schema):
    """Only the fields sent change; a changed unit_code is a move (person_moved)."""
    national_id = fields.String(load_only=True, validate=NATIONAL_ID)
    full_name = fields.String(validate=validate.Length(min=1, max=200))
    gender = fields.String(validate=validate.OneOf(GENDERS))
    birth_date = fields.Date()
    ethnicity = fields.String(allow_none=True, validate=validate.Length(max=50))
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^\+?[0-9]{9,15}$"))
    email = fields.Email(allow_none=True)
    language = fields.String(validate=validate.OneOf(("vi", "en")))
    unit_code = fields.String()
    target_group = fields.String(validate=validate.OneOf(TARGET_GROUPS))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)))


class PersonSchema(NewPersonSchema):
    """A person as the API shows it: the national ID only masked, and the other personal
    fields as the caller's role may see them (disclosure.PERSON_VIEW): a reviewer gets the
    phone and email masked, the birth year without the date, no ethnicity."""
    id = fields.UUID()
    birth_date = fields.Date(metadata={"description": "left out where the role sees the "
                                                      "birth year only"})
    birth_year = fields.Method("_birth_year", metadata={"type": "integer"})
    ethnicity = fields.String(allow_none=True, metadata={
        "description": "left out where the role does not need it"})
    phone = fields.String(allow_none=True, metadata={
        "pattern": r"^\+?[0-9*]{9,15}$", "example": "09******12",
        "description": "whole, or masked (first and last two characters) by role"})
    email = fields.String(allow_none=True, metadata={
        "format": "email", "example": "n***@example.org",
        "description": "whole, or masked (first character and the domain) by role"})
    national_id_masked = fields.Method("_mask", metadata={
        "type": "string", "description": "the last four digits only", "example": "********0123"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    is_adult = fields.Boolean(dump_only=True, metadata={
        "description": "ADULT_AGE or older on the reference date (reference_date, or today)"})

    def _mask(self, person):
        return mask_national_id(person.national_id)

    def _birth_year(self, person):
        return person.birth_date.year


class PeopleQuery(PageQuery):
    unit_code = fields.String(validate=UNIT_CODE,
                              metadata={"description": "the unit and, by default, its subtree"})
    subtree = fields.Boolean(load_default=True)
    target_group = fields.String(validate=validate.OneOf(TARGET_GROUPS))
    role = fields.String(validate=validate.OneOf(ROLES))
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "part of the name, with or without diacritics"})
    national_id = fields.String(validate=NATIONAL_ID, metadata={
        "description": "the whole 12-digit national ID (exact match, in the caller's scope)"})
    adult = fields.Boolean(metadata={"description": "adults (true) or minors (false) only"})
    reference_date = fields.Date(metadata={"description": "the day adulthood is judged on "
                                                          "(default today)"})


class RemovalQuery(Schema):
    reason = fields.String(load_default="removed from the registry",
                           validate=validate.Length(min=1, max=200),
                           metadata={"description": "why (no personal data): it goes into "
                                                    "the person_removed event"})


# -- groups and memberships ---------------------------------------------------------------------
class NewGroupSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    unit_code = fields.String(required=True)
    name = _name()
    code = fields.String(load_default=None, allow_none=True, validate=UNIT_CODE)
    level = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(LEARNING_UNIT_LEVELS),
                          metadata={"description": "learning units only"})


class GroupPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    code = fields.String(allow_none=True, validate=UNIT_CODE)
    level = fields.String(allow_none=True, validate=validate.OneOf(LEARNING_UNIT_LEVELS))


class GroupSchema(NewGroupSchema):
    id = fields.UUID()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    members = fields.Integer(metadata={"description": "current members"})


class GroupQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(GROUP_KINDS))
    unit_code = fields.String(validate=UNIT_CODE)
    subtree = fields.Boolean(load_default=True)
    level = fields.String(validate=validate.OneOf(LEARNING_UNIT_LEVELS))
    q = fields.String(validate=validate.Length(min=1, max=200))


class NewMembershipSchema(Schema):
    person_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    role = fields.String(load_default="member", validate=validate.OneOf(GROUP_ROLES))
    joined_on = fields.Date(load_default=date.today, metadata={"description": "default today"})
    left_on = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "no longer a member from that day (a past membership)"})


class MembershipPatchSchema(Schema):
    role = fields.String(validate=validate.OneOf(GROUP_ROLES))
    left_on = fields.Date(metadata={"description": "ends the membership (once)"})


class _Tenure(Schema):
    """A person's place for a time, a membership of a group or a position in a body of the
    association: current from ``joined_on`` until it is left."""
    id = fields.UUID()
    person_id = fields.UUID()
    role = fields.String()
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)
    current = fields.Method("_current")
    created_at = fields.DateTime()

    def _current(self, tenure):
        return tenure.left_on is None


class _TenureQuery(PageQuery):
    person_id = fields.UUID()
    current = fields.Boolean()


class MembershipSchema(_Tenure):
    group_id = fields.UUID()
    group_kind = fields.String()


class MembershipQuery(_TenureQuery):
    group_id = fields.UUID()
    group_kind = fields.String(validate=validate.OneOf(GROUP_KINDS))


# -- the association --------------------------------------------------------------------------
class NewBodySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(BODY_KINDS))
    name = _name()
    unit_code = fields.String(required=True)
    parent_id = fields.UUID(load_default=None, allow_none=True)


class BodyPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    parent_id = fields.UUID(allow_none=True)


class BodySchema(NewBodySchema):
    id = fields.UUID()
    created_at = fields.DateTime()
    created_by = fields.String(allow_none=True, metadata={
        "description": "who created it (the token's subject): someone else appoints its "
                       "officials (SEPARATION_OF_DUTIES)"})
    updated_at = fields.DateTime(allow_none=True)


class BodyQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(BODY_KINDS))
    unit_code = fields.String(validate=UNIT_CODE)
    subtree = fields.Boolean(load_default=True)
    parent_id = fields.UUID()


class NewPositionSchema(Schema):
    person_id = fields.UUID(required=True)
    body_id = fields.UUID(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ASSOCIATION_ROLES),
                         metadata={"description": "official (cán bộ hội) or member (hội viên)"})
    joined_on = fields.Date(load_default=date.today)
    left_on = fields.Date(load_default=None, allow_none=True)


class PositionPatchSchema(Schema):
    role = fields.String(validate=validate.OneOf(ASSOCIATION_ROLES))
    left_on = fields.Date()


class PositionSchema(_Tenure):
    body_id = fields.UUID()


class PositionQuery(_TenureQuery):
    body_id = fields.UUID()
    role = fields.String(validate=validate.OneOf(ASSOCIATION_ROLES))


# -- learning activities ----------------------------------------------------------------------
class NewActivitySchema(Schema):
    person_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    title = _name(300)
    provider = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=200))
    started_on = fields.Date(required=True)
    ended_on = fields.Date(load_default=None, allow_none=True)
    hours = fields.Float(load_default=None, allow_none=True,
                         validate=validate.Range(0, MAX_ACTIVITY_HOURS))
    evidence_url = fields.String(load_default=None, allow_none=True,
                                 validate=[EVIDENCE_URL, validate.Length(max=1000)])


class ActivityPatchSchema(Schema):
    kind = fields.String(validate=validate.OneOf(ACTIVITY_KINDS))
    title = fields.String(validate=validate.Length(min=1, max=300))
    provider = fields.String(allow_none=True, validate=validate.Length(max=200))
    started_on = fields.Date()
    ended_on = fields.Date(allow_none=True)
    hours = fields.Float(allow_none=True, validate=validate.Range(0, MAX_ACTIVITY_HOURS))
    evidence_url = fields.String(allow_none=True,
                                 validate=[EVIDENCE_URL, validate.Length(max=1000)])


class ActivitySchema(NewActivitySchema):
    id = fields.UUID()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class ActivityQuery(PageQuery):
    person_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(ACTIVITY_KINDS))
    unit_code = fields.String(validate=UNIT_CODE,
                              metadata={"description": "people of the unit and its subtree"})
    started_from = fields.Date()
    started_to = fields.Date()


# -- RPC --------------------------------------------------------------------------------------
class PersonFactsSchema(Schema):
    """What another service may count about a person: no personal data."""
    person_id = fields.String()
    unit_code = fields.String()
    unit_path = fields.List(fields.String())
    target_group = fields.String()
    roles = fields.List(fields.String())
    birth_year = fields.Integer()


# -- the personal data audit ---------------------------------------------------------------------
class AuditQuery(PageQuery):
    person_id = fields.UUID(metadata={"description": "reads and changes of this person's "
                                                     "data, alone or among many"})
    actor = fields.String(validate=validate.Length(min=1, max=200),
                          metadata={"description": "reads and changes by this token subject "
                                                   "(service:<name> for an RPC)"})
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    import_id = fields.UUID()
    since = UtcDateTime(metadata={"description": "at or after (ISO 8601 with offset)"})
    until = UtcDateTime(metadata={"description": "before"})


class AuditEntrySchema(Schema):
    """One read or change of personal data: who (the token's subject and role), when, whose,
    why, which fields (names only, never values); chained by ``hash`` (cdht audit-verify)."""
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(metadata={"description": "the token's subject"})
    actor_role = fields.String()
    action = fields.String(metadata={"description": ", ".join(AUDIT_ACTIONS)})
    person_id = fields.UUID(allow_none=True, metadata={"description": "the one person; "
                                                                      "None for many"})
    person_ids = fields.List(fields.UUID(), allow_none=True, metadata={
        "description": "the people of a page read (up to 1000), an import chunk, a merge"})
    import_id = fields.UUID(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields",
                          metadata={"description": "names of the fields changed"})
    people = fields.Integer(metadata={"description": "how many people it read or changed"})
    correlation_id = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True, metadata={
        "description": "the route or RPC, and the caller's X-Purpose"})
    prev_hash = fields.String()
    hash = fields.String()
