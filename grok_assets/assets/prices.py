"""External price bars, produced elsewhere into the same bucket; read only here."""

from dagster import AssetSpec

from grok_assets import keys

prices_daily = AssetSpec(
    key="prices_daily",
    group_name="prices",
    description="Daily OHLCV bars of TSE stocks (external).",
    metadata={"s3_key": keys.PRICES_DAILY},
    kinds={"s3", "parquet"},
)

prices_5m = AssetSpec(
    key="prices_5m",
    group_name="prices",
    description="5-minute OHLCV bars of TSE stocks over the last 60 days (external).",
    metadata={"s3_key": keys.PRICES_5M},
    kinds={"s3", "parquet"},
)
