"""The routing rules as data (rules.yaml) and who they name, without a registry."""
import copy

import pytest
import yaml

from cdht.contracts.events import EVENT_SCHEMAS
from services.notifications import rules
from services.notifications.rules import RULES_FILE, Rule, RulesError, parse_rules

SHIPPED = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


def shipped():
    return rules.load_rules(known_events={name for name, _ in EVENT_SCHEMAS})


def test_the_shipped_rules_say_what_the_issue_asks():
    table = shipped()
    granted = table.for_event("recognition_granted")
    assert (granted.recipients, granted.template, granted.channels, granted.digest,
            granted.mandatory) == ("subject_person", "recognition_granted", ("email", "sms"),
                                   "none", False)
    refused = table.for_event("recognition_refused")
    assert (refused.recipients, refused.channels, refused.mandatory) == \
        ("subject_person", ("email", "sms"), True)
    submitted = table.for_event("assessment_submitted")
    assert (submitted.recipients, submitted.channels) == ("reviewers_of_unit", ("email",))
    for name in ("target_reached", "target_at_risk"):
        rule = table.for_event(name)
        assert (rule.recipients, rule.template, rule.digest, rule.producer) == \
            ("officials_of_unit", "target_digest", "daily", "reporting")
    weekly = table.schedule("weekly_summary")
    assert (weekly.recipients, weekly.template, weekly.channels) == \
        ("province_officials", "weekly_summary", ("email",))
    with pytest.raises(KeyError):
        table.for_event("statistics_updated")


def test_every_rule_has_a_handler_on_its_producers_exchange():
    from services.notifications.service import NotificationsService
    handlers = {}
    for name in dir(NotificationsService):
        for entrypoint in getattr(getattr(NotificationsService, name), "nameko_entrypoints", ()):
            if hasattr(entrypoint, "event_type"):
                handlers[entrypoint.event_type] = entrypoint.source_service
    # and the registry's facts that name units and sign mails, and its moves that place
    # deliveries (no message of their own); a closing's bulk events, told by their items'
    # rules (no rule of their own)
    table = shipped()
    assert handlers == {name: rule.producer for name, rule in table.events.items()} | {
        name: bulk.producer for name, bulk in table.bulk.items()} | {
        "unit_changed": "registry", "association_body_changed": "registry",
        "person_moved": "registry", "people_imported": "registry",
        "units_merged": "registry"}
    assert not set(table.bulk) & set(table.events)


def test_a_closings_bulk_events_are_told_by_their_items_rules():
    table = shipped()
    granted, refused = table.for_bulk("recognitions_granted"), table.for_bulk(
        "recognitions_refused")
    assert (granted.items, granted.rule) == ("recognitions", table.for_event(
        "recognition_granted"))
    assert (refused.items, refused.rule) == ("refusals", table.for_event("recognition_refused"))
    with pytest.raises(KeyError):
        table.for_bulk("recognition_granted")


def test_digest_rules_and_lookup_by_stored_name():
    table = shipped()
    digest = table.digest_rule("target_digest")
    assert (digest.name, digest.category, digest.channels, digest.digest) == \
        ("target_digest", "target_alerts", ("email",), "daily")
    assert table.by_name("target_digest") == digest
    assert table.by_name("weekly_summary") is table.schedule("weekly_summary")
    assert table.by_name("recognition_granted") is table.for_event("recognition_granted")
    assert table.by_name("nothing") is None
    with pytest.raises(KeyError):
        table.digest_rule("recognition_granted")


def test_next_channel_is_the_fallback_order():
    rule = shipped().for_event("recognition_granted")
    assert rule.next_channel("email") == "sms"
    assert rule.next_channel("sms") is None
    assert shipped().for_event("assessment_submitted").next_channel("email") is None
    assert shipped().for_event("assessment_submitted").next_channel("sms") is None


