"""``call_returns``: abnormal returns around each of the quarter's calls, from the bound returns source.

Thin: reads the quarter's calls from ``raw_transcripts``, asks the returns source for the days the windows
need, computes with ``ftm_assets.returns.car`` and writes one Parquet file. Without a returns source (the
files source and no returns file) it materializes nothing and says what to set.

Two runs of one quarter at once: the file is written only if it is still the version this run saw when it
started (``Storage.write_if``), so the later of two runs cannot silently replace what the other stored. If the
other run stored the same bytes, nothing differs and the run succeeds; otherwise it fails naming both runs'
settings, and the stored file stays whole.
"""


import io

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.readers.returns import recorded_settings
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.returns_settings import ReturnsSettings
from ftm_assets.returns.car import RAW_INPUTS_KEY, SETTINGS_KEY, compute_call_returns, missing_summary
from ftm_assets.returns.resources import ReturnsSource, ReturnsUnavailable
from ftm_assets.storage import PreconditionFailed, Storage, layout
from ftm_assets.storage.raw_inputs import raw_transcripts_fingerprint

# Calendar days around the quarter's calls that cover 250 trading days before and 60 after, with holidays.
DAYS_BEFORE, DAYS_AFTER = 400, 100
CALL_FIELDS = ["quarter", "firm_id", "call_id", "gvkey", "permno", "earnings_call_date"]


def quarter_calls(store, quarter: str) -> pd.DataFrame:
    """One row per (firm, call) of the quarter's raw transcripts (``call_start_utc`` where the source has it)."""
    frames = []
    for key in store.list(layout.raw_transcripts_prefix(quarter)):
        data = store.read_bytes(key)  # once: on S3 each read is a GET of the whole part
        names = pq.read_schema(io.BytesIO(data)).names
        columns = CALL_FIELDS + (["call_start_utc"] if "call_start_utc" in names else [])
        frames.append(pd.read_parquet(io.BytesIO(data), columns=columns))
    if not frames:
        raise FileNotFoundError(f"No raw transcripts for {quarter} under {store.uri(layout.raw_transcripts_prefix(quarter))}.")
    return pd.concat(frames, ignore_index=True).drop_duplicates(["firm_id", "call_id"], ignore_index=True)


class ConcurrentCallReturns(RuntimeError):
    """Another run stored a different call_returns for the quarter while this one computed."""


def stored_version(store: Storage, key: str) -> str | None:
    """The version of what is stored at ``key`` now (None: nothing yet): the fence of this run's write."""
    return store.read_versioned(key)[1] if store.exists(key) else None


def write_fenced(store: Storage, key: str, data: bytes, version: str | None, settings: str) -> bool:
    """Write ``data`` at ``key`` if it is still at ``version``; False when a concurrent run already stored the
    very same bytes. Raises ``ConcurrentCallReturns`` when it stored something else, which stays as it is."""
    try:
        store.write_if(key, data, version)
        return True
    except PreconditionFailed:
        other = store.read_bytes(key)
        if other == data:
            return False
        raise ConcurrentCallReturns(
            f"{store.uri(key)} was rewritten by another run while this one computed; this run's result was not "
            f"stored. Stored (the other run's) settings: {recorded_settings(other) or 'not recorded'}; this run's: "
            f"{settings}. Once no other run of this quarter is in progress, re-materialize call_returns for it "
            "with the settings you want.") from None


def build_call_returns(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="call_returns",
        partitions_def=partitions,
        deps=[dg.AssetDep("raw_transcripts")],
        group_name="returns",
        kinds={"parquet"},
        output_required=False,
        description="Abnormal returns around each call with a permno: event day (after-close calls move to "
        "the next trading day), market-adjusted and market-model CARs over [0,+1], [-1,+1], [+2,+60], the "
        "market model's observations and beta, missing return-days counted (README, Returns).",
    )
    def call_returns(context: dg.AssetExecutionContext, storage: StorageRoot, returns_source: ReturnsSource,
                     returns_settings: ReturnsSettings):
        quarter = context.partition_key
        store = storage.store
        key = layout.call_returns(quarter)
        seen = stored_version(store, key)  # before any input is read: what a concurrent run stores after it shows
        raw = raw_transcripts_fingerprint(store, quarter)  # before the calls are read: a rewrite after shows stale
        calls = quarter_calls(store, quarter)
        linked = calls[calls["permno"].notna()]
        dates = pd.to_datetime(linked["earnings_call_date"])
        if linked.empty:
            context.log.warning(f"call_returns {quarter}: no call has a permno; nothing to compute.")
            return
        start = (dates.min() - pd.Timedelta(days=DAYS_BEFORE)).date()
        end = (dates.max() + pd.Timedelta(days=DAYS_AFTER)).date()
        try:
            data = returns_source.fetch(linked, start, end, context.log)
        except ReturnsUnavailable as exc:
            context.log.warning(f"call_returns {quarter} skipped: {exc}")
            return
        if data.call_starts:
            linked = linked.assign(call_start_utc=linked["call_id"].map(data.call_starts))
        settings = returns_settings.car_settings()
        frame = compute_call_returns(linked, data.crsp, settings)
        frame.insert(0, "quarter", quarter)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        recorded = settings.record(returns_source.label)  # a reader refuses quarters computed under different ones
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), SETTINGS_KEY: recorded.encode(),
                                               RAW_INPUTS_KEY: raw.encode()})
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        written = write_fenced(store, key, buffer.getvalue(), seen, recorded)
        summary = missing_summary(frame, settings)
        context.log.info(f"call_returns {quarter}: {summary}" + ("" if written else
                         " (a concurrent run stored the same file first; kept)"))
        yield dg.MaterializeResult(metadata={
            "source": returns_source.label,
            "calls_without_permno": int(calls["permno"].isna().sum()),
            **summary,
            "min_estimation_obs": settings.min_estimation_obs,
            "path": dg.MetadataValue.path(store.uri(key)),
            "window_dates": f"{start}..{end}",
            "raw_transcripts": raw,
            "stored_by": "this run" if written else "a concurrent run (identical bytes)",
        })

    return call_returns
