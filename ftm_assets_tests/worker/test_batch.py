"""The batch loop in-process with the real model and BERTopic: a table of bad inputs, each breaker rule,
ALLOW_FAILURES=false, critical errors, and the failures output when the job fails."""

import logging
import time

import pyarrow.parquet as pq
import pytest

from ftm_assets.readers import commit_records, read_failures, read_firm_topics
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.storage import LocalStorage
from ftm_assets.storage import layout
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker.config import WorkerConfig
from ftm_assets.worker.model.embed import ModelNotFoundError
from ftm_assets.worker.failures import CircuitBreakerOpen, StrictModeFailure
from ftm_assets.worker.processor import FirmProcessor
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2024Q1"
LOG = logging.getLogger("test-batch")
pytestmark = pytest.mark.slow

GERMAN = [
    "Der Umsatz im Cloud-Geschäft stieg im dritten Quartal deutlich an.",
    "Wir investieren weiter in künstliche Intelligenz und neue Rechenzentren.",
    "Die Margen blieben trotz höherer Energiekosten stabil.",
    "Unsere Kunden in Europa bestellen wieder mehr Hardware.",
    "Die Lieferketten haben sich im Laufe des Jahres normalisiert.",
    "Wir erwarten für das nächste Jahr ein Wachstum im mittleren einstelligen Bereich.",
    "Der Personalbestand wurde leicht reduziert.",
    "Die Preise für unsere Produkte wurden angehoben.",
]
BOILERPLATE = (
    "Thank you for joining our call today and for your continued interest in our company. This call contains "
    "forward-looking statements subject to risks. Please refer to our filings for a discussion of risk factors."
)


@pytest.fixture(scope="module")
def processor():
    """One real processor (model loaded once) shared by the module's runs."""
    cfg = WorkerConfig.from_extras({"quarter": Q, "batch": "000", "storage_root": "/unused", "run_id": "x"})
    return FirmProcessor(cfg, LOG)


@pytest.fixture(scope="module")
def demo_texts():
    """Component texts of real-looking firms from the demo corpus, by firm id."""
    out = {}
    for row in demo_transcripts(Q, n_firms=40).to_pylist():
        out.setdefault(row["firm_id"], []).append(row["text"])
    return out


def _run(tmp_path, processor, rows, **policy):
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table(rows))
    extras = {"quarter": Q, "batch": "000", "storage_root": str(tmp_path), "run_id": "run-1",
              "policy": {"max_consecutive_failures": 99, "min_processed_for_rate": 10_000, **policy}}
    return store, run_batch(WorkerConfig.from_extras(extras), store, LOG, lambda cfg, log: processor)


def test_bad_inputs_table(tmp_path, processor, demo_texts):
    """One firm per kind of bad input; each yields topics or a failure with a reason a researcher understands."""
    good = next(iter(demo_texts.values()))
    bad_utf8 = b"\xff\xfe broken bytes \xc3\x28 in the feed.".decode("utf-8", "replace")
    cases = {
        # firm id: (components, speaker type, expected error class or None for topics)
        "a-empty": ([""], "Executives", "EmptyTranscript"),
        "b-operator-only": (["Welcome to the call. Please hold while we connect speakers."] * 30, "Operator",
                            "InsufficientText"),
        "c-handful": (["Revenue grew in every region this quarter. Margins held up well against costs."],
                      "Executives", "InsufficientText"),
        "e-german": ([" ".join(GERMAN[i % 8:] + GERMAN[: i % 8]) for i in range(40)], "Executives", None),
        "f-garbage": (["#$%& 0123 **** 9876 &&&& @@@@ 1111 ////."] * 60, "Executives", "InsufficientText"),
        "g-boilerplate": ([BOILERPLATE] * 100 + good[:10], "Executives", None),
        "h-bad-utf8": ([t + " " + bad_utf8 + "\x00\x07" for t in good], "Executives", None),
    }
    rows = [r for firm, (comps, speaker, _) in cases.items() for r in firm_rows(Q, firm, comps, speaker)]
    store, outcome = _run(tmp_path, processor, rows)
    assert outcome.error is None and outcome.commit is not None
    topics = read_firm_topics(str(tmp_path), Q)
    failures = read_failures(str(tmp_path), Q).set_index("firm_id")
    for firm, (_, _, expected) in cases.items():
        if expected is None:
            firm_topics = topics[(topics.firm_id == firm) & (topics.topic_id >= 0)]
            assert len(firm_topics) >= 2, firm
            assert firm not in failures.index
        else:
            assert failures.loc[firm, "error_class"] == expected, firm
            assert firm in failures.loc[firm, "message"]
            if expected == "InsufficientText":
                assert "usable sentences" in failures.loc[firm, "message"]
    assert not topics.keywords.map(lambda ks: any("\ufffd" in k for k in ks)).any()


