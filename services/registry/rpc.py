"""What other services ask the registry over RPC about one person or one unit (a mixin of
RegistryService): the facts assessment places a person by, contact details at the moment a
notification is sent (never in events), a person's groups and positions, who to tell
about a unit's work, and the names a title's certificate carries (its holder's, its issuing
association's). The paged exports for rebuilds are in exports.py."""
import uuid
from datetime import date

from nameko.extensions import DependencyProvider

from cdht.broker import rpc  # nameko's, surviving a broker restart
from services.registry.handlers import audit_rpc_in, facts
from services.registry.models import Person
from services.registry.schemas import PersonFactsSchema


def _period(row):
    return {"joined_on": row.joined_on.isoformat(),
            "left_on": row.left_on and row.left_on.isoformat(),
            "current": row.left_on is None}


def _profile(store, person):
    return PersonFactsSchema().dump(facts(store, person))


def _contact(store, person):
    return {"person_id": str(person.id), "full_name": person.full_name,
            "email": person.email, "phone": person.phone, "language": person.language}


def _memberships(store, person):
    return {
        "person_id": str(person.id),
        "groups": [{"membership_id": str(m.id), "group_id": str(g.id),
                    "group_kind": g.kind, "group_name": g.name, "level": g.level,
                    "unit_code": g.unit_code, "role": m.role, **_period(m)}
                   for m, g in store.person_groups(person.id)],
        "association": [{"position_id": str(p.id), "body_id": str(b.id),
                         "body_kind": b.kind, "body_name": b.name,
                         "unit_code": b.unit_code, "role": p.role, **_period(p)}
                        for p, b in store.person_positions(person.id)],
    }


ASSOCIATION = "Hội Khuyến học"
KIND_WORDS = ("Thành phố", "Thị trấn", "Thị xã", "Đặc khu", "Phường", "Huyện", "Quận", "Tỉnh",
              "Xã")
NAMED_BY_KIND = {"province": "tỉnh", "district": "huyện", "commune": "xã", "ward": "phường",
                 "special_zone": "đặc khu"}


def association_name(unit_name, kind):
    """The association of a unit when no body of it is recorded: "Hội Khuyến học" and the
    unit's name with its kind word lower-cased ("Phường Long Xuyên" -> "Hội Khuyến học
    phường Long Xuyên"; a bare name gets its kind's word)."""
    name = " ".join(str(unit_name).split())
    for word in KIND_WORDS:
        if name.lower().startswith(word.lower() + " "):
            return f"{ASSOCIATION} {word.lower()}{name[len(word):]}"
    word = NAMED_BY_KIND.get(kind)
    return f"{ASSOCIATION} {word} {name}" if word else f"{ASSOCIATION} {name}"


def _holder(store, person):
    return {"person_id": str(person.id), "full_name": person.full_name}


def _live(store, person_id, answer):
    """``answer(store, person)`` about a live person; None for an unknown or removed one."""
    person = store.row(Person, uuid.UUID(str(person_id)))
    if person is None or person.deleted_at:
        return None
    return answer(store, person)


class RpcCaller(DependencyProvider):
    """The service that made this RPC call (the audit's actor), as its call id names it
    (``standalone_rpc_proxy`` for a script's client); "unknown" without one."""

    def get_dependency(self, worker_ctx):
        stack = worker_ctx.call_id_stack
        return stack[-2].split(".", 1)[0] if len(stack) > 1 else "unknown"


class RegistryRpc:
    rpc_caller = RpcCaller()

    def _about(self, person_id, answer, audited=None):
        """``answer(store, person)`` about a live person; None for an unknown or removed one.
        ``audited`` (an RPC of ONE_PERSON_RPCS) records the answer in the personal data
        audit, in the same transaction as the read."""
        opened = self.store.transaction() if audited else self.store.read()
        with opened as store:
            found = _live(store, person_id, answer)
            if found is not None and audited:
                audit_rpc_in(store, self.rpc_caller, audited, [found["person_id"]],
                             [k for k in found if k != "person_id"])
            return found

    @rpc
    def profile(self, person_id):
        """What assessment needs to place a person: unit, path, group, birth year. No PII."""
        return self._about(person_id, _profile)

    @rpc
    def profile_and_memberships(self, person_id, member_id):
        """``profile(person_id)`` and ``memberships(member_id)`` in one call: a step taken
        by staff on a person's behalf needs both (``{"profile": ..., "memberships": ...}``,
        each None for an unknown or removed person)."""
        with self.store.read() as store:
            return {"profile": _live(store, person_id, _profile),
                    "memberships": _live(store, member_id, _memberships)}

    @rpc
    def contact(self, person_id):
        """Contact details, asked at the moment a notification is sent (never in events);
        each answer is audited ('contact', the calling service as the actor)."""
        return self._about(person_id, _contact, audited="contact")

    @rpc
    def certificate_holder(self, person_id):
        """The full name a title's certificate and credential carry (nothing else); each
        answer is audited ('certificate', the calling service as the actor)."""
        return self._about(person_id, _holder, audited="certificate_holder")

    @rpc
    def issuer_profile(self, unit_code):
        """How a credential names the association issuing it at ``unit_code``: the unit's
        name and kind, its province's name, and the association's name (its commune-level
        association body's, when one is recorded, else derived from the unit's name). None
        for a unit not recorded."""
        with self.store.read() as store:
            path = store.unit_path(unit_code)
            units = {unit.code: unit for unit in store.units(path)} if path else {}
            unit = units.get(unit_code)
            if unit is None or unit.deleted_at is not None:
                return None
            body = store.commune_association_at(unit_code)
            return {"unit_code": unit.code, "unit_name": unit.name, "unit_kind": unit.kind,
                    "province_code": path[0], "province_name": units[path[0]].name,
                    "association_name": body.name if body is not None
                    else association_name(unit.name, unit.kind)}

    @rpc
    def memberships(self, person_id):
        """A person's groups and association positions, current and past (dates as ISO
        strings); None for an unknown or removed person."""
        return self._about(person_id, _memberships)

    @rpc
    def association_officials(self, unit_code):
        """Who to tell about a unit's work (a self-assessment to review, a target reached):
        the person ids of the current officials of the association's bodies at ``unit_code``
        (not of its sub-units), in a stable order. Contact details: ask ``contact``."""
        with self.store.read() as store:
            return store.officials_at(unit_code, date.today())
