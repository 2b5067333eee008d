"""One marshmallow schema per event type and version: the ``data`` of the envelope.

Events carry ids and the facts consumers count on, never personal data (national ID, name,
phone, email): a consumer that needs those asks the registry by RPC when it needs them.
``unit_path`` lists the unit's ancestors from the province down to the unit itself, so that a
consumer can roll a change up the tree without a copy of it.
"""
import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from cdht.contracts.envelope import ContractError

TARGET_GROUPS = ("resident", "worker", "employee_business", "student")
UNIT_KINDS = ("province", "district", "commune", "ward", "special_zone")
BODY_KINDS = ("commune_association", "branch", "learning_board")
ROLES = ("association_official", "association_member", "unit_staff")
DIGITAL_SKILLS = ("none", "basic", "proficient")
CHANNELS = ("email", "sms")
RECOGNITIONS_PER_EVENT = 500  # a closing's bulk events: recognitions_granted, ...
# The programme's indicators (docs/architecture.md §P1): the people ones of Decision 677, the group ones of
# Decision 387.
INDICATORS = ("briefed_members", "adults_titled", "unit_staff_titled",
              "titled_with_digital_skills", "titled_digitally_proficient",
              "families_recognised", "clans_recognised", "communities_recognised",
              "learning_units_recognised")


class StrictBoolean(fields.Boolean):
    """JSON true/false only: marshmallow's Boolean would also take "yes", 1 or "off"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictFloat(fields.Float):
    """A JSON number only: marshmallow's Float would also take the string "2.5"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictDate(fields.Date):
    """YYYY-MM-DD only, as the AsyncAPI document says (fromisoformat also takes 20250701)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def UnitPath(**kwargs):
    """Unit codes from the province down: 1 to 8 levels of 1 to 64 characters."""
    return fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                       validate=validate.Length(min=1, max=8), **kwargs)


def Count(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kwargs)


class FullMatch(validate.Regexp):
    """Regexp whose ``$`` is the very end, as in JSON Schema (re.match's also matches before
    a final newline)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class _Strict(Schema):
    """Unknown fields are an error: a producer cannot leak extra (personal) data."""


class _UnitPlaced(_Strict):
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    unit_path = UnitPath(required=True)

    @validates_schema
    def _path_ends_at_unit(self, data, **kwargs):
        if data.get("unit_path") and data["unit_path"][-1] != data.get("unit_code"):
            raise ValidationError("must end with unit_code", "unit_path")


class PersonRegisteredV1(_UnitPlaced):
    person_id = fields.UUID(required=True)
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    birth_year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 2100))


class _PersonFacts(_UnitPlaced):
    """What a consumer needs to count a person: where, which group, roles, birth year."""
    person_id = fields.UUID(required=True)
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    birth_year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 2100))


class PersonUpdatedV1(_PersonFacts):
    """A person's countable facts changed (not their unit: that is person_moved).
    ``previous`` holds the facts before the change; ``changed`` names every changed field,
    personal fields included, without their values."""
    previous = fields.Nested(lambda: CountableFacts(), required=True)
    changed = fields.List(fields.String(validate=FullMatch(r"^[a-z][a-z0-9_]{0,49}$")),
                          required=True, validate=validate.Length(min=1, max=30))


class CountableFacts(_Strict):
    """A person's facts before a change: what a consumer needs to undo its counting."""
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    birth_year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 2100))


class PersonMovedV1(_PersonFacts):
    """A person moved to another unit (unit_code/unit_path are the new place);
    from_unit_path must differ from unit_path."""
    from_unit_path = UnitPath(required=True)

    @validates_schema
    def _really_moved(self, data, **kwargs):
        if data.get("from_unit_path") == data.get("unit_path"):
            raise ValidationError("must differ from unit_path", "from_unit_path")


class PersonRemovedV1(_PersonFacts):
    """A person was removed (soft-deleted) from the registry; stop counting them."""
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ImportedPerson(_PersonFacts):
    """One person of an import batch: registered, updated (``previous`` facts given) or moved
    (``from_unit_path`` given)."""
    change = fields.String(required=True, validate=validate.OneOf(("registered", "updated",
                                                                   "moved")))
    from_unit_path = UnitPath(load_default=None, allow_none=True)
    previous = fields.Nested(lambda: CountableFacts(), load_default=None, allow_none=True)

    @validates_schema
    def _change_has_its_facts(self, data, **kwargs):
        if data.get("change") == "moved" and not data.get("from_unit_path"):
            raise ValidationError("required when change is moved", "from_unit_path")
        if data.get("change") == "updated" and not data.get("previous"):
            raise ValidationError("required when change is updated", "previous")


