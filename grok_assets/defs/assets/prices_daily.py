"""``prices_daily``: daily bars, produced elsewhere into the same bucket; read only here."""

from dagster import AssetSpec

from grok_assets import layout

prices_daily = AssetSpec(
    key="prices_daily",
    group_name="prices",
    description="Daily OHLCV bars of TSE stocks (external).",
    metadata={"s3_key": layout.PRICES_DAILY},
    kinds={"s3", "parquet"},
)
