"""As of a date, monthly series, rebuild and drift (pure core of reporting)."""
from datetime import date, datetime, timezone

from services.reporting import domain

HISTORY = [("people", 1980, date(2025, 1, 10), 4), ("titled", 2025, date(2025, 2, 3), 1),
           ("titled_adult", 2025, date(2025, 2, 3), 1),
           ("titled", 2025, date(2025, 3, 20), 2), ("titled_adult", 2025, date(2025, 3, 20), 2),
           ("titled", 2025, date(2025, 4, 1), -1), ("titled_adult", 2025, date(2025, 4, 1), -1)]


def test_as_of_a_day_sums_what_was_counted_by_then():
    assert domain.tallies_as_of(HISTORY, date(2025, 1, 31)) == {("people", 1980): 4}
    assert domain.tallies_as_of(HISTORY, date(2025, 3, 20))[("titled", 2025)] == 3
    assert domain.tallies_as_of(HISTORY, date(2025, 4, 1))[("titled", 2025)] == 2


def test_monthly_series_up_to_today():
    points = domain.monthly_series(HISTORY, 2025, today=date(2025, 5, 15),
                                   population="all_adults")
    assert [end for end, _ in points] == [date(2025, 1, 31), date(2025, 2, 28),
                                          date(2025, 3, 31), date(2025, 4, 30),
                                          date(2025, 5, 31)]
    assert [found["adults_titled"] for _, found in points] == [(0, 4), (1, 4), (3, 4), (2, 4),
                                                               (2, 4)]
    assert len(domain.monthly_series(HISTORY, 2024, today=date(2025, 5, 15))) == 12


def test_report_day_is_a_day_in_vietnam():
    assert domain.report_day(datetime(2025, 3, 31, 18, 0, tzinfo=timezone.utc)) == \
        date(2025, 4, 1)


def test_rebuild_counts_as_the_handlers_do():
    lx, mb = ["AG", "AG.LX"], ["AG", "AG.MB"]
    snapshot = domain.Snapshot(
        people=[{"person_id": "p1", "unit_code": "AG.LX", "unit_path": lx,
                 "target_group": "resident", "roles": ["association_member"],
                 "birth_year": 1980},
                {"person_id": "p2", "unit_code": "AG.MB", "unit_path": mb,
                 "target_group": "worker", "roles": [], "birth_year": 2010}],
        memberships=[{"membership_id": "m1", "person_id": "p1", "group_id": "g1",
                      "group_kind": "family", "left_on": None, "unit_code": "AG.LX",
                      "unit_path": lx},
                     {"membership_id": "m2", "person_id": "p2", "group_id": "g2",
                      "group_kind": "clan", "left_on": "2024-01-01", "unit_code": "AG.MB",
                      "unit_path": mb}],
        activities=[{"activity_id": "a1", "person_id": "p1", "kind": "briefing",
                     "unit_code": "AG.LX", "unit_path": lx},
                    {"activity_id": "a2", "person_id": "p1", "kind": "digital_skills_basic",
                     "started_on": "2025-03-01", "ended_on": "2025-04-01",
                     "unit_code": "AG.LX", "unit_path": lx}],
        recognitions=[{"recognition_id": "r1", "person_id": "p1", "year": 2025,
                       "granted_at": None,
                       "digital_skills": "basic", "unit_code": "AG.LX", "unit_path": lx},
                      {"recognition_id": "r2", "person_id": "gone", "year": 2025,
                       "digital_skills": "none", "unit_code": "AG.MB", "unit_path": mb}],
        group_recognitions=[{"group_recognition_id": "gr1", "group_id": "g1",
                             "group_kind": "family", "year": 2025, "unit_code": "AG.LX",
                             "unit_path": lx, "granted_at": "2025-06-01T03:00:00+00:00"},
                            {"group_recognition_id": "gr2", "group_id": "g3",
                             "group_kind": "clan", "year": 2024, "unit_code": "AG.MB",
                             "unit_path": mb},
                            {"group_recognition_id": "gr3", "group_id": "g3",
                             "group_kind": "clan", "year": 2025, "unit_code": "AG.MB",
                             "unit_path": mb}],
        group_titles=[{"title_id": "t1", "group_id": "g4", "group_kind": "community",
                       "year": 2024, "decision_number": "12/QĐ-UBND",
                       "decision_date": "2024-11-02", "issued_by": "UBND xã",
                       "change": "recorded", "unit_code": "AG.MB", "unit_path": mb},
                      {"title_id": "t2", "group_id": "g1", "group_kind": "family",
                       "year": 2024, "decision_number": "13/QĐ-UBND",
                       "decision_date": "2024-11-02", "issued_by": "UBND xã",
                       "change": "withdrawn", "unit_code": "AG.LX", "unit_path": lx}],
        bodies=[{"body_id": "b1", "kind": "branch", "body_name": "Chi hội ấp 1",
                 "parent_id": None, "change": "created", "unit_code": "AG.LX",
                 "unit_path": lx},
                {"body_id": "b2", "kind": "branch", "body_name": "Chi hội ấp 2",
                 "parent_id": None, "change": "removed", "unit_code": "AG.LX",
                 "unit_path": lx}])
    tallies, days, people, groups, paths = domain.rebuild(snapshot, today=date(2026, 3, 1))
    assert paths == {"AG": ["AG"], "AG.LX": lx, "AG.MB": mb}
    at = {(m, k): n for (u, m, k), n in tallies.items() if u == "AG"}
    assert at == {("people", 1980): 1, ("people", 2010): 1, ("grouped", 1980): 1,
                  ("members", 0): 1, ("members_briefed", 0): 1, ("titled", 2025): 1,
                  ("titled_adult", 2025): 1, ("titled_digital", 2025): 1,
                  ("groups:family", 0): 1, ("recognised:family", 2025): 1,
                  ("groups:clan", 0): 1, ("recognised:clan", 2024): 1,
                  ("recognised:clan", 2025): 1, ("grouped_titled", 2025): 1,
                  ("in_recognised", 2025): 1, ("in_recognised_titled", 2025): 1,
                  ("groups:community", 0): 1, ("recognised:community", 2024): 1,
                  ("bodies:branch", 0): 1}
    assert people["p1"][1].recognised_years == {2025}   # the withdrawn 2024 record: no
    assert people["p1"][1].trainings == {("digital_skills_basic", True)}
    assert days[("AG.LX", "recognised:family", 2025, date(2025, 6, 1))] == 1
    assert days[("AG.MB", "groups:clan", 0, date(2024, 12, 31))] == 1  # known once
    assert people["gone"][1].removed   # a title of someone the registry no longer has
    assert groups["g2"][1].members == 0   # only a past member: not known
    assert ("AG.MB", "titled", 2025) not in tallies
    summed = {}
    for (u, m, k, _), n in days.items():
        summed[(u, m, k)] = summed.get((u, m, k), 0) + n
    assert summed == tallies
    assert days[("AG", "titled", 2025, date(2025, 12, 31))] == 1      # undated: end of year
    assert days[("AG", "people", 1980, domain.EPOCH)] == 1

    current = dict(tallies)
    current[("AG", "titled", 2025)] = 5
    del current[("AG.LX", "people", 1980)]
    assert domain.drift(current, tallies) == {("AG", "titled", 2025): (5, 1),
                                              ("AG.LX", "people", 1980): (0, 1)}
