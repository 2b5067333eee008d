"""Imports in the background of the registry service: uploads stored in a directory of their
own, each import run in a managed greenthread of the container (yielding between chunks, so
heartbeats and HTTP go on), a few at a time, stopped cleanly between two chunks when the
service stops. Each chunk of an import leaves its rows in the personal data audit, in its
transaction (runner.Importer.audit): the people it changed, as the caller's."""
import logging
import os
import tempfile
from functools import partial
from pathlib import Path

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from sqlalchemy.orm import sessionmaker

from cdht.db import Database, make_engine
from cdht.redact import redact
from cdht.web import ApiError
from services.registry.disclosure import NATIONAL_ID_REFUSALS
from services.registry.imports.files import ImportFileError
from services.registry.imports.runner import Importer, connections

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 300 * 1024 * 1024  # ~2 million rows of the layout as CSV


class ImportRunner(DependencyProvider):
    """Stores uploads and runs imports in managed threads of the service container.

    Config: ``IMPORT_MAX_BYTES`` (upload limit), ``IMPORT_DIR`` (where uploads wait),
    ``IMPORT_CONCURRENCY`` (imports running at once per process; more wait queued).
    """

    def setup(self):
        config = self.container.config
        self.max_bytes = int(config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)
        self.directory = Path(config.get("IMPORT_DIR") or
                              Path(tempfile.gettempdir()) / "cdht-imports")
        concurrency = int(config.get("IMPORT_CONCURRENCY") or 1)
        self.engine = make_engine(config["DATABASE_URL"], pool_size=2,
                                  max_overflow=connections() * concurrency - 2)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.slots = Semaphore(concurrency)
        self.running = {}
        self.stopping = False

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            failed = self.importer().fail_interrupted()
            if failed:
                log.warning("%d import(s) interrupted by an earlier stop marked failed", failed)
        except Exception:  # the tables may not be migrated yet: /health will say so
            log.warning("could not check for interrupted imports", exc_info=True)

    def stop(self):
        self.stopping = True
        for thread in list(self.running.values()):  # each stops at its next chunk
            with eventlet.Timeout(60, False):
                thread.wait()
        self.engine.dispose()

    def kill(self):
        self.stopping = True
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        return self

    # -- used by the endpoints -------------------------------------------------------------
    def importer(self, kind="people", caller=None, restore=False):
        """An Importer; for a caller other than an admin, kept to their unit's subtree. Its
        chunks are audited as the caller's; ``restore``: it may restore removed people."""
        scope = ({} if caller is None or caller.is_admin else
                 {"within": caller.unit_code, "on_refused": partial(_refused, caller)})
        audit = {} if caller is None else {"actor": (caller.subject, caller.role)}
        return Importer(self.sessions, kind=kind, on_commit=self._wake_relay, pause=self._pause,
                        restore=restore, **scope, **audit)

    def _pause(self):
        eventlet.sleep(0)  # let the hub run: heartbeats, HTTP, other workers
        if self.stopping:
            raise ImportInterrupted()

    def _wake_relay(self):
        for dependency in self.container.dependencies:
            if isinstance(dependency, Database) and dependency.relay is not None:
                dependency.relay.wake()

    def save(self, stream):
        """Write the request body to a file of its own; ApiError 413 beyond the limit."""
        handle, path = tempfile.mkstemp(prefix="import-", suffix=".upload",
                                        dir=self.directory)
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    block = stream.read(1 << 20)
                    if not block:
                        break
                    size += len(block)
                    if size > self.max_bytes:
                        raise ApiError(413, f"file larger than {self.max_bytes} bytes")
                    out.write(block)
        except BaseException:
            os.unlink(path)
            raise
        return path, size

    def submit(self, job_id, path, layout, filename, correlation, caller=None, kind="people",
               restore=False):
        self.running[job_id] = self.container.spawn_managed_thread(
            partial(self._run, job_id, path, layout, filename, correlation, caller, kind,
                    restore),
            identifier=f"import-{job_id}")

    def _run(self, job_id, path, layout, filename, correlation, caller=None, kind="people",
             restore=False):
        importer = self.importer(kind, caller, restore)
        try:
            with self.slots:
                if self.stopping:
                    raise ImportInterrupted()
                summary = importer.run(path, filename=filename, job_id=job_id, layout=layout,
                                       correlation_id=correlation)
                log.info("import %s done: %d rows, %d good, %d bad, %.1fs", job_id,
                         summary.rows_read, summary.good, summary.bad, summary.seconds)
        except ImportInterrupted:
            importer.fail_job(job_id, {
                "code": "interrupted",
                "reason_vi": "Việc nhập bị dừng vì dịch vụ tắt; hãy nhập lại tệp, các dòng "
                             "đã lưu sẽ không bị thay đổi",
                "reason_en": "the import stopped because the service shut down; import the "
                             "file again: rows already saved stay unchanged"})
        except ImportFileError as exc:
            log.warning("import %s failed: %s", job_id, exc.reason_en)
        except Exception as exc:  # recorded on the job by Importer.run; no traceback here:
            # a driver's message can quote a row of the file (a national ID among it)
            log.error("import %s failed: %s", job_id, redact(f"{type(exc).__name__}: {exc}"))
        finally:
            self.running.pop(job_id, None)
            try:
                os.unlink(path)
            except OSError:
                pass


def _refused(caller, count):
    """National IDs an import of ``caller`` was refused (held outside their scope) count as
    POST /people's refusals do; past the limit the import stops, its chunk unwritten."""
    left = NATIONAL_ID_REFUSALS.remaining(caller.subject)
    NATIONAL_ID_REFUSALS.record(caller.subject, count)
    if count > left:
        raise ImportFileError(
            "national_id_refusals_exhausted",
            "Quá nhiều số định danh không thể đăng ký; việc nhập dừng lại, hãy thử lại sau",
            "too many national IDs could not be registered; the import stopped, try later")


class ImportInterrupted(Exception):
    """The service is stopping: the import stops between two chunks."""
