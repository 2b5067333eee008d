"""The staff's pages: people and imports (people_pages.py), group titles, closing a year and
the dashboard (programme_pages.py); what they check and say is in staff_forms.py."""
from services.portal.people_pages import PeoplePages
from services.portal.programme_pages import ProgrammePages


class StaffPages(PeoplePages, ProgrammePages):
    """The staff's pages, one mixin of the portal service."""
