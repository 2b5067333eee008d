"""The menu: each entry once, with the roles it is shown to (the page's own ``@page`` roles
decide who may open it; a test holds the two in agreement)."""
from cdht.auth import PROVINCE, REVIEWERS, STAFF

CITIZEN = ("citizen",)

MENU = (
    ("/me", "menu_my_record", CITIZEN),
    ("/me/self-assessment", "menu_self_assessment", CITIZEN),
    ("/me/preferences", "menu_preferences", CITIZEN),
    ("/people", "menu_people", STAFF),
    ("/imports", "menu_imports", PROVINCE),
    ("/review", "menu_review", REVIEWERS),
    ("/decisions", "menu_decisions", STAFF),
    ("/group-titles", "menu_group_titles", STAFF),
    ("/closing", "menu_closing", STAFF),
    ("/dashboard", "menu_dashboard", REVIEWERS),
)


def menu_for(role):
    """(path, word key) of the entries a role is shown; an admin sees every staff entry."""
    if role == "admin":
        return [(path, key) for path, key, roles in MENU if roles != CITIZEN]
    return [(path, key) for path, key, roles in MENU if role in roles]
