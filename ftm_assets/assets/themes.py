"""``quarter_themes`` and ``theme_exposure``: themes shared across firms, with ids stable across quarters.

Both are partitioned by quarter; ``quarter_themes`` depends on *every* batch of its quarter's firm topics
(``MultiToSingleDimensionPartitionMapping``, as ``quarter_topic_summary``) and fails naming the batches that
have not committed. The work is ``ftm_assets.themes.store.resolve``: the quarters before are replayed in
calendar order from their stored outcomes, so ids never depend on the order a backfill runs quarters in.
The exposure panel is computed with the themes (one stored outcome per quarter, so a replayed earlier
quarter stays consistent); ``theme_exposure`` recomputes the chain from the commit records up to its quarter
(``store.chain_problem``), refuses naming the first stale or missing quarter, then publishes and checks it.
"""


import time

import dagster as dg
import pandas as pd

from ftm_assets.markdown import markdown_table, png_markdown
from ftm_assets.partitions import QUARTER_DIM
from ftm_assets.quarters import Quarter
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.theme_settings import ThemeSettings
from ftm_assets.schema import THEME_EXPOSURE_SCHEMA, THEMES_SCHEMA
from ftm_assets.storage import Storage, layout
from ftm_assets.themes import plots, quality
from ftm_assets.themes.assign import MissingSentenceVectors
from ftm_assets.themes.outcome import chain_problem, load_outcome, read_table
from ftm_assets.themes.store import IncompleteQuarter, InputsChanged, resolve

CHECK_FIRMS_EXPOSED = "firms_with_theme_exposure"
CHECK_IDS_ACCOUNTED = "last_quarter_ids_matched_or_ended"
CHECK_SHARES = "shares_sum_at_most_one"


def top_themes_markdown(themes: pd.DataFrame, sentences_total: int, top: int = 15) -> str:
    """The largest themes of a quarter (by sentences): label, firms, topics, share of sentences, breadth (share
    of firms with a sentence on it), analyst share, generic flag, first quarter."""
    def pct(x) -> str:
        return "" if pd.isna(x) else f"{x:.0%}"

    rows = [
        {"theme": r.theme_id, "label": r.label, "firms": r.n_firms, "topics": r.n_topics, "since": r.first_quarter,
         "share of sentences": f"{(r.n_sentences / sentences_total if sentences_total else 0.0):.1%}",
         "breadth": pct(getattr(r, "breadth", None)), "analysts": pct(getattr(r, "analyst_share", None)),
         "generic": "yes" if getattr(r, "generic", False) else ""}
        for r in themes.sort_values(["n_sentences", "theme_id"], ascending=[False, True]).head(top).itertuples()
    ]
    columns = ["theme", "label", "firms", "topics", "share of sentences", "breadth", "analysts", "generic", "since"]
    return markdown_table(rows, columns, right=["firms", "topics", "share of sentences", "breadth", "analysts"])


def frame_markdown(df: pd.DataFrame) -> str:
    """A small DataFrame as a markdown table (missing values as empty cells)."""
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    return markdown_table(rows, [str(c) for c in df.columns])


