"""One topic method's figures on one call, each beside the same figure on content-free nulls (``nulls.py``).

A candidate is a method (``ward`` or ``umap``) with its settings: ``TopicParams`` fields, and for Ward any
``WardParams`` field beyond them (``gate``). Fits go through the worker's own pieces: for Ward the procedural
mask (``boilerplate``), ``ward.cluster`` and BERTopic's c-TF-IDF keywords on those labels (``bertopic_fit``),
as the worker's ``WardClusters`` chains them; for UMAP ``fit_topics`` itself. Only the main fit computes the stability resamples: the
perturbed fits' labels do not depend on them.

Per call and candidate (``measure_call``), on the real call and on each null:
- ``component_ari``: ARI of the topics against a fit on the call less 15% of its components, on the sentences
  both have; ``within_turn_ari``: the same with 15% of the sentences dropped inside components, the mean over
  ``WITHIN_TURN_DRAWS`` hash draws; ``splitter_ari`` (real only): against the call segmented by the second
  splitter, compared on the words both segmentations model;
- ``npmi_ref`` (``reference_npmi``), ``diversity``, ``ami_components`` (AMI between topics and components on
  the sentences with a topic: 1 would be topics that are the turns);
- ``stability`` (sentence-weighted), and, real only, ``stability_survival_rho``: Spearman's rank correlation,
  over the call's topics, between a topic's stability and its survival under the within-turn drops (its
  best Jaccard overlap with a perturbed topic, on the sentences kept, mean over draws).
Outliers count as one topic in every ARI.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from benchmarks import nulls
from benchmarks.nulls import Prepared
from benchmarks.reference_npmi import ReferenceCorpus
from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.model import boilerplate
from ftm_assets.worker.model.bertopic_fit import fit_bertopic, pass_through
from ftm_assets.worker.model.topic_model import fit_topics, ward_params
from ftm_assets.worker.model.ward import cluster

OTHER_SEED = 7


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str
    method: str = "ward"
    topic: tuple[tuple[str, object], ...] = ()  # TopicParams overrides
    ward: tuple[tuple[str, object], ...] = ()  # WardParams overrides beyond TopicParams (e.g. gate)

    def params(self, **more) -> TopicParams:
        return dataclasses.replace(TopicParams(topic_method=self.method), **dict(self.topic), **more)


@dataclasses.dataclass
class Fit:
    labels: np.ndarray  # per sentence, -1 outliers
    stability: dict[int, float]  # per label
    keywords: dict[int, list[str]]  # per label (empty unless asked)
    seconds: float


def fit(prep: Prepared, cand: Candidate, *, seed: int | None = None, full: bool = False,
        resamples: bool = True) -> Fit:  # fmt: skip
    """The candidate's topics of ``prep``; ``full``: with keywords and (``resamples``) stability, the worker's whole fit."""
    params = cand.params(**({"random_seed": seed} if seed is not None else {}))
    t0 = time.perf_counter()
    if cand.method == "umap":
        topics = fit_topics(prep.texts, prep.embeddings, params, use_gpu=False, groups=prep.groups)
        labels = np.full(len(prep.texts), -1, dtype=np.int64)
        for t in topics:
            labels[t.sentence_ids] = t.topic_id
        words = {t.topic_id: t.keywords for t in topics}
        return Fit(labels, {}, words, time.perf_counter() - t0)
    n = len(prep.texts)
    names = boilerplate.call_names(prep.texts)
    content = np.flatnonzero(~np.asarray(boilerplate.procedural_mask(prep.texts, names), dtype=bool))
    wparams = dataclasses.replace(ward_params(params, n), **dict(cand.ward))
    if not (full and resamples):
        wparams = dataclasses.replace(wparams, members=0)
    labels = np.full(n, -1, dtype=np.int64)
    stability: dict[int, float] = {}
    if len(content) >= max(2 * wparams.min_cluster_size, 4):
        groups = prep.groups
        found = cluster(prep.embeddings[content], [groups[i] for i in content], wparams, params.random_seed)
        labels[content] = found.labels
        stability = dict(found.stability) if full and resamples else {}
    words: dict[int, list[str]] = {}
    if full and (labels >= 0).any():
        ranked, by_rank = fit_bertopic(prep.texts, prep.embeddings, pass_through(), _GivenLabels(labels),
                                       params.top_n_keywords)
        words = {int(labels[np.flatnonzero(ranked == r)[0]]): w for r, w in by_rank.items() if r >= 0}
    return Fit(labels, stability, words, time.perf_counter() - t0)


class _GivenLabels:
    """A BERTopic cluster model that hands back labels already computed (the keywords of a fit done above)."""

    def __init__(self, labels: np.ndarray):
        self.labels_ = np.asarray(labels)

    def fit(self, X, y=None) -> "_GivenLabels":  # noqa: N803 (BERTopic's signature)
        return self


def _ari(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def best_jaccard(labels: np.ndarray, other: np.ndarray) -> dict[int, float]:
    """Per topic of ``labels`` (not -1): its best Jaccard overlap with a topic of ``other`` (same sentences)."""
    out = {}
    for t in np.unique(labels[labels >= 0]):
        in_t = labels == t
        best = 0.0
        for u in np.unique(other[in_t]):
            if u < 0:
                continue
            in_u = other == u
            best = max(best, float((in_t & in_u).sum() / (in_t | in_u).sum()))
        out[int(t)] = best
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho (NaN under 4 pairs or a constant side)."""
    from scipy.stats import spearmanr

    if len(a) < 4 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def perturbation_figures(firm_id: str, prep: Prepared, cand: Candidate, main: Fit, draws: int) -> dict:
    """Component-drop and within-turn ARI (mean over draws), and each topic's survival under the within-turn drops."""
    kept = nulls.drop_components(firm_id, prep.groups)
    out = {"component_ari": _ari(main.labels[kept], fit(prep.take(kept), cand).labels)}
    scores, survival = [], {}
    for draw in range(draws):
        kept = nulls.drop_within_turns(firm_id, len(prep.texts), draw)
        part = fit(prep.take(kept), cand).labels
        scores.append(_ari(main.labels[kept], part))
        for t, j in best_jaccard(main.labels[kept], part).items():
            survival.setdefault(t, []).append(j)
    out["within_turn_ari"] = float(np.mean(scores))
    out["_survival"] = {t: float(np.mean(v)) for t, v in survival.items()}
    return out


