"""``docs/deploy.md`` and ``deploy/``: every configuration snippet is loaded, not pasted.

Each YAML or JSON block of the guide is preceded by ``<!-- checked: KIND -->``:

- ``dagster-instance``: added to ``deploy/dagster.yaml`` and validated as a whole with
  Dagster's own instance loader (``dagster_instance_config``), then every configurable
  class it names (storage, scheduler, run coordinator, run launcher, compute logs) is
  imported and its ``config`` processed against that class's schema, with the ``env:``
  sources resolved;
- ``workspace``: identical to ``deploy/workspace.yaml``, which is validated against the
  workspace schema and then loaded for real from a code server started with the
  command the guide gives;
- ``helm-values``: keys from the Dagster chart's values schema; the run launcher and
  compute-log settings map onto the fields of ``K8sRunLauncher`` and
  ``S3ComputeLogManager``;
- ``iam-policy``, ``ecs-container-definitions``, ``github-actions``: parsed, and their
  commands, jobs, modules and variables checked against the code and the instance.

The ``env:`` sources are resolved as in production, from the environment of the
process loading the files: validation and workspace loading run in child processes
given the variables through ``env=``, never by changing this process's environment.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster._serdes.config_class import ConfigurableClassData

from grok_assets.dev.s3_server import free_port

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "deploy.md"
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"
DEPLOY_WORKSPACE = REPO / "deploy" / "workspace.yaml"
MODULE = "grok_assets.definitions"
LOCATION = "grok_assets"
KINDS = {
    "dagster-instance",
    "workspace",
    "helm-values",
    "iam-policy",
    "ecs-container-definitions",
    "github-actions",
}
# What every run needs in its environment besides the instance's own variables.
RUN_SETTINGS = {"S3_BUCKET", "S3_PREFIX", "AWS_REGION", "GROK_SELECTOR"}
SECRETS = {"XAI_API_KEY", "DAGSTER_PG_PASSWORD"}
# The code location also evaluates the sensors, so the alert sensor posts from there.
CODE_LOCATION_SECRETS = SECRETS | {"GROK_ALERT_WEBHOOK_URL"}


@dataclass(frozen=True)
class Block:
    kind: str | None
    lang: str
    body: str
    line: int

    def load(self) -> Any:
        return json.loads(self.body) if self.lang == "json" else yaml.safe_load(self.body)


_FENCE = re.compile(
    r"(?:<!-- checked: (?P<kind>[\w-]+) -->\n)?^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$",
    re.M | re.S,
)


def guide_blocks() -> list[Block]:
    text = GUIDE.read_text()
    return [
        Block(
            match.group("kind"),
            match.group("lang"),
            match.group("body"),
            text.count("\n", 0, match.start("body")) + 1,
        )
        for match in _FENCE.finditer(text)
    ]


def blocks_of(kind: str) -> list[Block]:
    found = [block for block in guide_blocks() if block.kind == kind]
    assert found, f"docs/deploy.md has no {kind} block"
    return found


def env_references(node: Any) -> set[str]:
    """Every ``{env: NAME}`` source in a configuration tree."""
    if isinstance(node, Mapping):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return {node["env"]}
        return set().union(*(env_references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(env_references(value) for value in node))
    return set()


@pytest.fixture
def fake_env() -> dict[str, str]:
    """A value for every variable the instance files and snippets read; ports numeric.
    For the environment of the processes that load them."""
    names = env_references(yaml.safe_load(DEPLOY_INSTANCE.read_text()))
    names |= env_references(yaml.safe_load(DEPLOY_WORKSPACE.read_text()))
    for block in guide_blocks():
        if block.kind in {"dagster-instance", "workspace"}:
            names |= env_references(block.load())
    return {name: ("5432" if name.endswith("_PORT") else f"value-of-{name}") for name in names}


def _child(code: str, args: list[str], env: Mapping[str, str]) -> Any:
    """Run ``code`` in a Python process whose environment adds ``env``; returns what it
    printed on its ``RESULT`` line, decoded."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def _configurable_sections(config: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for section, value in config.items():
        if isinstance(value, Mapping) and {"module", "class"} <= set(value):
            yield section, value


