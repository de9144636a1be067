"""``docs/iam-policy.json`` is least privilege for the pipeline, both ways.

The policy (placeholders ``YOUR_BUCKET`` and the default prefix ``parquet/``; replace
both to deploy it) grants:

- ``s3:ListBucket`` on the bucket, only for listings under the prefix (``s3:prefix``);
- ``s3:GetObject`` on everything under the prefix (this also authorises HeadObject
  and ranged, conditional GETs);
- ``s3:PutObject`` only on the keys the pipeline writes: the published selection,
  the manifest, the archive, its generations, dated daily backups and candidates, and
  the conditional-write probe's ``.probe/`` objects (conditional writes with
  ``If-Match`` / ``If-None-Match`` need nothing more). Price files and recorded
  answers are read-only: ``grok-assets seed-sample`` is for demo buckets and is
  deliberately not granted;
- ``s3:DeleteObject`` only on dated daily backups and candidates, archive generations
  and probe objects, so that even a retention bug cannot delete the archive, the
  manifest or the published selection.

How the operations are observed, and why this way. The code builds a new boto3
session and client on every ``StorageResource.store()`` call (``dagster_aws``'s
``construct_s3_client``), so there is no client to hook from outside. botocore copies
``botocore.handlers.BUILTIN_HANDLERS`` into every session it creates; the test adds
three event handlers to that table for its duration. They observe every S3 API call
of every client the code creates in this process, without wrapping or changing any
boto3 or project code:

- ``before-parameter-build.s3``: the operation and its parameters (bucket, key,
  prefix) become IAM authorisations (action, resource ARN, condition keys);
- ``before-call.s3``: the authorisations are evaluated against the policy; a denied
  call is answered 403 AccessDenied without being sent, exactly as S3 would answer;
- ``after-call.s3``: a 404 for a missing key is turned into 403 unless the policy
  lets the caller list the bucket *in that request's context*. AWS documents that a
  missing key reads as 404 only to a caller with ``s3:ListBucket``; whether a grant
  conditioned on ``s3:prefix`` counts is not documented, and an object request
  carries no ``s3:prefix``, so the test assumes the worse (403). Code that works
  under that assumption works either way.

So the full cycle runs as if under this policy on AWS, and the test proves three
things: nothing the cycle does is denied (every job and command has its normal
outcome), every statement, action and resource pattern of the policy is used by the
cycle (nothing granted in vain), and the policy's own restrictions hold (the
evaluator is unit-tested on what must be refused).

The cycle is what production runs: selection (the xAI selector, against a local
Responses API server) and backtest jobs for five days, with the archive
generations' clock moved on a week per day so that old generations are pruned too,
the checks-only job, a blocked selection, and ``grok-assets restore``, ``verify``,
``generations``, ``check``, ``fsck``, ``sync`` and ``cleanup``. Seeding sample data
is the test's setup, not production, and runs before the handlers exist; so does the
test's own deletion of a backup.

Requests made outside botocore would not be seen;
``test_all_s3_traffic_goes_through_botocore`` fails if one of the usual other S3
clients (pyarrow's ``S3FileSystem``, s3fs, fsspec, smart_open) appears in the package.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse

from grok_assets import layout
from grok_assets.backup import generations
from grok_assets.cli.main import main
from grok_assets.defs.resources import SelectorResource
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.dev.sample_data import SAMPLE_UNIVERSE, sample_picks
from grok_assets.dev.seeding import seed_sample
from grok_assets.layout import GENERATIONS_DIR, PROBE_DIR
from grok_assets.settings import DEFAULT_PREFIX
from grok_assets.storage import S3Store
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.pipeline import DAYS, Pipeline
from grok_assets_tests.support.responses_server import KEY, MODEL, FakeResponses

REPO = Path(__file__).resolve().parents[2]
POLICY_PATH = REPO / "docs" / "iam-policy.json"
BUCKET_PLACEHOLDER = "YOUR_BUCKET"
# The policy is written for the default prefix; the tests run with the same one.
PREFIX = DEFAULT_PREFIX

# -- a small IAM policy evaluator -----------------------------------------------------------


@functools.cache
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: "*" is any run of characters, "/" included; "?" is exactly one.
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(rf"\A{regex}\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _as_tuple(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Authorization:
    """One thing S3 authorises for a request: an action on a resource in a context."""

    action: str
    resource: str
    # Condition keys present in the request, lower-cased: absent keys matter.
    context: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        where = ", ".join(f"{k}={v!r}" for k, v in self.context) or "no condition keys"
        return f"{self.action} on {self.resource} ({where})"


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # (operator, lower-cased key, values)
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]


# Only what the policy needs; anything else is refused rather than misjudged.
_STRING_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda value, expected: value == expected,
    "StringLike": lambda value, pattern: bool(_wildcard(pattern, ignore_case=False).match(value)),
}
_STATEMENT_FIELDS = {"Sid", "Effect", "Action", "Resource", "Condition"}


class Policy:
    """Identity-policy evaluation as IAM does it, for the elements used here: explicit
    Deny wins, then any Allow whose Action, Resource and every Condition match."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if document.get("Version") != "2012-10-17":
            raise ValueError("policy Version must be 2012-10-17")
        unknown = set(document) - {"Version", "Id", "Statement"}
        if unknown:
            raise ValueError(f"unsupported policy elements {sorted(unknown)}")
        raw = document["Statement"]
        self.statements = tuple(
            self._statement(index, item)
            for index, item in enumerate([raw] if isinstance(raw, dict) else raw)
        )

    @staticmethod
    def _statement(index: int, item: Mapping[str, Any]) -> Statement:
        unknown = set(item) - _STATEMENT_FIELDS
        if unknown:
            # NotAction, NotResource, Principal...: not modelled, so not accepted.
            raise ValueError(f"statement {index}: unsupported elements {sorted(unknown)}")
        if item.get("Effect") not in ("Allow", "Deny"):
            raise ValueError(f"statement {index}: Effect must be Allow or Deny")
        conditions = []
        for operator, block in (item.get("Condition") or {}).items():
            base = operator.removesuffix("IfExists")
            if base not in _STRING_OPERATORS:
                raise ValueError(f"statement {index}: unsupported operator {operator}")
            for key, values in block.items():
                conditions.append((operator, key.lower(), _as_tuple(values)))
        text = json.dumps(item)
        if "${" in text:
            raise ValueError(f"statement {index}: policy variables are not modelled")
        return Statement(
            sid=str(item.get("Sid", f"#{index}")),
            effect=item["Effect"],
            actions=_as_tuple(item["Action"]),
            resources=_as_tuple(item["Resource"]),
            conditions=tuple(conditions),
        )

    @classmethod
    def load(cls, path: Path, bucket: str) -> Policy:
        return cls(json.loads(path.read_text().replace(BUCKET_PLACEHOLDER, bucket)))

    @staticmethod
    def _conditions_hold(statement: Statement, context: Mapping[str, str]) -> bool:
        for operator, key, values in statement.conditions:
            if key not in context:
                # IAM: a condition on a key the request lacks does not match, unless
                # the operator says ...IfExists.
                if not operator.endswith("IfExists"):
                    return False
                continue
            match = _STRING_OPERATORS[operator.removesuffix("IfExists")]
            if not any(match(context[key], value) for value in values):
                return False
        return True

    def grants(self, request: Authorization) -> list[tuple[str, str, str]]:
        """The (Sid, Action pattern, Resource pattern) of each Allow that grants the
        request; empty when it is denied, explicitly or by default."""
        context = dict(request.context)
        granted: list[tuple[str, str, str]] = []
        for statement in self.statements:
            actions = [
                a for a in statement.actions if _wildcard(a, ignore_case=True).match(request.action)
            ]
            resources = [
                r
                for r in statement.resources
                if _wildcard(r, ignore_case=False).match(request.resource)
            ]
            if not actions or not resources or not self._conditions_hold(statement, context):
                continue
            if statement.effect == "Deny":
                return []
            granted += [(statement.sid, a, r) for a in actions for r in resources]
        return granted

    def allows(self, request: Authorization) -> bool:
        return bool(self.grants(request))

    def grant_patterns(self) -> set[tuple[str, str, str]]:
        return {
            (s.sid, a, r)
            for s in self.statements
            if s.effect == "Allow"
            for a in s.actions
            for r in s.resources
        }


