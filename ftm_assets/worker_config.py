"""The one contract across the Pipes boundary: what the worker is asked to do.

The Dagster side builds a ``WorkerConfig`` (``resources.worker_settings.WorkerSettings.worker_config``), the
launcher sends ``to_extras()`` as the Pipes extras, and the worker parses them once with ``from_extras``,
filling what the Dagster side left unset from its own environment (``worker.env``). Defaults come from
``constants``; each numeric setting's bounds are declared once, on its field (``bounded``), and checked on
both sides: by pydantic in ``WorkerSettings``, and here for any ``WorkerConfig`` however it was built.
A new setting is one field here (and, if Dagster should set it, one line in ``WorkerSettings``).
No Dagster import: the worker has ``dagster_pipes`` only.
"""

from __future__ import annotations

from dataclasses import Field, asdict, dataclass, field, fields, replace
from typing import Any

from ftm_assets import constants as C
from ftm_assets.quarters import Quarter


class WorkerConfigError(ValueError):
    """The extras the worker received are incomplete or invalid."""


def bounded(default: Any, ge: float | None = None, le: float | None = None, *, method: str | None = None) -> Any:
    """A dataclass field with inclusive bounds, which ``WorkerSettings`` turns into a pydantic ``Field``.

    ``method``: the topic method the setting belongs to (``TopicParams``); None: every method reads it.
    """
    return field(default=default, metadata={"ge": ge, "le": le, "method": method})


def bounds(f: Field) -> tuple[float | None, float | None]:
    """``(ge, le)`` declared on a field by ``bounded`` (None: no bound)."""
    return f.metadata.get("ge"), f.metadata.get("le")


class _Checked:
    """Type and bounds of every field checked at construction, with an error naming the field."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if not _has_type(value, f.type):
                raise WorkerConfigError(f"{type(self).__name__}.{f.name} must be {f.type}, got {value!r}.")
            ge, le = bounds(f)
            if value is not None and ((ge is not None and value < ge) or (le is not None and value > le)):
                raise WorkerConfigError(f"{f.name}={value!r} is outside [{ge}, {'∞' if le is None else le}].")


@dataclass(frozen=True)
class FailurePolicy(_Checked):
    """The seed's circuit breaker and failure tolerance."""

    max_failure_rate: float = bounded(C.MAX_FAILURE_RATE, 0.0, 1.0)
    max_consecutive_failures: int = bounded(C.MAX_CONSECUTIVE_FAILURES, 1)
    min_processed_for_rate: int = bounded(C.MIN_PROCESSED_FOR_RATE, 1)
    allow_failures: bool = C.ALLOW_FAILURES


def check_topic_method(method: str) -> str:
    """``method`` if it is one of ``constants.TOPIC_METHODS``; else an error that lists them."""
    if method not in C.TOPIC_METHODS:
        raise WorkerConfigError(
            f"topic_method={method!r} (FTM_TOPIC_METHOD) is not known: use {' or '.join(C.TOPIC_METHODS)}"
        )
    return method