def prevalence(store: Storage, quarters: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Quarter x theme share of all modelled sentences, over the quarters with stored themes."""
    rows, labels = {}, {}
    for q in quarters:
        stored = load_outcome(store, q)
        if stored is None or not stored.sentences_total:
            continue
        themes = read_table(store, q, "themes.parquet", THEMES_SCHEMA, stored)
        rows[q] = dict(zip(themes["theme_id"], themes["n_sentences"] / stored.sentences_total))
        labels.update(dict(zip(themes["theme_id"], themes["label"])))
    return pd.DataFrame.from_dict(rows, orient="index").fillna(0.0).sort_index(key=lambda i: i.map(
        lambda q: Quarter.parse(q).index)), labels


def _table_key(store: Storage, quarter: str, name: str) -> str:
    stored = load_outcome(store, quarter)
    return stored.table_key(quarter, name) if stored else layout.themes_table(quarter, name)


def _quarters_around(context: dg.AssetExecutionContext, quarter: str) -> tuple[list[str], list[str]]:
    keys = context.assets_def.partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
    me = Quarter.parse(quarter)
    return [k for k in keys if Quarter.parse(k) < me], [k for k in keys if Quarter.parse(k) > me]


def build_quarter_themes(quarter_partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    all_batches = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=QUARTER_DIM)

    @dg.asset(
        name="quarter_themes",
        partitions_def=quarter_partitions,
        deps=[dg.AssetDep("firm_topics", partition_mapping=all_batches)],
        group_name="themes",
        kinds={"parquet"},
        description="Themes shared by firms this quarter (clusters of firm topics spanning FTM_THEME_MIN_FIRMS "
        "firms), with ids kept across quarters, keywords, representative sentences (nearest the anchor), "
        "breadth, analyst share and a generic flag; and each sentence's theme (sentence_themes).",
        check_specs=[
            dg.AssetCheckSpec(CHECK_FIRMS_EXPOSED, asset="quarter_themes",
                              description="Share of modelled firms with any theme exposure (warns below 50%)."),
            dg.AssetCheckSpec(CHECK_IDS_ACCOUNTED, asset="quarter_themes",
                              description="Every theme id of the quarter before is matched or recorded as ended."),
        ],
    )
    def quarter_themes(context: dg.AssetExecutionContext, storage: StorageRoot,
                       theme_settings: ThemeSettings) -> dg.MaterializeResult:
        quarter, store, t0 = context.partition_key, storage.store, time.perf_counter()
        earlier, later = _quarters_around(context, quarter)
        try:
            outcome, registry = resolve(store, quarter, earlier, theme_settings.params(), context.log.info, later)
        except (IncompleteQuarter, InputsChanged, MissingSentenceVectors) as exc:
            raise dg.Failure(str(exc)) from exc
        themes, exposure = outcome.themes.themes, outcome.exposure
        seconds = round(time.perf_counter() - t0, 2)

        metadata: dict = {
            "themes": len(themes),
            "births": sum(e["event"] == "birth" for e in outcome.themes.events),
            "splits": sum(e["event"] == "split" for e in outcome.themes.events),
            "deaths": sum(e["event"] == "death" for e in outcome.themes.events),
            "revivals": sum(e["event"] == "revival" for e in outcome.themes.events),
            "firms": len(outcome.firms),
            "generic_themes": int(themes["generic"].sum()) if "generic" in themes else 0,
            "sentences_on_themes": len(outcome.assignments) if outcome.assignments is not None else 0,
            "sentence_similarity": theme_settings.sentence_similarity,
            "themed_sentence_share": round(float(themes["n_sentences"].sum()) / outcome.sentences_total, 4)
            if len(themes) and outcome.sentences_total else 0.0,
            "largest_theme_share_of_themed": round(quality.largest_theme_share(themes), 4) if len(themes) else 0.0,
            "top_themes": dg.MetadataValue.md(top_themes_markdown(themes, outcome.sentences_total))
            if len(themes) else "no themes",
            "registry": dg.MetadataValue.path(store.uri(layout.theme_registry())),
            "path": dg.MetadataValue.path(store.uri(_table_key(store, quarter, "themes.parquet"))),
            "seconds": seconds,
        }
        if len(themes):
            heat = plots.heatmap_png(exposure, themes, quarter)
            store.write_bytes(layout.themes_table(quarter, "heatmap.png"), heat)
            metadata["heatmap"] = dg.MetadataValue.md(png_markdown("firm x theme exposure", heat))
        prev, labels = prevalence(store, [*earlier, quarter, *later])
        if len(prev.columns):
            png = plots.prevalence_png(prev, labels)
            store.write_bytes(f"{layout.THEMES_PREFIX}prevalence.png", png)
            metadata["prevalence"] = dg.MetadataValue.md(png_markdown("prevalence of the top themes over quarters", png))

        exposed = quality.coverage(exposure, outcome.firms) > 0 if outcome.firms else pd.Series(dtype=bool)
        share_exposed = float(exposed.mean()) if len(exposed) else 0.0
        previous = set(registry.living)
        ended = {e["theme_id"] for e in outcome.themes.events if e["event"] == "death"}
        unaccounted = sorted(previous - set(outcome.themes.present) - ended)
        checks = [
            dg.AssetCheckResult(
                check_name=CHECK_FIRMS_EXPOSED,
                passed=share_exposed >= theme_settings.min_exposed_firm_share,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"share": round(share_exposed, 4), "threshold": theme_settings.min_exposed_firm_share,
                          "verdict": f"{exposed.sum()} of {len(exposed)} modelled firms have a theme."},
            ),
            dg.AssetCheckResult(
                check_name=CHECK_IDS_ACCOUNTED,
                passed=not unaccounted,
                metadata={"previous_quarter_ids": len(previous), "ended": len(ended),
                          "unaccounted": dg.MetadataValue.json(unaccounted)},
            ),
        ]
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    return quarter_themes


def build_theme_exposure(quarter_partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="theme_exposure",
        partitions_def=quarter_partitions,
        deps=[dg.AssetDep("quarter_themes")],
        group_name="themes",
        kinds={"parquet"},
        description="The panel: one row per (firm_id, quarter, theme_id) with a sentence on the theme: gvkey, "
        "permno, call date, sentences, share and intensity of the firm's non-procedural sentences (also within "
        "management, analysts, presentation and Q&A), and LM tone, uncertainty and classifier tone on the theme.",
        check_specs=[dg.AssetCheckSpec(CHECK_SHARES, asset="theme_exposure",
                                       description="Each firm's shares sum to at most 1.")],
    )
    def theme_exposure(context: dg.AssetExecutionContext, storage: StorageRoot,
                       theme_settings: ThemeSettings) -> dg.MaterializeResult:
        quarter, store = context.partition_key, storage.store
        stored = load_outcome(store, quarter)
        if stored is None:
            raise dg.Failure(f"No themes for {quarter}: materialize quarter_themes for {quarter} first.")
        earlier, _ = _quarters_around(context, quarter)
        problem = chain_problem(store, quarter, earlier, theme_settings.params())
        if problem is not None:
            raise dg.Failure(f"The themes of {quarter} are not current: {problem}. Re-materialize quarter_themes "
                             f"for {quarter} first (it recomputes every stale quarter before it).")
        panel = read_table(store, quarter, "exposure.parquet", THEME_EXPOSURE_SCHEMA, stored)
        sums = panel.groupby("firm_id")["share"].sum() if len(panel) else pd.Series(dtype=float)
        head = panel.head(8).drop(columns=["earnings_call_date"]).round(4)
        return dg.MaterializeResult(
            metadata={
                "rows": len(panel),
                "firms": int(panel["firm_id"].nunique()) if len(panel) else 0,
                "themes": int(panel["theme_id"].nunique()) if len(panel) else 0,
                "median_summed_share": round(float(sums.median()), 4) if len(sums) else 0.0,
                "median_share": round(float(panel["share"].median()), 4) if len(panel) else 0.0,
                "with_tone": round(float(panel["tone"].notna().mean()), 4) if len(panel) else 0.0,
                "sentence_themes": dg.MetadataValue.path(
                    store.uri(stored.table_key(quarter, "sentence_themes.parquet"))),
                "with_gvkey": round(float(panel["gvkey"].notna().mean()), 4) if len(panel) else 0.0,
                "with_permno": round(float(panel["permno"].notna().mean()), 4) if len(panel) else 0.0,
                "first_rows": dg.MetadataValue.md(frame_markdown(head)) if len(panel) else "empty",
                "path": dg.MetadataValue.path(store.uri(stored.table_key(quarter, "exposure.parquet"))),
            },
            check_results=[dg.AssetCheckResult(
                check_name=CHECK_SHARES, passed=bool((sums <= 1 + 1e-9).all()),
                metadata={"max_summed_share": round(float(sums.max()), 6) if len(sums) else 0.0})],
        )

    return theme_exposure