class PeopleImportedV1(_Strict):
    """One batch of a bulk import: a million-person file is a thousand events, not a million.
    Rows that changed nothing are left out."""
    import_id = fields.UUID(required=True)
    batch = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    people = fields.List(fields.Nested(ImportedPerson), required=True,
                         validate=validate.Length(min=1, max=5000))


GROUP_KINDS = ("family", "clan", "community", "learning_unit")
ACTIVITY_KINDS = ("course", "mooc", "digital_skills_basic", "digital_skills_proficient",
                  "briefing")


class MembershipChangedV1(_UnitPlaced):
    """A person joined or left a group (unit_path: where the group is)."""
    membership_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    group_kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    change = fields.String(required=True, validate=validate.OneOf(("joined", "left")))
    effective_on = StrictDate(required=True)


class LearningActivityRecordedV1(_UnitPlaced):
    """A learning activity of a person (unit_path: the person's unit): evidence for indicators
    and for the briefing and digital-skills targets. ended_on, when given, must not be before
    started_on."""
    activity_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    started_on = StrictDate(required=True)
    ended_on = StrictDate(required=True, allow_none=True)
    hours = StrictFloat(required=True, allow_none=True, validate=validate.Range(0, 10000))

    @validates_schema
    def _ends_after_start(self, data, **kwargs):
        if data.get("ended_on") and data.get("started_on") and data["ended_on"] < data["started_on"]:
            raise ValidationError("must not be before started_on", "ended_on")


WITHDRAWAL_REASONS = ("deleted", "voided")


class LearningActivityWithdrawnV1(_UnitPlaced):
    """A learning activity no longer counts (unit_path: the person's unit): staff deleted it
    as recorded by mistake (``deleted``), or the learning platform voided the xAPI statement
    that recorded it (``voided``). Consumers drop what they kept of it."""
    activity_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(WITHDRAWAL_REASONS))


class UnitsMergedV1(_UnitPlaced):
    """Units merged into unit_code (e.g. the 1 July 2025 reorganisation): their people and
    groups now belong to it; figures before effective_on stay answerable per old unit.
    A unit cannot merge into itself: unit_path must not be one of from_unit_paths."""
    from_unit_paths = fields.List(UnitPath(), required=True,
                                  validate=validate.Length(min=1, max=100))
    effective_on = StrictDate(required=True)
    people_moved = Count(required=True)

    @validates_schema
    def _not_into_itself(self, data, **kwargs):
        if data.get("unit_path") in (data.get("from_unit_paths") or []):
            raise ValidationError("a unit cannot merge into itself", "from_unit_paths")


class UnitChangedV1(_UnitPlaced):
    """A unit was created, renamed or re-parented (``updated``), or closed (``closed``: by
    a merge or by hand; ``valid_to`` is then its last day). Carries the unit's name and kind
    so that consumers show names, not codes; a unit is no person, so its name is no personal
    data. ``unit_path`` is the unit's place in today's tree, the unit itself last."""
    unit_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    change = fields.String(required=True, validate=validate.OneOf(("created", "updated",
                                                                   "closed")))
    valid_from = StrictDate(required=True, allow_none=True)
    valid_to = StrictDate(required=True, allow_none=True)


class AssociationBodyChangedV1(_UnitPlaced):
    """A body of the association (commune association, branch (chi hội), learning board (ban
    khuyến học)) was created, renamed or moved (``updated``), or removed; ``unit_path``: the
    unit it serves. The figures the association reports of itself count these."""
    body_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(BODY_KINDS))
    body_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_id = fields.UUID(required=True, allow_none=True)
    change = fields.String(required=True, validate=validate.OneOf(("created", "updated",
                                                                   "removed")))


class ImportedMembership(_Strict):
    """One member of an imported group joining or leaving it."""
    membership_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    change = fields.String(required=True, validate=validate.OneOf(("joined", "left")))
    effective_on = StrictDate(required=True)


