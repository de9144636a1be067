"""Commands for running it on a laptop: ``seed-sample``, ``sync``, ``demo`` (``make run``)
and ``ui`` (``make ui``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grok_assets.cli.args import EXIT_FINDING, EXIT_OK, date_argument, positive_int
from grok_assets.settings import Settings


def cmd_seed_sample(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.dev.seeding import seed_sample
    from grok_assets.storage import open_store

    store = open_store(settings)
    report = seed_sample(store, args.start, args.end, seed=args.seed)
    print(
        f"seeded {len(report.days)} trading days ({report.days[0]} .. {report.days[-1]}) of "
        f"SYNTHETIC sample data into {store.uri('')}: {len(report.written)} objects written, "
        f"{len(report.unchanged)} unchanged"
    )
    return EXIT_OK


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.dev.sync import ManifestMissingError, sync_from_manifest
    from grok_assets.storage import open_store

    try:
        report = sync_from_manifest(open_store(settings), args.dest)
    except ManifestMissingError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FINDING
    for key in report.downloaded:
        print(f"downloaded {key}")
    for key, why in report.failed:
        print(f"FAILED {key}: {why}", file=sys.stderr)
    print(f"sync into {args.dest}: {report.summary()}")
    return EXIT_OK if report.ok else EXIT_FINDING


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.dev.demo import demo_target, play_demo

    with demo_target(settings) as target:
        return play_demo(target)


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.dev.demo import DEMO_CYCLE_DAYS
    from grok_assets.dev.ui import UiOptions, launch

    options = UiOptions(
        host=args.host or settings.ui_host,
        port=args.port or settings.ui_port,
        cycle_days=args.days or DEMO_CYCLE_DAYS,
        keep_schedules=args.keep_schedules,
        workspace=args.workspace,
    )
    return launch(options, settings)


def register(commands: Any) -> None:
    seed = commands.add_parser("seed-sample", help="write synthetic sample bars and answers")
    seed.add_argument("--start", type=date_argument, required=True, help="YYYY-MM-DD")
    seed.add_argument("--end", type=date_argument, required=True, help="YYYY-MM-DD")
    seed.add_argument("--seed", type=int, default=0, help="random seed of the sample data")
    seed.set_defaults(handler=cmd_seed_sample)

    sync = commands.add_parser(
        "sync", help="download the files manifest.json lists into a local directory"
    )
    sync.add_argument("--dest", type=Path, required=True, help="local directory")
    sync.set_defaults(handler=cmd_sync)

    demo = commands.add_parser("demo", help="run five days of the cycle and a blocked selection")
    demo.set_defaults(handler=cmd_demo)

    ui = commands.add_parser(
        "ui",
        help="run a few days of the cycle on a loopback S3 server, then serve the Dagster UI "
        "(dagster dev) over them until Ctrl-C",
    )
    ui.add_argument("--host", default=None, help="webserver host (GROK_UI_HOST; 127.0.0.1)")
    ui.add_argument(
        "--port",
        type=positive_int,
        default=None,
        help="webserver port (GROK_UI_PORT; 3000)",
    )
    ui.add_argument(
        "--days",
        type=positive_int,
        default=None,
        help="trading days of the cycle to run before the blocked one (default: the demo's, 5)",
    )
    ui.add_argument(
        "--keep-schedules",
        action="store_true",
        help="leave the schedules running in this local instance (default: stop them)",
    )
    ui.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace.yaml for dagster dev (default: ./workspace.yaml if present, "
        "else the module grok_assets.definitions)",
    )
    ui.set_defaults(handler=cmd_ui)
