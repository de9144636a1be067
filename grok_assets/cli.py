"""``grok-assets``: seed sample data, verify and restore backups, clean up, sync, audit.

Exit codes: 0 success, 1 a finding (the backup is not safe, a restore was refused),
2 a usage or infrastructure error (bad date, missing setting, S3 unreachable).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from grok_assets import trading_calendar
from grok_assets.config import MissingSettingError

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_ERROR = 2


def _date(text: str) -> dt.date:
    try:
        return trading_calendar.parse_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"the window must be at least 1 day, not {days}")
    return days


def _today_in_tokyo() -> dt.date:
    from grok_assets.schemas import TOKYO

    return dt.datetime.now(ZoneInfo(TOKYO)).date()


def _store():  # type: ignore[no-untyped-def]
    from grok_assets.resources import make_storage_resource

    return make_storage_resource().store()


def cmd_seed_sample(args: argparse.Namespace) -> int:
    from grok_assets.seeding import seed_sample

    store = _store()
    report = seed_sample(store, args.start, args.end, seed=args.seed)
    print(
        f"seeded {len(report.days)} trading days ({report.days[0]} .. {report.days[-1]}) of "
        f"SYNTHETIC sample data into {store.uri('')}: {len(report.written)} objects written, "
        f"{len(report.unchanged)} unchanged"
    )
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from grok_assets.gate import backup_status

    status = backup_status(_store(), args.date.isoformat())
    for held, sentence in status.verdicts():
        print(("OK   " if held else "FAIL ") + sentence)
    return EXIT_OK if status.passed else EXIT_FINDING


def cmd_restore(args: argparse.Namespace) -> int:
    from grok_assets.restore import RestoreRefusedError, restore_daily_backup

    if args.archive_generation is not None:
        return _restore_generation(args)
    store = _store()
    try:
        outcome = restore_daily_backup(store, args.date)
    except RestoreRefusedError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_FINDING
    if outcome.written:
        print(f"restored {store.uri(outcome.key)} from the archive ({outcome.rows} rows)")
    else:
        print(f"{store.uri(outcome.key)} already exists ({outcome.rows} rows); left untouched")
    return EXIT_OK


def _generation_id(text: str) -> str:
    from grok_assets.generations import parse_generation_id

    try:
        return parse_generation_id(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _restore_generation(args: argparse.Namespace) -> int:
    from grok_assets.restore import RestoreRefusedError, restore_archive_generation

    store = _store()
    try:
        outcome = restore_archive_generation(
            store, args.archive_generation, allow_dropping_dates=args.allow_dropping_dates
        )
    except RestoreRefusedError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_FINDING
    from grok_assets import keys

    if not outcome.written:
        print(
            f"{store.uri(keys.ARCHIVE)} already is generation {outcome.generation}; left untouched"
        )
        return EXIT_OK
    print(
        f"restored {store.uri(keys.ARCHIVE)} from generation {outcome.generation} "
        f"({outcome.rows} rows, {outcome.dates} dates; MD5, schema and readability verified)"
    )
    if outcome.previous_generation:
        print(f"the replaced archive is kept as generation {outcome.previous_generation}")
    if outcome.dropped_dates:
        print(f"dates no longer in the archive: {', '.join(outcome.dropped_dates)}")
    print("manifest updated" if outcome.manifest_updated else "manifest unchanged")
    return EXIT_OK


def cmd_generations(args: argparse.Namespace) -> int:
    from grok_assets.generations import list_generations

    store = _store()
    generations = list_generations(store)
    for generation in generations:
        print(generation.line())
    print(f"{len(generations)} archive generation(s) under {store.uri('')}")
    return EXIT_OK


def cmd_cleanup(args: argparse.Namespace) -> int:
    from grok_assets.gate import GateError
    from grok_assets.retention import Action, apply_retention, plan_retention

    store = _store()
    as_of = args.as_of or _today_in_tokyo()
    try:
        plan = plan_retention(store, as_of, args.days)
        print(plan.header())
        if args.dry_run:
            items, verbs, tail = plan.items, ("would delete", "keep"), "nothing was deleted"
        else:
            outcome = apply_retention(store, plan)
            items, verbs = outcome.items, ("deleted", "kept")
            tail = "manifest updated" if outcome.manifest_updated else "manifest unchanged"
    except GateError as error:
        # Without the published date, retention cannot tell what the gate still needs.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    for item in items:
        print(item.line())
    deleted = sum(item.action is Action.DELETE for item in items)
    kept = sum(item.action is Action.KEEP for item in items)
    prefix = "dry run: " if args.dry_run else ""
    print(f"{prefix}{verbs[0]} {deleted}, {verbs[1]} {kept}; {tail}")
    # An old file that cannot go is a backup the archive does not vouch for.
    return EXIT_FINDING if kept else EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from grok_assets.sync import ManifestMissingError, sync_from_manifest

    try:
        report = sync_from_manifest(_store(), args.dest)
    except ManifestMissingError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FINDING
    for key in report.downloaded:
        print(f"downloaded {key}")
    for key, why in report.failed:
        print(f"FAILED {key}: {why}", file=sys.stderr)
    print(f"sync into {args.dest}: {report.summary()}")
    return EXIT_OK if report.ok else EXIT_FINDING


def cmd_fsck(args: argparse.Namespace) -> int:
    from grok_assets.fsck import run_fsck

    store = _store()
    findings = run_fsck(store)
    for finding in findings:
        print(finding.line())
    if findings:
        print(f"fsck {store.uri('')}: {len(findings)} finding(s)")
        return EXIT_FINDING
    print(f"fsck {store.uri('')}: no findings")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from grok_assets.check_command import UnknownAssetError, render_table, run_checks
    from grok_assets.definitions import defs

    try:
        rows = run_checks(defs, args.select or ())
    except UnknownAssetError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(render_table(rows))
    if any(row.passed is None for row in rows):
        return EXIT_ERROR
    return EXIT_OK if all(row.passed for row in rows) else EXIT_FINDING


def cmd_demo(args: argparse.Namespace) -> int:
    from grok_assets.demo import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grok-assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    seed = commands.add_parser("seed-sample", help="write synthetic sample bars and answers")
    seed.add_argument("--start", type=_date, required=True, help="YYYY-MM-DD")
    seed.add_argument("--end", type=_date, required=True, help="YYYY-MM-DD")
    seed.add_argument("--seed", type=int, default=0, help="random seed of the sample data")
    seed.set_defaults(handler=cmd_seed_sample)

    verify = commands.add_parser(
        "verify", help="is the day's daily backup in S3 and its date in the archive?"
    )
    verify.add_argument("--date", type=_date, required=True, help="YYYYMMDD or YYYY-MM-DD")
    verify.set_defaults(handler=cmd_verify)

    restore = commands.add_parser(
        "restore",
        help="rebuild a missing daily backup from the archive, or bring back an archive generation",
    )
    what = restore.add_mutually_exclusive_group(required=True)
    what.add_argument("--date", type=_date, help="YYYYMMDD or YYYY-MM-DD")
    what.add_argument(
        "--archive-generation",
        type=_generation_id,
        metavar="ID",
        help="make this generation (see `grok-assets generations`) the archive again, "
        "after verifying it; the current archive is kept as a generation first",
    )
    restore.add_argument(
        "--allow-dropping-dates",
        action="store_true",
        help="with --archive-generation: restore even if the current archive holds dates "
        "the generation lacks",
    )
    restore.set_defaults(handler=cmd_restore)

    generations = commands.add_parser(
        "generations", help="list the archive generations kept before each archive write"
    )
    generations.set_defaults(handler=cmd_generations)

    cleanup = commands.add_parser(
        "cleanup",
        help="delete old daily backups and candidates whose rows the archive holds exactly",
    )
    cleanup.add_argument(
        "--as-of", type=_date, default=None, help="YYYY-MM-DD (default: today in Asia/Tokyo)"
    )
    cleanup.add_argument(
        "--days", type=_days, default=7, help="keep files dated within this many days (7)"
    )
    cleanup.add_argument("--dry-run", action="store_true", help="print the plan and delete nothing")
    cleanup.set_defaults(handler=cmd_cleanup)

    sync = commands.add_parser(
        "sync", help="download the files manifest.json lists into a local directory"
    )
    sync.add_argument("--dest", type=Path, required=True, help="local directory")
    sync.set_defaults(handler=cmd_sync)

    fsck = commands.add_parser(
        "fsck", help="re-hash manifest files, check archive vs daily files, find strays"
    )
    fsck.set_defaults(handler=cmd_fsck)

    check = commands.add_parser(
        "check",
        help="run the asset checks against S3 and print a table; exit 1 if any failed",
    )
    check.add_argument(
        "--select",
        nargs="+",
        metavar="ASSET",
        help="assets whose checks to run (default: every asset that has checks)",
    )
    check.set_defaults(handler=cmd_check)

    demo = commands.add_parser("demo", help="run five days of the cycle and a blocked selection")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_ERROR if exit_.code not in (0, None) else EXIT_OK
    handler: Callable[[argparse.Namespace], int] = args.handler
    from grok_assets.storage import StorageError

    try:
        return handler(args)
    except (MissingSettingError, StorageError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
