"""The invariants (docs/architecture.md §D3-§D5): nothing committed is lost, nothing is applied twice.

Ground truth is read from the services' own databases on the suite's private cluster (the
outbox is what a producer committed; the inbox is what a consumer applied) and from the
suite's SMTP server; the figures under test are read through reporting's HTTP API.
"""
import re
from collections import Counter, defaultdict

from sqlalchemy import create_engine, text

from cdht.config import SERVICES
from fault.stream import PROVINCE, YEAR

CONGRATULATION = "Chúc mừng"               # recognition_granted.vi.subject.j2
REVIEW_REQUEST = "Bản tự đánh giá"          # assessment_submitted.vi.subject.j2
QUEUE = re.compile(r"evt-(?P<producer>[a-z]+)-(?P<event>[a-z_]+)--(?P<service>[a-z]+)\.")


def subscriptions():
    """{consumer service: {event type: producer}}, from the services' own handlers."""
    from cdht_tools.deadletters import consumer_queues
    found = defaultdict(dict)
    for service in SERVICES:
        for queue in consumer_queues(service):
            m = QUEUE.match(queue)
            found[service][m["event"]] = m["producer"]
    return found


class Ledger:
    """Read-only views of the four databases."""

    def __init__(self, system):
        self.engines = {s: create_engine(system.env[f"{s.upper()}_DATABASE_URL"],
                                         pool_pre_ping=True, pool_size=2)
                        for s in SERVICES}

    def close(self):
        for engine in self.engines.values():
            engine.dispose()

    def rows(self, service, sql, **params):
        with self.engines[service].connect() as conn:
            return conn.execute(text(sql), params).all()

    def scalar(self, service, sql, **params):
        with self.engines[service].connect() as conn:
            return conn.scalar(text(sql), params)

    def granted(self):
        return self.scalar("assessment", "SELECT count(*) FROM recognitions WHERE year = :y "
                           "AND revoked_at IS NULL", y=YEAR)

    def granted_by_unit(self):
        return dict(self.rows("assessment", "SELECT unit_code, count(*) FROM recognitions "
                              "WHERE year = :y AND revoked_at IS NULL GROUP BY unit_code",
                              y=YEAR))

    def backlog(self):
        return {s: self.scalar(s, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
                for s in SERVICES}

    def published(self):
        """{service: {event type: published count}}."""
        return {s: dict(self.rows(s, "SELECT event_type, count(*) FROM outbox "
                                     "WHERE published_at IS NOT NULL GROUP BY event_type"))
                for s in SERVICES}

    def outbox_ids(self, service, event_type):
        return {r[0] for r in self.rows(service, "SELECT event_id FROM outbox WHERE "
                                                 "event_type = :t", t=event_type)}

    def inbox_ids(self, service, event_type):
        return Counter(r[0] for r in self.rows(service, "SELECT event_id FROM inbox WHERE "
                                                        "event_type = :t", t=event_type))

    def inbox_total(self):
        return sum(self.scalar(s, "SELECT count(*) FROM inbox") for s in SERVICES)

    def deliveries(self):
        return dict(self.rows("notifications", "SELECT template || ':' || status, count(*) "
                                               "FROM deliveries GROUP BY 1"))


def titled(system, unit=PROVINCE):
    """Reporting's figure: titles of the year in the unit's subtree (None if unreadable)."""
    try:
        response = system.get("reporting", f"/units/{unit}/progress",
                              params={"year": YEAR}, retry_for=5)
    except RuntimeError:
        return None
    return response.json().get("titled") if response.status_code == 200 else None


def mail_counts(smtp):
    """Per recipient: congratulations and review requests received (raw SMTP copies), and
    the distinct Message-IDs among them (a resend after a crash keeps the delivery's id)."""
    raw = {CONGRATULATION: Counter(), REVIEW_REQUEST: Counter()}
    ids = {CONGRATULATION: defaultdict(set), REVIEW_REQUEST: defaultdict(set)}
    for rcpt, message_id, subject, _ in smtp.inbox.snapshot():
        for kind in raw:
            if subject.startswith(kind):
                raw[kind][rcpt] += 1
                ids[kind][rcpt].add(message_id)
    return raw, ids


class Failures(list):
    def check(self, ok, message):
        if not ok:
            self.append(message)
        return ok


def verify(system, ledger, smtp, province, expected_reviews, poison_dead=None):
    """Every invariant once the system is quiet; returns (failures, facts)."""
    fail = Failures()
    facts = {}
    granted = ledger.granted()
    facts["granted"] = granted
    fail.check(granted == len(province.people),
               f"recognitions granted {granted} != people who passed {len(province.people)}")
    # reporting's figures equal the titles granted, for the province and for each commune
    figure = titled(system)
    facts["titled"] = figure
    fail.check(figure == granted, f"reporting says {figure} titled, assessment granted "
                                  f"{granted}")
    by_unit = ledger.granted_by_unit()
    for code in province.communes:
        got = titled(system, code)
        fail.check(got == by_unit.get(code, 0),
                   f"{code}: reporting {got} titled, assessment granted {by_unit.get(code, 0)}")
    # every committed event reached every consumer exactly once (inbox = outbox, as sets)
    backlog = ledger.backlog()
    fail.check(not any(backlog.values()), f"outbox rows never published: {backlog}")
    lost = dup = 0
    for consumer, events in subscriptions().items():
        for event_type, producer in events.items():
            sent = ledger.outbox_ids(producer, event_type)
            applied = ledger.inbox_ids(consumer, event_type)
            extra = set(applied) - sent
            missing = sent - set(applied)
            twice = [e for e, n in applied.items() if n > 1]
            if event_type == "assessment_submitted" and consumer == "notifications":
                extra = {e for e in extra
                         if str(e) not in expected_reviews.get("injected", {})}
            lost += len(missing)
            dup += len(twice)
            fail.check(not missing, f"{consumer} never applied {len(missing)} {event_type} "
                                    f"event(s) of {producer}")
            fail.check(not twice, f"{consumer} applied {len(twice)} {event_type} twice")
            fail.check(not extra, f"{consumer} applied {len(extra)} {event_type} event(s) "
                                  f"that {producer} never committed")
    facts["events_lost"], facts["events_applied_twice"] = lost, dup
    # mail: exactly one congratulation per title, one review request per submission
    raw, ids = mail_counts(smtp)
    people = {email for _, email, _ in province.people}
    congrats_raw, congrats_ids = raw[CONGRATULATION], ids[CONGRATULATION]
    missing_mail = [e for e in people if congrats_raw[e] == 0]
    distinct_twice = [e for e in people if len(congrats_ids[e]) > 1]
    resent = sum(n - 1 for e, n in congrats_raw.items() if n > 1 and len(congrats_ids[e]) == 1)
    strangers = [e for e in congrats_raw if e not in people]
    facts["congratulations"] = sum(congrats_raw.values())
    facts["mail_resent_same_id"] = resent
    fail.check(not missing_mail, f"{len(missing_mail)} title holder(s) got no congratulation")
    fail.check(not distinct_twice, f"{len(distinct_twice)} title holder(s) congratulated by "
                                   "two different deliveries")
    fail.check(not strangers, f"congratulations to {len(strangers)} unknown address(es)")
    reviews_raw, reviews_ids = raw[REVIEW_REQUEST], ids[REVIEW_REQUEST]
    for email, count in expected_reviews["per_official"].items():
        fail.check(len(reviews_ids[email]) == count,
                   f"official {email}: {len(reviews_ids[email])} distinct review requests, "
                   f"expected {count}")
        resent += reviews_raw[email] - len(reviews_ids[email])
    facts["review_requests"] = sum(reviews_raw.values())
    facts["mail_resent_same_id"] = resent
    if poison_dead is not None:
        facts["poison_dead_letters"] = poison_dead
    return fail, facts


def resends(smtp, fault_windows):
    """Mails accepted twice with the same Message-ID (a send whose commit was lost), each
    put down to the last fault begun before the first copy was sent: {fault: copies}."""
    first, found = {}, Counter()
    for rcpt, message_id, _, at in sorted(smtp.inbox.snapshot(), key=lambda m: m[3]):
        key = (rcpt, message_id)
        if key in first:
            began = [name for name, start in fault_windows if start <= first[key]]
            found[began[-1] if began else "no fault"] += 1
        else:
            first[key] = at
    return dict(found)
