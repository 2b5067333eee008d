"""The figures as the province must report them, on real RabbitMQ and PostgreSQL: adults of
recognised groups (computed or recorded titles, bulk imports), trained title holders,
yearly milestones, names instead of codes, the association's own figures, the review."""
import io
import re
import uuid

import pytest
from openpyxl import load_workbook

from tests.integration.reporting.conftest import LX, MB, indicator, outbox


def progress(api, unit, year=2025):
    response = api.get(f"/units/{unit}/progress", params={"year": year})
    assert response.status_code == 200, response.text
    return response.json()


def adults(found):
    item = indicator(found, "adults_titled")
    return item["numerator"], item["denominator"]


def populations(found):
    return {p["rule"]: (p["numerator"], p["denominator"], p["in_force"])
            for p in indicator(found, "adults_titled")["populations"]}


def test_adults_titled_counts_the_adults_of_recognised_groups(feed, api):
    """Three adults in a family, one titled; two adults in no group, both titled. The old
    figure was 3 of 5; the plan's is 1 of 3, once the family holds its title."""
    family = str(uuid.uuid4())
    members = [feed.person() for _ in range(3)]
    for p in members:
        feed.join(p, family)
    feed.grant(members[0])
    for p in (feed.person(), feed.person()):
        feed.grant(p)
    found = progress(api, "AG.LX")
    assert adults(found) == (0, 0)          # the family holds no title yet
    assert indicator(found, "adults_titled")["population"] == "adults_in_recognised_groups"
    assert populations(found) == {"all_adults": (3, 5, False),
                                  "adults_in_groups": (1, 3, False),
                                  "adults_in_recognised_groups": (0, 0, True)}

    feed.group_title(family)                # computed by assessment
    assert adults(progress(api, "AG.LX")) == (1, 3)
    assert adults(progress(api, "AG")) == (1, 3)
    assert progress(api, "AG.LX")["adults_in_recognised_groups"] == 3
    assert adults(progress(api, "AG.LX", 2026)) == (0, 0)  # a title is for its year


def test_a_title_recorded_from_paper_recognises_and_a_withdrawn_one_no_longer(feed, api):
    family, clan = str(uuid.uuid4()), str(uuid.uuid4())
    people = [feed.person(path=MB) for _ in range(2)]
    feed.join(people[0], family)
    feed.join(people[1], clan, kind="clan")
    feed.grant(people[1])
    [recorded, other] = feed.record_titles([(family, "family", MB, 2025, "recorded"),
                                            (clan, "clan", MB, 2025, "recorded")])
    found = progress(api, "AG.MB")
    assert adults(found) == (1, 2)
    assert indicator(found, "families_recognised")["numerator"] == 1
    assert indicator(found, "clans_recognised")["numerator"] == 1

    feed.record_titles([(clan, "clan", MB, 2025, "withdrawn", other["title_id"])])
    found = progress(api, "AG.MB")
    assert adults(found) == (0, 1)
    assert indicator(found, "clans_recognised")["numerator"] == 0
    # a group with a computed title AND a recorded one is recognised once
    feed.group_title(family, path=MB)
    assert indicator(progress(api, "AG.MB"), "families_recognised")["numerator"] == 1
    assert adults(progress(api, "AG.MB")) == (0, 1)


def test_a_bulk_group_import_counts_as_its_membership_events(feed, api):
    """300,000 families arrive in batches: members joining, leaving, and a left that
    overtook its join, all in one event, applied once."""
    people = [feed.person() for _ in range(5)]
    families = [str(uuid.uuid4()) for _ in range(2)]
    late = str(uuid.uuid4())
    feed.import_groups([(families[0], "family", LX, [(people[0], "joined"),
                                                     (people[1], "joined")]),
                        (families[1], "family", LX, [(people[2], "joined"),
                                                     (people[3], "left", late)])])
    found = progress(api, "AG.LX")
    assert found["adults_in_groups"] == 3
    assert indicator(found, "families_recognised")["denominator"] == 2
    feed.record_titles([(families[0], "family", LX, 2025, "recorded")])
    assert adults(progress(api, "AG.LX")) == (0, 2)

    feed.import_groups([(families[0], "family", LX, [(people[4], "joined")]),
                                   (families[1], "family", LX, [(people[3], "joined", late)])],
                                  batch=2)
    found = progress(api, "AG.LX")
    assert adults(found) == (0, 3)          # a new member of the recognised family
    assert found["adults_in_groups"] == 4   # the late join never counts
    feed.grant(people[4])
    assert adults(progress(api, "AG.LX")) == (1, 3)
    assert populations(progress(api, "AG.LX"))["adults_in_groups"][:2] == (1, 4)


