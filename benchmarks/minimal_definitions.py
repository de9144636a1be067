"""The smallest code location worth the name: one asset. The load benchmark's yardstick."""

from dagster import Definitions, asset


@asset
def one() -> int:
    return 1


defs = Definitions(assets=[one])
