"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright): it shows the API's figures, drills down to a commune, speaks Vietnamese and
English, and changes when a new recognition arrives, without a reload."""
import os
import shutil
import uuid

import pytest

from tests.browser.browser import Browser
from tests.integration.reporting.conftest import LX, MB, every_adult_rules
from tests.support import token

CHROMIUM = os.environ.get("CDHT_CHROMIUM", "/usr/bin/chromium")

# Skipped on a developer's machine without Chromium; in CI (.ci/run installs it) a missing
# browser is a failure, not a silent skip.
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM) and os.environ.get("CI") != "true",
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


class Page:
    """The page in Chromium, through tests/browser/driver.py (see there why a process)."""

    def __init__(self):
        self.browser = Browser(CHROMIUM)

    def _do(self, **command):
        return self.browser.send(**command)

    def goto(self, url):
        return self._do(goto=url)

    def inner_text(self, selector):
        return self._do(text=selector)

    def attribute(self, selector, name):
        return self._do(attr=[selector, name])

    def attributes(self, selector, name):
        return self._do(attrs=[selector, name])

    def count(self, selector):
        return self._do(count=selector)

    def click(self, selector):
        return self._do(click=selector)

    def fill(self, selector, value):
        return self._do(fill=[selector, value])

    def add_cookie(self, name, value, url):
        return self._do(cookie={"name": name, "value": value, "url": url})

    def viewport(self, width, height):
        return self._do(viewport=[width, height])

    def axe(self):
        """axe-core's serious and critical violations of the page."""
        return [v for v in self._do(axe=None) if v["impact"] in ("serious", "critical")]

    def wait_for_function(self, expression, timeout=10000):
        return self._do(wait=expression, timeout=timeout)

    def close(self):
        self.browser.close()


@pytest.fixture
def targets_change():
    """The first stories probe with every adult (the class below runs as shipped)."""
    return every_adult_rules


@pytest.fixture
def page():
    page = Page()
    yield page
    page.close()


def card(page, indicator, field):
    return page.inner_text(f'[data-indicator="{indicator}"] [data-testid="{field}"]')


def open_with_token(page, url, bearer):
    """Open the dashboard and paste a token into its form, as a person does (the page
    keeps it in the tab's sessionStorage; no address ever carries it)."""
    page.goto(url)
    page.wait_for_function("!document.getElementById('login').hidden")
    page.fill("#token", bearer)
    page.click("#login-button")


def test_dashboard_shows_the_api_figures_and_updates_live(feed, api, reporting_config,
                                                          page):
    lx = [feed.person(path=LX) for _ in range(5)]
    mb = [feed.person(path=MB) for _ in range(2)]
    feed.grant(lx[0])
    feed.grant(mb[0], skills="proficient")
    base = f"http://{reporting_config['WEB_SERVER_ADDRESS']}"
    open_with_token(page, f"{base}/dashboard?unit=AG&year=2025",
                    token(role="province_staff", unit_code="AG"))
    page.wait_for_function("document.body.dataset.loaded === '1'")
    page.wait_for_function("sessionStorage.getItem('cdht.token') !== null")

    progress = api.get("/units/AG/progress", params={"year": 2025}).json()
    for i in progress["indicators"]:
        assert card(page, i["indicator"], "numerator") == str(i["numerator"])
        assert card(page, i["indicator"], "denominator") == str(i["denominator"])
    assert card(page, "adults_titled", "share") == "28.6%"          # 2 of 7
    assert card(page, "adults_titled", "gap") == "1"                # 40% of 7 = 2.8 -> 3
    assert page.attribute("html", "lang") == "vi"
    assert "Người lớn đạt danh hiệu" in page.inner_text("#cards")

    breakdown = api.get("/units/AG/breakdown", params={"year": 2025}).json()
    assert page.count("#children tr") == len(breakdown["children"]) == 2
    assert page.attributes("#children tr", "data-unit") == \
        [c["unit_code"] for c in breakdown["children"]] == ["AG.LX", "AG.MB"]  # by gap
    assert page.count("svg[data-chart]") == 9

    page.click("[data-testid=lang]")
    assert page.attribute("html", "lang") == "en"
    assert "Adults holding the Learning Citizen title" in page.inner_text("#cards")

    feed.grant(lx[1])  # a new recognition: the page follows without a reload
    page.wait_for_function(
        "document.querySelector('[data-indicator=\"adults_titled\"] "
        "[data-testid=numerator]').textContent === '3'", timeout=10000)
    assert card(page, "adults_titled", "status") == "Reached"

    page.click("#children tr[data-unit='AG.LX']")  # drill down to the ward
    page.wait_for_function("document.querySelector('[data-testid=unit]').textContent "
                           "=== 'AG.LX'", timeout=10000)
    ward = api.get("/units/AG.LX/progress", params={"year": 2025}).json()
    assert card(page, "adults_titled", "numerator") == str(
        next(i for i in ward["indicators"] if i["indicator"] == "adults_titled")["numerator"])
    assert page.count("#children tr") == 0


