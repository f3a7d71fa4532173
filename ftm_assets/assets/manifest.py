"""``firm_manifest``: the quarter's firms, each assigned to its batch by a stable hash of its id."""


import io

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ftm_assets.storage.manifest import assign_batches, write_manifest
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.storage import layout


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
        table = "| batch | firms |\n|---|---|\n" + "\n".join(f"| {e.batch} | {len(e.firm_ids)} |" for e in entries)
        return dg.MaterializeResult(
            metadata={
                "firms": len(firm_ids),
                "batches": batch_count,
                "largest_batch": max(len(e.firm_ids) for e in entries),
                "firms_per_batch": dg.MetadataValue.md(table),
                "path": dg.MetadataValue.path(store.uri(key)),
            }
        )

    return firm_manifest
