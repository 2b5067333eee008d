"""The command line's imports (``cdht import people|groups FILE``): one function for both
kinds, a progress bar while it runs, then the counts and the first errors."""
import getpass
import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import sessionmaker

from cdht.config import load_config
from cdht.db import make_engine
from cdht.redact import redact
from services.registry.imports import files
from services.registry.imports.runner import CHUNK_ROWS, Importer, connections, error_rows


def run_import(kind, args, database_url=None, console=None):
    """``cdht import people|groups FILE``: run an import of ``kind`` against the registry
    database of ``services/registry/config.yaml``, with a progress bar; print a summary.
    ``args``: file, dry_run, errors (a report path), show_errors, chunk_rows, restore_removed.
    Each chunk is audited as the operator's (``cli:<OS user>``). Exit status:
    0 imported (bad rows are in the report), 2 the file can't be imported at all, 1 anything
    else."""
    console = console or Console(stderr=False, highlight=False)
    errors_console = Console(stderr=True, highlight=False)
    if not os.path.isfile(args.file):
        errors_console.print(f"[red]error:[/] no such file: {escape(args.file)}")
        return 2
    url = database_url or load_config("registry")["DATABASE_URL"]
    engine = make_engine(url, pool_size=connections(), max_overflow=0)
    importer = Importer(sessionmaker(engine, expire_on_commit=False), kind=kind,
                        chunk_rows=getattr(args, "chunk_rows", CHUNK_ROWS),
                        actor=(f"cli:{getpass.getuser()}", "operator"),
                        restore=getattr(args, "restore_removed", False))
    name = os.path.basename(args.file)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=errors_console, transient=False)
    task = progress.add_task(escape(f"{'checking' if args.dry_run else 'importing'} {name}"),
                             total=None)

    def on_progress(summary):
        total = max(summary.rows_total or 0, summary.rows_read) or None
        progress.update(task, completed=summary.rows_read, total=total)

    try:
        with progress:
            summary = importer.run(args.file, filename=name, dry_run=args.dry_run,
                                   progress=on_progress)
    except files.ImportFileError as exc:
        errors_console.print(f"[red]error:[/] {escape(exc.reason_vi)}\n       "
                             f"{escape(exc.reason_en)}")
        return 2
    except Exception as exc:
        errors_console.print(f"[red]error:[/] {escape(redact(f'{type(exc).__name__}: {exc}'))}")
        return 1
    finally:
        engine.dispose()

    table = Table(title=Text(f"{'Dry run' if args.dry_run else 'Import'} of {name}"),
                  show_header=False)
    rate = summary.rows_read / summary.seconds if summary.seconds else 0
    for label, value in (
            ("import id", summary.import_id or "(dry run: nothing written)"),
            ("format", summary.format), ("rows", summary.rows_read),
            ("good / bad", f"{summary.good} / {summary.bad}"),
            *importer.summary_lines(summary),
            ("errors reported", summary.error_count),
            ("events" if not args.dry_run else "events (would be)", summary.events),
            ("time", f"{summary.seconds:.1f} s ({rate:,.0f} rows/s)")):
        table.add_row(label, Text(str(value)))
    console.print(table)
    if summary.layout and summary.layout.get("ignored"):
        console.print(Text("columns ignored: " + ", ".join(summary.layout["ignored"])))

    def report():
        if summary.import_id is None:
            return ((e.row, e.column, e.reason_vi, e.reason_en) for e in summary.errors)
        engine2 = make_engine(url, pool_size=1, max_overflow=0)
        session = sessionmaker(engine2)()

        def rows():
            try:
                yield from error_rows(session, summary.import_id)
            finally:
                session.close()
                engine2.dispose()
        return rows()

    if summary.error_count and args.show_errors:
        shown = Table("row", "column", "lý do", "reason")
        for i, (row, column, vi, en) in enumerate(report()):
            if i >= args.show_errors:
                break
            shown.add_row(str(row), Text(column), Text(vi), Text(en))  # no markup from files
        console.print(shown)
        if summary.error_count > args.show_errors:
            console.print(f"... {summary.error_count - args.show_errors} more")
    if args.errors:
        if args.errors.lower().endswith(".xlsx"):
            files.write_report_xlsx(report(), args.errors)
        else:
            with open(args.errors, "w", encoding="utf-8", newline="") as fh:
                for chunk in files.report_csv(report()):
                    fh.write(chunk)
        console.print(f"error report written to {args.errors}")
    elif summary.import_id and summary.error_count:
        console.print(f"full report: GET /imports/{summary.import_id}/errors?format=csv "
                      "(or xlsx)")
    sys.stdout.flush()
    return 0
