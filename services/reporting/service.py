"""The reporting service: projections kept current from registry and assessment events.

Each fact changes a handful of counters along its unit's path, in the same transaction as
its inbox row (DESIGN.md §2.4): O(tree depth), never a recount.
"""
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from cdht.consumer import handle_event
from cdht.db import Database
from cdht.inbox import first_delivery
from cdht.outbox import add_event
from cdht.web import ApiError, api, health
from services.reporting import domain
from services.reporting.models import Population, RecognitionFact, TitleCount, UnitPath
from services.reporting.schemas import ProgressQuerySchema, UnitProgressSchema

TARGETS = domain.load_targets()


class RecognitionNotYetSeen(Exception):
    """A revocation overtook its grant (they travel on different queues): retry later."""


def _add(session, model, keys, increments, returning=False):
    """Add ``increments`` to the counter row at ``keys``, creating it at zero if missing;
    with ``returning``, the row's counters after the change."""
    table = model.__table__
    stmt = insert(table).values(**keys, **increments)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={col: table.c[col] + stmt.excluded[col] for col in increments})
    if returning:
        return session.execute(stmt.returning(*(table.c[c] for c in increments))).mappings().one()
    session.execute(stmt)


def _titles(session, unit_code, year):
    row = session.get(TitleCount, (unit_code, year))
    return {"titled": row.titled, "digitally_skilled": row.digitally_skilled,
            "digitally_proficient": row.digitally_proficient} if row else {}


def _remember_paths(session, unit_paths):
    """Every unit on ``unit_paths`` with its path from the root, in one statement."""
    rows = {}
    for path in unit_paths:
        for i, code in enumerate(path):
            rows.setdefault(code, list(path[:i + 1]))
    if rows:
        session.execute(insert(UnitPath.__table__)
                        .values([{"unit_code": c, "path": p} for c, p in sorted(rows.items())])
                        .on_conflict_do_nothing())


_ADD_POPULATION = text("""
    INSERT INTO population (unit_code, birth_year, people)
    SELECT * FROM unnest(CAST(:codes AS varchar[]), CAST(:years AS int[]),
                         CAST(:deltas AS int[]))
    ON CONFLICT (unit_code, birth_year)
    DO UPDATE SET people = population.people + EXCLUDED.people
""")


def _apply_population(session, deltas):
    """Add ``{(unit_code, birth_year): n}`` to the population counters: one statement for
    any number of counters, rows taken in key order (no deadlock between two batches)."""
    if not deltas:
        return
    keys = sorted(deltas)
    session.execute(_ADD_POPULATION, {"codes": [k[0] for k in keys],
                                      "years": [k[1] for k in keys],
                                      "deltas": [deltas[k] for k in keys]})


def _population(session, unit_code):
    return dict(session.execute(select(Population.birth_year, Population.people)
                                .where(Population.unit_code == unit_code)).all())


class ReportingService:
    name = "reporting"
    db = Database(relay=True)
    config = Config()

    # -- population: the registry's people -------------------------------------------------
    def _apply_people(self, event, consumer, changes):
        """One transaction: the inbox row, the unit paths seen, every counter delta."""
        with self.db.transaction() as session:
            if not first_delivery(session, event, consumer):
                return
            _remember_paths(session, [p[key] for _, p in changes
                                      for key in ("unit_path", "from_unit_path")
                                      if p.get(key)])
            _apply_population(session, domain.batch_population_deltas(changes))

    @handle_event("registry", "person_registered")
    def on_person_registered(self, event):
        self._apply_people(event, "reporting.on_person_registered",
                           [("registered", event.data)])

    @handle_event("registry", "people_imported")
    def on_people_imported(self, event):
        """A batch of an import: up to 5000 people's changes in one transaction."""
        self._apply_people(event, "reporting.on_people_imported",
                           [(p["change"], p) for p in event.data["people"]])

    @handle_event("registry", "person_moved")
    def on_person_moved(self, event):
        self._apply_people(event, "reporting.on_person_moved", [("moved", event.data)])

    @handle_event("registry", "person_updated")
    def on_person_updated(self, event):
        self._apply_people(event, "reporting.on_person_updated", [("updated", event.data)])

    @handle_event("registry", "person_removed")
    def on_person_removed(self, event):
        self._apply_people(event, "reporting.on_person_removed", [("removed", event.data)])

    @handle_event("assessment", "recognition_granted")
    def on_recognition_granted(self, event):
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event, "reporting.on_recognition_granted"):
                return
            _remember_paths(session, [data["unit_path"]])
            session.add(RecognitionFact(
                recognition_id=data["recognition_id"], person_id=data["person_id"],
                year=data["year"], unit_path=data["unit_path"],
                digital_skills=data["digital_skills"], granted_at=event.occurred_at))
            self._apply_title(session, event, data["unit_path"], data["year"],
                              domain.title_increments(data["digital_skills"]))

    @handle_event("assessment", "recognition_revoked")
    def on_recognition_revoked(self, event):
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event, "reporting.on_recognition_revoked"):
                return
            fact = session.get(RecognitionFact, data["recognition_id"], with_for_update=True)
            if fact is None:
                raise RecognitionNotYetSeen(str(data["recognition_id"]))
            if fact.revoked_at is not None:
                return
            fact.revoked_at = event.occurred_at
            self._apply_title(session, event, fact.unit_path, fact.year,
                              domain.title_increments(fact.digital_skills, sign=-1))

    def _apply_title(self, session, event, unit_path, year, increments):
        leaf = unit_path[-1]
        population = _population(session, leaf)  # read before any counter row is locked
        # The counter rows are shared by every event of the unit's subtree (the province row
        # by all of them): touch them last, so each transaction holds their locks briefly.
        for code in unit_path[:-1]:  # root first: concurrent updates lock rows in one order
            _add(session, TitleCount, {"unit_code": code, "year": year}, increments)
        titles = _add(session, TitleCount, {"unit_code": leaf, "year": year}, increments,
                      returning=True)
        add_event(session, "statistics_updated", {
            "unit_code": leaf, "year": year, "people": sum(population.values()),
            "adults": domain.adults(population, year), "titled": titles["titled"],
            "titled_digitally_skilled": titles["digitally_skilled"],
            "titled_digitally_proficient": titles["digitally_proficient"],
            "cause_event_id": event.event_id,
        }, producer=self.name, correlation_id=event.correlation_id)

    # -- HTTP ------------------------------------------------------------------------------
    @api("GET", "/health")
    def health(self, request):
        return health(self.db, self.config["AMQP_URI"])

    @api("GET", "/units/<string:unit_code>/progress")
    def unit_progress(self, request, unit_code):
        try:
            query = ProgressQuerySchema().load(request.args.to_dict())
        except ValidationError as exc:
            raise ApiError(400, "invalid input", exc.messages) from None
        year = query["year"]
        with self.db.read() as session:
            population = _population(session, unit_code)
            titles = _titles(session, unit_code, year)
            unit_path = session.scalar(select(UnitPath.path)
                                       .where(UnitPath.unit_code == unit_code)) or [unit_code]
        indicators = domain.unit_progress(TARGETS, unit_path, year, population, titles)
        return UnitProgressSchema().dump({
            "unit_code": unit_code, "year": year, "people": sum(population.values()),
            "adults": domain.adults(population, year), "titled": titles.get("titled", 0),
            "indicators": [i.__dict__ for i in indicators]})