class ImportedGroup(_UnitPlaced):
    """One group of an import batch (unit_path: where the group is), with the membership
    changes the file brought; a group whose file rows changed nothing is left out."""
    group_id = fields.UUID(required=True)
    group_kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    change = fields.String(required=True, validate=validate.OneOf(("registered", "updated",
                                                                   "unchanged")))
    memberships = fields.List(fields.Nested(ImportedMembership), required=True,
                              validate=validate.Length(max=5000))


class GroupsImportedV1(_Strict):
    """One batch of a bulk import of learning families, clans, communities and units with
    their members: 300,000 families are a few hundred events, not a million. Each membership
    change here stands for a membership_changed event (which the import does not send)."""
    import_id = fields.UUID(required=True)
    batch = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    groups = fields.List(fields.Nested(ImportedGroup), required=True,
                         validate=validate.Length(min=1, max=5000))


class RecordedGroupTitle(_UnitPlaced):
    """A group's title as its paper decision records it (a title granted before CDHT, or
    outside it): year, decision number and date, and the body that issued it (free text, as
    written on the decision, e.g. "UBND xã Mỹ Hòa Hưng"). ``change`` is ``recorded``, or
    ``withdrawn`` when the record was entered by mistake (the title never existed)."""
    title_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    group_kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2100))
    decision_number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    decision_date = StrictDate(required=True)
    issued_by = fields.String(required=True, validate=validate.Length(min=1, max=200))
    change = fields.String(required=True, validate=validate.OneOf(("recorded", "withdrawn")))


class GroupTitlesRecordedV1(_Strict):
    """Group titles entered from their paper decisions, by hand (one item) or by a bulk import
    (up to 5,000 per event). A recorded title counts like a computed one
    (group_recognition_granted) for the group indicators; the two are independent facts."""
    import_id = fields.UUID(required=True, allow_none=True)
    batch = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    titles = fields.List(fields.Nested(RecordedGroupTitle), required=True,
                         validate=validate.Length(min=1, max=5000))


class AssessmentSubmittedV1(_UnitPlaced):
    assessment_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    criteria_version = fields.String(required=True)
    total_score = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100))
    passed = StrictBoolean(required=True)


class RecognitionGrantedV1(_UnitPlaced):
    recognition_id = fields.UUID(required=True)
    assessment_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    criteria_version = fields.String(required=True)
    total_score = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100))
    digital_skills = fields.String(required=True, validate=validate.OneOf(DIGITAL_SKILLS))


class RecognitionsGrantedV1(_Strict):
    """Many recognitions of one bulk decision, closing a year: a closing of a million
    submissions sends two thousand of these, not a million recognition_granted (each of
    which crossed the broker and every consumer's inbox on its own). Each item is exactly a
    recognition_granted's data; a decision on one submission still sends recognition_granted."""
    closing_id = fields.UUID(required=True)
    recognitions = fields.List(fields.Nested(RecognitionGrantedV1), required=True,
                               validate=validate.Length(min=1, max=RECOGNITIONS_PER_EVENT))


def _in_batches(closing_id, key, items):
    """The ``data`` of a closing's bulk events: ``items`` under ``key``,
    RECOGNITIONS_PER_EVENT in each."""
    n = RECOGNITIONS_PER_EVENT
    return [{"closing_id": closing_id, key: items[i:i + n]} for i in range(0, len(items), n)]


def recognitions_granted(closing_id, recognitions):
    """The ``data`` of the recognitions_granted that carry ``recognitions`` (each a
    recognition_granted's data) for the closing ``closing_id``."""
    return _in_batches(closing_id, "recognitions", recognitions)


class RecognitionRevokedV1(_UnitPlaced):
    recognition_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class RecognitionRefusedV1(_UnitPlaced):
    """The commune association refused the title: ``reasons`` are the failed rules and the
    reviewer's words (no personal data)."""
    assessment_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    criteria_version = fields.String(required=True, validate=validate.Length(min=1, max=50))
    total_score = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100))
    reasons = fields.List(fields.String(validate=validate.Length(min=1, max=500)),
                          required=True, validate=validate.Length(min=1, max=20))


REASON_KINDS = ("total_below", "indicator_below", "reviewer")


