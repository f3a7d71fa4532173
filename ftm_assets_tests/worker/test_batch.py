"""The batch loop in-process: with the real model and BERTopic, a table of bad inputs and skipped firms; with
a scripted processor (no model), on a local root and on S3, each breaker rule, ALLOW_FAILURES=false, the
failures output when the job fails, atomic replace (a failed re-run leaves the last good output), critical
errors inside the loop, poison firms, resume across runs keyed on the inputs' fingerprint, and the lease."""

import io
import json
import logging
import time

import pyarrow.parquet as pq
import pytest

from ftm_assets.readers import commit_records, read_failures, read_firm_topics
from ftm_assets.storage import LocalStorage, StorageError, layout, open_storage
from ftm_assets.storage.commit import load_commit
from ftm_assets.storage.lease import Holder, LeaseHeld, LeaseLost, PartitionLease
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.failures import CircuitBreakerOpen, StrictModeFailure
from ftm_assets.worker.model.embed import ModelNotFoundError
from ftm_assets.worker.processor import FirmProcessor
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.support.scripted_processor import scripted
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2024Q1"
LOG = logging.getLogger("test-batch")

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


@pytest.mark.slow
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
            assert failures.loc[firm, "outcome"] == "skipped", firm  # too little text: the data, not a fault
            assert firm in failures.loc[firm, "message"]
            if expected == "InsufficientText":
                assert "usable sentences" in failures.loc[firm, "message"]
    assert not topics.keywords.map(lambda ks: any("\ufffd" in k for k in ks)).any()


@pytest.mark.slow
def test_very_long_call_yields_topics(tmp_path, processor, demo_texts):
    """A call of 10,000+ sentences (all demo firms' text as one firm) is modelled, not failed."""
    long_call = [t for firm in demo_texts.values() for t in firm]
    store, outcome = _run(tmp_path, processor, firm_rows(Q, "long", long_call))
    assert outcome.error is None
    topics = read_firm_topics(str(tmp_path), Q)
    assert topics.n_sentences.sum() >= 10_000
    n_topics = (topics.topic_id >= 0).sum()
    assert 10 <= n_topics <= 150, n_topics  # the minimum topic size grows with the call's length


@pytest.mark.slow
def test_skipped_firms_do_not_trip_the_breaker(tmp_path, processor, demo_texts):
    """Six stub transcripts in a row (more than MAX_CONSECUTIVE_FAILURES) are skipped; the batch commits."""
    good = next(iter(demo_texts.values()))
    rows = [r for i in range(6) for r in firm_rows(Q, f"empty-{i}", [""])] + firm_rows(Q, "z-good", good)
    store, outcome = _run(tmp_path, processor, rows, max_consecutive_failures=5, allow_failures=False)
    assert outcome.error is None, outcome.error
    assert (outcome.commit.counts["firms_skipped"], outcome.commit.counts["firms_failed"]) == (6, 0)
    assert set(read_failures(str(tmp_path), Q).outcome) == {"skipped"}


@pytest.mark.slow
def test_missing_model_is_critical(tmp_path, demo_texts):
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table(firm_rows(Q, "a", next(iter(demo_texts.values())))))
    cfg = WorkerConfig.from_extras({"quarter": Q, "batch": "000", "storage_root": str(tmp_path), "run_id": "r",
                                    "embedding": {"model": str(tmp_path / "no-model")}})
    outcome = run_batch(cfg, store, LOG)
    assert isinstance(outcome.error, ModelNotFoundError) and "FTM_EMBEDDING_MODEL" in str(outcome.error)
    assert "no committed output yet" in outcome.failure_message(store)
    assert not store.exists(layout.lease(Q, "000"))  # given back however the run ends


# -- a scripted processor: the batch protocol without the model ---------------------------------------------
FIRMS = [f"f{i}" for i in range(1, 7)]


@pytest.fixture(params=["local", "s3"])
def staged(request, tmp_path):
    """Six firms staged on a local root or on S3 (moto's server)."""
    if request.param == "local":
        store = LocalStorage(tmp_path)
    else:
        store = open_storage(f"s3://{create_bucket(request.getfixturevalue('moto_server'))}/root")
    return _stage(store)


