"""What each role sees of a person (disclosure.PERSON_VIEW), the masks, the per-caller limit of
refusals of a national ID held outside the caller's scope, and the handlers that apply them
(on the in-memory store of test_handlers.py)."""
import re
import uuid

import pytest

from cdht.auth import ROLES
from cdht.web import ApiError
from services.registry import disclosure
from services.registry.disclosure import (
    LAST_DIGITS, LEFT_OUT, MASKED, PERSON_VIEW, WHOLE, YEAR, RefusalLimit, mask_email,
    mask_phone, visible,
)
from services.registry.models import PersonalDataAudit, Unit
from services.registry.schemas import PersonSchema
from tests.unit.registry.test_handlers import ADMIN, new_person_body, person, request
from tests.unit.registry.test_handlers import registry as _registry, store as _store

store, registry = _store, _registry  # the fixtures of test_handlers.py

REVIEWER_LX = ("reviewer", "AG.LX")
PHONE = re.compile(PersonSchema().fields["phone"].metadata["pattern"])


def test_every_role_has_a_view_of_every_personal_field():
    assert set(PERSON_VIEW) == set(ROLES)
    for role, view in PERSON_VIEW.items():
        assert set(view) == set(disclosure.PERSONAL_FIELDS), role
        assert set(view.values()) <= {WHOLE, MASKED, YEAR, LEFT_OUT, LAST_DIGITS}
        assert view["national_id"] in (LAST_DIGITS, LEFT_OUT)  # never whole, for anyone


def test_a_reviewer_gets_the_minimum_staff_what_they_register_and_contact_with():
    assert PERSON_VIEW["reviewer"] | {} == {
        "national_id": LAST_DIGITS, "full_name": WHOLE, "gender": WHOLE, "birth_date": YEAR,
        "ethnicity": LEFT_OUT, "phone": MASKED, "email": MASKED}
    for role in ("admin", "province_staff", "commune_staff", "citizen"):
        assert all(PERSON_VIEW[role][f] == WHOLE for f in ("birth_date", "phone", "email"))


@pytest.mark.parametrize("phone, masked", [
    ("0912345612", "09******12"), ("+84912345678", "+8********78"), ("091234567", "09*****67"),
    (None, None)])
def test_a_masked_phone_keeps_its_length_and_still_matches_the_documented_pattern(phone,
                                                                                 masked):
    assert mask_phone(phone) == masked
    if phone:
        assert PHONE.fullmatch(masked)


@pytest.mark.parametrize("email, masked", [
    ("nguyen.an@example.org", "n***@example.org"), ("a@b.vn", "a***@b.vn"), (None, None)])
def test_a_masked_email_keeps_the_first_character_and_the_domain(email, masked):
    assert mask_email(email) == masked


def test_visible_masks_and_leaves_out_by_role():
    dumped = {"id": "x", "full_name": "Trần Thị Bích", "birth_date": "1980-05-17",
              "birth_year": 1980, "ethnicity": "Kinh", "phone": "0912345612",
              "email": "bich@example.org", "national_id_masked": "********0123"}
    assert visible(dumped, "commune_staff") == dumped
    shown = visible(dumped, "reviewer")
    assert shown == {"id": "x", "full_name": "Trần Thị Bích", "birth_year": 1980,
                     "phone": "09******12", "email": "b***@example.org",
                     "national_id_masked": "********0123"}


def test_the_refusal_limit_blocks_after_the_limit_and_frees_as_the_window_slides():
    now = [1000.0]
    limit = RefusalLimit(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limit.retry_after("a") == 0
        limit.record("a")
        now[0] += 1
    assert 0 < limit.retry_after("a") <= 60 and limit.remaining("a") == 0
    assert limit.retry_after("b") == 0  # per caller
    now[0] = 1060.5  # the first refusal (at 1000) left the window
    assert limit.retry_after("a") == 0 and limit.remaining("a") == 1


# -- through the handlers ---------------------------------------------------------------------
@pytest.fixture
def refusals(monkeypatch):
    fresh = RefusalLimit(limit=2)
    monkeypatch.setattr("services.registry.people.NATIONAL_ID_REFUSALS", fresh)
    return fresh


def test_a_reviewer_reads_masked_contacts_staff_whole(registry, store):
    held = person(store, phone="0912345612", email="an@example.org", ethnicity="Kinh")
    shown = registry.get_person(request("GET", f"/people/{held.id}", who=REVIEWER_LX), held.id)
    assert shown["phone"] == "09******12" and shown["email"] == "a***@example.org"
    assert "birth_date" not in shown and "ethnicity" not in shown
    assert shown["birth_year"] == 1990 and shown["national_id_masked"].endswith(
        held.national_id[-4:])
    whole = registry.get_person(request("GET", f"/people/{held.id}"), held.id)
    assert whole["phone"] == "0912345612" and whole["birth_date"] == "1990-05-01"


def test_an_id_held_outside_the_scope_is_a_generic_409_then_a_429(registry, store, refusals):
    store.add(Unit(code="KG", name="Kiên Giang", kind="province"))
    store.add(Unit(code="KG.RG", name="Rạch Giá", kind="ward", parent_code="KG"))
    held = person(store, unit="KG.RG")
    subject = str(uuid.uuid4())
    body = new_person_body() | {"national_id": held.national_id}
    answers = []
    for _ in range(2):
        with pytest.raises(ApiError) as refused:
            registry.register_person(request("POST", "/people", body, subject=subject))
        answers.append(refused.value)
    assert {a.status for a in answers} == {409}
    assert answers[0].errors["code"] == "national_id_unavailable"
    assert str(held.id) not in str(answers[0].errors) and "KG" not in str(answers[0].errors)
    audits = store.all(PersonalDataAudit)
    assert [(a.person_id, a.people, a.fields) for a in audits] == [
        (held.id, 0, ["national_id"])] * 2
    third = registry.register_person(request("POST", "/people", new_person_body(),
                                             subject=subject))
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0


def test_an_id_held_inside_the_scope_is_a_409_naming_the_person(registry, store, refusals):
    held = person(store, unit="AG.MB")
    body = new_person_body() | {"national_id": held.national_id}
    with pytest.raises(ApiError) as refused:
        registry.register_person(request("POST", "/people", body, who=ADMIN))
    assert refused.value.status == 409
    assert refused.value.errors["person_id"] == [str(held.id)]
    assert store.all(PersonalDataAudit) == []  # nothing written, no refusal counted
    assert not refusals._hits


def test_province_staff_change_neither_a_units_kind_nor_its_parent(registry, store):
    staff = ("province_staff", "AG")
    for change in ({"kind": "province", "parent_code": None}, {"parent_code": "AG.LX"},
                   {"kind": "ward"}):
        with pytest.raises(ApiError) as refused:
            registry.update_unit(request("PATCH", "/units/AG.MB", change, who=staff), "AG.MB")
        assert refused.value.status == 403
        assert refused.value.errors["code"] == "unit_structure_admin_only"
        unit = store.row(Unit, "AG.MB")
        assert (unit.kind, unit.parent_code) == ("commune", "AG")
