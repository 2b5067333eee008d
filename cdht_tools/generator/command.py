"""``python -m cdht_tools.generator``: write a whole synthetic province to a directory, with a
manifest of what was written (counts and checksums), and a progress bar on a terminal.
"""
import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from cdht_tools.generator.files import (SideFiles, write_bad_rows, write_people_csv,
                                        write_people_xlsx, write_structure)
from cdht_tools.generator.people import PeopleStream
from cdht_tools.generator.province import REFERENCE_DATE, build_province


class _Progress:
    """A rich progress bar when rich is installed and stderr is a terminal, else a line every
    10% on stderr (nothing when ``quiet``)."""

    def __init__(self, total, label, quiet=False):
        self.total, self.label, self.done, self.quiet = total, label, 0, quiet
        self._bar = None
        self._next_report = total / 10
        self._start = time.monotonic()
        if quiet or total == 0:
            return
        try:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
        except ImportError:
            return
        from rich.console import Console
        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                             console=console)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n):
        if not n:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif not self.quiet and self.done >= self._next_report:
            rate = self.done / max(time.monotonic() - self._start, 1e-9)
            print(f"{self.label}: {self.done:,}/{self.total:,} rows ({rate:,.0f} rows/s)",
                  file=sys.stderr, flush=True)
            self._next_report += self.total / 10

    def close(self):
        if self._bar is not None:
            self._bar.stop()

    def tap(self, items, every=5000):
        n = 0
        for item in items:
            yield item
            n += 1
            if n == every:
                self.advance(n)
                n = 0
        self.advance(n)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def generate(out_dir, people, seed=0, fmt="csv", bad_fraction=0.0, structure_format="csv",
             include_history=True, reference_date=REFERENCE_DATE, native_dates=False,
             quiet=True):
    """Write a whole synthetic province to ``out_dir``; returns the manifest (also written as
    manifest.json)."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown people format {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    province = build_province(seed, max(people, 1), include_history, reference_date)
    files = {name: {"path": path.name, "rows": n}
             for name, (path, n) in write_structure(province, out_dir, structure_format).items()}
    side = SideFiles(out_dir, reference_date)
    stream = PeopleStream(province, people, seed, bad_fraction, on_family=side.family)
    progress = _Progress(people, f"people.{fmt}", quiet)
    people_path = out_dir / f"people.{fmt}"
    people_started = time.monotonic()
    try:
        rows = progress.tap(side.tap(stream))
        if fmt == "csv":
            n = write_people_csv(people_path, rows)
        else:
            n = write_people_xlsx(people_path, rows, native_dates=native_dates)
    finally:
        progress.close()
        side.close()
    people_seconds = time.monotonic() - people_started
    files["people"] = {"path": people_path.name, "rows": n}
    for name, path in side.paths.items():
        files[name] = {"path": path.name, "rows": side.rows[name]}
    bad_path = out_dir / "bad_rows.csv"
    if bad_fraction > 0:
        write_bad_rows(bad_path, stream.bad_rows)
        files["bad_rows"] = {"path": bad_path.name, "rows": len(stream.bad_rows)}
    elif bad_path.exists():
        bad_path.unlink()
    for info in files.values():
        path = out_dir / info["path"]
        info["bytes"] = path.stat().st_size
        info["sha256"] = _sha256(path)
    counts = side.counts
    manifest = {
        "generator": "cdht_tools.generator",
        "seed": seed, "people": people, "bad_fraction": bad_fraction,
        "bad_rows": len(stream.bad_rows),
        "bad_kinds": dict(sorted(Counter(b.kind for b in stream.bad_rows).items())),
        "reference_date": reference_date.isoformat(),
        "people_format": fmt, "structure_format": structure_format,
        "structure": {k: v for k, v in province.summary().items()},
        "families": side.rows["families"],
        "good_rows": counts["good_rows"],
        "adults_on_reference_date": counts["adults"],
        "good_rows_by_gender": dict(sorted(counts["by_gender"].items())),
        "good_rows_by_target_group": dict(sorted(counts["by_target_group"].items())),
        "good_rows_by_role": dict(sorted(counts["by_role"].items())),
        "good_rows_by_unit": dict(sorted(counts["by_unit"].items())),
        "files": files,
    }
    with open(out_dir / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")
    manifest["_timing"] = {"seconds": time.monotonic() - started,
                           "people_seconds": people_seconds}
    return manifest


def _parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="python -m cdht_tools.generator",
        description="Write a synthetic An Giang province (units, groups, association bodies, "
                    "people in the import layout) to a directory.")
    ap.add_argument("--people", type=int, default=10_000, help="number of people (rows)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    ap.add_argument("--out", required=True, help="output directory (created if needed)")
    ap.add_argument("--format", choices=("csv", "xlsx"), default="csv",
                    help="people file format (default csv)")
    ap.add_argument("--bad-fraction", type=float, default=0.0,
                    help="share of people rows to break (e.g. 0.01); truth in bad_rows.csv")
    ap.add_argument("--structure-format", choices=("csv", "json"), default="csv",
                    help="format of units, groups and associations (default csv)")
    ap.add_argument("--no-history", action="store_true",
                    help="leave out the pre-2025 districts and old Kiên Giang province")
    ap.add_argument("--reference-date", type=date.fromisoformat, default=REFERENCE_DATE,
                    help=f"ages are drawn as of this date (default {REFERENCE_DATE})")
    ap.add_argument("--native-dates", action="store_true",
                    help="XLSX: birth dates as date cells instead of dd/mm/yyyy text")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    ap.add_argument("--profile", choices=("merged", "pre-merger"), default="merged",
                    help="merged: today's province (102 commune-level units); pre-merger: An "
                         "Giang before 1 July 2025 with its groups' titles (profiles.py)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="pre-merger: share of the real province's size (e.g. 0.01)")
    args = ap.parse_args(argv)
    if not 0 < args.scale <= 1:
        ap.error("--scale must be above 0 and at most 1")
    if args.people < 0:
        ap.error("--people must be >= 0")
    if not 0 <= args.bad_fraction <= 1:
        ap.error("--bad-fraction must be between 0 and 1")
    if args.reference_date > date.today():
        ap.error("--reference-date must not be in the future")
    return args


def main(argv=None):
    args = _parse_args(argv)
    if args.profile == "pre-merger":
        from cdht_tools.generator.profiles import generate_pre_merger, print_summary
        return print_summary(generate_pre_merger(args.out, args.seed, args.scale), args.out)
    m = generate(args.out, args.people, args.seed, args.format, args.bad_fraction,
                 args.structure_format, not args.no_history, args.reference_date,
                 args.native_dates, args.quiet)
    t = m["_timing"]
    out = Path(args.out)
    print(f"Synthetic An Giang province, seed {m['seed']}, {m['people']:,} people "
          f"({m['bad_rows']:,} bad rows), reference date {m['reference_date']}")
    s = m["structure"]
    print(f"  {s['commune_level_units']} commune-level units ({s.get('commune', 0)} communes, "
          f"{s.get('ward', 0)} wards, {s.get('special_zone', 0)} special zones), "
          f"{m['families']:,} families, {s['communities']:,} communities, {s['clans']:,} clans, "
          f"{s['learning_units']:,} learning units, {s.get('branch', 0):,} branches, "
          f"{s.get('learning_board', 0):,} learning boards")
    print(f"Wrote to {out}:")
    for info in m["files"].values():
        print(f"  {info['path']:<20} {info['rows']:>12,} rows {info['bytes'] / 1e6:>10.1f} MB")
    print(f"  {'manifest.json':<20} (parameters, counts, checksums)")
    rate = m["people"] / t["people_seconds"] if t["people_seconds"] else 0
    print(f"Took {t['seconds']:.1f} s; people pass {t['people_seconds']:.1f} s, {rate:,.0f} rows/s")
    return 0
