"""The data-safety rules, free of Dagster: the gate, publishing behind it, the archive
upsert and what it may never change, archive generations, the manifest, retention,
restore and the consistency audit (fsck)."""