class RefusalReason(_Strict):
    """One reason for a refusal, as data, so that each recipient reads it in their language:
    ``total_below`` (``total`` under ``minimum``), ``indicator_below`` (``indicator``'s
    ``score`` of ``maximum`` under ``minimum``), or ``reviewer`` (the official's own words in
    ``note``, written by a person, passed on as written). The fields a kind does not use are
    null."""
    kind = fields.String(required=True, validate=validate.OneOf(REASON_KINDS))
    indicator = fields.String(required=True, allow_none=True,
                              validate=validate.Length(min=1, max=20))
    score = fields.Integer(required=True, strict=True, allow_none=True,
                           validate=validate.Range(0, 100))
    maximum = fields.Integer(required=True, strict=True, allow_none=True,
                             validate=validate.Range(0, 100))
    minimum = fields.Integer(required=True, strict=True, allow_none=True,
                             validate=validate.Range(0, 100))
    total = fields.Integer(required=True, strict=True, allow_none=True,
                           validate=validate.Range(0, 100))
    note = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=500))



class RecognitionRefusedV2(_UnitPlaced):
    """The title was refused, with the reasons as data (see RefusalReason), so that a mail or
    an SMS states them in the recipient's language. Published beside version 1 (whose
    ``reasons`` are sentences) for the transition period."""
    assessment_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    criteria_version = fields.String(required=True, validate=validate.Length(min=1, max=50))
    total_score = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100))
    reasons = fields.List(fields.Nested(RefusalReason), required=True,
                          validate=validate.Length(min=1, max=20))


class RecognitionsRefusedV1(_Strict):
    """Many refusals of one bulk decision, closing a year, as recognitions_granted carries
    its grants: each item is exactly a recognition_refused version 2's data (the reasons as
    data). A refusal decided on its own still sends recognition_refused, both versions."""
    closing_id = fields.UUID(required=True)
    refusals = fields.List(fields.Nested(RecognitionRefusedV2), required=True,
                           validate=validate.Length(min=1, max=RECOGNITIONS_PER_EVENT))


def recognitions_refused(closing_id, refusals):
    """The ``data`` of the recognitions_refused that carry ``refusals`` (each a
    recognition_refused version 2's data) for the closing ``closing_id``."""
    return _in_batches(closing_id, "refusals", refusals)


class GroupRecognitionGrantedV1(_UnitPlaced):
    """A group (family, clan, community, learning unit) holds its title for the year, computed
    from its members' titles (unit_path: where the group is). ``level`` is the level a
    learning_unit reached (1-3): given for a learning_unit group_kind, null for the other
    kinds. members_titled (members holding the Learning Citizen title) never exceeds members."""
    group_recognition_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    group_kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    criteria_version = fields.String(required=True, validate=validate.Length(min=1, max=50))
    level = fields.Integer(required=True, strict=True, allow_none=True,
                           validate=validate.Range(1, 3))
    members = Count(required=True)
    members_titled = Count(required=True)

    @validates_schema
    def _consistent(self, data, **kwargs):
        if (data.get("members_titled") or 0) > (data.get("members") or 0):
            raise ValidationError("must not exceed members", "members_titled")
        if (data.get("group_kind") == "learning_unit") != (data.get("level") is not None):
            raise ValidationError("given for a learning_unit, and only for one", "level")


class GroupRecognitionsGrantedV1(_Strict):
    """The group titles a closing computed, as recognitions_granted carries its people's:
    each item is exactly a group_recognition_granted's data. A title computed when one
    member's title changed still sends group_recognition_granted."""
    closing_id = fields.UUID(required=True)
    titles = fields.List(fields.Nested(GroupRecognitionGrantedV1), required=True,
                         validate=validate.Length(min=1, max=RECOGNITIONS_PER_EVENT))


def group_recognitions_granted(closing_id, titles):
    """The ``data`` of the group_recognitions_granted that carry ``titles`` (each a
    group_recognition_granted's data) for the closing ``closing_id``."""
    return _in_batches(closing_id, "titles", titles)


class GroupRecognitionRevokedV1(_UnitPlaced):
    """A group lost its title for the year (a member's title was revoked, members left...)."""
    group_recognition_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    group_kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class _TargetEvent(_UnitPlaced):
    """An indicator of a unit for a year, against one target (``target_year``: 2025 or 2030
    plan). ``share`` = numerator / denominator (0 when the denominator is 0)."""
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    indicator = fields.String(required=True, validate=validate.OneOf(INDICATORS))
    target_year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    numerator = Count(required=True)
    denominator = Count(required=True)
    share = StrictFloat(required=True, validate=validate.Range(0, 1))
    target = StrictFloat(required=True, validate=validate.Range(0, 1))
    cause_event_id = fields.UUID(required=True)

    @validates_schema
    def _fraction(self, data, **kwargs):
        if (data.get("numerator") or 0) > (data.get("denominator") or 0):
            raise ValidationError("must not exceed denominator", "numerator")


