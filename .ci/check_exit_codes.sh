#!/usr/bin/env bash
# `grok-assets check` and the checks-only Dagster job against a real S3-protocol
# server: once where every check must pass (exit 0), once after a daily backup is
# deleted where they must fail (exit 1). Both exit codes are asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"

PORT=$("$BIN/python" -c "from grok_assets.dev.s3_server import free_port; print(free_port())")
"$BIN/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO_PID=$!
WORK=$(mktemp -d)
trap 'kill "$MOTO_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_REGION=ap-northeast-1
export AWS_ACCESS_KEY_ID=ci-access-key AWS_SECRET_ACCESS_KEY=ci-secret-key
export S3_BUCKET=grok-ci-check S3_PREFIX=parquet/ GROK_SELECTOR=replay
export DAGSTER_HOME="$WORK/dagster_home"
mkdir -p "$DAGSTER_HOME"
printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"

"$BIN/python" - <<'PY'
import os, time, boto3
client = boto3.client("s3")
for _ in range(100):
    try:
        client.create_bucket(
            Bucket=os.environ["S3_BUCKET"],
            CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_REGION"]},
        )
        break
    except Exception:
        time.sleep(0.1)
else:
    raise SystemExit("the loopback S3 server did not start")
PY

expect() {
  local wanted=$1; shift
  set +e; "$@" >"$WORK/out" 2>&1; local got=$?; set -e
  if [ "$got" -ne "$wanted" ]; then
    cat "$WORK/out"
    echo "FAILED: expected exit $wanted, got $got: $*"
    exit 1
  fi
  echo "ok: exit $got as expected: $*"
}

DAY=2026-11-16
"$BIN/grok-assets" seed-sample --start "$DAY" --end 2026-11-17 >/dev/null
for JOB in selection_job backtest_job; do
  expect 0 "$BIN/dagster" job execute -m grok_assets.definitions -j "$JOB" \
    --tags "{\"dagster/partition\": \"$DAY\"}"
done

expect 0 "$BIN/grok-assets" check
expect 0 "$BIN/dagster" job execute -m grok_assets.definitions -j verify_backups_job

"$BIN/python" -c "import boto3, os; boto3.client('s3').delete_object(Bucket=os.environ['S3_BUCKET'], Key='parquet/backtest/grok_trending_20261116.parquet')"

expect 1 "$BIN/grok-assets" check
expect 1 "$BIN/grok-assets" verify --date 20261116
expect 1 "$BIN/dagster" job execute -m grok_assets.definitions -j verify_backups_job
