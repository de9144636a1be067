"""Commands on the backups in S3: ``verify``, ``restore``, ``generations``, ``cleanup``,
``fsck``, ``adopt``. None of them imports Dagster: each builds its store from the
settings."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from grok_assets.cli.args import (
    EXIT_ERROR,
    EXIT_FINDING,
    EXIT_OK,
    date_argument,
    generation_id_argument,
    positive_int,
)
from grok_assets.settings import Settings


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.backup.gate import backup_status
    from grok_assets.storage import open_store

    status = backup_status(open_store(settings), args.date.isoformat())
    for held, sentence in status.verdicts():
        print(("OK   " if held else "FAIL ") + sentence)
    return EXIT_OK if status.passed else EXIT_FINDING


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.backup.restore import RestoreRefusedError, restore_daily_backup
    from grok_assets.storage import open_store

    store = open_store(settings)
    try:
        if args.archive_generation is not None:
            return _restore_generation(store, args)
        outcome = restore_daily_backup(store, args.date)
    except RestoreRefusedError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_FINDING
    if outcome.written:
        print(f"restored {store.uri(outcome.key)} from the archive ({outcome.rows} rows)")
    else:
        print(f"{store.uri(outcome.key)} already exists ({outcome.rows} rows); left untouched")
    return EXIT_OK


def _restore_generation(store: Any, args: argparse.Namespace) -> int:
    from grok_assets import layout
    from grok_assets.backup.restore import restore_archive_generation

    outcome = restore_archive_generation(
        store, args.archive_generation, allow_dropping_dates=args.allow_dropping_dates
    )
    archive = store.uri(layout.ARCHIVE)
    if not outcome.written:
        print(f"{archive} already is generation {outcome.generation}; left untouched")
        return EXIT_OK
    print(
        f"restored {archive} from generation {outcome.generation} ({outcome.rows} rows, "
        f"{outcome.dates} dates; MD5, schema and readability verified)"
    )
    if outcome.previous_generation:
        print(f"the replaced archive is kept as generation {outcome.previous_generation}")
    if outcome.dropped_dates:
        print(f"dates no longer in the archive: {', '.join(outcome.dropped_dates)}")
    print("manifest updated" if outcome.manifest_updated else "manifest unchanged")
    return EXIT_OK


def cmd_generations(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.backup.generations import list_generations
    from grok_assets.storage import open_store

    store = open_store(settings)
    generations = list_generations(store)
    for generation in generations:
        print(generation.line())
    print(f"{len(generations)} archive generation(s) under {store.uri('')}")
    return EXIT_OK


def cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.backup.gate import GateError
    from grok_assets.backup.retention import Action, apply_retention, plan_retention
    from grok_assets.storage import open_store
    from grok_assets.trading_calendar import today_in_tokyo

    store = open_store(settings)
    as_of = args.as_of or today_in_tokyo()
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


def cmd_fsck(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.backup.fsck import run_fsck
    from grok_assets.storage import open_store

    store = open_store(settings)
    findings = run_fsck(store)
    for finding in findings:
        print(finding.line())
    if findings:
        print(f"fsck {store.uri('')}: {len(findings)} finding(s)")
        return EXIT_FINDING
    print(f"fsck {store.uri('')}: no findings")
    return EXIT_OK


def cmd_adopt(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.backup.adopt import AdoptionConflictError, apply_adoption, plan_adoption
    from grok_assets.storage import open_store

    store = open_store(settings)
    plan = plan_adoption(store)
    print(f"adopting {store.uri('')}:")
    for step in plan.steps:
        print(f"  {step.line()}")
    if plan.problems:
        for problem in plan.problems:
            print(f"cannot adopt: {problem}", file=sys.stderr)
        print("nothing was changed")
        return EXIT_FINDING
    if plan.nothing_to_do:
        print("nothing to do: the bucket is already in this project's layout")
        return EXIT_OK
    if args.dry_run:
        print("dry run: nothing was changed")
        return EXIT_OK
    try:
        done = apply_adoption(store, plan)
    except AdoptionConflictError as error:
        print(f"stopped: {error}", file=sys.stderr)
        return EXIT_FINDING
    for line in done:
        print(line)
    return EXIT_OK


def register(commands: Any) -> None:
    verify = commands.add_parser(
        "verify", help="is the day's daily backup in S3 and its date in the archive?"
    )
    verify.add_argument("--date", type=date_argument, required=True, help="YYYYMMDD or YYYY-MM-DD")
    verify.set_defaults(handler=cmd_verify)

    restore = commands.add_parser(
        "restore",
        help="rebuild a missing daily backup from the archive, or bring back an archive generation",
    )
    what = restore.add_mutually_exclusive_group(required=True)
    what.add_argument("--date", type=date_argument, help="YYYYMMDD or YYYY-MM-DD")
    what.add_argument(
        "--archive-generation",
        type=generation_id_argument,
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
        "--as-of",
        type=date_argument,
        default=None,
        help="YYYY-MM-DD (default: today in Asia/Tokyo)",
    )
    cleanup.add_argument(
        "--days",
        type=positive_int,
        default=7,
        help="keep files dated within this many days (7)",
    )
    cleanup.add_argument("--dry-run", action="store_true", help="print the plan and delete nothing")
    cleanup.set_defaults(handler=cmd_cleanup)

    fsck = commands.add_parser(
        "fsck", help="re-hash manifest files, check archive vs daily files, find strays"
    )
    fsck.set_defaults(handler=cmd_fsck)

    adopt = commands.add_parser(
        "adopt",
        help="convert, in place, what the previous pipeline left in the bucket (archive, "
        "MD5 metadata, manifest) without losing a row",
    )
    adopt.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    adopt.set_defaults(handler=cmd_adopt)