# -- S3 operations as IAM sees them -----------------------------------------------------------


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def authorizations(operation: str, params: Mapping[str, Any]) -> list[Authorization]:
    """What S3 authorises for one API call (the S3 User Guide's operation-to-permission
    table). Raises KeyError for an operation not mapped yet: add it, do not guess."""
    bucket = str(params.get("Bucket", ""))
    bucket_arn = f"arn:aws:s3:::{bucket}"
    key = str(params.get("Key", ""))
    versioned = "VersionId" in params
    if operation == "HeadBucket":
        return [Authorization("s3:ListBucket", bucket_arn)]
    if operation in ("ListObjectsV2", "ListObjects"):
        context = (("s3:prefix", str(params["Prefix"])),) if "Prefix" in params else ()
        return [Authorization("s3:ListBucket", bucket_arn, context)]
    if operation in ("HeadObject", "GetObject"):
        action = "s3:GetObjectVersion" if versioned else "s3:GetObject"
        return [Authorization(action, _object(bucket, key))]
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [Authorization("s3:PutObject", _object(bucket, key))]
    if operation == "CopyObject":
        # Reading the source and writing the destination (adopt copies an object onto
        # itself to record its MD5 metadata).
        # botocore has turned the CopySource mapping into "bucket/key" by now.
        source = params["CopySource"]
        if isinstance(source, Mapping):
            source = f"{source['Bucket']}/{source['Key']}"
        return [
            Authorization("s3:GetObject", f"arn:aws:s3:::{unquote(str(source))}"),
            Authorization("s3:PutObject", _object(bucket, key)),
        ]
    if operation == "AbortMultipartUpload":
        return [Authorization("s3:AbortMultipartUpload", _object(bucket, key))]
    if operation == "DeleteObject":
        action = "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"
        return [Authorization(action, _object(bucket, key))]
    if operation == "DeleteObjects":
        return [
            Authorization("s3:DeleteObject", _object(bucket, str(item["Key"])))
            for item in params["Delete"]["Objects"]
        ]
    raise KeyError(operation)


