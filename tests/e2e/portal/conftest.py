"""The whole system behind the portal, as real processes: the OpenID provider (deploy/idp,
node), the four services (accepting its access tokens) and the portal, on their own vhost and
the test databases, with a real SMTP server. A province (AG) with two communes, their
association officials, and an account at the provider for each role:

    admin, province (province staff, AG), commune (commune staff and association official of
    AG.LX), reviewer (association official of AG.LX), citizen, citizen2 and citizen3
    (residents of AG.LX), other_commune (commune staff of AG.MB), norole
    (an account with no CDHT role), platform (a learning platform's: a machine client, with
    no pages).

``portal.sign_in("citizen")`` gives a PortalClient signed in as that account."""
import uuid
from datetime import date

import pytest
from sqlalchemy.engine import make_url

from cdht import db
from cdht_tools import local
from services.registry.domain import national_id_for
from tests.browser.browser import Browser, missing_requirement as browser_missing
from tests.e2e.conftest import System
from tests.e2e.portal.browsing import Checked
from tests.e2e.portal.client import PortalClient
from tests.idp import IdentityProvider, account, missing_requirement
from tests.support import (
    TEST_CREDENTIAL_KEY_SECRET, TEST_PUBLIC_KEYS, empty_databases, free_port,
)

pytestmark = pytest.mark.e2e

PORTAL_CLIENT_ID = "cdht-portal"
PORTAL_CLIENT_SECRET = "portal-test-secret-" + uuid.uuid4().hex
UNITS = ({"code": "AG", "name": "Tỉnh An Giang", "kind": "province"},
         {"code": "AG.LX", "name": "Phường Long Xuyên", "kind": "ward", "parent_code": "AG"},
         {"code": "AG.MB", "name": "Xã Mỹ Hòa Hưng", "kind": "commune", "parent_code": "AG"})
# the communes' associations, named as a certificate names its issuer
ASSOCIATIONS = {"AG.LX": "Hội Khuyến học phường Long Xuyên",
                "AG.MB": "Hội Khuyến học xã Mỹ Hòa Hưng"}
_serial = iter(range(500, 10**6))
EMAILS = {}  # person id -> email, of the people registered here


def register(api, name, unit="AG.LX", born=date(1985, 4, 2), gender="female",
             target_group="resident", email=None):
    body = {"national_id": national_id_for(89, born, gender, next(_serial)),
            "full_name": name, "gender": gender, "birth_date": born.isoformat(),
            "email": email or f"{uuid.uuid4().hex[:8]}@example.org", "unit_code": unit,
            "target_group": target_group}
    response = api.post("registry", "/people", body)
    assert response.status_code == 201, response.text
    EMAILS[response.json()["id"]] = body["email"]
    return response.json()["id"]


def seat_official(api, person_id, unit):
    body = api.post("registry", "/association/bodies", {
        "kind": "commune_association", "name": ASSOCIATIONS[unit],
        "unit_code": unit}).json() if unit not in _bodies else _bodies[unit]
    _bodies[unit] = body
    response = api.post("registry", "/association/members", {
        "person_id": person_id, "body_id": body["id"], "role": "official",
        "joined_on": "2020-01-01"})
    assert response.status_code == 201, response.text


_bodies = {}


class PortalSystem:
    def __init__(self, api, idp, base_url, env, log_dir, people):
        self.api, self.idp, self.base_url = api, idp, base_url
        self.env, self.log_dir, self.people = env, log_dir, people
        self.emails = {name: EMAILS[pid] for name, pid in people.items()}
        self.processes = []

    def sign_in(self, username):
        client = PortalClient(self.base_url)
        response = client.sign_in(username, f"{username}-mat-khau")
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        return client

    def log(self):
        return (self.log_dir / "portal.log").read_text(errors="replace")

    def start_portal(self):
        self.processes = local.start_services(self.env, self.log_dir, ("portal",))
        try:
            local.wait_healthy(self.processes, timeout=60)
        except local.NotReady as exc:
            local.stop_processes(self.processes)
            pytest.fail(str(exc))

    def stop_portal(self):
        local.stop_processes(self.processes)
        self.processes = []


