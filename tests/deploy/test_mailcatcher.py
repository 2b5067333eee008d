"""The dev override's mail catcher (deploy/images/mailcatcher/mailcatcher.py), run here as a
process on loopback ports: mails sent over SMTP are read back over HTTP, filtered by recipient,
kept across a restart in MAILCATCHER_DIR, and forgotten on DELETE."""
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest
import requests

from tests.deploy.stack import ROOT, free_port

SCRIPT = ROOT / "deploy" / "images" / "mailcatcher" / "mailcatcher.py"


@pytest.fixture
def catcher(tmp_path):
    ports = {"smtp": free_port(), "http": free_port()}
    env = {"PATH": "/usr/bin:/bin", "MAILCATCHER_SMTP_PORT": str(ports["smtp"]),
           "MAILCATCHER_HTTP_PORT": str(ports["http"]), "MAILCATCHER_DIR": str(tmp_path / "mail")}
    processes = []

    def start():
        process = subprocess.Popen([sys.executable, str(SCRIPT)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{ports['http']}/readyz",
                                timeout=1).status_code == 200:
                    return process
            except requests.RequestException:
                time.sleep(0.1)
        process.kill()
        pytest.fail(f"the mail catcher did not start: {process.stdout.read().decode()}")

    start()
    yield ports, start, processes
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def send(port, to, subject, body, message_id=None):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "khuyenhoc@localhost", to, subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_mails_are_read_back_filtered_kept_and_forgotten(catcher):
    ports, start, processes = catcher
    api = f"http://127.0.0.1:{ports['http']}/messages"
    send(ports["smtp"], "an@example.org", "Chúc mừng Nguyễn Văn An", "Kính gửi Ông/Bà An",
         message_id="<d1@localhost>")
    send(ports["smtp"], "binh@example.org", "Thông báo", "Kính gửi Ông/Bà Bình")
    everything = requests.get(api, timeout=5).json()
    assert everything["total"] == 2
    to_an = requests.get(api, params={"to": "an@example.org"}, timeout=5).json()["messages"]
    assert [(m["to"], m["subject"]) for m in to_an] == [(["an@example.org"],
                                                         "Chúc mừng Nguyễn Văn An")]
    assert to_an[0]["text"].strip() == "Kính gửi Ông/Bà An"
    assert to_an[0]["message_id"] == "<d1@localhost>"  # a resend after a crash keeps it

    processes[-1].terminate()
    processes[-1].wait(timeout=10)
    start()  # a restarted container keeps its mails (the volume)
    assert requests.get(api, timeout=5).json()["total"] == 2

    assert requests.delete(api, timeout=5).json() == {"total": 0}
    assert requests.get(api, timeout=5).json()["total"] == 0
    assert requests.get(f"http://127.0.0.1:{ports['http']}/nothing", timeout=5).status_code == 404