def missing_key_is_visible(policy: Policy, bucket: str) -> bool:
    """Would S3 answer 404 (not 403) for a missing key? Only with s3:ListBucket in the
    object request's own context, which has no s3:prefix (see the module docstring)."""
    return policy.allows(Authorization("s3:ListBucket", f"arn:aws:s3:::{bucket}"))


@dataclass
class Call:
    operation: str
    target: str
    authorizations: list[Authorization]
    denied: list[Authorization] = field(default_factory=list)
    status: int | None = None
    # A 404 for a missing key that S3 would answer 403 under the policy.
    absence_hidden: bool = False

    def describe(self) -> str:
        return f"{self.operation} {self.target} -> {self.status}"


_CONTEXT_KEY = "grok_assets_iam_call"


class PolicyEnforcer:
    """botocore event handlers that make every S3 call behave as under the policy and
    record what it needed (see the module docstring)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.calls: list[Call] = []
        self.unmapped: list[str] = []

    def handlers(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("before-parameter-build.s3", self._before_parameter_build),
            ("before-call.s3", self._before_call),
            ("after-call.s3", self._after_call),
        ]

    def _before_parameter_build(
        self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        target = "/".join(str(params[k]) for k in ("Bucket", "Key", "Prefix") if k in params)
        try:
            needed = authorizations(model.name, params)
        except KeyError:
            self.unmapped.append(model.name)
            needed = [Authorization(f"unmapped:{model.name}", target)]
        call = Call(model.name, target, needed)
        self.calls.append(call)
        context[_CONTEXT_KEY] = call

    def _before_call(
        self, model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        call: Call = context[_CONTEXT_KEY]
        call.denied = [a for a in call.authorizations if not self.policy.allows(a)]
        if not call.denied:
            return None  # sent to S3 as usual
        call.status = 403
        # Returning a response makes botocore skip sending: S3 never sees the request.
        return AWSResponse(str(params.get("url", "")), 403, {}, None), _access_denied(model.name)

    def _after_call(
        self, http_response: AWSResponse, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        call: Call = context[_CONTEXT_KEY]
        if call.denied:
            return  # answered in _before_call
        call.status = http_response.status_code
        bucket = call.target.split("/", 1)[0]
        if (
            call.operation in ("HeadObject", "GetObject")
            and http_response.status_code == 404
            and not missing_key_is_visible(self.policy, bucket)
        ):
            # What S3 answers a caller who may not list the bucket (module docstring).
            call.status = 403
            call.absence_hidden = True
            http_response.status_code = 403
            parsed.clear()
            parsed.update(_access_denied(call.operation))


def _access_denied(operation: str) -> dict[str, Any]:
    # A HEAD response has no body, so botocore reports only the status there.
    head = operation.startswith("Head")
    return {
        "Error": {
            "Code": "403" if head else "AccessDenied",
            "Message": "Forbidden" if head else "Access Denied",
        },
        "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}, "RetryAttempts": 0},
    }


# -- the policy document ----------------------------------------------------------------------


def _object_arn(relative_key: str, bucket: str = BUCKET_PLACEHOLDER) -> str:
    return f"arn:aws:s3:::{bucket}/{PREFIX}{relative_key}"


def _dated(key: str) -> str:
    # The date in a dated key becomes "????????": exactly eight characters, so that
    # "grok_trending_????????.parquet" cannot match "grok_trending_archive.parquet".
    return re.sub(r"\d{8}", "?" * 8, key)


# What the pipeline writes and what retention may delete, from the key layout itself:
# renaming a key without updating the policy fails here first.
# Archive generations are written once and pruned; the conditional-write probe writes
# and deletes its own objects.
GENERATIONS = f"{GENERATIONS_DIR}grok_trending_archive_*.parquet"
WRITTEN_KEYS = {
    layout.PUBLISHED_SELECTION,
    layout.MANIFEST,
    layout.ARCHIVE,
    _dated(layout.daily_backup_key(DAYS[0])),
    _dated(layout.candidates_key(DAYS[0])),
    _dated(layout.answer_key(DAYS[0])),
    GENERATIONS,
    PROBE_DIR + "*",
}
DELETED_KEYS = {
    _dated(layout.daily_backup_key(DAYS[0])),
    _dated(layout.candidates_key(DAYS[0])),
    GENERATIONS,
    PROBE_DIR + "*",
}


def test_policy_document_is_scoped_to_the_bucket_prefix_and_the_layout() -> None:
    document = json.loads(POLICY_PATH.read_text())
    policy = Policy(document)  # refuses elements it cannot evaluate
    assert all(s.effect == "Allow" for s in policy.statements)
    sids = [s.sid for s in policy.statements]
    assert len(set(sids)) == len(sids)
    assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), "IAM Sids are alphanumeric"
    by_action: dict[str, set[str]] = {}
    for statement in policy.statements:
        for action in statement.actions:
            assert "*" not in action and "?" not in action, f"wildcard action {action}"
            by_action.setdefault(action, set()).update(statement.resources)
    assert by_action == {
        "s3:ListBucket": {f"arn:aws:s3:::{BUCKET_PLACEHOLDER}"},
        "s3:GetObject": {_object_arn("*")},
        "s3:PutObject": {_object_arn(key) for key in WRITTEN_KEYS},
        "s3:DeleteObject": {_object_arn(key) for key in DELETED_KEYS},
    }
    (listing,) = [s for s in policy.statements if "s3:ListBucket" in s.actions]
    assert listing.conditions == (("StringLike", "s3:prefix", (f"{PREFIX}*",)),)


BUCKET = "grok-prod"


def _get(key: str, bucket: str = BUCKET) -> Authorization:
    return Authorization("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")


def _put(key: str) -> Authorization:
    return Authorization("s3:PutObject", f"arn:aws:s3:::{BUCKET}/{key}")


def _delete(key: str) -> Authorization:
    return Authorization("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/{key}")


def _list(prefix: str | None) -> Authorization:
    context = (("s3:prefix", prefix),) if prefix is not None else ()
    return Authorization("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", context)


ALLOWED = [
    _list(PREFIX),
    _list(PREFIX + layout.DAILY_BACKUP_DIR),
    _get(PREFIX + layout.PRICES_5M),
    _get(PREFIX + layout.replay_answer_key(DAYS[0])),
    _put(PREFIX + layout.ARCHIVE),
    _put(PREFIX + layout.daily_backup_key(DAYS[0])),
    _put(PREFIX + layout.candidates_key(DAYS[0])),
    _put(PREFIX + layout.answer_key(DAYS[0])),
    _delete(PREFIX + layout.daily_backup_key(DAYS[0])),
    _delete(PREFIX + layout.candidates_key(DAYS[0])),
    _put(
        PREFIX + GENERATIONS_DIR + "grok_trending_archive_20261124T070012345678Z_1a2b3c4d.parquet"
    ),
    _delete(
        PREFIX + GENERATIONS_DIR + "grok_trending_archive_20261124T070012345678Z_1a2b3c4d.parquet"
    ),
    _put(PREFIX + PROBE_DIR + "0123abcd"),
    _delete(PREFIX + PROBE_DIR + "0123abcd"),
]
REFUSED = [
    # Listing the whole bucket, or another prefix. A HeadBucket is this too: it has
    # no s3:prefix, so the condition cannot match.
    _list(None),
    _list(""),
    _list("other/"),
    _list(PREFIX.rstrip("/") + "-old/"),
    # Objects outside the prefix or the bucket.
    _get("other/" + layout.ARCHIVE),
    _get(layout.ARCHIVE),
    _get(PREFIX + layout.ARCHIVE, bucket="another-bucket"),
    # Inputs are read-only for the pipeline; sample data never goes into this prefix.
    _put(PREFIX + layout.PRICES_DAILY),
    _put(PREFIX + layout.replay_answer_key(DAYS[0])),
    _put(PREFIX + "backtest/anything-else.parquet"),
    # Retention never deletes the backup itself, its index or the published selection.
    _delete(PREFIX + layout.ARCHIVE),
    _delete(PREFIX + layout.MANIFEST),
    _delete(PREFIX + layout.PUBLISHED_SELECTION),
    _delete(PREFIX + layout.PRICES_DAILY),
    # The evidence behind a selection is written once and kept.
    _delete(PREFIX + layout.answer_key(DAYS[0])),
    # Nothing beyond plain object access.
    Authorization("s3:DeleteObjectVersion", f"arn:aws:s3:::{BUCKET}/{PREFIX}{layout.ARCHIVE}"),
    Authorization("s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/{PREFIX}{layout.ARCHIVE}"),
    Authorization("s3:PutObjectAcl", f"arn:aws:s3:::{BUCKET}/{PREFIX}{layout.ARCHIVE}"),
    Authorization("s3:PutBucketPolicy", f"arn:aws:s3:::{BUCKET}"),
    Authorization("s3:DeleteBucket", f"arn:aws:s3:::{BUCKET}"),
    Authorization("s3:ListAllMyBuckets", "*"),
]


@pytest.mark.parametrize("request_", ALLOWED, ids=Authorization.describe)
def test_policy_allows(request_: Authorization) -> None:
    assert Policy.load(POLICY_PATH, BUCKET).allows(request_)


@pytest.mark.parametrize("request_", REFUSED, ids=Authorization.describe)
def test_policy_refuses(request_: Authorization) -> None:
    assert not Policy.load(POLICY_PATH, BUCKET).allows(request_)


def test_evaluator_follows_iam_rules() -> None:
    """The evaluator's own semantics, so that its verdicts above can be trusted."""
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    policy = Policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:Get*", "Resource": f"{bucket_arn}/a/*"},
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/a/x"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLikeIfExists": {"s3:prefix": ["a/*", "b/?"]}},
                },
            ],
        }
    )
    assert policy.allows(_get("a/b/c"))  # "*" spans "/"
    assert policy.allows(Authorization("S3:getobjectversion", f"{bucket_arn}/a/y"))
    assert not policy.allows(_get("a/x"))  # explicit Deny wins
    assert not policy.allows(_get("b/x"))
    assert policy.allows(_list(None))  # IfExists: an absent key does not refuse
    assert policy.allows(_list("b/1"))
    assert not policy.allows(_list("b/12"))  # "?" is exactly one character
    with pytest.raises(ValueError, match="unsupported"):
        Policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "x"}]})
    with pytest.raises(ValueError, match="unsupported operator"):
        Policy(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": bucket_arn,
                        "Condition": {"StringNotLike": {"s3:prefix": "a/*"}},
                    }
                ],
            }
        )


def test_all_s3_traffic_goes_through_botocore() -> None:
    """The cycle test sees botocore calls only; another S3 client would bypass it."""
    # The S3 clients a Python project might reach for besides boto3 (pyarrow and
    # pandas would use the first three on an "s3://" path).
    bypass = re.compile(r"S3FileSystem|pyarrow\.fs|\bs3fs\b|\bfsspec\b|smart_open|aiobotocore")
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "grok_assets").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if bypass.search(line)
    ]
    assert not offenders, "S3 access outside botocore:\n" + "\n".join(offenders)


# -- the full cycle under the policy ----------------------------------------------------------


def _answer(day: dt.date) -> srv.Answer:
    return srv.grounded(sample_picks(day.isoformat(), SAMPLE_UNIVERSE))


def _job(pipeline: Pipeline, name: str, day: dt.date | None) -> str:
    result = pipeline.run(name, day)
    if result.success:
        return "success"
    failed = sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)
    return f"failed, failed checks {failed}"


class SimulatedClock:
    """The archive generations' clock (``generations.clock``, there for simulations),
    moved on a week before each backtest: so the cycle also prunes a generation, as
    the daemon does once generations are old."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def next_week(self) -> None:
        self.now += dt.timedelta(days=8)


def production_cycle(
    store: S3Store,
    pipeline: Pipeline,
    environ: Mapping[str, str],
    sync_dir: Path,
    clock: SimulatedClock,
) -> Iterator[tuple[str, object]]:
    """Every kind of S3 access production makes, as (step, outcome) pairs: the jobs
    run with ``pipeline``'s resources, the commands in the environment ``environ``."""

    def cli(argv: list[str]) -> int:
        return main(argv, environ=environ)

    def day_of(day: dt.date) -> Iterator[tuple[str, object]]:
        yield f"selection_job {day}", _job(pipeline, "selection_job", day)
        clock.next_week()
        yield f"backtest_job {day}", _job(pipeline, "backtest_job", day)

    for day in DAYS[:3]:
        yield from day_of(day)
    yield "verify_backups_job", _job(pipeline, "verify_backups_job", None)
    # The test's own client, created before the handlers: not production, not recorded.
    store.delete(layout.daily_backup_key(DAYS[2]))
    yield f"selection_job {DAYS[3]} (backup missing)", _job(pipeline, "selection_job", DAYS[3])
    yield "grok-assets restore", cli(["restore", "--date", DAYS[2].isoformat()])
    for day in DAYS[3:5]:
        yield from day_of(day)
    yield "grok-assets verify", cli(["verify", "--date", DAYS[4].isoformat()])
    # A daily backup without MD5 metadata, as the previous pipeline uploaded them
    # (written by the test's own client, not recorded): adopt records its MD5.
    legacy = store.location.key(layout.daily_backup_key(DAYS[4]))
    body = store.client.get_object(Bucket=store.bucket, Key=legacy)["Body"].read()
    store.client.put_object(Bucket=store.bucket, Key=legacy, Body=body)
    yield "grok-assets adopt", cli(["adopt"])
    yield "grok-assets generations", cli(["generations"])
    yield "grok-assets check", cli(["check"])
    yield "grok-assets fsck", cli(["fsck"])
    yield "grok-assets sync", cli(["sync", "--dest", str(sync_dir)])
    # Far enough ahead that every dated file is old: deletions happen.
    as_of = (DAYS[-1] + dt.timedelta(days=30)).isoformat()
    yield "grok-assets cleanup", cli(["cleanup", "--as-of", as_of])


# As with full access. A command may end 0 or 1 (1 is a finding, such as old files
# kept) where that is the product's business, not the policy's; a permission problem
# ends 2 or prints "access denied", which the test looks for separately.
FINDING = {0, 1}
EXPECTED_OUTCOMES: dict[str, set[object]] = {
    **{f"selection_job {day}": {"success"} for day in DAYS[:3]},
    **{f"backtest_job {day}": {"success"} for day in DAYS[:3]},
    "verify_backups_job": {"success"},
    f"selection_job {DAYS[3]} (backup missing)": {"failed, failed checks ['daily_backup_exists']"},
    "grok-assets restore": {0},
    **{f"selection_job {day}": {"success"} for day in DAYS[3:5]},
    **{f"backtest_job {day}": {"success"} for day in DAYS[3:5]},
    "grok-assets verify": {0},
    "grok-assets adopt": {0},
    "grok-assets generations": {0},
    "grok-assets check": FINDING,
    "grok-assets fsck": FINDING,
    "grok-assets sync": {0},
    "grok-assets cleanup": FINDING,
}


def test_full_cycle_needs_exactly_the_policy(
    store: S3Store,
    s3: LoopbackS3,
    bucket: str,
    environ: dict[str, str],
    fake: FakeResponses,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert environ["S3_PREFIX"] == PREFIX
    seed_sample(store, DAYS[0], DAYS[-1])  # setup, before the handlers exist
    # The production selector: Grok over xAI's API, here a local server. The key comes
    # only from the environment; the rest is the runs' resource and the commands'
    # environment.
    monkeypatch.setenv("XAI_API_KEY", KEY)
    selector = SelectorResource(kind="xai", model=MODEL, base_url=fake.base_url)
    pipeline = Pipeline(s3, bucket, prefix=PREFIX, selector=selector)
    operator_environ = {
        **environ,
        "GROK_SELECTOR": "xai",
        "XAI_API_KEY": KEY,
        "GROK_MODEL": MODEL,
        "XAI_BASE_URL": fake.base_url,
    }
    fake.script = [_answer(day) for day in DAYS[:5]]
    clock = SimulatedClock()
    monkeypatch.setattr(generations, "clock", clock)
    policy = Policy.load(POLICY_PATH, bucket)
    enforcer = PolicyEnforcer(policy)
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [*botocore.handlers.BUILTIN_HANDLERS, *enforcer.handlers()],
    )

    outcomes = dict(production_cycle(store, pipeline, operator_environ, tmp_path / "sync", clock))
    printed = capsys.readouterr()

    assert enforcer.calls, "no S3 call was observed: the handlers are not installed"
    assert not enforcer.unmapped, f"map these operations to IAM actions: {enforcer.unmapped}"
    denied = [
        f"{call.describe()}: needs {needed.describe()}"
        for call in enforcer.calls
        for needed in call.denied
    ]
    assert not denied, "denied by docs/iam-policy.json:\n" + "\n".join(dict.fromkeys(denied))
    # Nothing denied, and every step ends as it does with full access.
    hidden = sorted({call.describe() for call in enforcer.calls if call.absence_hidden})
    why = (
        "S3 answered these reads of missing keys with 403, as it does for a caller who "
        "may not list the bucket:\n" + "\n".join(hidden[:20])
    )
    assert outcomes.keys() == EXPECTED_OUTCOMES.keys()
    unexpected = {
        step: outcome
        for step, outcome in outcomes.items()
        if outcome not in EXPECTED_OUTCOMES[step]
    }
    assert not unexpected, f"steps ended differently than with full access: {unexpected}; {why}"
    assert "access denied" not in (printed.out + printed.err).lower(), why
    used = {
        grant for call in enforcer.calls for a in call.authorizations for grant in policy.grants(a)
    }
    unused = policy.grant_patterns() - used
    assert not unused, f"granted but never used by the cycle: {sorted(unused)}"