@dataclass(frozen=True)
class TopicParams(_Checked):
    """Segmentation and topic-model parameters; they go into every output file's metadata.

    A field declared with ``method=`` shapes the topics of that method only (``worker/model/topic_model.py``);
    ``identity()`` leaves the other method's fields out, so that they do not refit anything.
    """

    random_seed: int = bounded(C.RANDOM_SEED, 0, 2**31 - 1)
    min_sentences: int = bounded(C.MIN_SENTENCES, 3)
    min_sentence_words: int = bounded(C.MIN_SENTENCE_WORDS, 1)
    umap_n_neighbors: int = bounded(C.UMAP_N_NEIGHBORS, 2, method="umap")
    umap_n_components: int = bounded(C.UMAP_N_COMPONENTS, 1, method="umap")
    umap_min_dist: float = bounded(C.UMAP_MIN_DIST, 0.0, method="umap")
    hdbscan_min_cluster_size: int = bounded(C.HDBSCAN_MIN_CLUSTER_SIZE, 2)  # both methods' minimum topic size
    hdbscan_min_samples: int = bounded(C.HDBSCAN_MIN_SAMPLES, 1, method="umap")
    top_n_keywords: int = bounded(C.TOP_N_KEYWORDS, 1)
    embedding_batch_size: int = bounded(C.EMBEDDING_BATCH_SIZE, 1)
    topic_method: str = C.TOPIC_METHOD  # one of C.TOPIC_METHODS
    context_window: int = bounded(C.CONTEXT_WINDOW, 0, C.MAX_CONTEXT_WINDOW, method="ward")
    context_decay: float = bounded(C.CONTEXT_DECAY, 0.0, 1.0, method="ward")
    context_gate: float = bounded(C.CONTEXT_GATE, 0.0, 10.0, method="ward")  # 0: neighbours weighed by distance only
    context_gate_scale: float = bounded(C.CONTEXT_GATE_SCALE, 1e-6, 1.0, method="ward")
    sentences_per_topic: int = bounded(C.SENTENCES_PER_TOPIC, 2, C.MAX_SENTENCES_PER_TOPIC, method="ward")
    max_topics: int = bounded(C.MAX_TOPICS, 1, C.MAX_MAX_TOPICS, method="ward")
    stability_members: int = bounded(C.STABILITY_MEMBERS, 0, C.MAX_STABILITY_MEMBERS, method="ward")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_topic_method(self.topic_method)

    def identity(self) -> dict[str, Any]:
        """The settings that shape this method's topics: every field but those of the other method."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.metadata.get("method") in (None, self.topic_method)}


@dataclass(frozen=True)
class EmbeddingSettings(_Checked):
    """Where the model is and how it runs: the container's business, so None means "not said here".

    The worker's environment fills what the extras leave None (``worker.env``); what is still None then
    takes the default in ``constants`` (model: the packaged all-MiniLM-L6-v2; ONNX cache: ``~/.cache``).
    """

    model: str | None = None  # FTM_EMBEDDING_MODEL
    device: str | None = None  # FTM_DEVICE
    backend: str | None = None  # FTM_EMBED_BACKEND
    precision: str | None = None  # FTM_EMBED_PRECISION
    pipeline_depth: int | None = bounded(None, 0, C.MAX_PIPELINE_DEPTH)  # FTM_PIPELINE_DEPTH
    onnx_cache_dir: str | None = None  # FTM_ONNX_CACHE_DIR
    fit_workers: int | None = bounded(None, 0, C.MAX_FIT_WORKERS)  # FTM_FIT_WORKERS (0: fit in-process)
    store: bool | None = None  # FTM_EMBEDDING_STORE: keep and reuse the batch's embeddings (default on)
    tone_model: str | None = None  # FTM_TONE_MODEL: a local sequence-classification model folder (None: LM tone only)

    def over(self, base: EmbeddingSettings) -> EmbeddingSettings:
        """These settings where they are set, ``base``'s elsewhere."""
        return replace(base, **{k: v for k, v in asdict(self).items() if v is not None})


@dataclass(frozen=True)
class WorkerConfig(_Checked):
    quarter: str
    batch: str
    storage_root: str
    run_id: str
    checkpoint_every: int = bounded(C.CHECKPOINT_EVERY, 1)
    policy: FailurePolicy = field(default_factory=FailurePolicy)
    topics: TopicParams = field(default_factory=TopicParams)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)

    def __post_init__(self) -> None:
        missing = [k for k in ("quarter", "batch", "storage_root", "run_id") if not getattr(self, k)]
        if missing:
            raise WorkerConfigError(f"The Pipes extras lack {missing}; the launcher must set them.")
        super().__post_init__()
        Quarter.parse(self.quarter)

    @classmethod
    def from_extras(cls, extras: dict[str, Any], container: EmbeddingSettings | None = None) -> WorkerConfig:
        """Parse the Pipes extras; ``container`` (the worker's environment) fills the embedding settings left unset."""
        values = dict(extras)
        _reject_unknown(cls, values)
        for key in ("batch", "run_id"):  # identifiers: a launcher may send them as numbers
            if values.get(key) is not None:
                values[key] = str(values[key])
        sections = {"policy": FailurePolicy, "topics": TopicParams, "embedding": EmbeddingSettings}
        for key, kind in sections.items():
            section = values.get(key) or {}
            _reject_unknown(kind, section)
            values[key] = kind(**section)
        values["embedding"] = values["embedding"].over(container or EmbeddingSettings())
        try:
            return cls(**values)
        except TypeError as exc:  # a required key is absent
            raise WorkerConfigError(f"The Pipes extras are incomplete: {exc}; the launcher must set them.") from exc

    def to_extras(self) -> dict[str, Any]:
        """The Pipes extras (plain JSON) that ``from_extras`` reads back into this config."""
        return asdict(self)


def _reject_unknown(kind: type, values: dict[str, Any]) -> None:
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise WorkerConfigError(
            f"Unknown {kind.__name__} setting(s) {unknown}; known: {sorted(known)}. "
            "The launcher and the worker are out of step."
        )


_TYPES = {"int": int, "float": (int, float), "bool": bool, "str": str}


def _has_type(value: Any, annotation: str) -> bool:
    """``value`` matches a field annotation (``int``, ``float``, ``str | None``, a section class' name)."""
    names = [name.strip() for name in str(annotation).split("|")]
    if value is None:
        return "None" in names
    for name in names:
        expected = _TYPES.get(name)
        if expected is None:
            if type(value).__name__ == name:  # a section (FailurePolicy, ...)
                return True
        elif isinstance(value, expected) and not (isinstance(value, bool) and name != "bool"):
            return True
    return False