@pytest.fixture()
def staged_locally(tmp_path):
    return _stage(LocalStorage(tmp_path))


def _stage(store):
    stage_quarter(store, Q, rows_table([r for f in FIRMS for r in firm_rows(Q, f, [f"Words of {f}."])]))
    return store


def _cfg(root, run_id, topics=None, **policy):
    return WorkerConfig.from_extras({
        "quarter": Q, "batch": "000", "storage_root": str(root), "run_id": run_id, "checkpoint_every": 1,
        "policy": {"max_consecutive_failures": 99, "min_processed_for_rate": 10_000, **policy},
        "topics": topics or {},
    })


def _batch_files(store) -> list[str]:
    return sorted(k for folder, head in layout.batch_files(Q, "000") for k in store.list(folder)
                  if k.rsplit("/", 1)[-1].startswith(head))


def _checkpoint(store) -> dict | None:
    key = layout.checkpoint(Q, "000")
    return json.loads(store.read_text(key)) if store.exists(key) else None


def test_consecutive_failures_fail_the_job_and_keep_the_failures(staged):
    proc = scripted({f: ValueError(f"{f} broke") for f in FIRMS})
    outcome = run_batch(_cfg(staged.root, "run-1", max_consecutive_failures=5), staged, LOG, proc)
    assert isinstance(outcome.error, CircuitBreakerOpen) and "5 consecutive" in str(outcome.error)
    assert outcome.commit is None and load_commit(staged, Q, "000") is None
    failures = pq.read_table(io.BytesIO(staged.read_bytes(outcome.failures_key))).to_pandas()
    assert list(failures.firm_id) == FIRMS[:5] and set(failures.outcome) == {"failed"}
    assert "failures so far in" in outcome.failure_message(staged)


def test_failure_rate_fails_the_job_after_min_processed(staged):
    proc = scripted({f: ValueError("bad") for f in ("f1", "f3", "f4")})
    outcome = run_batch(_cfg(staged.root, "r", max_failure_rate=0.25, min_processed_for_rate=4), staged, LOG, proc)
    assert isinstance(outcome.error, CircuitBreakerOpen)
    assert "Failure rate 75.0% (3/4)" in str(outcome.error)
    failures = pq.read_table(io.BytesIO(staged.read_bytes(outcome.failures_key))).to_pandas()
    assert sorted(failures.firm_id) == ["f1", "f3", "f4"]


def test_scattered_failures_are_tolerated_by_default(staged):
    outcome = run_batch(_cfg(staged.root, "r"), staged, LOG, scripted({"f2": ValueError("bad")}))
    assert outcome.error is None and outcome.commit.counts["firms_failed"] == 1


def test_allow_failures_false_fails_on_the_first(staged):
    outcome = run_batch(_cfg(staged.root, "r", allow_failures=False), staged, LOG, scripted({"f2": ValueError("x")}))
    assert isinstance(outcome.error, StrictModeFailure) and "f2" in str(outcome.error)
    failures = pq.read_table(io.BytesIO(staged.read_bytes(outcome.failures_key))).to_pandas()
    assert list(failures.firm_id) == ["f2"]
    assert load_commit(staged, Q, "000") is None


def test_commit_record_times_the_model_load(staged):
    """The processor's construction (model load) is a stage of its own in ``seconds``, inside ``total``."""
    outcome = run_batch(_cfg(staged.root, "run-1"), staged, LOG, scripted(load_s=0.2))
    assert outcome.error is None
    seconds = commit_records(staged, Q)[0].seconds
    assert 0.2 <= seconds["load"] <= seconds["total"]