@pytest.fixture(scope="module")
def portal(migrated_databases, rabbit_manager, request, smtp, tmp_path_factory):
    why = missing_requirement()
    if why:
        pytest.skip(f"the OpenID provider cannot run: {why}")
    empty_databases(migrated_databases)
    _bodies.clear()
    tmp = tmp_path_factory.mktemp("portal")
    portal_port = free_port()
    base_url = f"http://127.0.0.1:{portal_port}"
    idp = IdentityProvider(tmp / "idp", clients=[{
        "client_id": PORTAL_CLIENT_ID, "client_secret": PORTAL_CLIENT_SECRET,
        "redirect_uris": [f"{base_url}/signin/callback"],
        "post_logout_redirect_uris": [f"{base_url}/signed-out"]}])
    vhost = f"cdht-portal-{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    amqp = request.config.getoption("RABBIT_AMQP_URI").rstrip("/") + "/" + vhost
    controller, _ = smtp
    env = {"AMQP_URI": amqp, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port),
           "RETRY_DELAYS_MS": "200,400,800", "LOG_LEVEL": "INFO",
           "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS, "OIDC_ISSUER": idp.issuer,
           # a certificate's QR code opens this portal's verification page
           "CREDENTIAL_KEY_SECRET": TEST_CREDENTIAL_KEY_SECRET, "PORTAL_PUBLIC_URL": base_url}
    for service, url in migrated_databases.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    log_dir = tmp / "logs"
    api = System(env, log_dir)
    portal_db = str(make_url(next(iter(migrated_databases.values())))
                    .set(database=f"cdht_test_portal_{uuid.uuid4().hex[:8]}")
                    .render_as_string(hide_password=False))
    try:
        api.start()
        for unit in UNITS:
            assert api.post("registry", "/units", unit).status_code == 201
        people = {
            "province": register(api, "Lê Văn Tỉnh", unit="AG", gender="male"),
            "commune": register(api, "Trần Thị Chủ Tịch"),
            "reviewer": register(api, "Phạm Văn Thẩm", gender="male"),
            "citizen": register(api, "Nguyễn Thị Học"),
            "citizen2": register(api, "Võ Văn Chăm", gender="male"),
            "citizen3": register(api, "Lý Thị Siêng"),
            "other_commune": register(api, "Đỗ Thị Khác", unit="AG.MB"),
        }
        seat_official(api, people["commune"], "AG.LX")
        seat_official(api, people["reviewer"], "AG.LX")
        idp.accounts = [
            account("admin", "admin", None, sub="portal-admin", name="Quản trị viên"),
            account("province", "province_staff", "AG", sub=people["province"],
                    name="Lê Văn Tỉnh"),
            account("commune", "commune_staff", "AG.LX", sub=people["commune"],
                    name="Trần Thị Chủ Tịch"),
            account("reviewer", "reviewer", "AG.LX", sub=people["reviewer"],
                    name="Phạm Văn Thẩm"),
            account("citizen", "citizen", "AG.LX", sub=people["citizen"],
                    name="Nguyễn Thị Học"),
            account("citizen2", "citizen", "AG.LX", sub=people["citizen2"],
                    name="Võ Văn Chăm"),
            account("citizen3", "citizen", "AG.LX", sub=people["citizen3"],
                    name="Lý Thị Siêng"),
            account("other_commune", "commune_staff", "AG.MB", sub=people["other_commune"],
                    name="Đỗ Thị Khác"),
            account("norole", None, None, name="Không Vai Trò"),
            account("platform", "learning_platform", None, sub="lms-ag",
                    name="Hệ thống học trực tuyến"),
        ]
        idp.start()
        db.upgrade("portal", url=portal_db)
        portal_env = {
            **env, "PORTAL_DATABASE_URL": portal_db,
            "PORTAL_HTTP_ADDRESS": f"127.0.0.1:{portal_port}", "PORTAL_PUBLIC_URL": base_url,
            "PORTAL_OIDC_CLIENT_ID": PORTAL_CLIENT_ID,
            "PORTAL_OIDC_CLIENT_SECRET": PORTAL_CLIENT_SECRET,
            **{f"PORTAL_{s.upper()}_URL": api.url(s, "") for s in local.SERVICES}}
        running = PortalSystem(api, idp, base_url, portal_env, log_dir, people)
        running.start_portal()
        yield running
        running.stop_portal()
    finally:
        api.stop()
        idp.stop()
        rabbit_manager.delete_vhost(vhost)
        db.drop_database(portal_db)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module (skipped where it cannot run)."""
    why = browser_missing()
    if why:
        pytest.skip(why)
    driver = Browser()
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def checked(browser):
    """Call with a page's name: axe-core at both sizes and a screenshot; the module fails at
    its end if a page had a serious or critical finding."""
    seen = Checked(browser)
    yield seen
    bad = {page: found for page, found in seen.found.items() if found}
    assert not bad, f"axe-core: serious or critical violations: {bad}"
