"""The GitHub Actions workflow runs commands that exist, with secrets only from secrets."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from grok_assets.cli.main import build_parser
from grok_assets.definitions import defs

WORKFLOW = Path(__file__).resolve().parents[2] / ".github/workflows/verify-s3-backups.yml"


def _steps() -> list[dict[str, object]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return list(workflow["jobs"]["verify"]["steps"])


def _commands() -> list[list[str]]:
    commands = []
    for step in _steps():
        for line in str(step.get("run", "")).splitlines():
            if line.strip() and not line.strip().startswith(("export", "mkdir", "python")):
                commands.append(shlex.split(line))
    return commands


def test_workflow_runs_the_checks_only_job_that_exists() -> None:
    (job_command,) = [c for c in _commands() if c[:3] == ["dagster", "job", "execute"]]
    job_name = job_command[job_command.index("-j") + 1]
    assert job_command[job_command.index("-m") + 1] == "grok_assets.definitions"
    assert job_name == "verify_backups_job"
    assert defs.resolve_job_def(job_name).name == job_name


def test_workflow_uses_cli_subcommands_that_exist() -> None:
    subcommands = {c[1] for c in _commands() if c[0] == "grok-assets"}
    assert subcommands == {"check", "verify"}
    for subcommand in subcommands:
        # --help exits 0 for a known subcommand and 2 for an unknown one.
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([subcommand, "--help"])
        assert exit_.value.code == 0


def test_credentials_come_from_repository_secrets() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    env = workflow["jobs"]["verify"]["env"]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_BUCKET"):
        assert env[name] == f"${{{{ secrets.{name} }}}}"
    assert "${{ github.event.inputs" not in "".join(str(s.get("run", "")) for s in _steps())