def test_a_failed_rerun_leaves_the_last_good_output(staged):
    good = run_batch(_cfg(staged.root, "run-good"), staged, LOG, scripted())
    before = read_firm_topics(staged, Q)
    bad = run_batch(_cfg(staged.root, "run-bad", max_consecutive_failures=2), staged, LOG,
                    scripted({f: ValueError("broken") for f in FIRMS[2:]}))
    assert isinstance(bad.error, CircuitBreakerOpen)
    (record,) = commit_records(staged, Q)
    assert record == good.commit  # the commit is the good run's, byte for byte
    assert all(staged.exists(k) for k in record.files)
    assert read_firm_topics(staged, Q).equals(before)
    message = bad.failure_message(staged)
    assert "output is unchanged: the commit of run run-good" in message
    assert staged.uri(bad.failures_key) in message and staged.exists(bad.failures_key)
    assert bad.failures_key != record.failures  # its own name, kept for diagnosis
    # The next good run replaces the output and deletes every file no commit names (the failed run's too).
    again = run_batch(_cfg(staged.root, "run-again"), staged, LOG, scripted())
    assert _batch_files(staged) == sorted(again.commit.files)
    assert not staged.exists(layout.checkpoint(Q, "000")) and not staged.exists(layout.lease(Q, "000"))


def test_a_critical_error_inside_the_loop_fails_at_once_and_records_the_firm(staged):
    """A storage error on firm 2: nothing committed, checkpoint intact, firm 2 a poison candidate; the next
    run (another run id) resumes after firm 1 and retries firm 2 (a storage error is not the firm's fault)."""
    first = scripted({"f2": StorageError("s3://bucket/x: AccessDenied")})
    outcome = run_batch(_cfg(staged.root, "run-1"), staged, LOG, first)
    assert isinstance(outcome.error, StorageError) and first.seen == ["f1", "f2"]
    assert load_commit(staged, Q, "000") is None
    assert _checkpoint(staged)["firms_done"] == ["f1"]
    poison = json.loads(staged.read_text(layout.poison(Q, "000")))["firms"]
    assert poison["f2"]["error_class"] == "StorageError" and poison["f2"]["firm_bound"] is False
    assert len(poison["f2"]["attempts"]) == 1
    second = scripted()
    outcome = run_batch(_cfg(staged.root, "run-2"), staged, LOG, second)
    assert outcome.error is None and second.seen == FIRMS[1:]  # f1 resumed, not redone
    assert sorted(read_firm_topics(staged, Q).firm_id) == FIRMS
    assert not staged.exists(layout.poison(Q, "000"))


def _access_denied():
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")


@pytest.mark.parametrize("make_error", [_access_denied, lambda: StorageError("s3://b/k: NoSuchBucket")],
                         ids=["access-denied", "storage"])
def test_environment_errors_inside_the_loop_make_a_candidate_not_poison(staged, make_error):
    outcome = run_batch(_cfg(staged.root, "run-1"), staged, LOG, scripted({"f2": make_error()}))
    assert type(outcome.error) is type(make_error()) and load_commit(staged, Q, "000") is None
    poison = json.loads(staged.read_text(layout.poison(Q, "000")))["firms"]
    assert list(poison) == ["f2"] and poison["f2"]["firm_bound"] is False
    # A second attempt that stops on the same firm makes it poison: the third reports it and commits.
    run_batch(_cfg(staged.root, "run-1"), staged, LOG, scripted({"f2": make_error()}))
    third = scripted()
    assert run_batch(_cfg(staged.root, "run-1"), staged, LOG, third).error is None and "f2" not in third.seen
    assert read_failures(staged, Q).set_index("firm_id").loc["f2", "outcome"] == "failed"


class _DiskFailsOnSecondPart(LocalStorage):
    """A local root whose disk fails when the second part is written (a fault injected at one write)."""

    def write_bytes(self, key, data):
        if "_part_0001" in key:
            raise StorageError(f"{self.uri(key)}: No space left on device")
        super().write_bytes(key, data)


def test_a_storage_error_writing_firm_2_fails_at_once_with_the_checkpoint_intact(staged_locally):
    staged = staged_locally
    disk = _DiskFailsOnSecondPart(staged.root)
    proc = scripted()
    outcome = run_batch(_cfg(staged.root, "run-1"), disk, LOG, proc)
    assert isinstance(outcome.error, StorageError) and "No space left" in str(outcome.error)
    assert proc.seen == ["f1", "f2"]  # failed at once: no firm after the failed write
    assert load_commit(staged, Q, "000") is None
    assert _checkpoint(staged)["firms_done"] == ["f1"]
    assert not staged.exists(layout.poison(Q, "000"))  # a write failure is not the firm's fault
    second = scripted()
    assert run_batch(_cfg(staged.root, "run-2"), staged, LOG, second).error is None and second.seen == FIRMS[1:]


