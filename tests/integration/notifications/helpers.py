"""Helpers of the notifications tests: the SMTP sink, the SMS gateway (a real HTTP server),
people and officials in the real registry, and reading the service's tables."""
import base64
import itertools
import json
import threading
import uuid
from datetime import date
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select, text

from cdht.contracts import make_envelope
from services.notifications.models import Delivery
from tests.integration.registry.helpers import person_body

SMS_USER, SMS_PASSWORD = "cdht", "gateway-secret-pw"


class MailSink:
    """aiosmtpd handler: keeps what it accepts; refuses every recipient while ``refuse`` holds
    a reply (``{address}`` in it is the recipient's); counts the recipients asked for."""

    def __init__(self, refuse=None):
        self.refuse = refuse
        self.rcpt_attempts = 0
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts += 1
        if self.refuse:
            return self.refuse.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        return [message_from_bytes(e.original_content, policy=policy.default)
                for e in self.envelopes]

    def to(self, address):
        return [m for e, m in zip(self.envelopes, self.messages()) if address in e.rcpt_tos]


class SmsGateway:
    """An HTTP SMS gateway: POST / with a JSON body, basic auth. ``fail_next`` requests are
    answered ``fail_status`` (then it works), or every one while ``always_fail``."""

    def __init__(self):
        self.fail_next = 0
        self.always_fail = False
        self.fail_status = 503
        self.requests = []      # every request: (body, headers)
        self.sent = []          # the bodies accepted
        self._ids = itertools.count(1)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                gateway.requests.append((body, dict(self.headers)))
                expected = "Basic " + base64.b64encode(
                    f"{SMS_USER}:{SMS_PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"error": "unauthorised"})
                if gateway.always_fail or gateway.fail_next > 0:
                    gateway.fail_next = max(0, gateway.fail_next - 1)
                    return self._answer(gateway.fail_status, {"error": "try later"})
                gateway.sent.append(body)
                return self._answer(200, {"id": f"gw-{next(gateway._ids)}"})

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep numbers out of the test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


_serial = itertools.count(1)


def citizen(registry, unit="AG.LX", email="auto", phone=None, language="vi",
            full_name="Nguyễn Thị Hoa"):
    """A person registered in the real registry; returns (id, email)."""
    if email == "auto":
        email = f"citizen{next(_serial)}.{uuid.uuid4().hex[:6]}@example.org"
    person = registry.post("/people", person_body(
        unit, date(1985, 4, 2), "female", full_name=full_name, email=email, phone=phone,
        language=language))
    return person["id"], email


def official(registry, unit, **person):
    """A person holding an official's position in the association's body at ``unit``."""
    person_id, email = citizen(registry, unit=unit, **person)
    bodies = [b for b in registry.get("/association/bodies", params={"unit_code": unit})["items"]
              if b["unit_code"] == unit]  # the filter also lists the units below
    body = bodies[0] if bodies else registry.post("/association/bodies", {
        "kind": "commune_association", "unit_code": unit, "name": f"Hội Khuyến học {unit}",
        "parent_id": None})
    registry.post("/association/members", {"person_id": person_id, "body_id": body["id"],
                                           "role": "official", "joined_on": "2022-03-01"})
    return person_id, email


def deliveries(engine, **where):
    with engine.connect() as conn:
        stmt = select(Delivery.__table__).order_by(Delivery.created_at, Delivery.channel)
        for key, value in where.items():
            stmt = stmt.where(getattr(Delivery, key) == value)
        return conn.execute(stmt).mappings().all()


def outbox_events(engine):
    with engine.connect() as conn:
        return [(r.event_type, r.payload["data"]) for r in conn.execute(text(
            "SELECT event_type, payload FROM outbox ORDER BY id")).all()]


def finished(engine, count=1, **where):
    def check():
        rows = [r for r in deliveries(engine, **where) if r["status"] != "pending"]
        return rows if len(rows) >= count else None
    return check


def event(event_type, producer, **data):
    return make_envelope(event_type, data, producer=producer,
                         correlation_id=str(uuid.uuid4()))


def service_log(caplog):
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
