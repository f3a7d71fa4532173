"""``firm_manifest``: the quarter's firms, each assigned to its batch by a stable hash of its id."""


import io

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ftm_assets.markdown import markdown_table
from ftm_assets.storage.manifest import assign_batches, write_manifest
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.storage import layout
from ftm_assets.storage.commit import quarter_commits


def build_firm_manifest(partitions: dg.PartitionsDefinition, batch_count: int) -> dg.AssetsDefinition:
    @dg.asset(
        name="firm_manifest",
        partitions_def=partitions,
        deps=["raw_transcripts"],
        group_name="transcripts",
        kinds={"json"},
        description=f"Firms with a call in the quarter, assigned to {batch_count} batches (sha256 of the firm id), "
        "so a firm lands in the same batch partition on every run.",
    )
    def firm_manifest(context: dg.AssetExecutionContext, storage: StorageRoot) -> dg.MaterializeResult:
        quarter = context.partition_key
        store = storage.store
        firm_ids: set[str] = set()
        for key in store.list(layout.raw_transcripts_prefix(quarter)):
            table = pq.read_table(io.BytesIO(store.read_bytes(key)), columns=["firm_id"])
            firm_ids.update(pc.unique(table.column("firm_id")).to_pylist())
        if not firm_ids:
            raise dg.Failure(
                f"No raw transcripts for {quarter} under {store.uri(layout.raw_transcripts_prefix(quarter))}: "
                f"materialize raw_transcripts for {quarter} first."
            )
        entries = assign_batches(quarter, sorted(firm_ids), batch_count)
        key = write_manifest(store, quarter, entries)
        table = markdown_table([{"batch": e.batch, "firms": len(e.firm_ids)} for e in entries], ["batch", "firms"],
                               right=["firms"])
        commits = quarter_commits(store, quarter)
        stale = commits.stale
        if stale:
            context.log.warning(
                f"{len(stale)} committed batch(es) of {quarter} no longer match the manifest and are no longer read "
                f"(materialize their partitions again): " + "; ".join(s.describe() for s in stale)
            )
        return dg.MaterializeResult(
            metadata={
                "firms": len(firm_ids),
                "batches": batch_count,
                "largest_batch": max(len(e.firm_ids) for e in entries),
                "firms_per_batch": dg.MetadataValue.md(table),
                "stale_batches": dg.MetadataValue.json(
                    [{"batch": s.record.batch, "run_id": s.record.run_id, "reason": s.reason} for s in stale]
                ),
                # The batches whose committed output does not match this manifest (their firm list changed) or
                # that have none: the automation re-runs only these (ftm_assets.automation.conditions).
                "batches_to_run": dg.MetadataValue.json(sorted({s.record.batch for s in stale} | set(commits.missing))),
                "path": dg.MetadataValue.path(store.uri(key)),
            }
        )

    return firm_manifest
