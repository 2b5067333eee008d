"""projection.recognitions_of: a closing's recognitions_granted, as reporting's consumer
parses it off the wire, turned into what grant_recognitions takes for recognition_granted
events, so that both are applied by the same code."""
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

    grants = proj.recognitions_of(event)

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
