"""The previous pipeline's backup gate, ``verify_s3_backup``, as its workflow ran it.

Reconstructed from the data contract (``UPSTREAM.md``: the target is
``df['date'].iloc[0].replace('-', '')`` of the published selection, and the archive's
``backtest_date`` is compared with ``'YYYY-MM-DD'``): it downloads whole objects into
pandas. It is the naive baseline the benchmarks measure ``grok-assets verify`` against,
as a whole process. With ``--date YYYYMMDD`` it skips reading the published selection,
which only makes it faster than the original.

Exit 0 when the daily backup exists and the archive holds the date, 1 otherwise.
"""

import argparse
import io
import os
import sys

import boto3
import pandas as pd


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--date", help="YYYYMMDD (default: the published selection's date)")
    args = parser.parse_args()
    bucket = os.environ["S3_BUCKET"]
    prefix = os.environ.get("S3_PREFIX", "parquet/")
    s3 = boto3.client("s3")

    target = args.date
    if target is None:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}grok_trending.parquet")["Body"].read()
        df = pd.read_parquet(io.BytesIO(body))
        target = df["date"].iloc[0].replace("-", "")
    iso = f"{target[:4]}-{target[4:6]}-{target[6:]}"

    ok = True
    try:
        s3.head_object(Bucket=bucket, Key=f"{prefix}backtest/grok_trending_{target}.parquet")
        print(f"OK   daily backup grok_trending_{target}.parquet exists")
    except s3.exceptions.ClientError:
        print(f"FAIL daily backup grok_trending_{target}.parquet is missing")
        ok = False

    key = f"{prefix}backtest/grok_trending_archive.parquet"
    archive = pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    rows = int((archive["backtest_date"] == iso).sum())
    if rows:
        print(f"OK   archive holds {rows} rows for {iso}")
    else:
        print(f"FAIL archive holds no rows for {iso}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