def validate_instance(config: Mapping[str, Any], directory: Path) -> dict[str, Any]:
    """Dagster's instance loader on ``config``, then each class's own schema.

    Returns every section's processed config (``env:`` resolved)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dagster.yaml").write_text(yaml.safe_dump(dict(config)))
    validated, custom_class = dagster_instance_config(str(directory))
    assert custom_class is None
    processed: dict[str, Any] = {}
    for section, spec in _configurable_sections(validated):
        # Dagster's own module resolution (``dagster.core.*`` is ``dagster._core.*``).
        data = ConfigurableClassData(spec["module"], spec["class"], "{}")
        cls = getattr(importlib.import_module(data.module_name), data.class_name)
        result = process_config(cls.config_type(), spec.get("config") or {})
        assert result.success, f"{section} ({spec['class']}): {result.errors}"
        processed[section] = result.value
    postgres = validated["storage"]["postgres"]
    result = process_config(pg_config(), postgres)
    assert result.success, result.errors
    processed["storage"] = result.value
    return processed


_VALIDATE_IN_CHILD = """
import json, sys
from pathlib import Path

from dagster._core.errors import DagsterInvalidConfigError

from grok_assets_tests.system.test_deploy_docs import validate_instance

try:
    processed = validate_instance(json.loads(sys.argv[1]), Path(sys.argv[2]))
except (AssertionError, DagsterInvalidConfigError) as error:
    result = {"error": type(error).__name__, "message": str(error)}
else:
    result = {"processed": processed}
print("RESULT " + json.dumps(result, default=repr))
"""


def validate_instance_in(
    env: Mapping[str, str], config: Mapping[str, Any], directory: Path
) -> dict[str, Any]:
    """:func:`validate_instance` in a process whose environment holds ``env`` (what the
    ``env:`` sources resolve to); its failures are raised here as the same errors."""
    result = _child(_VALIDATE_IN_CHILD, [json.dumps(dict(config)), str(directory)], env)
    if result.get("error") == "AssertionError":
        raise AssertionError(result["message"])
    if result.get("error") == "DagsterInvalidConfigError":
        raise DagsterInvalidConfigError(result["message"], [], dict(config))
    return dict(result["processed"])


def with_addition(addition: Mapping[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(yaml.safe_load(DEPLOY_INSTANCE.read_text()))
    overlap = set(config) & set(addition)
    assert not overlap, f"the snippet replaces {overlap} of deploy/dagster.yaml"
    config.update(addition)
    return config


def test_every_yaml_and_json_block_of_the_guide_is_checked() -> None:
    blocks = guide_blocks()
    assert len(blocks) >= 8
    for block in blocks:
        if block.lang in {"yaml", "yml", "json"}:
            assert block.kind in KINDS, f"docs/deploy.md:{block.line}: unchecked {block.lang}"
            block.load()
        else:
            assert block.kind is None, f"docs/deploy.md:{block.line}: {block.kind} on {block.lang}"


def test_deploy_instance_is_postgres_with_the_daemon_scheduler(
    fake_env: dict[str, str], tmp_path: Path
) -> None:
    processed = validate_instance_in(
        fake_env, yaml.safe_load(DEPLOY_INSTANCE.read_text()), tmp_path
    )
    db = processed["storage"]["postgres_db"]
    assert db["hostname"] == fake_env["DAGSTER_PG_HOST"]
    assert db["port"] == 5432  # an IntSource read from the environment
    assert db["password"] == fake_env["DAGSTER_PG_PASSWORD"]
    assert db["scheme"] == "postgresql+psycopg2"
    assert set(processed) >= {"scheduler", "run_coordinator"}
    config = yaml.safe_load(DEPLOY_INSTANCE.read_text())
    assert config["scheduler"]["class"] == "DagsterDaemonScheduler"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["telemetry"] == {"enabled": False}
    # Nothing secret is written in the file: every connection setting is a variable.
    assert env_references(config["storage"]) == {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USERNAME",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    }


def test_a_broken_instance_snippet_would_be_caught(
    fake_env: dict[str, str], tmp_path: Path
) -> None:
    launcher = {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {"job_ns": "x"}}
    with pytest.raises(AssertionError, match="K8sRunLauncher"):
        validate_instance_in(fake_env, with_addition({"run_launcher": launcher}), tmp_path / "a")
    with pytest.raises(DagsterInvalidConfigError):
        validate_instance_in(fake_env, with_addition({"run_launchr": launcher}), tmp_path / "b")


@pytest.mark.parametrize("block", blocks_of("dagster-instance"), ids=lambda b: f"line{b.line}")
def test_instance_snippet_is_valid_on_top_of_deploy_instance(
    block: Block, fake_env: dict[str, str], tmp_path: Path
) -> None:
    addition = block.load()
    processed = validate_instance_in(fake_env, with_addition(addition), tmp_path)
    assert set(addition) <= set(processed)
    instance_vars = env_references(yaml.safe_load(DEPLOY_INSTANCE.read_text()))
    launcher = addition.get("run_launcher", {})
    config = processed.get("run_launcher", {})
    if launcher.get("class") == "EcsRunLauncher":
        # A run task gets the settings and secrets it needs, and only named secrets.
        secrets = {secret["name"] for secret in config["secrets"]}
        assert secrets == SECRETS
        assert set(config["env_vars"]) | secrets >= instance_vars | RUN_SETTINGS
        assert not set(config["env_vars"]) & SECRETS
        assert config["secrets_tag"] is None
    if launcher.get("class") == "K8sRunLauncher":
        # DAGSTER_PG_PASSWORD comes from postgres_password_secret.
        assert config["postgres_password_secret"]
        assert set(config["env_vars"]) | {"DAGSTER_PG_PASSWORD"} >= instance_vars
        assert config["env_secrets"] and config["service_account_name"]


def test_workspace_block_is_deploy_workspace() -> None:
    (block,) = blocks_of("workspace")
    assert block.load() == yaml.safe_load(DEPLOY_WORKSPACE.read_text())


_LOAD_WORKSPACE_IN_CHILD = """
import json, sys

