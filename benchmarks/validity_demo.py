"""External validity on the demo corpus, where the generator knows the answer (issue 25, item 5).

The demo generator gives each firm a theme mix per quarter (``demo.theme_mix``) and tags every component with
the theme it was drawn from. Over consecutive quarters of the same firms, replayed through ``ftm_assets.themes``:

- ``demo_truth_corr``: Pearson correlation, over (firm, quarter, generated theme), of the firm's exposure
  with its true mix. Discovered theme ids are matched to generated themes by the best overlap: each id goes
  to the generated theme most of its sentences (the panel's per-sentence assignment) were drawn from (many ids may map to one theme). The
  null: the same figure with the true mixes of the quarter's firms shuffled across firms.
  Beside it: ``demo_realized_corr``, the same against the share of the firm's sentences actually drawn from
  each theme (``theme_mix`` plus the generator's sampling noise), and ``demo_truth_ceiling``, the correlation
  of that realized share with ``theme_mix``: what a perfect reader of the calls would reach.
- ``demo_id_purity``: share of an id's member sentences, over all quarters, drawn from the id's matched
  theme (sentence-weighted over ids); the null shuffles theme ids over the member sentences of each quarter.
  ``demo_id_stable_share``: (id, quarter) pairs whose own majority theme is the id's overall one.
- births and deaths after the first quarter (the generator's theme set never changes, so both should be few).
- ``industry_p4``: precision@4 of same-industry neighbours (cosine) of each firm's exposure vector (plain
  ``share``), per quarter, averaged; ``industry_p4_peer`` the same under the peer weighting chosen on other
  firms (``peer_similarity.CHOSEN``: square-root shares); beside a TF-IDF bag of words of the full call
  (``industry_p4_tfidf``), the firm's mean sentence embedding (``industry_p4_embed``) and shuffled industry
  labels (``industry_p4_null``); the generator's true theme mixes by plain cosine (``industry_p4_truth``;
  firms of one industry share two of their four to seven themes), which is not a ceiling: weighing the
  smaller, industry-specific themes up beats it (square-root shares here; TF-IDF on the choosing firms). A
  demo firm's name carries its industry ("... Logistics ..."), and the calls say the name;
  ``industry_p4_tfidf_unnamed`` is TF-IDF with the words of each firm's own name taken out of its call.
  ``industry_p4_minus_tfidf`` and ``industry_p4_peer_minus_tfidf`` (``_lo``, ``_hi``): the per-query gap to
  TF-IDF with a 95% interval that resamples firms (a firm's 8 quarters are one draw).
- ``chain_agreement_ari``: a chain started ``offset`` quarters later than the first, compared on the quarters
  both cover: adjusted Rand index of the sentences' theme assignments (0 is chance, 1 identical), and
  ``chain_map_stable``: share of the later chain's ids that match the same earlier id in every quarter.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.validity_fit import FittedQuarter
from ftm_assets.themes.chain import QuarterOutcome, replay_in_memory
from ftm_assets.themes.params import ThemeParams

NO_THEME = "-"


def industry_of(index: int) -> str | None:
    """The industry of the demo firm at ``index`` (None for the ten real-firm lookalikes, which have none)."""
    from ftm_assets.transcripts import demo_vocabulary as V
    from ftm_assets.transcripts.demo import REAL_FIRMS

    if index < len(REAL_FIRMS):
        return None
    k = index - len(REAL_FIRMS)
    return V.INDUSTRIES[(k // len(V.NAME_PREFIXES) + k) % len(V.INDUSTRIES)][0]


def pick_firms(n_industries: int, per_industry: int, search: int = 2000, skip: int = 0) -> list[int]:
    """Demo firm indices: the first ``per_industry`` firms of each of ``n_industries`` industries, taken in the
    order they first appear after the first ``skip`` industries (``skip=n``: a set disjoint from ``skip=0``'s,
    the firms settings are chosen on)."""
    chosen: dict[str, list[int]] = {}
    for index in range(search):
        industry = industry_of(index)
        if industry is None or (industry not in chosen and len(chosen) >= skip + n_industries):
            continue
        if len(chosen.setdefault(industry, [])) < per_industry:
            chosen[industry].append(index)
    return sorted(i for ids in list(chosen.values())[skip:] for i in ids)


def component_themes(indices: list[int], quarter: str) -> dict[tuple[str, int], str | None]:
    """(firm_id, component_order) -> the generated theme of that component (None: boilerplate)."""
    from ftm_assets.transcripts.demo import _demo_firm, demo_call

    out = {}
    for index in indices:
        firm = _demo_firm(index)
        for order, component in enumerate(demo_call(firm, quarter)):
            out[(firm.firm_id, order)] = component.theme
    return out


def true_mix(indices: list[int], quarter: str) -> dict[str, dict[str, float]]:
    from ftm_assets.transcripts.demo import _demo_firm, theme_mix

    return {_demo_firm(i).firm_id: theme_mix(_demo_firm(i), quarter) for i in indices}


def realized_mix(fitted: FittedQuarter, truth: dict) -> dict[str, dict[str, float]]:
    """Per firm: the share of its non-procedural modelled sentences drawn from each generated theme -- what the
    call actually says, ``theme_mix`` plus the generator's sampling noise (the ceiling of any measure)."""
    s = fitted.sentences
    if "procedural" in s:
        s = s[~s["procedural"].fillna(False).astype(bool)]
    themes = pd.Series([truth.get((f, int(o))) for f, o in zip(s["firm_id"], s["component_order"])], index=s.index)
    shares = themes.groupby(s["firm_id"]).value_counts(normalize=True)
    return {firm: shares[firm].to_dict() for firm in shares.index.get_level_values(0).unique()}