def test_title_holders_count_as_digitally_skilled_once_trained(feed, api):
    """Every title holder has the level, so the old figure was always 100%."""
    trained, untrained, unfinished = feed.person(), feed.person(), feed.person()
    feed.training(trained)
    feed.training(unfinished, kind="digital_skills_proficient", ended_on=None)
    for p in (trained, untrained, unfinished):
        feed.grant(p, skills="proficient")
    found = progress(api, "AG.LX")
    skilled = indicator(found, "titled_with_digital_skills")
    assert (skilled["numerator"], skilled["denominator"]) == (1, 3)
    assert indicator(found, "titled_digitally_proficient")["numerator"] == 1
    assert found["titled_digitally_skilled"] == 1
    feed.training(unfinished, kind="digital_skills_proficient")   # finished now
    assert indicator(progress(api, "AG.LX"), "titled_with_digital_skills")["numerator"] == 2


class TestMilestones:
    @pytest.fixture
    def targets_change(self):
        def change(targets):
            targets["indicators"]["adults_titled"]["population"] = "all_adults"
            return targets
        return change

    def test_2026_is_measured_against_its_milestone_and_shows_the_2030_target(
            self, feed, api, engines):
        people = [feed.person() for _ in range(20)]
        grants = [feed.grant(p, year=2026) for p in people[:9]]     # 45%
        item = indicator(progress(api, "AG.LX", 2026), "adults_titled")
        assert (item["status"], item["milestone"], item["target"], item["target_year"]) == (
            "on_track", 0.44, 0.6, 2030)
        assert item["targets"] == {"2025": 0.4, "2030": 0.6}
        for g in grants[:2]:                                        # 35% < 44% x 0.9
            feed.revoke(g)
        item = indicator(progress(api, "AG.LX", 2026), "adults_titled")
        assert item["status"] == "behind"
        [event] = [e["data"] for e in outbox(engines["reporting"], "target_at_risk")
                   if e["data"]["unit_code"] == "AG.LX"
                   and e["data"]["indicator"] == "adults_titled"]
        assert (event["year"], event["target_year"], event["target"]) == (2026, 2030, 0.6)
        assert event["warning_line"] == pytest.approx(0.396)


def test_names_kinds_and_closed_units_replace_codes(feed, api):
    feed.unit(["AG"], "Tỉnh An Giang", kind="province")
    feed.unit(LX, "Phường Long Xuyên", kind="ward")
    feed.unit(MB, "Xã Mỹ Hòa Hưng")
    feed.person(path=MB)
    feed.unit(["AG", "AG.OLD"], "Xã Cũ", change="closed", valid_to="2025-06-30")
    found = progress(api, "AG.LX")
    assert (found["unit_name"], found["unit_kind"]) == ("Phường Long Xuyên", "ward")
    assert found["unit_path_names"] == ["Tỉnh An Giang", "Phường Long Xuyên"]
    rows = api.get("/units/AG/breakdown", params={"year": 2025}).json()
    assert rows["unit_name"] == "Tỉnh An Giang"
    assert {c["unit_code"]: c["unit_name"] for c in rows["children"]} == {
        "AG.LX": "Phường Long Xuyên", "AG.MB": "Xã Mỹ Hòa Hưng"}   # the closed one left out
    units = {u["unit_code"]: u for u in api.get("/units").json()["items"]}
    assert units["AG.OLD"]["closed"] and not units["AG.MB"]["closed"]
    assert units["AG"]["unit_name"] == "Tỉnh An Giang" and units["AG"]["kind"] == "province"


