"""``prices_5m``: 5-minute bars, produced elsewhere into the same bucket; read only here."""

from dagster import AssetSpec

from grok_assets import layout

prices_5m = AssetSpec(
    key="prices_5m",
    group_name="prices",
    description="5-minute OHLCV bars of TSE stocks over the last 60 days (external).",
    metadata={"s3_key": layout.PRICES_5M},
    kinds={"s3", "parquet"},
)
