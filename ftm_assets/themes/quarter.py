"""One quarter's themes from its firm topics and the registry of the quarters before (no Dagster, no I/O).

``build_quarter`` clusters (``cluster``), names the themes (ids from the registry, ``<quarter>-T<nnn>`` for
new ones, numbered largest first), labels them (``keywords``) and records the quarter's lineage events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftm_assets.themes.cluster import cluster_topics, normalise
from ftm_assets.themes.exposure import theme_profile
from ftm_assets.themes.keywords import c_tf_idf_keywords
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes.registry import Registry, lineage_events


class ThemeInputError(ValueError):
    """The quarter's topics cannot be clustered (e.g. written before topics carried centroids)."""


@dataclass(frozen=True)
class QuarterThemes:
    themes: pd.DataFrame  # one row per theme (THEMES_SCHEMA)
    members: pd.DataFrame  # one row per (firm, topic) in a theme: firm_id, topic_id, theme_id, similarity
    events: list[dict]
    new_anchors: dict[str, np.ndarray]
    present: list[str]


def topic_matrix(topics: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Non-outlier topics sorted by (firm_id, topic_id) and their centroids; refuses topics without one."""
    rows = topics[topics["topic_id"] >= 0].sort_values(["firm_id", "topic_id"], kind="stable").reset_index(drop=True)
    if "centroid" not in rows.columns or rows["centroid"].isna().any():
        missing = rows.loc[rows.get("centroid", pd.Series([None] * len(rows))).isna(), "firm_id"].unique()[:5]
        raise ThemeInputError(
            f"{len(missing)}+ firms' topics have no centroid (e.g. {list(missing)}): they were written before the "
            "worker stored centroids. Re-materialize those firm_topics batches, then the themes."
        )
    if rows.empty:
        return rows, np.zeros((0, 0), dtype=np.float32)
    return rows, normalise(np.stack(rows["centroid"].to_numpy()))


def representatives(assignments: pd.DataFrame, sentences: pd.DataFrame, names: dict[str, str], k: int) -> dict[str, list[dict]]:
    """Per theme: up to ``k`` sentences, one per firm, the most similar to the theme's anchor first.

    Chosen by the sentence embedding's cosine to the anchor (from the assignments), not by overlap with the
    keywords, so they show what the theme means rather than echo its label.
    """
    if assignments.empty:
        return {}
    text = sentences.set_index(["firm_id", "sentence_id"])["text"]
    top = (assignments.sort_values(["theme_id", "similarity", "firm_id", "sentence_id"],
                                   ascending=[True, False, True, True], kind="stable")
           .drop_duplicates(["theme_id", "firm_id"]).groupby("theme_id", sort=True).head(k))
    top = top.assign(text=text.reindex(pd.MultiIndex.from_frame(top[["firm_id", "sentence_id"]])).to_numpy())
    return {tid: [{"firm_id": f, "firm_name": names.get(f), "text": t} for f, t in zip(g["firm_id"], g["text"])]
            for tid, g in top.groupby("theme_id", sort=True)}


def finish_themes(themes: pd.DataFrame, assignments: pd.DataFrame, sentences: pd.DataFrame, topics: pd.DataFrame,
                  params: ThemeParams) -> pd.DataFrame:
    """``themes`` with what the sentence assignments tell: representative sentences, ``breadth``,
    ``analyst_share`` and ``generic`` (breadth above ``generic_breadth`` or analyst share above
    ``generic_analyst_share``; a theme no sentence reached has breadth 0 and is not generic)."""
    if themes.empty:
        return themes
    firms = sorted(topics["firm_id"].unique().tolist())
    names = dict(zip(topics["firm_id"], topics["firm_name"]))
    reps = representatives(assignments, sentences, names, params.representative_sentences)
    profile = theme_profile(assignments, sentences, firms).set_index("theme_id")
    out = themes.copy()
    out["representative_sentences"] = [reps.get(t, []) for t in out["theme_id"]]
    out["breadth"] = profile["breadth"].reindex(out["theme_id"]).fillna(0.0).to_numpy(dtype=float)
    out["analyst_share"] = profile["analyst_share"].reindex(out["theme_id"]).to_numpy(dtype=float)
    out["generic"] = (out["breadth"] > params.generic_breadth) | (out["analyst_share"].fillna(0.0)
                                                                   > params.generic_analyst_share)
    return out


def build_quarter(topics: pd.DataFrame, sentences: pd.DataFrame, registry: Registry, quarter: str,
                  params: ThemeParams) -> QuarterThemes:
    """Themes of ``quarter``: ``topics`` as read_firm_topics gives them, ``sentences`` as read_sentences does."""
    rows, x = topic_matrix(topics)
    known_ids, known = registry.known()
    if rows.empty:
        events = lineage_events(quarter, registry.living, [], [], {})
        return QuarterThemes(pd.DataFrame(), pd.DataFrame(), events, {}, [])
    firm_codes = pd.factorize(rows["firm_id"], sort=True)[0]
    sizes = rows["n_sentences"].to_numpy()
    result = cluster_topics(x, firm_codes, sizes, known if len(known) else np.zeros((0, x.shape[1])), params)

    labels = result.labels
    used = sorted(set(labels[labels >= 0].tolist()))
    new_labels = [lab for lab in used if lab >= result.n_known]
    # New ids: largest first, then by the label's position (itself ordered by size at clustering time).
    new_sizes = {lab: int(sizes[labels == lab].sum()) for lab in new_labels}
    new_order = sorted(new_labels, key=lambda lab: (-new_sizes[lab], lab))
    id_of = {lab: known_ids[lab] for lab in used if lab < result.n_known}
    id_of.update({lab: f"{quarter}-T{i + 1:03d}" for i, lab in enumerate(new_order)})

    rows = rows.assign(theme_id=[id_of.get(int(lab)) for lab in labels], similarity=result.similarity)
    members = rows[rows["theme_id"].notna()]
    text = dict(zip(zip(sentences["firm_id"], sentences["sentence_id"].astype(int)), sentences["text"]))

    theme_ids = sorted(id_of.values())
    grouped = {tid: g for tid, g in members.groupby("theme_id", sort=True)}
    docs = [" ".join(text.get((f, int(i)), "") for f, ids in zip(grouped[t]["firm_id"], grouped[t]["sentence_ids"])
                     for i in ids) for t in theme_ids]
    keywords = c_tf_idf_keywords(docs, params.top_keywords)
    label_index = {tid: lab for lab, tid in id_of.items()}
    living = set(registry.living)
    split_parent: dict[str, str | None] = {}
    living_ids = [i for i, tid in enumerate(known_ids) if tid in living]
    records = []
    for tid, kws in zip(theme_ids, keywords):
        g = grouped[tid]
        anchor = result.centroids[label_index[tid]]
        born = label_index[tid] >= result.n_known
        if born and living_ids:
            sims = known[living_ids] @ anchor
            j = int(np.argmax(sims))
            split_parent[tid] = known_ids[living_ids[j]] if sims[j] >= params.split_similarity else None
        records.append({
            "quarter": quarter,
            "theme_id": tid,
            "label": ", ".join(kws[:4]) if kws else tid,
            "keywords": kws,
            "representative_sentences": [],  # chosen from the sentence assignments (finish_themes)
            "n_firms": int(g["firm_id"].nunique()),
            "n_topics": int(len(g)),
            "n_sentences": int(g["n_sentences"].sum()),
            "first_quarter": quarter if born else registry.first_quarter[tid],
            "split_from": split_parent.get(tid),
            "centroid": anchor.astype(np.float32).tolist(),
        })
    themes = pd.DataFrame.from_records(records)
    born_ids = [id_of[lab] for lab in new_order]
    new_anchors = {id_of[lab]: result.centroids[lab] for lab in new_order}
    events = lineage_events(quarter, registry.living, theme_ids, born_ids, split_parent)
    members_out = members[["firm_id", "topic_id", "theme_id", "similarity"]].reset_index(drop=True)
    return QuarterThemes(themes, members_out, events, new_anchors, theme_ids)
