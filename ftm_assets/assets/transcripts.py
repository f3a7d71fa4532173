"""``raw_transcripts``: the quarter's transcripts, fetched once from the bound source into Parquet."""


import tempfile
import time
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ftm_assets.resources.storage import StorageRoot
from ftm_assets.transcripts.resources import TranscriptSource
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.storage import layout


class NoTranscriptsError(RuntimeError):
    """The source returned nothing for the quarter."""


def build_raw_transcripts(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="raw_transcripts",
        partitions_def=partitions,
        group_name="transcripts",
        kinds={"parquet"},
        description="The quarter's earnings-call transcripts, one row per component (speech, question, "
        "answer), prefetched once per quarter so that no batch job ever logs into WRDS.",
    )
    def raw_transcripts(
        context: dg.AssetExecutionContext, storage: StorageRoot, transcript_source: TranscriptSource
    ) -> dg.MaterializeResult:
        quarter = context.partition_key
        store = storage.store
        key = layout.raw_transcripts_part(quarter)
        t0 = time.perf_counter()
        rows, firms, calls, chunks = 0, set(), set(), 0
        with tempfile.TemporaryDirectory(prefix="ftm-raw-") as tmp:
            local = Path(tmp) / "part.parquet"
            writer: pq.ParquetWriter | None = None
            try:
                for chunk in transcript_source.fetch(quarter, context.log):
                    table = conform(chunk, RAW_TRANSCRIPTS_SCHEMA, keep_extra=True)
                    if table.num_rows == 0:
                        continue
                    if writer is None:
                        schema = table.schema.with_metadata(
                            {b"ftm.source": transcript_source.label.encode(), b"ftm.quarter": quarter.encode()}
                        )
                        writer = pq.ParquetWriter(local, schema, compression="zstd")
                    writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
                    rows += table.num_rows
                    chunks += 1
                    firms.update(pc.unique(table.column("firm_id")).to_pylist())
                    calls.update(pc.unique(table.column("call_id")).to_pylist())
            finally:
                if writer is not None:
                    writer.close()
            if rows == 0:
                raise NoTranscriptsError(
                    f"The {transcript_source.label} source returned no transcripts for {quarter}; "
                    "nothing was written. Check the quarter and the source's settings."
                )
            store.upload(local, key)
        for stale in store.list(layout.raw_transcripts_prefix(quarter)):
            if stale != key:
                store.delete(stale)
        seconds = time.perf_counter() - t0
        context.log.info(f"{quarter}: {rows} components of {len(firms)} firms from {transcript_source.label}.")
        return dg.MaterializeResult(
            metadata={
                "source": transcript_source.label,
                "synthetic": transcript_source.label == "demo-synthetic",
                "rows": rows,
                "firms": len(firms),
                "calls": len(calls - {None}),
                "path": dg.MetadataValue.path(store.uri(key)),
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
            }
        )

    return raw_transcripts