@pytest.mark.parametrize("change, problem", [
    (lambda d: d["events"]["recognition_granted"].update(channels=["email", "fax"]),
     "channels must be a list"),
    (lambda d: d["events"]["recognition_granted"].update(channels=["email", "email"]),
     "channels must be a list of distinct"),
    (lambda d: d["events"]["recognition_granted"].update(channels=[]), "channels"),
    (lambda d: d["events"]["recognition_granted"].update(recipients="everyone"), "recipients"),
    (lambda d: d["events"]["recognition_granted"].update(category="spam"),
     "category 'spam' is not declared"),
    (lambda d: d["events"]["recognition_granted"].update(digest="hourly"), "digest must be"),
    (lambda d: d["events"]["recognition_granted"].update(template="../etc"), "template"),
    (lambda d: d["events"]["recognition_granted"].update(colour="red"), "unknown key colour"),
    (lambda d: d["events"]["recognition_granted"].pop("producer"), "producer is required"),
    (lambda d: d["events"].update(recognition_grantd=d["events"]["recognition_granted"]),
     "recognition_grantd: no such event type"),
    (lambda d: d["events"]["target_reached"].update(channels=["sms"]),
     "a digest is a mail"),
    (lambda d: d["events"]["target_at_risk"].update(category="congratulations"),
     "shared with"),
    (lambda d: d["categories"].update(weekly_summary={"mandatory": "yes"}),
     "mandatory must be true or false"),
    (lambda d: d["schedules"]["weekly_summary"].update(digest="daily"), "unknown key digest"),
    (lambda d: d["bulk"]["recognitions_refused"].update(each="recognition_refusd"),
     "each must name one of the events"),
    (lambda d: d["bulk"]["recognitions_refused"].update(each="target_reached"),
     "sent at once, by the same producer"),
    (lambda d: d["bulk"]["recognitions_refused"].update(producer="registry"),
     "sent at once, by the same producer"),
    (lambda d: d["bulk"]["recognitions_refused"].pop("items"), "items must name the list"),
    (lambda d: d["bulk"]["recognitions_refused"].update(rule="x"), "unknown key rule"),
    (lambda d: d["bulk"].update(recognitions_refusd=d["bulk"]["recognitions_refused"]),
     "recognitions_refusd: no such event type"),
])
def test_mistakes_in_the_file_are_named(change, problem):
    data = copy.deepcopy(SHIPPED)
    change(data)
    with pytest.raises(RulesError) as caught:
        parse_rules(data, known_events={name for name, _ in EVENT_SCHEMAS})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(RulesError):
        parse_rules(["events"])


# -- recipients ---------------------------------------------------------------------------------
OFFICIALS = {"AG": ["p-province"], "AG.LX": ["p-ward-1", "p-ward-2", "p-ward-1"], "AG.MB": []}


def lookup(asked):
    def officials_at(unit_code):
        asked.append(unit_code)
        return OFFICIALS.get(unit_code, [])
    return officials_at


def rule(recipients):
    return Rule(name="x", category="c", mandatory=False, recipients=recipients, template="t",
                channels=("email",))


def test_subject_person():
    assert rules.recipients(rule("subject_person"), {"person_id": "p-1"}, lookup([])) == ["p-1"]


@pytest.mark.parametrize("kind", ["reviewers_of_unit", "officials_of_unit"])
def test_officials_of_the_unit_itself_first_without_duplicates(kind):
    asked = []
    found = rules.recipients(rule(kind), {"unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]},
                             lookup(asked))
    assert found == ["p-ward-1", "p-ward-2"]
    assert asked == ["AG.LX"]


def test_a_unit_without_officials_walks_up_to_the_nearest_with_some():
    asked = []
    path = ["AG", "AG.MB", "AG.MB.K1"]
    found = rules.recipients(rule("reviewers_of_unit"),
                             {"unit_code": "AG.MB.K1", "unit_path": path}, lookup(asked))
    assert found == ["p-province"]
    assert asked == ["AG.MB.K1", "AG.MB", "AG"]
    assert rules.nearest_officials(path, lookup([])) == ("AG", ["p-province"])


def test_nobody_anywhere_is_an_empty_list():
    assert rules.nearest_officials(["XX", "XX.1"], lookup([])) == (None, [])


def test_province_officials_from_the_path_or_the_configured_province():
    assert rules.recipients(rule("province_officials"), {"unit_path": ["AG", "AG.LX"]},
                            lookup([])) == ["p-province"]
    assert rules.recipients(rule("province_officials"), {}, lookup([]),
                            province_code="AG") == ["p-province"]
    assert rules.recipients(rule("province_officials"), {}, lookup([])) == []