def test_the_association_counts_its_bodies_members_and_briefed(feed, api):
    feed.body(["AG", "AG.LX"], kind="commune_association", name="Hội Khuyến học phường")
    moving = feed.body(LX)
    feed.body(LX, kind="learning_board", name="Ban khuyến học trường")
    feed.person(roles=["association_member"])
    feed.body(MB, name=moving["body_name"], body_id=moving["body_id"], change="updated")
    assert progress(api, "AG.LX")["association"] == {
        "commune_association": 1, "branch": 0, "learning_board": 1, "members": 1,
        "members_briefed": 0}
    assert progress(api, "AG")["association"]["branch"] == 1
    feed.body(MB, name=moving["body_name"], body_id=moving["body_id"], change="removed")
    assert progress(api, "AG")["association"]["branch"] == 0


ENGLISH = re.compile(r"\b(Target|Unit|Total|Share|Indicator|Status|Review|Baseline|"
                     r"reached|behind|on_track)\b|[a-z]+_[a-z_]+")


def strings(book):
    return [v for ws in book.worksheets for row in ws.iter_rows(values_only=True)
            for v in [*row, ws.title] if isinstance(v, str)]


def test_the_annual_and_review_reports_show_names_in_vietnamese(feed, api):
    feed.unit(["AG"], "Tỉnh An Giang", kind="province")
    feed.unit(LX, "Phường Long Xuyên", kind="ward")
    family = str(uuid.uuid4())
    people = [feed.person() for _ in range(2)]
    for p in people:
        feed.join(p, family)
    feed.grant(people[0], year=2021)
    feed.grant(people[0], year=2025)
    feed.record_titles([(family, "family", LX, 2025, "recorded"),
                        (family, "family", LX, 2021, "recorded")])
    feed.body(LX)

    book = load_workbook(io.BytesIO(api.get("/units/AG/report.xlsx",
                                            params={"year": 2025}).content))
    assert not [s for s in strings(book) if ENGLISH.search(s)]
    rows = list(book["Người lớn đạt danh hiệu"].iter_rows(values_only=True))
    assert (1, "Phường Long Xuyên", "AG.LX", 1, 2, 50.0, 40.0, 40.0, 2025, 0, "Đạt") in rows
    assert rows[1] == ("Đơn vị báo cáo: Tỉnh An Giang (AG)",) + (None,) * (len(rows[1]) - 1)
    summary = list(book["Tổng hợp"].iter_rows(values_only=True))
    assert any(r[1] == "Gia đình học tập" and r[2] == "387/QĐ-TTg" for r in summary)
    association = list(book["Hội Khuyến học"].iter_rows(values_only=True))
    assert (2, "Chi hội khuyến học", 1) in association

    response = api.get("/units/AG/review-report.xlsx", params={"period": "2021-2025"})
    assert response.status_code == 200
    assert 'filename="cdht-so-ket-AG-2021-2025.xlsx"' in response.headers["Content-Disposition"]
    review = load_workbook(io.BytesIO(response.content))
    assert not [s for s in strings(review) if ENGLISH.search(s)]
    rows = list(review.worksheets[0].iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == "STT")
    assert header[4:10] == ("Ban đầu (%)", "Năm 2021 (%)", "Năm 2022 (%)", "Năm 2023 (%)",
                            "Năm 2024 (%)", "Năm 2025 (%)")
    ward = next(r for r in rows if r[2] == "AG.LX"
                and r[3] == "Người lớn đạt danh hiệu Công dân học tập")
    assert ward[1] == "Phường Long Xuyên"
    assert ward[4:12] == (50.0, 50.0, None, None, None, 50.0, 40.0, "1 / 2")
    assert ward[12] == "Đạt"
    assert api.get("/units/AG/review-report.xlsx",
                   params={"period": "2019-2023"}).status_code == 400
    found = api.get("/units/AG.LX/review", params={"period": "2026-2030"}).json()
    assert found["unit_name"] == "Phường Long Xuyên"
    first = next(i for i in found["indicators"] if i["indicator"] == "adults_titled")
    assert first["baseline"] == 0.5 and first["target_year"] == 2030