def test_an_out_of_memory_firm_becomes_a_failure_row_on_the_next_attempt(staged):
    import torch

    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    outcome = run_batch(_cfg(staged.root, "run-1"), staged, LOG, scripted({"f3": oom}))
    assert isinstance(outcome.error, torch.cuda.OutOfMemoryError)
    second = scripted()
    outcome = run_batch(_cfg(staged.root, "run-1"), staged, LOG, second)  # a retry of the same run
    assert outcome.error is None and "f3" not in second.seen
    failures = read_failures(staged, Q).set_index("firm_id")
    assert failures.loc["f3", "error_class"] == "OutOfMemoryError" and failures.loc["f3", "outcome"] == "failed"
    assert "critical error stopped attempt" in failures.loc["f3", "message"]
    assert sorted(read_firm_topics(staged, Q).firm_id) == [f for f in FIRMS if f != "f3"]


def test_changed_topic_settings_start_over(staged):
    run_batch(_cfg(staged.root, "run-1"), staged, LOG, scripted({"f3": StorageError("down")}))
    assert _checkpoint(staged)["firms_done"] == ["f1", "f2"]
    second = scripted()
    outcome = run_batch(_cfg(staged.root, "run-2", topics={"random_seed": 7}), staged, LOG, second)
    assert outcome.error is None and second.seen == FIRMS  # another fingerprint: nothing resumed
    assert _batch_files(staged) == sorted(outcome.commit.files)


@pytest.mark.parametrize(("first", "then", "resumed"), [
    ({}, {"topic_method": "umap"}, False),  # switching the method refits every firm
    ({"topic_method": "umap"}, {"topic_method": "ward"}, False),
    ({}, {"context_window": 2}, False),  # a setting of the chosen method
    ({"topic_method": "umap"}, {"umap_n_neighbors": 30, "topic_method": "umap"}, False),
    ({}, {"umap_n_neighbors": 30, "hdbscan_min_samples": 4}, True),  # the other method's settings: resumed
    ({"topic_method": "umap"}, {"topic_method": "umap", "context_decay": 0.5, "max_topics": 7}, True),
])
def test_only_the_chosen_methods_settings_decide_a_resume(staged, first, then, resumed):
    run_batch(_cfg(staged.root, "run-1", topics=first), staged, LOG, scripted({"f3": StorageError("down")}))
    assert _checkpoint(staged)["firms_done"] == ["f1", "f2"]
    second = scripted()
    assert run_batch(_cfg(staged.root, "run-2", topics=then), staged, LOG, second).error is None
    assert second.seen == (FIRMS[2:] if resumed else FIRMS)


def test_a_second_writer_is_refused_and_touches_nothing(staged):
    holder = PartitionLease(staged, Q, "000", "run-holding", token="hold-1")
    holder.acquire()
    outcome = run_batch(_cfg(staged.root, "run-2"), staged, LOG, scripted())
    assert isinstance(outcome.error, LeaseHeld) and "run run-holding" in str(outcome.error)
    assert "was not started" in outcome.failure_message(staged)
    assert _batch_files(staged) == [] and _checkpoint(staged) is None
    holder.release()


def test_a_run_whose_lease_was_taken_over_does_not_commit(staged):
    """A stalled worker whose lease another took over is fenced out at its commit: it writes no record."""
    import threading

    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        result=run_batch(_cfg(staged.root, "run-1"), staged, LOG, scripted(delay_s=0.3))))
    runner.start()
    while not staged.exists(layout.checkpoint(Q, "000")):
        time.sleep(0.02)
    # Another worker takes the lease over, as acquire() does once it finds the holder gone (its lease expired).
    _, version = staged.read_versioned(layout.lease(Q, "000"))
    staged.replace_if(layout.lease(Q, "000"), Holder.me("run-2", "taker", 120.0).to_bytes(), version)
    runner.join(timeout=60)
    result = outcome["result"]
    assert isinstance(result.error, LeaseLost)
    assert load_commit(staged, Q, "000") is None