def mix_corr(a: dict, b: dict) -> float:
    """Pearson r of two {quarter: {firm: {theme: share}}} over the themes either names (missing: 0)."""
    themes = sorted({t for q in a.values() for mix in q.values() for t in mix})
    pairs = [(a[q][f].get(t, 0.0), b[q].get(f, {}).get(t, 0.0)) for q in a for f in a[q] for t in themes]
    x, y = zip(*pairs)
    return float(np.corrcoef(x, y)[0, 1])


def member_sentences(outcome: QuarterOutcome, fitted: FittedQuarter, truth: dict) -> pd.DataFrame:
    """(quarter, firm_id, sentence_id, theme_id, true_theme) of every sentence the panel assigned to a theme."""
    rows = outcome.assignments[["firm_id", "sentence_id", "theme_id"]].copy()
    rows["sentence_id"] = rows["sentence_id"].astype(int)
    order = fitted.sentences.set_index(["firm_id", "sentence_id"])["component_order"]
    orders = order.reindex(pd.MultiIndex.from_arrays([rows["firm_id"], rows["sentence_id"]])).to_numpy()
    rows["true_theme"] = [truth.get((f, int(o))) for f, o in zip(rows["firm_id"], orders)]
    rows["quarter"] = outcome.quarter
    return rows[["quarter", "firm_id", "sentence_id", "theme_id", "true_theme"]]


def match_ids(members: pd.DataFrame) -> dict[str, str]:
    """Each discovered id -> the generated theme most of its member sentences came from (boilerplate aside)."""
    known = members.dropna(subset=["true_theme"])
    return {tid: Counter(g["true_theme"]).most_common(1)[0][0] for tid, g in known.groupby("theme_id")}


def truth_corr(exposure: pd.DataFrame, mapping: dict[str, str], mixes: dict[str, dict[str, dict[str, float]]],
               shuffle_seed: int | None = None) -> float:
    """Pearson r of exposure (summed over the ids matched to each generated theme) with the true mix."""
    exp = exposure.assign(true_theme=exposure["theme_id"].map(mapping)).dropna(subset=["true_theme"])
    est = exp.groupby(["quarter", "firm_id", "true_theme"])["share"].sum()
    themes = sorted({t for by_firm in mixes.values() for mix in by_firm.values() for t in mix})
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    x, y = [], []
    for quarter, by_firm in mixes.items():
        firms = sorted(by_firm)
        donors = list(rng.permutation(firms)) if rng is not None else firms
        for firm, donor in zip(firms, donors):
            for theme in themes:
                x.append(est.get((quarter, firm, theme), 0.0))
                y.append(by_firm[donor].get(theme, 0.0))
    return float(np.corrcoef(x, y)[0, 1])


