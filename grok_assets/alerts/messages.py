"""What each alert says: one message per failed run, and the calendar warning.

A message leads with what matters most (a blocked selection, then lateness, then
anything else), says what was found in the words of the check or step that found it,
and ends with the command that fixes it. Slack ``mrkdwn``: ``*bold*`` and
```code```.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grok_assets.alerts import commands
from grok_assets.alerts.failure import FailedCheck, FailedStep, RunFailure
from grok_assets.layout import PUBLISHED_SELECTION

GATE_CHECKS = frozenset({"daily_backup_exists", "archive_contains_target_date"})
ARCHIVE_FRESH = "archive_fresh"
SELECTION_FRESH = "selection_fresh"
MANIFEST_CHECK = "manifest_matches_s3"
# Longer findings are cut: an alert is read on a phone.
DETAIL_LIMIT = 400

# Most urgent first: the headline of the message is the first problem's.
_BLOCKED, _LATE, _OTHER = 0, 1, 2


@dataclass
class _Problem:
    rank: int
    headline: str
    details: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 3] + "..."


def _code(command: str) -> str:
    return f"`{command}`"


def _for(partition: str | None) -> str:
    return f" for {partition}" if partition else ""


def _rerun(failure: RunFailure, why: str) -> str:
    return f"{why}: {_code(commands.launch(failure.job, failure.partition))}"


# -- checks ---------------------------------------------------------------------------


def _gate_fixes(target: str, archive_rows: int | None) -> list[str]:
    restore = f"rebuild its daily backup from the archive: {_code(commands.restore(target))}"
    backtest = f"back it up and archive it: {_code(commands.launch('backtest_job', target))}"
    if archive_rows is None:
        return [f"if the archive holds {target}, {restore}; otherwise {backtest}"]
    return [restore] if archive_rows > 0 else [backtest]


def _gate_problem(failure: RunFailure, checks: list[FailedCheck]) -> _Problem:
    target = next((c.text("target_date") for c in checks if c.text("target_date")), None)
    target = target or "the published day"
    details = [f"{c.check} ({c.asset}): {_cut(c.description)}" for c in checks]
    archive_rows = next((c.number("archive_rows") for c in checks), None)
    if target == failure.partition:
        # The run backed up its own day (backtest_job): that backup did not happen.
        return _Problem(
            _OTHER,
            f"{failure.job} for {target} did not back {target} up",
            details,
            [_rerun(failure, "once the failure above is fixed, run it again")],
        )
    if failure.job == "selection_job":
        headline = (
            f"selection_job{_for(failure.partition)} is BLOCKED by the backup gate: nothing "
            f"was published"
        )
    else:
        headline = f"the published selection {target} is not backed up"
    details.insert(
        0,
        f"{PUBLISHED_SELECTION} still holds {target}, which is not backed up; consumers "
        f"keep reading {target} until it is.",
    )
    fixes = _gate_fixes(target, archive_rows)
    if failure.job == "selection_job":
        fixes.append(_rerun(failure, "select again"))
    return _Problem(_BLOCKED, headline, details, fixes)


def _late_archive(check: FailedCheck) -> _Problem:
    due = check.text("due_date") or "today"
    return _Problem(
        _LATE,
        f"LATE: the archive does not hold {due}",
        [_cut(check.description)],
        [
            f"back it up: {_code(commands.launch('backtest_job', due))} (if backtest_job "
            f"for {due} failed, its own alert says why)"
        ],
    )


def _late_selection(check: FailedCheck) -> _Problem:
    due = check.text("due_date") or "the next trading day"
    return _Problem(
        _LATE,
        f"LATE: {PUBLISHED_SELECTION} does not hold {due}",
        [_cut(check.description)],
        [
            f"if the selection for {due} was blocked by the backup gate, that alert names "
            f"the fix; otherwise select it: {_code(commands.launch('selection_job', due))}"
        ],
    )


def _check_problems(failure: RunFailure) -> list[_Problem]:
    problems: list[_Problem] = []
    gate = [c for c in failure.checks if c.check in GATE_CHECKS]
    if gate:
        problems.append(_gate_problem(failure, gate))
    for check in failure.checks:
        if check.check in GATE_CHECKS:
            continue
        if check.check == ARCHIVE_FRESH:
            problems.append(_late_archive(check))
        elif check.check == SELECTION_FRESH:
            problems.append(_late_selection(check))
        elif check.check == MANIFEST_CHECK:
            problems.append(
                _Problem(
                    _OTHER,
                    "manifest.json does not match S3",
                    [_cut(check.description)],
                    [
                        f"rewrite it from S3: {_code(commands.MANIFEST_REFRESH)}",
                        f"see what else is off: {_code(commands.FSCK)}",
                    ],
                )
            )
        else:
            problems.append(
                _Problem(
                    _OTHER,
                    f"check {check.check} on {check.asset} failed",
                    [_cut(check.description)],
                )
            )
    return problems


# -- steps ----------------------------------------------------------------------------


def _step_problem(failure: RunFailure, step: FailedStep) -> _Problem:
    on = _for(failure.partition)
    said = _cut(step.message)
    kind = step.kind
    if kind == "gate_closed":
        target = str(step.metadata.get("target_date") or "") or "the published day"
        return _Problem(
            _BLOCKED,
            f"{step.step}{on} was not published: the backup gate is closed",
            [said],
            [*_gate_fixes(target, None), _rerun(failure, "publish again")],
        )
    if kind == "publish_conflict":
        return _Problem(
            _OTHER,
            f"{failure.job}{on}: another run published meanwhile; nothing was overwritten",
            [said],
            [_rerun(failure, "run it again to judge the gate afresh")],
        )
    if kind == "invalid_model_answer":
        return _Problem(
            _OTHER,
            f"the model's answer{on} is not a valid selection; nothing was written",
            [said],
            [
                _rerun(failure, "ask again")
                + " (with GROK_SELECTOR=replay, correct the recorded answer first)"
            ],
        )
    if kind == "model_request_failed":
        return _Problem(
            _OTHER,
            f"the xAI request{on} failed; nothing was written",
            [said],
            [_rerun(failure, "check XAI_API_KEY, GROK_MODEL and xAI's status, then ask again")],
        )
    if kind == "refused_write":
        return _Problem(
            _OTHER,
            f"{failure.job}{on}: a write was refused and S3 was left as it was",
            [said],
            [
                f"see what S3 holds: {_code(commands.FSCK)} and {_code(commands.GENERATIONS)}",
                _rerun(failure, "once the cause is understood, run it again"),
            ],
        )
    if kind == "configuration":
        return _Problem(
            _OTHER,
            f"{failure.job}{on} cannot reach its data: a setting or a permission",
            [said],
            [_rerun(failure, "correct what the message names, then run it again")],
        )
    if kind == "bad_data":
        return _Problem(
            _OTHER,
            f"{failure.job}{on}: an object in S3 is not what it should be",
            [said],
            [
                f"see which and why: {_code(commands.FSCK)}",
                _rerun(failure, "once it is restored, run it again"),
            ],
        )
    if failure.job == "retention_job":
        return _Problem(
            _OTHER,
            "retention kept files the archive does not vouch for",
            [said],
            [f"each one and why: {_code(commands.CLEANUP_PLAN)}; then {_code(commands.FSCK)}"],
        )
    if step.attempts > 1:
        # Only transient failures are retried; this one outlasted every attempt.
        return _Problem(
            _OTHER,
            f"{failure.job}{on}: S3 kept failing at {step.step} after {step.attempts} attempts",
            [said],
            [_rerun(failure, "when S3 answers again, run it again")],
        )
    return _Problem(
        _OTHER,
        f"{failure.job}{on} failed at {step.step}",
        [f"{step.error}: {said}" if step.error and step.error not in said else said],
        [
            f"read the traceback in the run's event log (run {failure.run_id})",
            _rerun(failure, "run it again"),
        ],
    )


# -- the message ----------------------------------------------------------------------


def compose_failure_alert(failure: RunFailure) -> str:
    """The Slack message for a failed run."""
    problems = _check_problems(failure) + [_step_problem(failure, s) for s in failure.steps]
    if not problems:
        problems = [
            _Problem(
                _OTHER,
                f"{failure.job}{_for(failure.partition)} failed",
                [f"no step or check reported why; see run {failure.run_id}"],
                [_rerun(failure, "run it again")],
            )
        ]
    problems.sort(key=lambda problem: problem.rank)
    mark = {_BLOCKED: ":no_entry:", _LATE: ":alarm_clock:"}.get(problems[0].rank, ":red_circle:")
    where = f"job {failure.job}" + (f", partition {failure.partition}" if failure.partition else "")
    lines = [f"{mark} *{problems[0].headline}*", f"{where}, run {failure.run_id[:8]}"]
    for index, problem in enumerate(problems):
        if index:
            lines += ["", f"*{problem.headline}*"]
        lines += [f"• {detail}" for detail in problem.details]
        lines += [f"{'Then' if n else 'Fix'}: {fix}" for n, fix in enumerate(problem.fixes)]
    return "\n".join(lines)


def compose_horizon_alert(description: str, last_session: str | None) -> str:
    """The daily reminder that the exchange calendar is running out."""
    ends = f" (last known session {last_session})" if last_session else ""
    return "\n".join(
        [
            f":warning: *The JPX calendar is running out{ends}*",
            f"• {_cut(description)}",
            f"Fix: {_code(commands.CALENDAR_UPGRADE)}, pin the new version in pyproject.toml "
            "and deploy",
        ]
    )
