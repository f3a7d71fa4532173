"""Defaults in one place, shared by the Dagster side and the worker (no Dagster import here)."""

from __future__ import annotations

# Partitioning
DEFAULT_BATCH_COUNT = 5  # the seed's "3-5 parallel jobs"
FIRST_QUARTER = "2005Q1"  # Capital IQ transcripts are sparse before this
DEMO_QUARTER = "2024Q4"
DEFAULT_DEMO_FIRMS = 40

# Failure semantics (the seed's circuit breaker)
MAX_FAILURE_RATE = 0.05
MAX_CONSECUTIVE_FAILURES = 5
MIN_PROCESSED_FOR_RATE = 100
CHECKPOINT_EVERY = 50
ALLOW_FAILURES = True

# Topic model defaults, chosen to give ~15-30 topics on a 250-450 sentence call
RANDOM_SEED = 42
MIN_SENTENCES = 20  # fewer sentences than this cannot carry a topic model
MIN_SENTENCE_WORDS = 4  # shorter sentences are fillers ("Thank you.", "Okay.")
UMAP_N_NEIGHBORS = 10
UMAP_N_COMPONENTS = 5
UMAP_MIN_DIST = 0.0
HDBSCAN_MIN_CLUSTER_SIZE = 5
HDBSCAN_MIN_SAMPLES = 2
# Above 500 sentences the minimum topic size grows as n / 100 (a 10,000-sentence call: topics of 100+)
SENTENCES_PER_MIN_TOPIC_SIZE = 100
TOP_N_KEYWORDS = 10
# Topic method: "ward" (default; Ward clustering of context-smoothed embeddings, stable under a reseed or a
# few lost components, see worker/model/ward.py) or "umap" (one UMAP + HDBSCAN fit, the seed's method).
TOPIC_METHOD = "ward"
TOPIC_METHODS = ("ward", "umap")  # FTM_TOPIC_METHOD
# The Ward method's settings (FTM_CONTEXT_WINDOW, ...), each with the upper bound its variable accepts
CONTEXT_WINDOW = 4  # sentences either side, within the speaker's component, averaged into each sentence
MAX_CONTEXT_WINDOW = 50
CONTEXT_DECAY = 0.8  # weight of a neighbour d sentences away: 0.8**d, times the gate below
# ...and times min(1, cos / 0.4)**2 (cos: the raw embeddings' cosine): a neighbour on another subject counts
# little, so topics follow what is said rather than the turns' shape. Chosen on the real - null differences
# (issue 24; benchmarks/topic_sweep.py, RESULTS.md); the previous default (same window and decay, no gate)
# made content-free turns nearly as stable as real ones.
CONTEXT_GATE = 2.0
CONTEXT_GATE_SCALE = 0.4
SENTENCES_PER_TOPIC = 12  # a 300-sentence call gets ~25 topics (20 and 15: fewer, broader topics whose
# themes across firms lump together; see RESULTS.md)
MAX_SENTENCES_PER_TOPIC = 1000
MAX_TOPICS = 40  # ...and no call more than this
MAX_MAX_TOPICS = 1000
STABILITY_MEMBERS = 20  # seeded 80% resamples behind each topic's stability score
MAX_STABILITY_MEMBERS = 200  # each resample is one more Ward fit per firm
STABILITY_SUBSAMPLE = 0.8
WARD_MAX_SENTENCES = 4000  # longer calls: Ward on every k-th sentence, the rest to the nearest topic
EMBEDDING_BATCH_SIZE = 64
# On CPU each batch is also cut where sentences x its longest would pass this many tokens (worker/model/batching).
EMBEDDING_TOKEN_BUDGET = 512  # chosen on held-out calls (benchmarks/embed_batching.py, RESULTS.md)

# The worker's embedder (the container's FTM_* variables set them; see worker/env.py and worker/model/embed.py)
DEVICE = "auto"  # auto, cpu or cuda
PIPELINE_DEPTH = 1  # firms segmented and embedded ahead of the fit; 0 turns the overlap off
MAX_PIPELINE_DEPTH = 8
MAX_FIT_WORKERS = 256  # FTM_FIT_WORKERS: fit processes (None: the cores the embedder leaves free)
EMBEDDING_STORE = True  # keep each batch's sentence embeddings (fp16) and reuse them in re-runs
ONNX_CACHE_DIR = "~/.cache/ftm/onnx"  # exported ONNX models, built once per machine

# Storage
DEFAULT_LOCAL_STORAGE_DIRNAME = "data"  # under the project root

# Asset check names, all in one place. On firm_topics, per (quarter, batch), reported by the worker through
# Pipes (names shared with the check specs):
CHECK_FAILURE_RATE = "failure_rate_below_max"
CHECK_ALL_FIRMS = "every_firm_accounted_for"
CHECK_FIRMS_HAVE_TOPICS = "firms_have_topics"
MIN_SHARE_FIRMS_WITH_TOPICS = 0.9
# On quarter_topic_summary, per quarter:
CHECK_BATCHES_COMMITTED = "every_batch_committed"
CHECK_QUARTER_FAILURE_RATE = "quarter_failure_rate_below_max"

# The checkout (or installed package's parent): home of the default local storage root.
from pathlib import Path as _Path  # noqa: E402

PROJECT_ROOT = _Path(__file__).resolve().parents[1]