def test_dashboard_asks_for_a_token_and_its_data_calls_need_one(feed, api, reporting_config,
                                                                web_session, page):
    feed.grant(feed.person(path=LX))
    base = f"http://{reporting_config['WEB_SERVER_ADDRESS']}"
    anonymous = web_session(reporting_config, auth=False)
    assert anonymous.get("/dashboard").status_code == 200  # the page itself is open
    assert anonymous.get("/units/AG/progress", params={"year": 2025}).status_code == 401

    page.goto(f"{base}/dashboard?unit=AG&year=2025")
    page.wait_for_function("!document.getElementById('login').hidden")
    assert page.attribute("body", "data-loaded") is None  # no figures without a token

    page.fill("#token", token(role="commune_staff", unit_code="AG.LX"))
    page.click("#login-button")  # commune staff of AG.LX: the province is out of its scope
    page.wait_for_function("document.getElementById('login-why').textContent"
                           ".includes('không được xem') && !document.getElementById('login').hidden")
    assert page.attribute("body", "data-loaded") is None

    page.goto(f"{base}/dashboard?unit=AG.LX&year=2025")  # its own ward: shown
    page.wait_for_function("document.body.dataset.loaded === '1'")
    assert page.inner_text("[data-testid=unit]").startswith("AG.LX")
    assert card(page, "adults_titled", "numerator") == "1"


def test_dashboard_takes_no_token_from_its_address(feed, reporting_config, page):
    """A token in a URL ends up in histories, logs and Referer headers: ?token= is ignored
    (the page asks for one), and the page fetches its data from reporting itself unless
    the page names another place (the portal's data-api)."""
    feed.grant(feed.person(path=LX))
    base = f"http://{reporting_config['WEB_SERVER_ADDRESS']}"
    page.goto(f"{base}/dashboard?unit=AG&year=2025&token={token(role='admin')}")
    page.wait_for_function("!document.getElementById('login').hidden")
    assert page.attribute("body", "data-loaded") is None
    assert page.attribute("body", "data-api") == ""
    assert page.wait_for_function("sessionStorage.getItem('cdht.token') === null")


class TestAsShipped:
    @pytest.fixture
    def targets_change(self):
        return None

    def test_names_statuses_rules_the_association_and_the_review(
                self, feed, api, reporting_config, page):
        feed.unit(["AG"], "Tỉnh An Giang", kind="province")
        feed.unit(LX, "Phường Long Xuyên", kind="ward")
        feed.unit(MB, "Xã Mỹ Hòa Hưng")
        family = str(uuid.uuid4())
        people = [feed.person(path=LX) for _ in range(4)]
        for p in people[:2]:
            feed.join(p, family)
        feed.grant(people[0], year=2026)
        feed.record_titles([(family, "family", LX, 2026, "recorded")])
        feed.body(LX, kind="commune_association", name="Hội Khuyến học phường Long Xuyên")
        feed.person(path=MB)
        base = f"http://{reporting_config['WEB_SERVER_ADDRESS']}"
        open_with_token(page, f"{base}/dashboard?unit=AG&year=2026",
                        token(role="province_staff", unit_code="AG"))
        page.wait_for_function("document.body.dataset.loaded === '1'")

        assert page.inner_text("[data-testid=unit]") == "Tỉnh An Giang"
        assert page.inner_text("[data-testid=unit-code]") == "AG"
        assert "Số người đã đăng ký: 5" in page.inner_text("[data-testid=summary]")
        assert "Dân số" not in page.inner_text("main")
        assert "Hội Khuyến học cấp xã: 1" in page.inner_text("[data-testid=association]")
        # 1 of 2 adults of the recognised family: 50%, over 2026's milestone (44%), under 60%
        assert card(page, "adults_titled", "share") == "50.0%"
        assert card(page, "adults_titled", "status") == "Đúng tiến độ"
        assert card(page, "adults_titled", "milestone") == "44.0%"
        rules = page.inner_text('[data-indicator="adults_titled"] [data-testid=rules]')
        assert "Mọi người lớn đã đăng ký: 20.0% (1/5)" in rules
        assert card(page, "titled_with_digital_skills", "status") == "Chậm tiến độ"  # untrained
        assert card(page, "adults_titled", "document") == "Văn bản: KH-AG"
        names = page.inner_text("#children")
        assert "Phường Long Xuyên" in names and "Xã Mỹ Hòa Hưng" in names
        header = page.inner_text("table[data-testid=children] thead")
        assert "Chỉ tiêu" in header and "Chỉ số" not in header
        assert page.inner_text("#indicator-label") == "Chỉ số"
        assert "Chỉ tiêu 2030" in page.inner_text("#review-head")   # 2026 -> 2026-2030
        assert page.count("#review tr") == 9
        assert "Đúng tiến độ" in page.inner_text('#review tr[data-indicator="adults_titled"]')
