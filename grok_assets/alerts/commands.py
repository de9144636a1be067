"""The commands an alert tells a person to run, exactly as they are typed.

Runs are launched through the production instance's run queue (``dagster job launch``
with ``deploy/workspace.yaml``, from any container that has the instance), so that a
run started by hand is queued and limited like a scheduled one.
"""

from __future__ import annotations

import json
import shlex

WORKSPACE = "deploy/workspace.yaml"
FSCK = "grok-assets fsck"
CLEANUP_PLAN = "grok-assets cleanup --dry-run"
GENERATIONS = "grok-assets generations"
# grok_manifest rewrites manifest.json from what S3 holds.
MANIFEST_REFRESH = "dagster asset materialize -m grok_assets.definitions --select grok_manifest"
CALENDAR_UPGRADE = "pip install -U exchange_calendars"


def launch(job: str, partition: str | None = None) -> str:
    """``dagster job launch`` of ``job``, for ``partition`` when it has one."""
    command = ["dagster", "job", "launch", "-w", WORKSPACE, "-j", job]
    if partition:
        command += ["--tags", json.dumps({"dagster/partition": partition})]
    return shlex.join(command)


def restore(date: str) -> str:
    """Rebuilds the daily backup of ``date`` (YYYY-MM-DD) from the archive's rows."""
    return f"grok-assets restore --date {date.replace('-', '')}"