import yaml
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

workspace, home, location_name = sys.argv[1:4]
with open(workspace) as file:
    valid = process_config(WORKSPACE_CONFIG_SCHEMA, yaml.safe_load(file)).success
with (
    DagsterInstance.local_temp(home) as instance,
    WorkspaceProcessContext(instance, WorkspaceFileTarget([workspace])) as ctx,
):
    request = ctx.create_request_context()
    errors = request.code_location_errors()
    if errors:
        result = {"valid": valid, "errors": [str(error) for error in errors]}
    else:
        location = request.get_code_location(location_name)
        (repository,) = location.get_repositories().values()
        result = {
            "valid": valid,
            "errors": [],
            "jobs": sorted(job.name for job in repository.get_all_jobs()),
            "schedules": {
                schedule.name: [schedule.cron_schedule, schedule.execution_timezone]
                for schedule in repository.get_schedules()
            },
        }
print("RESULT " + json.dumps(result))
"""


def test_deploy_workspace_loads_the_code_location_from_the_documented_server(
    fake_env: dict[str, str], tmp_path: Path
) -> None:
    config = yaml.safe_load(DEPLOY_WORKSPACE.read_text())
    (entry,) = config["load_from"]
    assert entry["grpc_server"]["location_name"] == LOCATION

    documented = re.search(r"`(dagster api grpc [^`]+)`", GUIDE.read_text())
    assert documented, "the guide gives the code location's command"
    command = shlex.split(documented.group(1))
    assert command[command.index("-m") + 1] == MODULE
    port = free_port()
    command[command.index("-h") + 1] = "127.0.0.1"
    command[command.index("-p") + 1] = str(port)
    # What the webserver and the daemon are given to find the code location.
    workspace_env = {
        **fake_env,
        "GROK_CODE_LOCATION_HOST": "127.0.0.1",
        "GROK_CODE_LOCATION_PORT": str(port),
    }
    # The code location loads with no pipeline settings at all.
    env = {
        key: value
        for key, value in {**os.environ, **workspace_env}.items()
        if key not in {"S3_BUCKET", "AWS_ENDPOINT_URL", "XAI_API_KEY", "GROK_SELECTOR"}
    }
    server = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for_grpc(server, port)
        loaded = _child(
            _LOAD_WORKSPACE_IN_CHILD,
            [str(DEPLOY_WORKSPACE), str(tmp_path), LOCATION],
            workspace_env,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()
    # Valid against the workspace schema with its variables set, and loaded for real.
    assert loaded["valid"] is True
    assert not loaded["errors"], loaded["errors"]
    jobs = set(loaded["jobs"])
    assert {"selection_job", "backtest_job", "verify_backups_job", "retention_job"} <= jobs
    # The schedules the guide lists, with its crons and timezone.
    text = GUIDE.read_text()
    for name, (cron_schedule, timezone) in loaded["schedules"].items():
        crons = cron_schedule if isinstance(cron_schedule, list) else [cron_schedule]
        listed = " and ".join(f"`{cron}`" for cron in crons)
        assert f"| `{name}` | {listed} |" in text, name
        assert timezone == "Asia/Tokyo"


def _wait_for_grpc(server: subprocess.Popen[bytes], port: int) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            output = server.stdout.read().decode(errors="replace") if server.stdout else ""
            pytest.fail(f"the code location server exited with {server.returncode}:\n{output}")
        with contextlib.suppress(Exception):
            client.ping("ready?")
            return
        if time.monotonic() > deadline:
            pytest.fail("the code location server did not answer in 120 s")
        time.sleep(0.5)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_helm_values_use_the_charts_keys_and_match_the_classes() -> None:
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_k8s import K8sRunLauncher

    (block,) = blocks_of("helm-values")
    values = block.load()
    # Top-level and nested keys of the chart's values schema (helm/dagster/schema).
    assert set(values) <= {
        "global",
        "generatePostgresqlPasswordSecret",
        "postgresql",
        "dagsterDaemon",
        "dagsterWebserver",
        "dagster-user-deployments",
        "runLauncher",
        "computeLogManager",
        "serviceAccount",
        "retention",
        "telemetry",
        "scheduler",
        "additionalInstanceConfig",
    }
    assert set(values["global"]) <= {"postgresqlSecretName", "dagsterHome", "serviceAccountName"}
    postgres = values["postgresql"]
    assert set(postgres) <= {
        "image",
        "enabled",
        "postgresqlHost",
        "postgresqlUsername",
        "postgresqlPassword",
        "postgresqlDatabase",
        "postgresqlParams",
        "postgresqlScheme",
        "service",
    }
    assert postgres["enabled"] is False
    assert "postgresqlPassword" not in postgres  # from the Secret, never in values
    deploy_db = yaml.safe_load(DEPLOY_INSTANCE.read_text())["storage"]["postgres"]["postgres_db"]
    assert postgres["postgresqlScheme"] == deploy_db["scheme"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["dagsterDaemon"]["enabled"] is True

    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", MODULE]
    assert set(deployment) <= {
        "name",
        "image",
        "dagsterApiGrpcArgs",
        "codeServerArgs",
        "includeConfigInLaunchedRuns",
        "port",
        "env",
        "envConfigMaps",
        "envSecrets",
        "resources",
        "labels",
        "annotations",
    }

    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    fields = set(K8sRunLauncher.config_type())
    assert {_snake(key) for key in k8s} - {"image"} <= fields
    assert set(k8s["runK8sConfig"]) <= {
        "containerConfig",
        "podSpecConfig",
        "podTemplateSpecMetadata",
        "jobSpecConfig",
        "jobMetadata",
    }
    for source in k8s["envSecrets"] + k8s["envConfigMaps"] + deployment["envSecrets"]:
        assert set(source) == {"name"}

    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager"
    s3_logs = {_snake(key): value for key, value in logs["config"]["s3ComputeLogManager"].items()}
    result = process_config(S3ComputeLogManager.config_type(), s3_logs)
    assert result.success, result.errors


def test_iam_policy_block_is_a_policy_scoped_to_its_roles() -> None:
    (block,) = blocks_of("iam-policy")
    policy = block.load()
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z*]+", action), action
        if statement["Action"] == "iam:PassRole":
            for resource in statement["Resource"]:
                assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", resource)
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert {"ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask"} <= actions
    # The pipeline's own S3 rights are the separate least-privilege policy.
    assert not any(action.startswith("s3:") for action in actions)
    assert (REPO / "docs" / "iam-policy.json").is_file()


def test_ecs_code_location_container_matches_the_instance() -> None:
    (block,) = blocks_of("ecs-container-definitions")
    (container,) = block.load()
    command = container["command"]
    assert command[:3] == ["dagster", "api", "grpc"]
    assert command[command.index("-m") + 1] == MODULE
    port = int(command[command.index("-p") + 1])
    assert container["portMappings"][0]["containerPort"] == port
    environment = {item["name"] for item in container["environment"]}
    secrets = {item["name"]: item["valueFrom"] for item in container["secrets"]}
    assert set(secrets) == CODE_LOCATION_SECRETS
    assert not environment & CODE_LOCATION_SECRETS, "a secret written as a plain value"
    for arn in secrets.values():
        assert arn.startswith("arn:aws:secretsmanager:")
    instance_vars = env_references(yaml.safe_load(DEPLOY_INSTANCE.read_text()))
    assert environment | set(secrets) >= instance_vars | RUN_SETTINGS


def test_github_actions_block_runs_real_jobs_and_commands() -> None:
    from grok_assets.cli.main import build_parser
    from grok_assets.definitions import defs

    (block,) = blocks_of("github-actions")
    workflow = block.load()
    assert workflow["permissions"]["id-token"] == "write"
    (job,) = workflow["jobs"].values()
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(job.get("env", {}))
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    executed = re.findall(r"dagster job execute -m (\S+) -j (\S+)", runs)
    assert executed == [(MODULE, "verify_backups_job")]
    for module, name in executed:
        importlib.import_module(module)
        defs.resolve_job_def(name)
    commands = re.findall(r"^\s*grok-assets (.+)$", runs, re.M)
    assert commands
    for arguments in commands:
        build_parser().parse_args(shlex.split(arguments))
    uses = {step["uses"].split("@")[0] for step in job["steps"] if "uses" in step}
    assert "aws-actions/configure-aws-credentials" in uses
