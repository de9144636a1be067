"""``grok-assets``: verify and restore backups, clean up, audit, run the checks, and run it
locally.

Exit codes: 0 success, 1 a finding (the backup is not safe, a restore was refused),
2 a usage or infrastructure error (bad date, missing setting, S3 unreachable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence

from grok_assets.cli import backups, checks, dev
from grok_assets.cli.args import EXIT_ERROR, EXIT_OK
from grok_assets.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grok-assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    backups.register(commands)
    checks.register(commands)
    dev.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; ``environ`` stands in for the process environment (tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_ERROR if exit_.code not in (0, None) else EXIT_OK
    settings = Settings(environ) if environ is not None else Settings.from_environment()
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    from grok_assets.storage.errors import StorageError

    try:
        return handler(args, settings)
    except (StorageError, ValueError) as error:
        # ValueError covers malformed or missing settings and bad input files.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
