"""The files source: CSV, JSONL and Parquet (our column names or Capital IQ's) read back by quarter, ids normalised, errors that say what to fix."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ftm_assets.quarters import QuarterKeyError
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.transcripts.files import quarters_in_folder, read_transcript_files


def component(firm_id, order, *, date="2023-02-14", text="Revenue grew strongly.", **extra) -> dict:
    return {"firm_id": firm_id, "earnings_call_date": date, "component_order": order, "text": text, **extra}


def write_jsonl(path: Path, records: list[dict] | list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def test_reads_jsonl_gz_and_parquet_recursively_and_keeps_the_quarter(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [
        component(18749, 1, quarter="2023Q1", text="Second.", call_id=7, gvkey=64768, permno=84788),
        component(18749, 0, quarter="2023Q1", text="First.", call_id=7, gvkey=64768, permno=84788),
        component("900", 0, date="2023-05-02"),  # 2023Q2: skipped
        "",
    ])
    write_jsonl(tmp_path / "deeper" / "b.jsonl.gz", [
        component("24937", 0, date="2023-03-31T17:00:00", text="", firm_name="Apple Inc.", country="US"),
        component("777", 0, date="2022-12-30", quarter="2023Q1"),  # the quarter field wins over the date
    ])
    (tmp_path / "deeper" / "even").mkdir()
    pq.write_table(
        pa.table({
            "firm_id": ["555", "556"], "earnings_call_date": [dt.date(2023, 1, 3), dt.date(2023, 4, 3)],
            "component_order": [0, 0], "text": ["From Parquet.", "Next quarter."], "speaker_type": ["Operator"] * 2,
        }),
        tmp_path / "deeper" / "even" / "c.parquet",
    )
    (tmp_path / "notes.txt").write_text("ignored")

    table = read_transcript_files(tmp_path, "2023Q1")

    assert table.schema.equals(RAW_TRANSCRIPTS_SCHEMA.remove_metadata())
    rows = table.to_pylist()
    assert [(r["firm_id"], r["component_order"]) for r in rows] == [
        ("18749", 0), ("18749", 1), ("24937", 0), ("555", 0), ("777", 0),
    ]
    assert {r["quarter"] for r in rows} == {"2023Q1"} and {r["source"] for r in rows} == {"files"}
    assert rows[0]["text"] == "First." and rows[0]["gvkey"] == "064768" and rows[0]["permno"] == 84788
    assert rows[2]["text"] == "" and rows[2]["earnings_call_date"] == dt.date(2023, 3, 31)
    assert rows[3]["speaker_type"] == "Operator" and rows[3]["call_id"] is None
    assert [r["firm_id"] for r in read_transcript_files(tmp_path, "2023Q2").to_pylist()] == ["556", "900"]
    assert read_transcript_files(tmp_path, "2019Q1").num_rows == 0


def test_demo_corpus_round_trips_through_parquet(tmp_path):
    demo = demo_transcripts("2024Q4", n_firms=3)
    pq.write_table(demo, tmp_path / "demo.parquet")
    back = read_transcript_files(tmp_path, "2024Q4")
    assert back.drop_columns(["source"]).equals(demo.drop_columns(["source"]).replace_schema_metadata(None))


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_transcript_files(tmp_path / "nope", "2023Q1")
    (tmp_path / "readme.md").write_text("no transcripts here")
    with pytest.raises(FileNotFoundError, match=r"No transcript files in .*\*\.jsonl"):
        read_transcript_files(tmp_path, "2023Q1")


def test_bad_json_line_names_file_and_line(tmp_path):
    write_jsonl(tmp_path / "calls.jsonl", [component("1", 0), '{"firm_id": "1", oops}'])
    with pytest.raises(ValueError, match=r"calls\.jsonl, line 2: not valid JSON"):
        read_transcript_files(tmp_path, "2023Q1")


def test_missing_required_field_in_jsonl(tmp_path):
    record = component("1", 0)
    del record["text"]
    write_jsonl(tmp_path / "calls.jsonl.gz", [component("1", 1), record])
    with pytest.raises(ValueError, match=r"calls\.jsonl\.gz, line 2: missing required field\(s\) \['text'\]"):
        read_transcript_files(tmp_path, "2023Q1")


def test_missing_required_column_in_parquet(tmp_path):
    pq.write_table(pa.table({"firm_id": ["1"], "text": ["Hello there."]}), tmp_path / "calls.parquet")
    with pytest.raises(ValueError, match=r"calls\.parquet: missing required column\(s\) \['earnings_call_date', "):
        read_transcript_files(tmp_path, "2023Q1")


def test_unparseable_date_and_quarter(tmp_path):
    write_jsonl(tmp_path / "dates.jsonl", [component("1", 0, date="14/02/2023")])
    with pytest.raises(ValueError, match=r"dates\.jsonl, line 1: bad 'earnings_call_date' value '14/02/2023'.*ISO"):
        read_transcript_files(tmp_path, "2023Q1")
    write_jsonl(tmp_path / "dates.jsonl", [component("1", 0, quarter="2023-Q1")])
    with pytest.raises(ValueError, match=r"line 1: bad 'quarter' value '2023-Q1'"):
        read_transcript_files(tmp_path, "2023Q1")


def test_row_without_quarter_or_date(tmp_path):
    write_jsonl(tmp_path / "calls.jsonl", [component("1", 0, date=None)])
    with pytest.raises(ValueError, match="line 1: both 'quarter' and 'earnings_call_date' are null"):
        read_transcript_files(tmp_path, "2023Q1")


def test_non_integer_component_order(tmp_path):
    write_jsonl(tmp_path / "calls.jsonl", [component("1", "first")])
    with pytest.raises(ValueError, match="line 1: bad 'component_order' value 'first'"):
        read_transcript_files(tmp_path, "2023Q1")


def test_same_component_in_two_files_is_refused(tmp_path):
    write_jsonl(tmp_path / "one.jsonl", [component("1", 0)])
    write_jsonl(tmp_path / "copy" / "one.jsonl", [component("1", 0)])
    with pytest.raises(ValueError, match=r"appears 2 times.*copy/one\.jsonl"):
        read_transcript_files(tmp_path, "2023Q1")


def test_unknown_quarter_key(tmp_path):
    write_jsonl(tmp_path / "calls.jsonl", [component("1", 0)])
    with pytest.raises(QuarterKeyError):
        read_transcript_files(tmp_path, "2023 Q1")


# --- CSV, Capital IQ's column names, identifiers whatever their inferred type, the quarters a folder holds ---

CIQ_CSV = (
    "COMPANYID,companyname,keydevid,transcriptid,mostimportantdateutc,componentorder,"
    "transcriptcomponenttypename,speakertypename,componenttext,gvkey,lpermno,headline\n"
    '24937.0,Apple Inc.,1001,503,2023-02-02,2,Answer,Executives,"Services grew,\nagain.",1690.0,14593.0,x\n'
    "24937.0,Apple Inc.,1001,503,2023-02-02,1,Presenter Speech,Executives,,1690.0,14593.0,x\n"
    "32307,NVIDIA Corporation,4001,801,2023-05-24 21:00:00,1,Presenter Speech,Executives,Data center.,,,y\n"
)


def test_csv_and_csv_gz_with_capital_iq_names_are_recognised(tmp_path):
    (tmp_path / "ciq.csv").write_text(CIQ_CSV)
    with gzip.open(tmp_path / "more.csv.gz", "wt") as handle:
        handle.write("firm_id,earnings_call_date,component_order,text,gvkey,permno\n")
        handle.write("012141,2023-01-26,0,Azure grew.,012141,10107\n")

    rows = read_transcript_files(tmp_path, "2023Q1").to_pylist()

    assert [(r["firm_id"], r["component_order"], r["text"]) for r in rows] == [
        ("012141", 0, "Azure grew."),  # our own id text is kept as it is, leading zero included
        ("24937", 1, ""),  # an empty CSV field in the text column is an empty component, not a null
        ("24937", 2, "Services grew,\nagain."),
    ]
    apple = rows[1]
    assert (apple["firm_name"], apple["call_id"], apple["transcript_id"]) == ("Apple Inc.", 1001, 503)
    assert (apple["gvkey"], apple["permno"], apple["earnings_call_date"]) == ("001690", 14593, dt.date(2023, 2, 2))
    assert (apple["component_type"], apple["speaker_type"]) == ("Presenter Speech", "Executives")
    nvidia = read_transcript_files(tmp_path, "2023Q2").to_pylist()
    assert [(r["firm_id"], r["gvkey"], r["permno"]) for r in nvidia] == [("32307", None, None)]


@pytest.mark.parametrize("gvkey", [1690, 1690.0, "1690", "1690.0", "001690"])
def test_gvkey_is_padded_and_permno_integer_whatever_the_inferred_type(tmp_path, gvkey):
    permno = 14593.0 if isinstance(gvkey, float) else "14593"
    write_jsonl(tmp_path / "calls.jsonl", [component(24937.0, 0, gvkey=gvkey, permno=permno)])
    row = read_transcript_files(tmp_path, "2023Q1").to_pylist()[0]
    assert (row["firm_id"], row["gvkey"], row["permno"]) == ("24937", "001690", 14593)


def test_pandas_parquet_with_float_ids_and_nan(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({
        "companyid": [24937, 18749], "mostimportantdateutc": pd.to_datetime(["2023-02-02", "2023-02-02"]),
        "componentorder": [0, 0], "componenttext": ["Apple.", "Amazon."],
        "gvkey": [1690, None], "permno": [14593, None],  # a NaN turns both columns into float64
    })
    frame.to_parquet(tmp_path / "export.parquet")
    rows = read_transcript_files(tmp_path, "2023Q1").to_pylist()
    assert [(r["firm_id"], r["gvkey"], r["permno"]) for r in rows] == [("18749", None, None), ("24937", "001690", 14593)]


def test_csv_missing_column_names_both_spellings(tmp_path):
    (tmp_path / "bad.csv").write_text("companyid,componenttext\n1,Hello there.\n")
    with pytest.raises(ValueError, match=r"bad\.csv: missing required column\(s\) \['earnings_call_date', .*mostimportantdateutc"):
        read_transcript_files(tmp_path, "2023Q1")


def test_csv_bad_value_names_the_line(tmp_path):
    (tmp_path / "bad.csv").write_text(
        "companyid,mostimportantdateutc,componentorder,componenttext\n1,2023-02-02,0,a\n1,2023-02-02,first,b\n"
    )
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: bad 'component_order' value 'first'"):
        read_transcript_files(tmp_path, "2023Q1")


def test_quarters_in_folder_lists_each_quarter_held_and_caches_per_file(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "ciq.csv").write_text(CIQ_CSV)  # 2023Q1 and 2023Q2
    write_jsonl(data / "sub" / "late.jsonl", [component("1", 0, date="2024-11-02"), component("2", 0, quarter="2019Q4", date=None)])
    cache = tmp_path / "cache" / "quarters.json"

    assert quarters_in_folder(data, cache) == ["2019Q4", "2023Q1", "2023Q2", "2024Q4"]
    cached = json.loads(cache.read_text())
    assert {Path(p).name for p in cached} == {"ciq.csv", "late.jsonl"}

    # A changed file is read again; an unchanged one comes from the cache (shown by poisoning its entry).
    entry = cached[str(data / "ciq.csv")]
    cache.write_text(json.dumps({**cached, str(data / "ciq.csv"): {**entry, "quarters": ["2001Q1"]}}))
    write_jsonl(data / "sub" / "late.jsonl", [component("1", 0, date="2025-01-02")])
    assert quarters_in_folder(data, cache) == ["2001Q1", "2025Q1"]
    assert quarters_in_folder(data) == ["2023Q1", "2023Q2", "2025Q1"]


def test_with_the_cache_files_of_other_quarters_are_not_read(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "quarters.json"
    write_jsonl(data / "2023q1.jsonl", [component("1", 0, date="2023-02-02")])
    write_jsonl(data / "2023q2.jsonl", [component("2", 0, date="2023-05-02")])
    assert quarters_in_folder(data, cache) == ["2023Q1", "2023Q2"]
    # Corrupt the other quarter's file without changing its size or mtime: only a skipped file can stay unread.
    stat = (data / "2023q2.jsonl").stat()
    (data / "2023q2.jsonl").write_bytes(b"{" * stat.st_size)
    os.utime(data / "2023q2.jsonl", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert [r["firm_id"] for r in read_transcript_files(data, "2023Q1", cache).to_pylist()] == ["1"]
    with pytest.raises(ValueError, match=r"2023q2\.jsonl, line 1: not valid JSON"):
        read_transcript_files(data, "2023Q1")  # without the cache every file is read
    assert read_transcript_files(data, "2019Q1", cache).num_rows == 0
