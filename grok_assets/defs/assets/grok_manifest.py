"""``grok_manifest``: ``manifest.json``, written last, by compare-and-swap on its ETag."""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import layout
from grok_assets.backup.manifest import refresh_manifest
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient


@asset(
    key="grok_manifest",
    group_name="grok",
    deps=[AssetDep("grok_trending_archive"), AssetDep("grok_trending")],
    kinds={"s3", "json"},
    retry_policy=STEP_RETRY_POLICY,
    description="Size, update time and MD5 of every parquet file under the prefix.",
)
def grok_manifest(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
    with retried_only_when_transient(context):
        store = storage.store()
        outcome = refresh_manifest(store)
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(layout.MANIFEST)),
            "files": outcome.files,
            "last_updated": outcome.last_updated,
            "md5": outcome.md5,
            "written": outcome.written,
        }
    )