def id_purity(members: pd.DataFrame, shuffle_seed: int | None = None) -> tuple[float, float]:
    """(purity, stable share): see the module docstring; ``shuffle_seed`` shuffles ids within each quarter."""
    m = members.dropna(subset=["true_theme"]).copy()
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        m["theme_id"] = m.groupby("quarter")["theme_id"].transform(lambda s: rng.permutation(s.to_numpy()))
    overall = match_ids(m)
    purity = float((m["true_theme"] == m["theme_id"].map(overall)).mean())
    per_quarter = m.groupby(["theme_id", "quarter"])["true_theme"].agg(lambda s: Counter(s).most_common(1)[0][0])
    stable = float(np.mean([overall[tid] == theme for (tid, _), theme in per_quarter.items()]))
    return purity, stable


def lineage_counts(outcomes: list[QuarterOutcome]) -> dict[str, int]:
    """Births, deaths and splits after the first quarter, and the ids of the first quarter."""
    later = [e for o in outcomes[1:] for e in o.themes.events]
    kinds = Counter(e["event"] for e in later)
    return {"demo_births_after_first": int(kinds["birth"]), "demo_splits": int(kinds["split"]),
            "demo_deaths": int(kinds["death"]), "demo_revivals": int(kinds["revival"]),
            "demo_themes_first_quarter": len(outcomes[0].themes.present)}


def hits_at_k(vectors: np.ndarray, labels: list[str], k: int = 4, groups: list[str] | None = None) -> np.ndarray:
    """Per row, the share of its ``k`` nearest rows (cosine, itself excluded) that carry its label; rows of
    the same ``groups`` value (e.g. a company's other calls) are left out of each other's neighbours."""
    x = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    sims = x @ x.T
    if groups is not None:
        g = np.asarray(groups)
        sims[g[:, None] == g[None, :]] = -np.inf
    np.fill_diagonal(sims, -np.inf)
    labels_ = np.asarray(labels)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return (labels_[order] == labels_[:, None]).mean(axis=1)


def precision_at_k(vectors: np.ndarray, labels: list[str], k: int = 4) -> float:
    """Mean share of each row's ``k`` nearest rows (cosine, itself excluded) that carry its label."""
    return float(hits_at_k(vectors, labels, k).mean())


