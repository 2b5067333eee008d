"""The dev override's mail catcher: an SMTP sink (aiosmtpd, no auth, no TLS) that keeps every
mail it receives, and a small HTTP API to read them, for people and tests alike.

    SMTP  :1025   any sender, any recipient; nothing is relayed
    HTTP  :8025   GET /messages          every mail: from, to, subject, message_id, text,
                                         received_at
                  GET /messages?to=ADDR  only the mails to ADDR
                  DELETE /messages       forget them all
                  GET /readyz            200 once both listeners run (the health check)

Mails are kept in memory and, when MAILCATCHER_DIR is set, one .eml file each in that folder
(read back at start), so a restart of the container keeps them. Standard library + aiosmtpd.
"""
import email
import email.policy
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

SMTP_PORT = int(os.environ.get("MAILCATCHER_SMTP_PORT", "1025"))
HTTP_PORT = int(os.environ.get("MAILCATCHER_HTTP_PORT", "8025"))
STORE = Path(os.environ["MAILCATCHER_DIR"]) if os.environ.get("MAILCATCHER_DIR") else None

_lock = threading.Lock()
_mails = []


def _summary(raw, envelope_from, envelope_to, received_at):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    return {
        "from": envelope_from,
        "to": list(envelope_to),
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")),
        "text": body.get_content() if body is not None else "",
        "received_at": received_at,
    }


def _load():
    if STORE is None:
        return
    STORE.mkdir(parents=True, exist_ok=True)
    for path in sorted(STORE.glob("*.eml")):
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        _mails.append(_summary(path.read_bytes(), meta["from"], meta["to"], meta["received_at"]))


class Sink:
    async def handle_DATA(self, server, session, envelope):
        received_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        raw = envelope.original_content or envelope.content
        mail = _summary(raw, envelope.mail_from, envelope.rcpt_tos, received_at)
        with _lock:
            if STORE is not None:
                name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
                (STORE / f"{name}.json").write_text(json.dumps(
                    {"from": mail["from"], "to": mail["to"], "received_at": received_at}))
                (STORE / f"{name}.eml").write_bytes(raw)
            _mails.append(mail)
        print(f"mailcatcher: mail to {', '.join(mail['to'])}: {mail['subject']}", flush=True)
        return "250 OK"


class Api(BaseHTTPRequestHandler):
    def _send(self, status, payload):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/readyz":
            return self._send(200, {"status": "ok"})
        if url.path != "/messages":
            return self._send(404, {"error": "not found: /messages or /readyz"})
        wanted = parse_qs(url.query).get("to")
        with _lock:
            mails = [m for m in _mails if not wanted or set(wanted) & set(m["to"])]
        return self._send(200, {"total": len(mails), "messages": mails})

    def do_DELETE(self):
        if urlsplit(self.path).path != "/messages":
            return self._send(404, {"error": "not found"})
        with _lock:
            _mails.clear()
            if STORE is not None:
                for path in STORE.iterdir():
                    path.unlink()
        return self._send(200, {"total": 0})

    def log_message(self, *args):  # the SMTP side already logs each mail
        pass


def main():
    _load()
    controller = Controller(Sink(), hostname="0.0.0.0", port=SMTP_PORT)
    controller.start()
    print(f"mailcatcher: SMTP on :{SMTP_PORT}, HTTP on :{HTTP_PORT}", flush=True)
    try:
        ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), Api).serve_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
