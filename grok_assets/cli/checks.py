"""``grok-assets check``: the ``dagster asset check`` command Dagster 1.13 lacks.

It runs the checks of the selected assets in one run against S3 and reports every
result; unlike ``dagster job execute``, a failed non-blocking check fails it too.
The freshness checks are left to ``freshness_job``: they judge the time of day, not
what S3 holds, and would call every past day's bucket late.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grok_assets.cli.args import EXIT_ERROR, EXIT_FINDING, EXIT_OK
from grok_assets.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance, Definitions
    from dagster._utils.error import SerializableErrorInfo

CHECK_JOB_NAME = "grok_assets_check"


class UnknownAssetError(ValueError):
    pass


@dataclass(frozen=True)
class CheckRow:
    check: str
    asset: str
    passed: bool | None  # None: the check could not run (an error, not a verdict)
    severity: str
    target_date: str
    detail: str


def _deadline_checks() -> set[str]:
    from grok_assets.defs.checks.freshness import FRESHNESS_CHECKS

    return {key.to_user_string() for check in FRESHNESS_CHECKS for key in check.check_keys}


def checked_assets(defs: Definitions) -> dict[str, list[str]]:
    """Asset -> names of its checks (the freshness checks aside), for every asset that
    has checks."""
    graph = defs.resolve_asset_graph()
    deadlines = _deadline_checks()
    by_asset: dict[str, list[str]] = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        if key.to_user_string() not in deadlines:
            by_asset.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    return by_asset


def run_checks(
    defs: Definitions,
    assets: Sequence[str] = (),
    instance: DagsterInstance | None = None,
    resources: Mapping[str, Any] | None = None,
) -> list[CheckRow]:
    from dagster import AssetKey, AssetSelection, Definitions, define_asset_job

    from grok_assets.defs.checks.freshness import FRESHNESS_CHECKS
    from grok_assets.defs.run import run_quietly

    known = checked_assets(defs)
    unknown = [asset for asset in assets if asset not in known]
    if unknown:
        raise UnknownAssetError(
            f"no checks on {', '.join(unknown)}; assets with checks: {', '.join(sorted(known))}"
        )
    selected = list(assets) or sorted(known)
    job = define_asset_job(
        CHECK_JOB_NAME,
        selection=AssetSelection.checks_for_assets(*(AssetKey(a) for a in selected))
        - AssetSelection.checks(*FRESHNESS_CHECKS),
    )
    result = run_quietly(
        Definitions.merge(defs, Definitions(jobs=[job])),
        CHECK_JOB_NAME,
        instance=instance,
        resources=resources,
    )
    evaluated = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    errors = {
        event.step_key: _root_cause(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is not None
    }
    rows: list[CheckRow] = []
    for asset in selected:
        for check in known[asset]:
            evaluation = evaluated.get((asset, check))
            if evaluation is None:
                detail = next(
                    (message for step, message in errors.items() if step and check in step),
                    "the check did not run",
                )
                rows.append(CheckRow(check, asset, None, "ERROR", "", detail))
                continue
            metadata = evaluation.metadata
            target = metadata.get("target_date")
            rows.append(
                CheckRow(
                    check=check,
                    asset=asset,
                    passed=evaluation.passed,
                    severity=evaluation.severity.value,
                    target_date=str(target.value) if target is not None else "",
                    detail=evaluation.description or "",
                )
            )
    return rows


def _root_cause(error: SerializableErrorInfo) -> str:
    """The user-facing message under Dagster's "error while executing op" wrappers."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def render_table(rows: Sequence[CheckRow]) -> str:
    header = ("check", "asset", "passed", "target date", "detail")
    cells = [
        (
            row.check,
            row.asset,
            "ERROR" if row.passed is None else ("yes" if row.passed else f"NO ({row.severity})"),
            row.target_date,
            row.detail,
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *cells]) for i in range(4)]
    lines = []
    for line in [header, *cells]:
        lines.append(
            "  ".join(str(v).ljust(w) for v, w in zip(line[:4], widths, strict=True))
            + "  "
            + line[4]
        )
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from grok_assets.definitions import defs
    from grok_assets.defs.resources import storage_resource_from

    try:
        rows = run_checks(
            defs, args.select or (), resources={"storage": storage_resource_from(settings)}
        )
    except UnknownAssetError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(render_table(rows))
    if any(row.passed is None for row in rows):
        return EXIT_ERROR
    return EXIT_OK if all(row.passed for row in rows) else EXIT_FINDING


def register(commands: Any) -> None:
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
