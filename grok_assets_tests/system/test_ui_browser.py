"""``make ui`` in a real browser: headless Chromium (Debian's) driven by Playwright.

A module fixture starts ``grok-assets ui`` on a free port with a fresh
``DAGSTER_HOME`` (it runs the demo's cycle, including the blocked selection, then
``dagster dev``). The tests read the UI's DOM: the lineage graph (every asset, both
external price assets and every edge), the checks on their assets, and the blocked run
(a failed gate check, ``grok_trending`` not materialized). Facts the DOM renders only
as pictures are cross-checked through the same server's GraphQL API. The last test
stops the launcher as Ctrl-C would and checks that nothing it started is left.

Screenshots go to pytest's temporary directory (``screenshots*``, printed with ``-s``),
and to ``docs/lineage.png`` when ``GROK_UPDATE_SCREENSHOT=1`` (1280x800, under 300 KB).
Without ``/usr/bin/chromium`` the module is skipped, except under ``CI=true``, where
``.ci/run`` installs it and a skip would hide a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from grok_assets.dev.s3_server import free_port
from grok_assets.dev.ui import group_alive

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

REPO = Path(__file__).resolve().parents[2]
GROK_ASSETS = Path(sys.executable).with_name("grok-assets")
CHROMIUM = Path(os.environ.get("GROK_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() == "true"
README_SCREENSHOT = REPO / "docs" / "lineage.png"
MAX_SCREENSHOT_BYTES = 300_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A 1920x1200 layout rendered at 2/3 scale: the graph is large enough for Dagster to
# draw full asset nodes (names, check status), and the PNG is 1280x800.
VIEWPORT = {"width": 1920, "height": 1200}
SCALE = 2 / 3

ASSETS = {
    "grok_candidates",
    "grok_trending_daily",
    "grok_trending_archive",
    "grok_trending",
    "grok_manifest",
}
EXTERNALS = {"prices_daily", "prices_5m"}
EDGES = {
    ("prices_daily", "grok_trending_daily"),
    ("prices_5m", "grok_trending_daily"),
    ("grok_candidates", "grok_trending_daily"),
    ("grok_trending_daily", "grok_trending_archive"),
    ("grok_trending_daily", "grok_trending"),
    ("grok_trending_archive", "grok_trending"),
    ("grok_candidates", "grok_trending"),
    ("grok_trending_archive", "grok_manifest"),
    ("grok_trending", "grok_manifest"),
}
CHECKS = {
    "grok_trending_daily": ("daily_backup_exists",),
    "grok_trending_archive": ("archive_contains_target_date", "archive_fresh"),
    "grok_trending": ("selection_fresh",),
    "grok_manifest": ("manifest_matches_s3",),
    "grok_candidates": ("trading_calendar_horizon",),
}
GATE_CHECKS = ("daily_backup_exists", "archive_contains_target_date")
# Run by freshness_job at their deadlines, which the demo's cycle of past days never
# reaches: listed on their assets, never evaluated.
FRESHNESS_CHECKS = ("archive_fresh", "selection_fresh")
BLOCKING = {*GATE_CHECKS, "manifest_matches_s3", *FRESHNESS_CHECKS}
STARTUP_TIMEOUT = 300.0
# One day of the cycle before the blocked one keeps the test short; `make ui` runs five.
CYCLE_DAYS = 1


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; .ci/run installs it (CI=true must not skip the browser test)")
    pytest.skip(reason)


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    home: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def dev_group(self) -> int:
        found = re.search(r"dagster dev started \(process group (\d+)\)", self.output())
        assert found, self.output()
        return int(found.group(1))


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (Debian package chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    base = tmp_path_factory.mktemp("ui")
    home = base / "dagster_home"
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # The launcher starts its own loopback S3 server only when none is configured.
        if key not in {"S3_BUCKET", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "GROK_SELECTOR"}
    }
    env.update({"DAGSTER_HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"})
    log = base / "ui.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *[str(GROK_ASSETS), "ui", "--host", "127.0.0.1"],
                *["--port", str(port), "--days", str(CYCLE_DAYS)],
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Launcher(process, f"http://127.0.0.1:{port}", log, home)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "Dagster UI ready at" not in running.output():
            if process.poll() is not None:
                pytest.fail(
                    f"the UI launcher exited with {process.returncode}:\n{running.output()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the UI was not ready in {STARTUP_TIMEOUT:.0f}s:\n{running.output()}")
            time.sleep(0.5)
        with urllib.request.urlopen(f"{running.url}/server_info", timeout=10) as response:
            assert response.status == 200
        yield running
    finally:
        if process.poll() is None:
            # Ctrl-C as a terminal sends it; the launcher stops dagster dev's group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        with contextlib.suppress(AssertionError):
            group = running.dev_group()
            if group_alive(group):
                os.killpg(group, signal.SIGKILL)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {directory}")
    return directory


@pytest.fixture(scope="module")
def browser(launcher: Launcher) -> Iterator[BrowserContext]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="grok-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=VIEWPORT,  # type: ignore[arg-type]
                device_scale_factor=SCALE,
            )
            context.set_default_timeout(30_000)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    # A fresh instance greets its first visitor with a newsletter dialog over the page;
    # Playwright dismisses it whenever it is in the way of an action.
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda: page.get_by_role("button", name="Skip").click(),
    )
    yield page
    page.close()


def _open(page: Page, url: str) -> None:
    page.goto(url)


_GRAPH_JS = """
() => {
  const nodes = [];
  for (const fo of document.querySelectorAll('svg foreignObject')) {
    const label = fo.querySelector('[class*="assetName"] [data-tooltip]');
    if (!label) continue;
    nodes.push({
      name: label.getAttribute('data-tooltip'),
      text: fo.textContent,
      dashed: !!fo.querySelector('[class*="assetNodeBox"]') &&
        getComputedStyle(fo.querySelector('[class*="assetNodeBox"]')).borderStyle,
      x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
      w: +fo.getAttribute('width'), h: +fo.getAttribute('height'),
    });
  }
  const edges = [];
  for (const path of document.querySelectorAll('svg path[marker-end]')) {
    const numbers = (path.getAttribute('d') || '').match(/-?[0-9.]+/g).map(Number);
    edges.push([numbers[0], numbers[1], numbers[numbers.length - 2],
                numbers[numbers.length - 1]]);
  }
  return {nodes, edges};
}
"""


def _node_at(nodes: list[dict[str, Any]], x: float, y: float, side: str) -> str | None:
    """The node whose left (``side="in"``) or right (``"out"``) border is at (x, y)."""
    for node in nodes:
        border = node["x"] if side == "in" else node["x"] + node["w"]
        if abs(border - x) <= 15 and node["y"] <= y <= node["y"] + node["h"]:
            return str(node["name"])
    return None


def test_asset_graph_shows_every_asset_the_externals_and_their_edges(
    launcher: Launcher, page: Page, screenshots: Path
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    _open(page, f"{launcher.url}/asset-groups")
    page.get_by_text("Materialize all").wait_for()
    # The first page of a fresh instance gets the newsletter dialog: keep it out of the
    # screenshot (later pages never see it again; the handler covers any other order).
    with contextlib.suppress(PlaywrightTimeoutError):
        page.get_by_role("button", name="Skip").click(timeout=5_000)
    page.get_by_role("button", name="Hide navigation").click()
    # Hide the asset tree beside the graph, then expand both groups (grok, prices).
    page.locator("input[placeholder^='Jump to']").locator("xpath=following::button[1]").click()
    page.locator("body").press("Alt+KeyE")
    for name in ASSETS | EXTERNALS:
        page.locator(f"[data-tooltip='{name}']").first.wait_for()
    page.wait_for_timeout(1_000)  # let the layout settle before measuring it

    graph = page.evaluate(_GRAPH_JS)
    nodes = graph["nodes"]
    assert {node["name"] for node in nodes} == ASSETS | EXTERNALS
    drawn_edges = {
        (_node_at(nodes, x1, y1, "out"), _node_at(nodes, x2, y2, "in"))
        for x1, y1, x2, y2 in graph["edges"]
    }
    assert drawn_edges == EDGES
    assert len(graph["edges"]) == len(EDGES)
    by_name = {node["name"]: node for node in nodes}
    for external in EXTERNALS:
        assert by_name[external]["dashed"] == "dashed", external  # external: dashed border
    for asset in ASSETS:
        assert by_name[asset]["dashed"] != "dashed", asset
    # The nodes of checked assets show their checks' status: every evaluated one passed.
    for asset, checks in CHECKS.items():
        evaluated = len([check for check in checks if check not in FRESHNESS_CHECKS])
        expected = rf"Asset checks\s*{evaluated} / {len(checks)}"
        assert re.search(expected, by_name[asset]["text"]), by_name[asset]["text"]

    shot = screenshots / "lineage.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size < MAX_SCREENSHOT_BYTES * 2
    if os.environ.get("GROK_UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)
        _shrink_png(README_SCREENSHOT)
        assert README_SCREENSHOT.stat().st_size <= MAX_SCREENSHOT_BYTES

    # The same graph through the API: both externals are neither materializable nor
    # executable, and every dependency the UI drew is a declared one.
    data = graphql(
        launcher.url,
        "{ assetNodes { assetKey { path } isMaterializable isExecutable "
        "dependencyKeys { path } } }",
    )
    declared = {
        (dependency["path"][-1], node["assetKey"]["path"][-1])
        for node in data["assetNodes"]
        for dependency in node["dependencyKeys"]
    }
    assert declared == EDGES
    flags = {
        node["assetKey"]["path"][-1]: (node["isMaterializable"], node["isExecutable"])
        for node in data["assetNodes"]
    }
    assert {name for name, (materializable, _) in flags.items() if materializable} == ASSETS
    assert all(flags[name] == (False, False) for name in EXTERNALS)


def _shrink_png(path: Path) -> None:
    """Lossless (optipng) or palette (pngquant) compression when the PNG is large."""
    if path.stat().st_size <= MAX_SCREENSHOT_BYTES:
        return
    if shutil.which("pngquant"):
        subprocess.run(
            ["pngquant", "--force", "--skip-if-larger", "--output", str(path), str(path)],
            check=False,
        )
    if path.stat().st_size > MAX_SCREENSHOT_BYTES and shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", str(path)], check=False)


@pytest.mark.parametrize(
    ("asset", "check"),
    sorted((asset, check) for asset, checks in CHECKS.items() for check in checks),
)
def test_each_check_appears_on_its_asset(
    launcher: Launcher, page: Page, screenshots: Path, asset: str, check: str
) -> None:
    _open(page, f"{launcher.url}/assets/{asset}?view=checks")
    page.get_by_text(f"Checks ({len(CHECKS[asset])})").wait_for()
    page.get_by_text(check, exact=True).first.wait_for()
    if asset == "grok_trending_daily":
        # Its history holds the evaluation that blocked the selection.
        page.get_by_text("Execution history").click()
        page.get_by_text("is missing", exact=False).first.wait_for()
        page.get_by_text("Failed", exact=True).first.wait_for()
        page.screenshot(path=str(screenshots / "daily_backup_exists_history.png"))

    data = graphql(
        launcher.url,
        "query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { "
        "... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name blocking "
        "} } } } } }",
        {"path": [asset]},
    )
    checks = {
        item["name"]: item for item in data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    }
    assert set(checks) == set(CHECKS[asset])
    assert checks[check]["blocking"] is (check in BLOCKING)


def _blocked_run_id(url: str) -> str:
    data = graphql(
        url,
        '{ runsOrError(filter: {pipelineName: "selection_job", statuses: [FAILURE]}) { '
        "... on Runs { results { runId assetMaterializations { assetKey { path } } } } } }",
    )
    runs = data["runsOrError"]["results"]
    assert len(runs) == 1, runs
    materialized = {event["assetKey"]["path"][-1] for event in runs[0]["assetMaterializations"]}
    assert "grok_trending" not in materialized
    assert "grok_candidates" in materialized  # the Grok answer survives, write-once
    return str(runs[0]["runId"])


def test_blocked_run_shows_the_failed_gate_check_and_no_publication(
    launcher: Launcher, page: Page, screenshots: Path
) -> None:
    run_id = _blocked_run_id(launcher.url)
    _open(page, f"{launcher.url}/runs/{run_id}?logs=type%3AASSET_CHECK_EVALUATION")
    header = page.get_by_text("selection_job", exact=True).first
    header.wait_for()
    page.get_by_text("Failure", exact=True).first.wait_for()
    page.get_by_text(re.compile(r"Check \w+ failed for materialization of")).first.wait_for()
    body = page.inner_text("body")
    failed = re.findall(r"Check (\w+) failed for materialization of (\w+)", body)
    assert failed, body
    assert {check for check, _ in failed} <= set(GATE_CHECKS)
    assert ("daily_backup_exists", "grok_trending_daily") in failed or (
        "archive_contains_target_date",
        "grok_trending_archive",
    ) in failed
    page.screenshot(path=str(screenshots / "blocked_run_checks.png"))

    _open(page, f"{launcher.url}/runs/{run_id}?logs=type%3AASSET_MATERIALIZATION")
    page.get_by_text("Materialized value grok_candidates.").first.wait_for()
    body = page.inner_text("body")
    assert "Materialized value grok_trending." not in body
    assert "Materialized value grok_manifest." not in body
    page.screenshot(path=str(screenshots / "blocked_run_materializations.png"))

    # The asset's own page agrees: its latest materialization is not the blocked one.
    data = graphql(
        launcher.url,
        '{ assetOrError(assetKey: {path: ["grok_trending"]}) { ... on Asset { '
        "assetMaterializations(limit: 50) { runId partition } } } }",
    )
    events = data["assetOrError"]["assetMaterializations"]
    assert events
    assert run_id not in {event["runId"] for event in events}


def test_ctrl_c_stops_dagster_dev_and_the_s3_server(launcher: Launcher) -> None:
    group = launcher.dev_group()
    assert group_alive(group)
    os.killpg(launcher.process.pid, signal.SIGINT)
    assert launcher.process.wait(timeout=90) == 0, launcher.output()
    assert not group_alive(group), "dagster dev's processes outlived the launcher"
    assert "dagster dev stopped; stopping the S3 server" in launcher.output()
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(f"{launcher.url}/server_info", timeout=5)
    endpoint = re.search(r"S3-compatible server \(moto\) at (http://\S+),", launcher.output())
    assert endpoint, launcher.output()
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(endpoint.group(1), timeout=5)
