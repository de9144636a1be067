"""``grok_manifest``: ``manifest.json``, written last, by compare-and-swap on its ETag."""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import keys
from grok_assets.manifest import parse_manifest, updated_manifest
from grok_assets.resources import StorageResource


@asset(
    key="grok_manifest",
    group_name="grok",
    deps=[AssetDep("grok_trending_archive"), AssetDep("grok_trending")],
    kinds={"s3", "json"},
    description="Size, update time and MD5 of every parquet file under the prefix.",
)
def grok_manifest(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
    store = storage.store()
    info = store.compare_and_swap(
        keys.MANIFEST,
        lambda current: updated_manifest(store, current),
        content_type="application/json",
    )
    if info is None:
        raise RuntimeError(f"{store.uri(keys.MANIFEST)} was not written")
    data, _ = store.get_bytes(keys.MANIFEST)
    manifest = parse_manifest(data, store.uri(keys.MANIFEST))
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(keys.MANIFEST)),
            "files": len(manifest["files"]),
            "last_updated": str(manifest["last_updated"]),
            "md5": info.md5 or "",
        }
    )