def without_name(text: str, firm_name: str) -> str:
    """``text`` without the words of the firm's own name (a demo name carries its industry: "... Logistics ...")."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", firm_name)}
    return re.sub(r"[A-Za-z]+", lambda m: "" if m.group(0).lower() in words else m.group(0), text)


@dataclass
class IndustryHits:
    """Per (firm, quarter) query of a demo firm set: the share of its 4 nearest firms in its industry, by each
    representation (``""`` plain share, ``_peer``, ``_tfidf``, ...), the firm queried (the bootstrap's cluster)
    and the shuffled-label nulls."""

    hits: dict[str, np.ndarray]
    queried: list[str]
    nulls: dict[str, float]
    weighting: str


def industry_hits(outcomes: list[QuarterOutcome], fitted: list[FittedQuarter], indices: list[int],
                  null_draws: int = 20, weighting: str | None = None) -> IndustryHits:
    """Each query's hits for exposure (plain ``share`` and the peer ``weighting``, default
    ``peer_similarity.CHOSEN``), TF-IDF (with and without the firm's name), mean embedding and the true mixes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from benchmarks.peer_similarity import CHOSEN, peer_vectors
    from ftm_assets.transcripts.demo import _demo_firm, demo_transcripts

    weighting = weighting or CHOSEN
    industry = {_demo_firm(i).firm_id: industry_of(i) for i in indices}
    firm_names = {_demo_firm(i).firm_id: _demo_firm(i).firm_name for i in indices}
    hits: dict[str, list[np.ndarray]] = {k: [] for k in ("", "_peer", "_tfidf", "_tfidf_unnamed", "_embed", "_truth")}
    nulls: dict[str, list[float]] = {"": [], "_peer": []}
    queried: list[str] = []
    rng = np.random.default_rng(0)
    for outcome, fq in zip(outcomes, fitted):
        firms = sorted(f for f in fq.mean_embedding if f in industry)
        labels = [industry[f] for f in firms]
        queried += firms
        generic = set(outcome.themes.themes.loc[outcome.themes.themes["generic"].astype(bool), "theme_id"])
        exposure = peer_vectors(outcome.exposure, firms, generic, "share")
        peer = peer_vectors(outcome.exposure, firms, generic, weighting)
        hits[""].append(hits_at_k(exposure, labels))
        hits["_peer"].append(hits_at_k(peer, labels))
        for key, x in (("", exposure), ("_peer", peer)):
            nulls[key].append(float(np.mean([precision_at_k(x, list(rng.permutation(labels)))
                                             for _ in range(null_draws)])))
        table = demo_transcripts(fq.quarter, n_firms=max(indices) + 1).to_pandas()
        calls = table.groupby("firm_id")["text"].apply(" ".join).reindex(firms)
        tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(calls).toarray()
        hits["_tfidf"].append(hits_at_k(tfidf, labels))
        unnamed = [without_name(text, firm_names[f]) for f, text in calls.items()]
        tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(unnamed).toarray()
        hits["_tfidf_unnamed"].append(hits_at_k(tfidf, labels))
        hits["_embed"].append(hits_at_k(np.stack([fq.mean_embedding[f] for f in firms]), labels))
        mix = true_mix(indices, fq.quarter)  # the generator's own mixes, compared by plain cosine
        theme_names = sorted({t for m in mix.values() for t in m})
        hits["_truth"].append(hits_at_k(np.array([[mix[f].get(t, 0.0) for t in theme_names] for f in firms]), labels))
    return IndustryHits({k: np.concatenate(v) for k, v in hits.items()}, queried,
                        {k: float(np.mean(v)) for k, v in nulls.items()}, weighting)


def summarise_hits(h: IndustryHits, prefix: str = "industry_p4") -> dict:
    """Mean precision@4 per representation, the nulls, and exposure (plain and peer) minus TF-IDF with a
    firm-clustered 95% interval (``peer_similarity.paired_difference``)."""
    from benchmarks.peer_similarity import paired_difference

    # every quarter has the same number of firms, so the mean over queries is the mean of the quarters' means
    out: dict = {f"{prefix}{k}": round(float(v.mean()), 4) for k, v in h.hits.items()}
    out.update({f"{prefix}{k}_null": round(v, 4) for k, v in h.nulls.items()})
    for k in ("", "_peer"):
        mean, lo, hi = paired_difference(h.hits[k], h.hits["_tfidf"], h.queried)
        out.update({f"{prefix}{k}_minus_tfidf": round(mean, 4), f"{prefix}{k}_minus_tfidf_lo": round(lo, 4),
                    f"{prefix}{k}_minus_tfidf_hi": round(hi, 4)})
    return out


def industry_figures(outcomes: list[QuarterOutcome], fitted: list[FittedQuarter], indices: list[int],
                     null_draws: int = 20, weighting: str | None = None) -> dict:
    """``summarise_hits`` of ``industry_hits``: the ``industry_p4*`` figures of the module docstring."""
    h = industry_hits(outcomes, fitted, indices, null_draws, weighting)
    return {**summarise_hits(h), "industry_peer_weighting": h.weighting}


def pooled_hits(sets: list[IndustryHits]) -> IndustryHits:
    """Several disjoint firm sets' queries as one (their firms never overlap, so clusters stay distinct)."""
    return IndustryHits({k: np.concatenate([h.hits[k] for h in sets]) for k in sets[0].hits},
                        [f for h in sets for f in h.queried],
                        {k: float(np.mean([h.nulls[k] for h in sets])) for k in sets[0].nulls}, sets[0].weighting)


def _sentence_labels(outcome: QuarterOutcome) -> pd.Series:
    a = outcome.assignments
    return a.set_index(["firm_id", "sentence_id"])["theme_id"] if len(a) else pd.Series(dtype=object)


def chain_agreement(first: list[QuarterOutcome], later: list[QuarterOutcome],
                    fitted: dict[str, FittedQuarter]) -> dict[str, float]:
    """ARI of the two chains' sentence assignments per shared quarter (median), and how stable the id map is."""
    from sklearn.metrics import adjusted_rand_score

    by_quarter = {o.quarter: o for o in first}
    aris, maps = [], {}
    for outcome in later:
        keys = pd.MultiIndex.from_frame(fitted[outcome.quarter].sentences[["firm_id", "sentence_id"]])
        a = _sentence_labels(by_quarter[outcome.quarter]).reindex(keys).fillna(NO_THEME)
        b = _sentence_labels(outcome).reindex(keys).fillna(NO_THEME)
        aris.append(adjusted_rand_score(a.to_numpy(), b.to_numpy()))
        pairs = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()})
        for bid, g in pairs[pairs["b"] != NO_THEME].groupby("b"):
            maps.setdefault(bid, set()).add(Counter(g["a"]).most_common(1)[0][0])
    return {"chain_agreement_ari": round(float(np.median(aris)), 4), "chain_agreement_ari_min": round(float(min(aris)), 4),
            "chain_map_stable": round(float(np.mean([len(v) == 1 for v in maps.values()])), 4),
            "chain_quarters_compared": len(later)}


