"""The suite's own PostgreSQL cluster, RabbitMQ node and SMTP server.

The machine's shared PostgreSQL (5432) and RabbitMQ (5672) serve other people's tests, so the
faults (restart the broker, stop the database) are only ever applied to servers started
here: each in a temporary directory, on free ports, torn down at the end.

PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the ``postgres`` user
(``runuser``), in a directory that user owns. RabbitMQ runs in the foreground as a child of
this process, with its own node name, ports, mnesia, logs, config and plugins file, and an
Erlang cookie in its own HOME (so nothing under /etc/rabbitmq or /var/lib/rabbitmq is read).
"""
import glob
import os
import shutil
import socket
import subprocess
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

PG_BIN = Path(os.environ.get("CDHT_FAULT_PG_BIN") or
              (sorted(glob.glob("/usr/lib/postgresql/*/bin"))
               or ["/usr/lib/postgresql/15/bin"])[-1])
RABBIT_SBIN = Path(os.environ.get("CDHT_FAULT_RABBIT_SBIN") or
                   (sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin"))
                    or ["/usr/lib/rabbitmq/bin"])[-1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not open port {port} in {timeout:.0f}s")
        time.sleep(0.2)


# No fsync: the suite kills processes, not the machine; the OS keeps what PostgreSQL wrote,
# and a process fault is what is being tested.
SUITE_SETTINGS = {"max_connections": 400, "fsync": "off", "synchronous_commit": "off",
                  "full_page_writes": "off", "shared_buffers": "256MB"}


class PrivatePostgres:
    """A throwaway cluster: trust auth on 127.0.0.1, socket in its own directory, with
    ``settings`` (the fault suite's by default; the benchmarks give the compose stack's)."""

    def __init__(self, workdir, settings=SUITE_SETTINGS):
        self.dir = Path(workdir) / "postgres"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        self.settings = settings

    def _run(self, *cmd, check=True, timeout=120):
        argv = [str(PG_BIN / cmd[0]), *cmd[1:]]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=check, capture_output=True, text=True,
                              timeout=timeout)

    def init(self):
        self.dir.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\n"
                       + "".join(f"{name} = '{value}'\n"
                                 for name, value in self.settings.items()))

    def start(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)

    def running(self):
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, database):
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"


class PrivateRabbit:
    """One RabbitMQ node ``cdht-fault-<n>@localhost``, management on its own port."""

    def __init__(self, workdir):
        self.dir = Path(workdir) / "rabbitmq"
        self.port = free_port()
        self.dist_port = free_port()
        self.management_port = free_port()
        self.node = f"cdht-fault-{os.getpid()}-{self.port}@localhost"
        self.process = None
        self.log = self.dir / "stdout.log"

    @property
    def amqp_uri(self):
        return f"pyamqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def api_uri(self):
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    def env(self):
        d = self.dir
        return {**os.environ,
                "HOME": str(d),  # the Erlang cookie of this node and its rabbitmqctl
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
                "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
                "ERL_EPMD_ADDRESS": "127.0.0.1"}

    def init(self):
        self.dir.mkdir(parents=True)
        (self.dir / "rabbitmq-env.conf").write_text("# the fault suite's node: nothing here\n")
        (self.dir / "advanced.config").write_text("[].\n")
        (self.dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.port = {self.management_port}\n"
            "management.tcp.ip = 127.0.0.1\n"
            # the default 50 MB free-disk alarm would block publishers on a full /tmp
            "disk_free_limit.absolute = 50MB\n"
            "vm_memory_high_watermark.relative = 0.6\n")

    def start(self, timeout=90):
        log = open(self.log, "ab")
        self.process = subprocess.Popen([str(RABBIT_SBIN / "rabbitmq-server")], env=self.env(),
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=self.dir)
        log.close()
        wait_port(self.port, timeout, f"RabbitMQ node {self.node}", self.process)

    def ctl(self, *args, timeout=60):
        return subprocess.run([str(RABBIT_SBIN / "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env(), capture_output=True, text=True, timeout=timeout)

    def stop(self, timeout=60):
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.ctl("stop", timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.process = None

    def restart(self):
        self.stop()
        self.start()


class MailInbox:
    """aiosmtpd handler: every accepted mail, by recipient, with its Message-ID."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mails = []  # (recipient, message_id, subject, monotonic time received)

    async def handle_DATA(self, server, session, envelope):
        mail = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.mails.append((rcpt, mail.get("Message-ID"), str(mail.get("Subject")),
                                   time.monotonic()))
        return "250 OK"

    def snapshot(self):
        with self.lock:
            return list(self.mails)


class SmtpServer:
    def __init__(self):
        from aiosmtpd.controller import Controller
        self.inbox = MailInbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()
