"""projection.items_of: a closing's bulk events (recognitions_granted,
group_recognitions_granted), as reporting's consumer parses them off the wire, turned into
what the single events' code takes, so that both are applied by the same code."""
import uuid

from cdht.contracts import make_envelope, parse_envelope
from services.reporting import projection as proj

LX = ["AG", "AG.LX"]


def recognition(year=2025, skills="basic"):
    return {"recognition_id": str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
            "person_id": str(uuid.uuid4()), "unit_code": LX[-1], "unit_path": LX,
            "target_group": "resident", "year": year, "criteria_version": "324/QĐ-KHVN",
            "total_score": 85, "digital_skills": skills}


def test_each_recognition_is_a_recognition_granted_of_its_batch_event():
    items = [recognition(), recognition(2024, "proficient"), recognition()]
    sent = make_envelope("recognitions_granted",
                         {"closing_id": str(uuid.uuid4()), "recognitions": items},
                         producer="assessment", correlation_id="closing-request")
    event = parse_envelope(sent.to_message())

    grants = proj.items_of(event, "recognitions")

    assert len(grants) == 3
    assert all((g.event_id, g.occurred_at, g.correlation_id) ==
               (sent.event_id, sent.occurred_at, "closing-request") for g in grants)
    # in their order, each with the data the same recognition sent alone would carry
    singles = [parse_envelope(make_envelope("recognition_granted", item,
                                            producer="assessment").to_message())
               for item in items]
    assert [g.data for g in grants] == [s.data for s in singles]
    assert [str(g.data["recognition_id"]) for g in grants] == \
        [i["recognition_id"] for i in items]
    assert isinstance(grants[0].data["person_id"], uuid.UUID)  # typed as a single one's


def test_each_group_title_is_a_group_recognition_granted_of_its_batch_event():
    items = [{"group_recognition_id": str(uuid.uuid4()), "group_id": str(uuid.uuid4()),
              "group_kind": "family", "year": 2025, "criteria_version": "448/QĐ-KHVN-GĐ",
              "level": None, "members": 4, "members_titled": titled, "unit_code": LX[-1],
              "unit_path": LX} for titled in (3, 4)]
    sent = make_envelope("group_recognitions_granted",
                         {"closing_id": str(uuid.uuid4()), "titles": items},
                         producer="assessment")
    titles = proj.items_of(parse_envelope(sent.to_message()), "titles")
    singles = [parse_envelope(make_envelope("group_recognition_granted", item,
                                            producer="assessment").to_message())
               for item in items]
    assert [t.data for t in titles] == [s.data for s in singles]
    assert {(t.event_id, t.occurred_at) for t in titles} == {(sent.event_id, sent.occurred_at)}
