"""What the portal's browser tests share: where screenshots go, the two sizes every page is
checked at, the axe-core check of each page met, and signing in through the provider's form.
The ``browser`` and ``checked`` fixtures (conftest.py) are built on it."""
import os
import tempfile
from pathlib import Path

# CDHT_PORTAL_SCREENSHOTS=docs/img/portal renews the staff guide's pictures
SHOTS = Path(os.environ.get("CDHT_PORTAL_SCREENSHOTS") or
             Path(tempfile.gettempdir()) / "cdht-portal-screenshots")
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
SERIOUS = ("serious", "critical")


class Checked:
    """The pages an accessibility check and a screenshot were taken of, with what axe found."""

    def __init__(self, browser):
        self.browser, self.found = browser, {}

    def __call__(self, name):
        for size, (width, height) in SIZES.items():
            self.browser.viewport([width, height])
            self.browser.screenshot(str(SHOTS / f"{name}-{size}.png"))
            serious = [v for v in self.browser.axe() if v["impact"] in SERIOUS]
            self.found[f"{name} ({size})"] = serious
        self.browser.viewport(list(SIZES["desktop"]))


def sign_in(browser, portal, username, path):
    """A new person at the browser: ``path``, the provider's sign-in form, and back."""
    browser.fresh()
    browser.goto(portal.base_url + path)
    assert browser.url().startswith(portal.idp.issuer)
    browser.fill(["#username", username])
    browser.fill(["#password", f"{username}-mat-khau"])
    landed = browser.follow("button[type=submit]")
    assert landed.startswith(portal.base_url + path), landed
    return landed