def content_figures(main: Fit, prep: Prepared, reference: ReferenceCorpus) -> dict:
    """Topics, outliers, reference NPMI, diversity, AMI against components, sentence-weighted stability."""
    from sklearn.metrics import adjusted_mutual_info_score

    topics = [t for t in np.unique(main.labels) if t >= 0]
    words = [main.keywords.get(int(t), []) for t in topics]
    scores = [reference.npmi(w) for w in words if w]
    scores = [s for s in scores if not np.isnan(s)]
    flat = [w for ws in words for k in ws for w in k.lower().split()]
    has = main.labels >= 0
    sizes = np.array([(main.labels == t).sum() for t in topics], dtype=float)
    stab = [main.stability.get(int(t)) for t in topics]
    return {
        "topics": len(topics),
        "outlier_share": float((~has).mean()),
        "npmi_ref": float(np.mean(scores)) if scores else float("nan"),
        "diversity": len(set(flat)) / len(flat) if flat else float("nan"),
        "ami_components": float(adjusted_mutual_info_score(np.asarray(prep.groups)[has], main.labels[has]))
        if has.sum() > 1 else float("nan"),
        "stability": float(np.average(stab, weights=sizes)) if topics and None not in stab else float("nan"),
        "fit_s": main.seconds,
    }


def splitter_ari(prep: Prepared, alt: Prepared, main: Fit, cand: Candidate, components: dict[int, str]) -> float:
    """ARI between the topics of two segmentations of the call, compared on the words both model."""
    other = fit(alt, cand).labels
    a, b = [], []
    for order, text in components.items():
        mine = [(s, int(main.labels[i])) for i, (o, s) in enumerate(prep.keys) if o == order]
        theirs = [(s, int(other[i])) for i, (o, s) in enumerate(alt.keys) if o == order]
        la = nulls.char_labels(text, [s for s, _ in mine], [lab for _, lab in mine])
        lb = nulls.char_labels(text, [s for s, _ in theirs], [lab for _, lab in theirs])
        for pos in sorted(set(la) & set(lb)):
            a.append(la[pos])
            b.append(lb[pos])
    return _ari(np.asarray(a), np.asarray(b)) if a else float("nan")


def measure_call(
    firm_id: str,
    prep: Prepared,
    cand: Candidate,
    reference: ReferenceCorpus,
    make_nulls: dict[str, Callable[[str, Prepared], Prepared]],
    *,
    draws: int = nulls.WITHIN_TURN_DRAWS,
    alt: tuple[Prepared, dict[int, str]] | None = None,
    null_stability: bool = True,
) -> dict:
    """Every figure of one call for one candidate: the real call's, then each null's under ``<name>_<figure>``.

    ``null_stability=False`` skips the nulls' stability resamples (the sweep's shortcut: nothing chosen on them).
    """
    main = fit(prep, cand, full=True)
    row: dict = {"firm_id": firm_id, "sentences": len(prep.texts)}
    row.update(content_figures(main, prep, reference))
    row["seed_ari"] = _ari(main.labels, fit(prep, cand, seed=OTHER_SEED).labels)
    pert = perturbation_figures(firm_id, prep, cand, main, draws)
    survival = pert.pop("_survival")
    row.update(pert)
    topics = sorted(t for t in survival if t in main.stability)
    row["stability_survival_rho"] = spearman([main.stability[t] for t in topics], [survival[t] for t in topics])
    if alt is not None:
        row["splitter_ari"] = splitter_ari(prep, alt[0], main, cand, alt[1])
    for name, make in make_nulls.items():
        null = make(firm_id, prep)
        nfit = fit(null, cand, full=True, resamples=null_stability)
        figures = content_figures(nfit, null, reference)
        figures.update(perturbation_figures(firm_id, null, cand, nfit, draws))
        figures.pop("_survival")
        figures.pop("fit_s")
        row.update({f"{name}_{k}": v for k, v in figures.items()})
    return row
