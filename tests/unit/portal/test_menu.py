"""The menu shows each role the pages it may open, and no other (menu.py against the
``@page`` declarations of the service)."""
import pytest

from services.portal.menu import MENU, menu_for
from services.portal.pages import PageHandler
from services.portal.service import PortalService


def pages():
    found = {}
    for name in dir(PortalService):
        for entrypoint in getattr(getattr(PortalService, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, PageHandler):
                found[(entrypoint.method, entrypoint.url)] = entrypoint
    return found


@pytest.mark.parametrize("path, key, roles", MENU)
def test_every_menu_entry_is_a_page_its_roles_may_open(path, key, roles):
    page = pages().get(("GET", path))
    assert page is not None, f"no page GET {path}"
    assert set(roles) <= set(page.roles) | {"admin"}


def test_a_citizen_is_shown_their_own_pages_and_staff_theirs():
    citizen = dict(menu_for("citizen"))
    assert "/me" in citizen and "/people" not in citizen
    assert "/me" not in dict(menu_for("commune_staff"))
    assert "/imports" in dict(menu_for("province_staff"))
    assert "/imports" not in dict(menu_for("commune_staff"))
    assert len(menu_for("admin")) == len([e for e in MENU if e[2] != ("citizen",)])


def test_every_page_declares_who_may_open_it():
    found = pages()
    assert ("GET", "/signin") in found and found[("GET", "/signin")].public
    assert found[("POST", "/signout")].roles
    assert all(p.public or p.roles for p in found.values())