def test_very_long_call_yields_topics(tmp_path, processor, demo_texts):
    """A call of 10,000+ sentences (all demo firms' text as one firm) is modelled, not failed."""
    long_call = [t for firm in demo_texts.values() for t in firm]
    store, outcome = _run(tmp_path, processor, firm_rows(Q, "long", long_call))
    assert outcome.error is None
    topics = read_firm_topics(str(tmp_path), Q)
    assert topics.n_sentences.sum() >= 10_000
    n_topics = (topics.topic_id >= 0).sum()
    assert 10 <= n_topics <= 150, n_topics  # the minimum topic size grows with the call's length


def test_consecutive_failures_fail_the_job_and_keep_the_failures(tmp_path, processor):
    rows = [r for i in range(6) for r in firm_rows(Q, f"empty-{i}", [""])]
    store, outcome = _run(tmp_path, processor, rows, max_consecutive_failures=5)
    assert isinstance(outcome.error, CircuitBreakerOpen) and "5 consecutive" in str(outcome.error)
    assert outcome.commit is None and commit_records(str(tmp_path), Q) == []
    failures = pq.read_table(store.uri(layout.failures(Q, "000"))).to_pandas()
    assert list(failures.firm_id) == [f"empty-{i}" for i in range(5)]


def test_failure_rate_fails_the_job_after_min_processed(tmp_path, processor, demo_texts):
    good = next(iter(demo_texts.values()))
    rows = firm_rows(Q, "a-bad", [""]) + firm_rows(Q, "b-good", good) + firm_rows(Q, "c-bad", [""])
    rows += firm_rows(Q, "d-bad", [""]) + firm_rows(Q, "e-good", good)
    store, outcome = _run(tmp_path, processor, rows, max_failure_rate=0.25, min_processed_for_rate=4)
    assert isinstance(outcome.error, CircuitBreakerOpen)
    assert "Failure rate 75.0% (3/4)" in str(outcome.error)
    failures = pq.read_table(store.uri(layout.failures(Q, "000"))).to_pandas()
    assert sorted(failures.firm_id) == ["a-bad", "c-bad", "d-bad"]


def test_scattered_failures_are_tolerated_by_default(tmp_path, processor, demo_texts):
    good = next(iter(demo_texts.values()))
    rows = firm_rows(Q, "a-good", good) + firm_rows(Q, "b-bad", [""]) + firm_rows(Q, "c-good", good)
    store, outcome = _run(tmp_path, processor, rows)
    assert outcome.error is None and outcome.commit["counts"]["firms_failed"] == 1


def test_allow_failures_false_fails_on_the_first(tmp_path, processor, demo_texts):
    good = next(iter(demo_texts.values()))
    rows = firm_rows(Q, "a-good", good) + firm_rows(Q, "b-bad", [""]) + firm_rows(Q, "c-good", good)
    store, outcome = _run(tmp_path, processor, rows, allow_failures=False)
    assert isinstance(outcome.error, StrictModeFailure) and "b-bad" in str(outcome.error)
    failures = pq.read_table(store.uri(layout.failures(Q, "000"))).to_pandas()
    assert list(failures.firm_id) == ["b-bad"]
    assert commit_records(str(tmp_path), Q) == []


def test_missing_model_is_critical(tmp_path, demo_texts):
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table(firm_rows(Q, "a", next(iter(demo_texts.values())))))
    cfg = WorkerConfig.from_extras({"quarter": Q, "batch": "000", "storage_root": str(tmp_path), "run_id": "r",
                                    "embedding": {"model": str(tmp_path / "no-model")}})
    with pytest.raises(ModelNotFoundError, match="FTM_EMBEDDING_MODEL"):
        run_batch(cfg, store, LOG)


class _SlowLoadingProcessor:
    """Fails every firm, after a model 'load' of ``LOAD_S``: enough for the batch loop to commit quickly."""

    LOAD_S = 0.2

    def __init__(self, cfg, log):
        time.sleep(self.LOAD_S)
        self.timings: dict[str, float] = {}

    def file_metadata(self) -> dict[str, str]:
        return {}

    def results(self, firms, quarter):
        for firm in firms:
            yield firm, ValueError(f"{firm.firm_id} is not modelled here")


def test_commit_record_times_the_model_load(tmp_path):
    """The processor's construction (model load) is a stage of its own in ``seconds``, inside ``total``."""
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table(firm_rows(Q, "a", ["Revenue grew."]) + firm_rows(Q, "b", ["Costs fell."])))
    extras = {"quarter": Q, "batch": "000", "storage_root": str(tmp_path), "run_id": "run-1",
              "policy": {"max_consecutive_failures": 99, "min_processed_for_rate": 10_000}}
    outcome = run_batch(WorkerConfig.from_extras(extras), store, LOG, _SlowLoadingProcessor)
    assert outcome.error is None
    seconds = commit_records(str(tmp_path), Q)[0]["seconds"]
    assert _SlowLoadingProcessor.LOAD_S <= seconds["load"] <= seconds["total"]