class TargetReachedV1(_TargetEvent):
    """The indicator crossed its target (share >= target) with the change ``cause_event_id``.
    share = numerator / denominator (0 when the denominator is 0); the numerator never exceeds
    the denominator."""


class TargetAtRiskV1(_TargetEvent):
    """The indicator fell under the configured warning line (``warning_line``, a share lower
    than the target) with the change ``cause_event_id``. share = numerator / denominator (0
    when the denominator is 0); the numerator never exceeds the denominator."""
    warning_line = StrictFloat(required=True, validate=validate.Range(0, 1))


class StatisticsUpdatedV1(_Strict):
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    people = Count(required=True)
    adults = Count(required=True)
    titled = Count(required=True)
    titled_digitally_skilled = Count(required=True)
    titled_digitally_proficient = Count(required=True)
    cause_event_id = fields.UUID(required=True)


class NotificationSentV1(_Strict):
    """A message left for a person. ``source_event_id`` is the event that caused it; for a
    daily digest or a weekly summary, which no single event causes, it is a UUID derived from
    the recipient and the day (or the province and the week), stable across retries."""
    notification_id = fields.UUID(required=True)
    source_event_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    template = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(("vi", "en")))


class NotificationFailedV1(NotificationSentV1):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    attempts = Count(required=True)


EVENT_SCHEMAS = {
    ("person_registered", 1): PersonRegisteredV1,
    ("person_updated", 1): PersonUpdatedV1,
    ("person_moved", 1): PersonMovedV1,
    ("person_removed", 1): PersonRemovedV1,
    ("people_imported", 1): PeopleImportedV1,
    ("membership_changed", 1): MembershipChangedV1,
    ("learning_activity_recorded", 1): LearningActivityRecordedV1,
    ("learning_activity_withdrawn", 1): LearningActivityWithdrawnV1,
    ("units_merged", 1): UnitsMergedV1,
    ("unit_changed", 1): UnitChangedV1,
    ("association_body_changed", 1): AssociationBodyChangedV1,
    ("groups_imported", 1): GroupsImportedV1,
    ("group_titles_recorded", 1): GroupTitlesRecordedV1,
    ("assessment_submitted", 1): AssessmentSubmittedV1,
    ("recognition_granted", 1): RecognitionGrantedV1,
    ("recognitions_granted", 1): RecognitionsGrantedV1,
    ("recognition_revoked", 1): RecognitionRevokedV1,
    ("recognition_refused", 1): RecognitionRefusedV1,
    ("recognition_refused", 2): RecognitionRefusedV2,
    ("recognitions_refused", 1): RecognitionsRefusedV1,
    ("group_recognition_granted", 1): GroupRecognitionGrantedV1,
    ("group_recognitions_granted", 1): GroupRecognitionsGrantedV1,
    ("group_recognition_revoked", 1): GroupRecognitionRevokedV1,
    ("statistics_updated", 1): StatisticsUpdatedV1,
    ("target_reached", 1): TargetReachedV1,
    ("target_at_risk", 1): TargetAtRiskV1,
    ("notification_sent", 1): NotificationSentV1,
    ("notification_failed", 1): NotificationFailedV1,
}

PRODUCERS = {
    "registry": ("person_registered", "person_updated", "person_moved", "person_removed",
                 "people_imported", "membership_changed", "learning_activity_recorded",
                 "learning_activity_withdrawn", "units_merged", "unit_changed",
                 "association_body_changed", "groups_imported", "group_titles_recorded"),
    "assessment": ("assessment_submitted", "recognition_granted", "recognitions_granted",
                   "recognition_revoked", "recognition_refused", "recognitions_refused",
                   "group_recognition_granted", "group_recognitions_granted",
                   "group_recognition_revoked"),
    "reporting": ("statistics_updated", "target_reached", "target_at_risk"),
    "notifications": ("notification_sent", "notification_failed"),
}


def schema_for(event_type, schema_version):
    try:
        return EVENT_SCHEMAS[(event_type, schema_version)]
    except KeyError:
        raise ContractError(f"unknown event {event_type!r} version {schema_version!r}") from None
