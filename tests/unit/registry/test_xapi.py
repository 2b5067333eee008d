"""xAPI statements checked as the LRS specification says (services/registry/xapi.py), and what
they count for by xapi.yaml (services/registry/xapi_rules.py): the specification's cases."""
import copy
from datetime import date, datetime, timezone

import pytest

from services.registry import xapi, xapi_rules
from services.registry.xapi_rules import Counted, NotCounted, RulesError, load_rules, parse_rules

HOME = "https://lms.angiang.edu.vn"
SKILLS = "urn:cdht:xapi:extension:digital-skills-level"
PLATFORM = xapi_rules.Platform("lms-ag", "LMS An Giang", (HOME,))
STORED = datetime(2025, 9, 20, 3, 0, tzinfo=timezone.utc)
SHIPPED = xapi_rules.RULES_FILE.read_text(encoding="utf-8")


def statement(**changes):
    base = {
        "id": "6f1c2a9e-4b7d-4c1e-9a55-0d6b7f1e2a33",
        "actor": {"objectType": "Agent", "name": "An",
                  "account": {"homePage": HOME, "name": "an.nguyen"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed",
                 "display": {"en-US": "completed", "vi": "hoàn thành"}},
        "object": {"objectType": "Activity", "id": f"{HOME}/course/7", "definition": {
            "type": "http://adlnet.gov/expapi/activities/course",
            "name": {"en-US": "Digital skills", "vi-VN": "Kỹ năng số"},
            "extensions": {SKILLS: "basic"}}},
        "result": {"success": True, "completion": True, "duration": "PT2H30M",
                   "score": {"scaled": 0.9, "raw": 9, "min": 0, "max": 10}},
        "context": {"registration": "0b9d1a8e-51c2-4f6a-8f3e-2c1f0e9d8c7b", "language": "vi-VN",
                    "platform": "Moodle", "contextActivities": {"parent": [{"id": HOME}]}},
        "timestamp": "2025-09-14T23:30:00+07:00",
        "version": "1.0.3",
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = base
        for part in parents:
            node = node[part]
        if value is DROP:
            node.pop(last)
        else:
            node[last] = value
    return base


DROP = object()


def errors_of(body, version="1.0.3"):
    with pytest.raises(xapi.Invalid) as refused:
        xapi.statements_of(body, version)
    return refused.value.errors


def test_a_full_statement_and_an_array_pass():
    assert xapi.statements_of(statement()) == [statement()]
    assert len(xapi.statements_of([statement(), statement(id=DROP)])) == 2


@pytest.mark.parametrize("changes, where", [
    ({"actor": DROP}, "statement.actor"),
    ({"verb": DROP}, "statement.verb"),
    ({"object": DROP}, "statement.object"),
    ({"id": "not-a-uuid"}, "statement.id"),
    ({"id": "6f1c2a9e-4b7d-4c1e-1a55-0d6b7f1e2a33"}, "statement.id"),  # not variant 2
    ({"grade": "A"}, "statement.grade"),
    ({"actor__mbox": "mailto:an@example.org"}, "statement.actor"),  # two identifiers
    ({"actor__account": DROP}, "statement.actor"),  # none
    ({"actor__account__homePage": "lms.angiang"}, "statement.actor.account.homePage"),
    ({"actor__account__name": 7}, "statement.actor.account.name"),
    ({"actor__account__email": "x"}, "statement.actor.account.email"),
    ({"actor__objectType": "Person"}, "statement.actor.objectType"),
    ({"verb__id": "completed"}, "statement.verb.id"),
    ({"verb__display": {"english": 1}}, "statement.verb.display.english"),
    ({"verb__display": {"en us": "x"}}, "statement.verb.display.en us"),
    ({"object__id": "course 7"}, "statement.object.id"),
    ({"object__objectType": "Course"}, "statement.object.objectType"),
    ({"object__definition__moreInfo": "ftp://x"}, "statement.object.definition.moreInfo"),
    ({"object__definition__interactionType": "essay"},
     "statement.object.definition.interactionType"),
    ({"object__definition__extensions": {"level": 1}},
     "statement.object.definition.extensions['level']"),
    ({"result__score__scaled": 1.01}, "statement.result.score.scaled"),
    ({"result__score__raw": 11}, "statement.result.score.raw"),
    ({"result__score__raw": -1}, "statement.result.score.raw"),
    ({"result__score__min": 10}, "statement.result.score.max"),
    ({"result__score__raw": "9"}, "statement.result.score.raw"),
    ({"result__success": "yes"}, "statement.result.success"),
    ({"result__duration": "2 hours"}, "statement.result.duration"),
    ({"result__duration": "PT"}, "statement.result.duration"),
    ({"result__duration": "P1DT"}, "statement.result.duration"),
    ({"timestamp": "14/09/2025"}, "statement.timestamp"),
    ({"timestamp": "2025-09-14T10:00:00-00:00"}, "statement.timestamp"),
    ({"timestamp": "2025-13-14T10:00:00Z"}, "statement.timestamp"),
    ({"context__registration": "x"}, "statement.context.registration"),
    ({"context__language": "vi_VN"}, "statement.context.language"),
    ({"context__contextActivities__parent": [{"id": "x y"}]},
     "statement.context.contextActivities.parent[0].id"),
    ({"context__team": {"objectType": "Agent", "mbox": "mailto:a@b.c"}},
     "statement.context.team"),
    ({"version": "0.95"}, "statement.version"),
    ({"attachments": [{"usageType": "http://x/y", "display": {"en": "c"},
                       "contentType": "application/pdf", "length": 3, "sha2": "ab"}]},
     "statement.attachments[0].fileUrl"),
])
def test_what_the_specification_refuses(changes, where):
    assert where in errors_of(statement(**changes))


def test_a_voiding_statement_voids_a_statement_ref():
    voiding = statement(verb={"id": xapi.VOIDED}, object={
        "objectType": "StatementRef", "id": "0b9d1a8e-51c2-4f6a-8f3e-2c1f0e9d8c7b"},
        result=DROP, context=DROP)
    assert xapi.voided_target(xapi.statements_of(voiding)[0]) == \
        "0b9d1a8e-51c2-4f6a-8f3e-2c1f0e9d8c7b"
    assert "statement.object" in errors_of(statement(verb={"id": xapi.VOIDED}))
    assert xapi.voided_target(statement()) is None


def test_the_actor_is_an_account_never_an_email():
    for actor in ({"mbox": "mailto:an@example.org"}, {"openid": "https://id.example/an"},
                  {"mbox_sha1sum": "a" * 40},
                  {"objectType": "Group", "member": [{"account": {"homePage": HOME,
                                                                  "name": "an"}}]}):
        assert "account" in errors_of(statement(actor=actor))["statement.actor"][0]


def test_groups_and_substatements_follow_the_specification():
    anonymous = {"objectType": "Group", "member": []}
    assert "statement.context.instructor.member" in errors_of(
        statement(context__instructor=anonymous))
    sub = {"objectType": "SubStatement", "actor": {"mbox": "mailto:t@x.vn"},
           "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
           "object": {"objectType": "SubStatement"}}
    assert "statement.object.object.objectType" in errors_of(
        statement(object=sub, context=DROP))
    assert "statement.context.platform" in errors_of(statement(
        object={"objectType": "StatementRef", "id": "0b9d1a8e-51c2-4f6a-8f3e-2c1f0e9d8c7b"}))


def test_a_batch_names_each_bad_statement_and_repeated_ids():
    errors = errors_of([statement(), statement(verb__id="x y")])
    assert list(errors) == ["statements[1].verb.id"]
    assert "statements[1].id" in errors_of([statement(), statement()])
    assert "body" in errors_of([])
    assert "body" in errors_of("a statement")


def test_xapi_2_0_wants_a_time_zone_and_knows_context_agents():
    assert "statement.timestamp" in errors_of(statement(timestamp="2025-09-14T10:00:00"),
                                              "2.0.0")
    xapi.statements_of(statement(timestamp="2025-09-14T10:00:00"), "1.0.3")
    assert "statement.context.contextAgents" in errors_of(statement(context__contextAgents=[]))
    xapi.statements_of(statement(context__contextAgents=[{"objectType": "contextAgent"}]),
                       "2.0.0")


@pytest.mark.parametrize("header, ok", [
    ("1.0.3", True), ("1.0", True), ("1.0.0", True), ("2.0.0", True), (None, False),
    ("", False), ("0.95", False), ("1.1.0", False), ("3.0", False)])
def test_the_version_header(header, ok):
    assert (xapi.version_problem(header) is None) == ok


def test_idempotency_ignores_what_the_lrs_sets():
    posted = statement()
    assert xapi.fingerprint(posted) == xapi.fingerprint(
        posted | {"stored": "2025-09-20T03:00:00+00:00", "authority": {}, "version": "1.0.0"})
    assert xapi.fingerprint(posted) != xapi.fingerprint(statement(result__success=False))
    assert xapi.with_id(statement(id=DROP))["id"] != xapi.with_id(statement(id=DROP))["id"]
    assert xapi.with_id(statement(id="6F1C2A9E-4B7D-4C1E-9A55-0D6B7F1E2A33"))["id"] == \
        statement()["id"]


@pytest.mark.parametrize("duration, hours", [
    ("PT2H30M", 2.5), ("P1DT00H00M00S", 24), ("PT90M", 1.5), ("P1W", 168), ("PT36S", 0.01),
    ("PT1,5H", 1.5)])
def test_durations_in_hours(duration, hours):
    assert round(xapi.duration_hours(duration), 2) == hours


# -- what counts ------------------------------------------------------------------------------
RULES = load_rules()


def test_a_completed_digital_skills_course_counts_with_its_facts():
    counted = RULES.assess(statement(), PLATFORM, STORED, today=date(2025, 10, 1))
    assert counted == Counted(kind="digital_skills_basic", title="Kỹ năng số",
                              provider="LMS An Giang", started_on=date(2025, 9, 14),
                              ended_on=date(2025, 9, 14), hours=2.5,
                              evidence_url=f"{HOME}/course/7")


@pytest.mark.parametrize("changes, kind", [
    ({"object__definition__extensions__" + SKILLS: "proficient"}, "digital_skills_proficient"),
    ({"object__definition__extensions": DROP}, "course"),
    ({"object__definition__extensions": DROP,
      "object__definition__type": "urn:cdht:xapi:activitytype:mooc"}, "mooc"),
    ({"verb__id": "http://adlnet.gov/expapi/verbs/passed"}, "digital_skills_basic"),
])
def test_kinds_by_type_and_extension(changes, kind):
    assert RULES.assess(statement(**changes), PLATFORM, STORED, date(2025, 10, 1)).kind == kind


@pytest.mark.parametrize("changes, reason", [
    ({"verb__id": "http://adlnet.gov/expapi/verbs/attempted"}, "does not count"),
    ({"result__success": False}, "result.success is false"),
    ({"result__completion": False}, "result.completion is false"),
    ({"object__definition__extensions__" + SKILLS: "expert"}, "is not one of basic"),
    ({"object__definition__extensions": DROP,
      "object__definition__type": "http://adlnet.gov/expapi/activities/meeting"},
     "is not mapped"),
    ({"object__definition": DROP}, "gives no type"),
    ({"timestamp": "2025-10-02T00:30:00+07:00"}, "in the future"),
    ({"result__duration": "P2Y"}, "more than 10000 hours"),
    ({"object": {"objectType": "Agent", "account": {"homePage": HOME, "name": "b"}}},
     "not an activity"),
])
def test_what_does_not_count_says_why(changes, reason):
    outcome = RULES.assess(statement(**changes), PLATFORM, STORED, date(2025, 10, 1))
    assert isinstance(outcome, NotCounted) and reason in outcome.reason


def test_the_day_is_vietnams_and_a_missing_timestamp_is_the_stored_time():
    late = RULES.assess(statement(timestamp="2025-09-14T18:00:00Z"), PLATFORM, STORED,
                        date(2025, 10, 1))
    assert late.ended_on == date(2025, 9, 15)  # 01:00 in Vietnam
    undated = RULES.assess(statement(timestamp=DROP), PLATFORM, STORED, date(2025, 10, 1))
    assert undated.started_on == date(2025, 9, 20)


def test_titles_are_vietnamese_first():
    assert xapi_rules.title_of({"id": "x:y", "definition": {"name": {
        "en-US": "Digital", "vi": "Số"}}}) == "Số"
    assert xapi_rules.title_of({"id": "x:y", "definition": {"name": {
        "fr": "Numérique", "en-GB": "Digital"}}}) == "Digital"
    assert xapi_rules.title_of({"id": "x:y"}) == "x:y"


def test_home_pages_match_as_platforms_write_them():
    rules = parse_rules(SHIPPED.replace(
        "platforms: []", f'platforms: [{{id: a, name: A, home_pages: ["{HOME}/"]}}]'))
    platform = rules.platform("a")
    assert rules.declares(platform, "HTTPS://LMS.AnGiang.edu.vn")
    assert not rules.declares(platform, "https://lms.angiang.edu.vn.evil.example")
    assert rules.known_home_page(HOME + "/") == HOME
    assert rules.platform("b") is None


@pytest.mark.parametrize("broken, problem", [
    (SHIPPED.replace("verbs:", "verbz:"), "verbz: unknown key"),
    (SHIPPED.replace(": course\n", ": seminar\n", 1), "'seminar' is not one of"),
    (SHIPPED.replace("basic: digital_skills_basic", "basic: course"),
     "not a digital-skills activity kind"),
    (SHIPPED.replace("platforms: []", "platforms: [{id: a, name: A, home_pages: [lms]}]"),
     "platforms[0].home_pages"),
    (SHIPPED.replace("platforms: []", "platforms: [{id: a, name: A, home_pages: ['http://x'"
                                      "]}, {id: a, name: B, home_pages: ['http://y']}]"),
     "declared twice"),
    (SHIPPED.replace("  - http://adlnet.gov/expapi/verbs/passed",
                     "  - http://adlnet.gov/expapi/verbs/voided"), "never counts"),
    ("- a list", "must be a mapping"),
    ("platforms: [", "not YAML"),
])
def test_a_bad_rules_file_is_refused_naming_the_problem(broken, problem):
    with pytest.raises(RulesError, match=problem.replace("[", r"\[").replace("(", r"\(")):
        parse_rules(broken)


def test_a_missing_rules_file_is_named(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "none.yaml")


def test_the_shipped_file_loads_and_the_statement_is_untouched():
    given = statement()
    kept = copy.deepcopy(given)
    RULES.assess(given, PLATFORM, STORED, date(2025, 10, 1))
    assert given == kept and RULES.platforms == {}
