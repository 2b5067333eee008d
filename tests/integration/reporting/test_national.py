"""The national overview on real RabbitMQ and PostgreSQL: three provinces fed by events,
their counters summed equal to each province's figures and to a recount from the rows;
GET /national through the service, admin only."""
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from cdht.contracts.events import INDICATORS
from services.reporting import domain, reads
from tests.integration.reporting.conftest import LX, MB, every_adult_rules, indicator

KG = ["KG", "KG.RG"]
CT = ["CT", "CT.NK"]


@pytest.fixture
def targets_change():
    """Every adult, the title's level; Kiên Giang asks more of its adults than the
    programme does."""
    def change(targets):
        targets = every_adult_rules(targets)
        targets["overrides"] = {"KG": {"adults_titled": {2025: 0.5, 2030: 0.7}}}
        return targets
    return change


@pytest.fixture
def provinces(feed):
    """An Giang (two communes), Kiên Giang, Cần Thơ: people, members, titles of 2025."""
    for path, name in ((["AG"], "Tỉnh An Giang"), (["KG"], "Tỉnh Kiên Giang"),
                       (["CT"], "Thành phố Cần Thơ")):
        feed.unit(path, name, kind="province")
    ag = [feed.person(path=LX, born=1980), feed.person(path=LX, born=1990),
          feed.person(path=LX, born=2015), feed.person(path=MB, born=1970,
                                                       roles=["association_member"])]
    feed.grant(ag[0], skills="basic")
    feed.grant(ag[3], skills="proficient")
    kg = [feed.person(path=KG, born=1985), feed.person(path=KG, born=1960),
          feed.person(path=KG, born=1975, roles=["unit_staff"])]
    feed.grant(kg[2], skills="none")
    feed.grant(kg[1], year=2024)
    feed.person(path=CT, born=2000)


RECOUNT = text("""
    SELECT u.path[1] AS province,
           count(*) FILTER (WHERE :year - p.birth_year >= 18) AS adults,
           count(r.person_id) FILTER (WHERE :year - p.birth_year >= 18) AS adults_titled,
           count(r.person_id) AS titled
    FROM people p JOIN unit_paths u USING (unit_code)
    LEFT JOIN recognition_facts r ON r.person_id = p.person_id AND r.year = :year
         AND r.revoked_at IS NULL
    WHERE p.registered AND NOT p.removed
    GROUP BY 1 ORDER BY 1
""")


def test_the_nation_sums_its_provinces_and_agrees_with_a_recount(provinces, engines,
                                                                 reporting_config):
    targets = domain.load_targets(reporting_config["TARGETS_FILE"])
    with Session(engines["reporting"]) as session:
        totals, rows, summed = reads.national(session, targets, reporting_config, 2025,
                                              "adults_titled")
        each = {code: reads.figure_rows(targets, reporting_config, path, 2025, counters,
                                        INDICATORS)
                for code, path, counters in (
                    (c, p, reads.proj.tallies_of(session, [c])[c])
                    for c, p in reads.children_of(session, []))}
        recount = {r.province: r for r in session.execute(RECOUNT, {"year": 2025})}
    assert [r["unit_code"] for r in rows] == ["AG", "CT", "KG"]
    assert [r["unit_name"] for r in rows] == ["Tỉnh An Giang", "Thành phố Cần Thơ",
                                              "Tỉnh Kiên Giang"]
    for i in INDICATORS:
        assert totals[i]["numerator"] == sum(e[i]["numerator"] for e in each.values()), i
        assert totals[i]["denominator"] == sum(e[i]["denominator"] for e in each.values()), i
    for row in rows:
        raw = recount[row["unit_code"]]
        assert (row["numerator"], row["denominator"]) == (raw.adults_titled, raw.adults)
    adults = totals["adults_titled"]
    assert (adults["numerator"], adults["denominator"]) == (
        sum(r.adults_titled for r in recount.values()), sum(r.adults for r in recount.values()))
    assert (adults["numerator"], adults["denominator"]) == (3, 7)
    assert domain.population_summary(summed, 2025)["titled"] == sum(
        r.titled for r in recount.values()) == 3
    # the nation against the programme's target, Kiên Giang against its own
    assert adults["target"] == 0.4
    assert {r["unit_code"]: r["target"] for r in rows} == {"AG": 0.4, "CT": 0.4, "KG": 0.5}


def test_get_national_for_an_admin_only(provinces, api, reporting_config, web_session):
    body = api.get("/national", params={"year": 2025}).json()
    assert body["indicator"] == "adults_titled"
    assert (body["people"], body["adults"], body["titled"]) == (8, 7, 3)
    assert body["association"]["members"] == 1
    assert [(c["unit_code"], c["numerator"], c["denominator"], c["gap"])
            for c in body["children"]] == [("CT", 0, 1, 1), ("KG", 1, 3, 1), ("AG", 2, 3, 0)]
    assert (body["total"]["numerator"], body["total"]["denominator"]) == (3, 7)
    assert [i["indicator"] for i in body["indicators"]] == list(INDICATORS)
    for code in ("AG", "KG", "CT"):
        progress = api.get(f"/units/{code}/progress", params={"year": 2025}).json()
        row = next(c for c in body["children"] if c["unit_code"] == code)
        assert (row["numerator"], row["denominator"], row["target"], row["status"]) == (
            indicator(progress, "adults_titled")["numerator"],
            indicator(progress, "adults_titled")["denominator"],
            indicator(progress, "adults_titled")["target"],
            indicator(progress, "adults_titled")["status"])
    staff = api.get("/national", params={"year": 2025, "indicator": "unit_staff_titled",
                                         "sort": "unit"}).json()
    assert [(c["unit_code"], c["numerator"], c["denominator"]) for c in staff["children"]] == [
        ("AG", 0, 0), ("CT", 0, 0), ("KG", 1, 1)]
    assert api.get("/national", params={"year": 2025, "sort": "nope"}).status_code == 400
    assert api.get("/national").status_code == 400
    assert "/national" in api.get("/openapi.json").json()["paths"]
    for role, unit in (("province_staff", "AG"), ("commune_staff", "AG.LX"),
                       ("reviewer", "AG.LX")):
        refused = web_session(reporting_config, role=role, unit_code=unit).get(
            "/national", params={"year": 2025})
        assert refused.status_code == 403, (role, refused.text)
    assert web_session(reporting_config, auth=False).get(
        "/national", params={"year": 2025}).status_code == 401
