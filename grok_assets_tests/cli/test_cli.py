"""``grok-assets`` in-process (and once as a real process) against the loopback S3 server.

Exit codes: 0 success, 1 a finding, 2 a usage or infrastructure error.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pytest

from grok_assets import layout
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.cli.main import main
from grok_assets.dev.sample_data import SAMPLE_METADATA_KEY
from grok_assets.schemas import BACKTEST_SCHEMA, DAILY_BARS_SCHEMA
from grok_assets.storage import S3Store, parquet_file, read_parquet, write_parquet
from grok_assets_tests.support.factories import backtest_rows, write_daily_backup

DAY = "2026-11-20"
DAY_DATE = dt.date(2026, 11, 20)
DAY_KEY = layout.daily_backup_key(DAY_DATE)


def object_keys(store: S3Store) -> set[str]:
    return {info.key for info in store.list()}


def backed_up(store: S3Store, date: str, count: int = 3, variant: int = 0) -> pa.Table:
    """A daily backup for ``date`` and its rows upserted into the archive."""
    rows = write_daily_backup(store, date, count, variant)
    upsert_daily_into_archive(store, date, layout.daily_backup_key(dt.date.fromisoformat(date)))
    return rows


def real_prices() -> pa.Table:
    """Daily bars without the sample label: what a real price feed would have written."""
    return pa.Table.from_pydict(
        {
            "date": [DAY],
            "ticker": ["7203.T"],
            "open": [2900.0],
            "high": [2950.0],
            "low": [2880.0],
            "close": [2940.0],
            "volume": [1_000_000],
        },
        schema=DAILY_BARS_SCHEMA,
    )


# -- seed-sample -------------------------------------------------------------------------


def test_seed_sample_writes_prices_and_one_answer_per_trading_day(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["seed-sample", "--start", "2026-11-19", "--end", "2026-11-25"], environ=environ)

    assert code == 0, capsys.readouterr().err
    replay = {key for key in object_keys(store) if key.startswith(layout.REPLAY_DIR)}
    # Sat 21, Sun 22 and the Labor Thanksgiving holiday Mon 23 get no answer.
    assert replay == {layout.replay_answer_key(dt.date(2026, 11, day)) for day in (19, 20, 24, 25)}
    assert layout.replay_answer_key(dt.date(2026, 11, 23)) not in replay
    for prices_key in (layout.PRICES_DAILY, layout.PRICES_5M):
        parquet = parquet_file(store, prices_key)
        assert parquet is not None
        assert SAMPLE_METADATA_KEY in (parquet.schema_arrow.metadata or {})
        dates = set(parquet.read(columns=["date"]).column("date").to_pylist())
        assert dates == {"2026-11-19", "2026-11-20", "2026-11-24", "2026-11-25"}
    out = capsys.readouterr().out
    assert "4 trading days" in out
    assert "SYNTHETIC" in out


def test_seed_sample_twice_changes_nothing(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["seed-sample", "--start", "2026-11-24", "--end", "2026-11-25"]
    assert main(args, environ=environ) == 0
    before = {info.key: info.etag for info in store.list()}
    capsys.readouterr()

    assert main(args, environ=environ) == 0

    assert {info.key: info.etag for info in store.list()} == before
    assert "0 objects written" in capsys.readouterr().out


@pytest.mark.parametrize("real_key", [layout.PRICES_DAILY, layout.PRICES_5M])
def test_seed_sample_refuses_to_overwrite_real_prices(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str], real_key: str
) -> None:
    write_parquet(store, real_key, real_prices())
    before = store.head(real_key)
    assert before is not None

    code = main(["seed-sample", "--start", "2026-11-19", "--end", "2026-11-25"], environ=environ)

    assert code == 2
    after = store.head(real_key)
    assert after is not None
    assert after.etag == before.etag
    assert read_parquet(store, real_key).equals(real_prices())
    # Refused before anything was written: no sample prices, no answers.
    assert object_keys(store) == {real_key}
    assert "not sample data" in capsys.readouterr().err


def test_seed_sample_with_no_trading_day_is_a_usage_error(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["seed-sample", "--start", "2026-11-21", "--end", "2026-11-23"], environ=environ) == 2
    )
    assert "no JPX trading day" in capsys.readouterr().err
    assert object_keys(store) == set()


# -- verify ------------------------------------------------------------------------------


def test_verify_passes_with_daily_backup_and_archive_rows(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, DAY, 3)
    backed_up(store, "2026-11-24", 2)

    assert main(["verify", "--date", "20261120"], environ=environ) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"OK   daily backup {DAY_KEY} exists with 3 rows",
        f"OK   archive holds 3 rows for {DAY}",
    ]


def test_verify_fails_without_the_daily_backup(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, DAY, 3)
    store.delete(DAY_KEY)

    assert main(["verify", "--date", DAY], environ=environ) == 1

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0] == f"FAIL daily backup {DAY_KEY} is missing"
    assert lines[1] == f"OK   archive holds 3 rows for {DAY}"


def test_verify_fails_when_the_archive_lacks_the_date(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, "2026-11-19", 2)
    write_daily_backup(store, DAY, 3)

    assert main(["verify", "--date", DAY], environ=environ) == 1
    assert f"holds no rows for {DAY}" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["2026-02-30", "../x", "20261", "2026-11-2", ""])
def test_verify_rejects_malformed_dates(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    assert main(["verify", "--date", bad], environ=environ) == 2
    assert repr(bad) in capsys.readouterr().err


def test_verify_without_s3_bucket_is_an_error(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    without_bucket = {name: value for name, value in environ.items() if name != "S3_BUCKET"}
    assert main(["verify", "--date", DAY], environ=without_bucket) == 2
    assert "S3_BUCKET" in capsys.readouterr().err


def test_verify_against_a_missing_bucket_is_an_error(
    environ: dict[str, str], bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = {**environ, "S3_BUCKET": bucket + "-absent"}
    assert main(["verify", "--date", DAY], environ=elsewhere) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert bucket + "-absent" in err


def test_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "seed-sample" in capsys.readouterr().out


# -- restore -----------------------------------------------------------------------------


def test_restore_rebuilds_a_missing_daily_backup_from_the_archive(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, "2026-11-19", 4, variant=1)
    original = backed_up(store, DAY, 5)
    backed_up(store, "2026-11-24", 2, variant=2)
    store.delete(DAY_KEY)

    assert main(["restore", "--date", DAY], environ=environ) == 0

    restored = read_parquet(store, DAY_KEY, BACKTEST_SCHEMA)
    assert restored.equals(original)
    assert "restored" in capsys.readouterr().out
    assert main(["verify", "--date", DAY], environ=environ) == 0


def test_restore_leaves_an_existing_backup_untouched(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, DAY, 3)
    # The daily file now differs from the archive; restore must not "fix" it.
    write_daily_backup(store, DAY, 2, variant=5)
    before = store.head(DAY_KEY)
    assert before is not None

    assert main(["restore", "--date", DAY], environ=environ) == 0

    after = store.head(DAY_KEY)
    assert after is not None
    assert after.etag == before.etag
    assert read_parquet(store, DAY_KEY).equals(backtest_rows(DAY, 2, variant=5))
    assert "left untouched" in capsys.readouterr().out


def test_restore_refuses_when_the_archive_lacks_the_date(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, "2026-11-19", 2)
    before = object_keys(store)

    assert main(["restore", "--date", DAY], environ=environ) == 1

    assert object_keys(store) == before
    assert "refused" in capsys.readouterr().err


def test_restore_refuses_without_an_archive(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", "--date", DAY], environ=environ) == 1
    assert object_keys(store) == set()
    assert "refused" in capsys.readouterr().err


# -- as a real process ---------------------------------------------------------------------


def run_cli(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The child gets exactly the operator's settings, and nothing from this process.
    return subprocess.run(
        [sys.executable, "-m", "grok_assets.cli.main", *args],
        env={**environ, "PATH": os.environ.get("PATH", os.defpath)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_verify_exit_codes_end_to_end(
    store: S3Store, environ: dict[str, str], s3_client: Any
) -> None:
    backed_up(store, DAY, 3)
    store.delete(DAY_KEY)

    missing = run_cli(environ, "verify", "--date", DAY)
    assert missing.returncode == 1, missing.stderr
    assert f"daily backup {DAY_KEY} is missing" in missing.stdout

    write_daily_backup(store, DAY, 3)
    ok = run_cli(environ, "verify", "--date", DAY)
    assert ok.returncode == 0, ok.stderr

    malformed = run_cli(environ, "verify", "--date", "2026-02-30")
    assert malformed.returncode == 2
    assert "2026-02-30" in malformed.stderr