@dataclass(frozen=True)
class DemoReplay:
    """The fitted demo quarters replayed through the themes once, with what the generator knows of them."""

    outcomes: list[QuarterOutcome]
    truths: dict[str, dict[tuple[str, int], str | None]]  # per quarter: ``component_themes``
    members: pd.DataFrame  # every assigned sentence with its generated theme (``member_sentences``)


def replay_with_truth(fitted: list[FittedQuarter], indices: list[int], params: ThemeParams) -> DemoReplay:
    outcomes = replay_in_memory([(f.quarter, f.topics, f.sentences, f.vectors) for f in fitted], params)
    truths = {f.quarter: component_themes(indices, f.quarter) for f in fitted}
    members = pd.concat([member_sentences(o, f, truths[f.quarter]) for o, f in zip(outcomes, fitted)],
                        ignore_index=True)
    return DemoReplay(outcomes, truths, members)


def truth_figure(fitted: list[FittedQuarter], indices: list[int], replay: DemoReplay) -> dict:
    """``demo_truth_corr`` alone (with the ids' purity and counts): what a setting is chosen on."""
    outcomes, members = replay.outcomes, replay.members
    mapping = match_ids(members)
    exposure = pd.concat([o.exposure for o in outcomes], ignore_index=True)
    mixes = {f.quarter: true_mix(indices, f.quarter) for f in fitted}
    return {"truth_corr": round(truth_corr(exposure, mapping, mixes), 4), "id_purity": round(id_purity(members)[0], 4),
            "ids": int(members["theme_id"].nunique()), "generated_themes_matched": len(set(mapping.values()))}


def demo_figures(fitted: list[FittedQuarter], indices: list[int], params: ThemeParams, chain_offset: int = 2,
                 null_seeds: int = 10, replay: DemoReplay | None = None,
                 industry: IndustryHits | None = None) -> dict:
    """Every demo figure above, with its null, from the fitted quarters (replayed here, in memory, unless the
    caller passes the replay and its ``industry_hits``, which it also pools with other firm sets)."""
    replay = replay or replay_with_truth(fitted, indices, params)
    industry = industry or industry_hits(replay.outcomes, fitted, indices)
    outcomes, truths, members = replay.outcomes, replay.truths, replay.members
    realized = {f.quarter: realized_mix(f, truths[f.quarter]) for f in fitted}
    mapping = match_ids(members)
    exposure = pd.concat([o.exposure for o in outcomes], ignore_index=True)
    mixes = {f.quarter: true_mix(indices, f.quarter) for f in fitted}
    purity, stable = id_purity(members)
    nulls = [id_purity(members, seed) for seed in range(null_seeds)]
    if len(fitted) <= chain_offset:
        raise ValueError(f"{len(fitted)} demo quarters: the chain comparison needs more than {chain_offset}.")
    later = replay_in_memory([(f.quarter, f.topics, f.sentences, f.vectors) for f in fitted[chain_offset:]], params)
    out = {
        "demo_firms": len(indices), "demo_quarters": len(fitted),
        "demo_truth_corr": round(truth_corr(exposure, mapping, mixes), 4),
        "demo_truth_corr_null": round(float(np.mean([truth_corr(exposure, mapping, mixes, s) for s in range(null_seeds)])), 4),
        "demo_realized_corr": round(truth_corr(exposure, mapping, realized), 4),
        "demo_truth_ceiling": round(mix_corr(mixes, realized), 4),
        "demo_id_purity": round(purity, 4), "demo_id_purity_null": round(float(np.mean([n[0] for n in nulls])), 4),
        "demo_id_stable_share": round(stable, 4),
        "demo_ids": int(members["theme_id"].nunique()),
        "demo_generated_themes_matched": len(set(mapping.values())),
        **lineage_counts(outcomes),
        **summarise_hits(industry), "industry_peer_weighting": industry.weighting,
        **chain_agreement(outcomes, later, {f.quarter: f for f in fitted}),
    }
    return out
