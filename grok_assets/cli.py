"""``grok-assets``: seed sample data, verify and restore backups, run the demo.

Exit codes: 0 success, 1 a finding (the backup is not safe, a restore was refused),
2 a usage or infrastructure error (bad date, missing setting, S3 unreachable).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence

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

    restore = commands.add_parser("restore", help="rebuild a missing daily backup from the archive")
    restore.add_argument("--date", type=_date, required=True, help="YYYYMMDD or YYYY-MM-DD")
    restore.set_defaults(handler=cmd_restore)

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
