"""Benchmark the WRDS prefetch against a local PostgreSQL loaded with a synthetic 5,000-firm quarter.

Measures what a user waits for and what the Dagster process must hold: wall time of the query plus
streaming to Parquet parts, rows per second, and peak memory (RSS) of the process doing the fetch.
The fetch runs in a child process so its peak RSS is not inflated by generating the test data; the
child also reports its RSS before the fetch, so the growth due to the quarter is visible.

    .venv/bin/python benchmarks/bench_prefetch.py [--firms 5000] [--components 70] [--text-chars 600]

Synthetic shape per firm: one earnings call (5% of firms two), a preliminary and a Final version
(3% of calls preliminary only), ``--components`` components on the kept version, 90% with a gvkey,
80% with a permno. Text is filler of ``--text-chars`` characters: the shape matters here, not the words.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUARTER = "2023Q1"
DBNAME = "wrds"
READER, READER_PASSWORD = "bench_reader", "bench-password"
COPY_BATCH = 50_000


def _copy(cur, table: str, rows) -> int:
    """COPY ``rows`` into ``table`` in batches (flat memory in the generator too)."""
    n, buf, writer = 0, io.StringIO(), None
    for row in rows:
        if writer is None:
            writer = csv.writer(buf)
        writer.writerow(["" if v is None else v for v in row])
        n += 1
        if n % COPY_BATCH == 0:
            buf.seek(0)
            cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buf)
            buf, writer = io.StringIO(), None
    if writer is not None:
        buf.seek(0)
        cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buf)
    return n


def load_synthetic_quarter(server, firms: int, components: int, text_chars: int, seed: int = 7) -> dict:
    """Create the WRDS tables and fill them with a synthetic quarter; returns row counts."""
    from ftm_assets_tests.support.capital_iq import CAPITAL_IQ_DDL, CAPITAL_IQ_INDEXES, grant_read

    rng = random.Random(seed)
    words = [f"w{i}" for i in range(2000)]
    snippets = [" ".join(rng.choice(words) for _ in range(text_chars // 5))[:text_chars] for _ in range(500)]
    calls = []  # (companyid, keydevid, [(transcriptid, final, created, n_components)], day)
    keydev, transcript = 10_000_000, 50_000_000
    for i in range(firms):
        companyid = 1_000_000 + i
        for _ in range(2 if rng.random() < 0.05 else 1):
            keydev += 1
            day = f"2023-{rng.randint(1, 3):02d}-{rng.randint(1, 28):02d}"
            versions = [(transcript + 1, False, "2023-01-01", 5)]
            if rng.random() >= 0.03:
                versions.append((transcript + 2, True, "2023-01-02", components))
            else:
                versions = [(transcript + 1, False, "2023-01-01", components)]
            transcript += 2
            calls.append((companyid, keydev, versions, day))

    def detail():
        for companyid, keydevid, versions, day in calls:
            for tid, final, created, _ in versions:
                pres = (5, "Final") if final else (1, "Preliminary")
                yield (companyid, keydevid, tid, "Earnings Call", day, "21:00:00", 48, "Earnings Calls",
                       f"Company {companyid}", 1, "Edited Copy", pres[0], pres[1], created, "12:00:00",
                       3600, 0, None, None)

    def component_and_person(kind: str):
        comp_id = 0
        for _, _, versions, _ in calls:
            for tid, _, _, n in versions:
                for order in range(1, n + 1):
                    comp_id += 1
                    ctype = 2 if order <= n // 2 else (3 if order % 2 else 4)
                    if kind == "component":
                        yield (comp_id, tid, order, ctype, comp_id, snippets[comp_id % len(snippets)])
                    else:
                        stype, sname = (2, "Analysts") if ctype == 3 else (1, "Executives")
                        yield (tid, comp_id, order, ctype, "", comp_id, "Speaker", None, None, stype, sname)

    def gvkeys():
        for i in range(firms):
            if i % 10:
                yield (1_000_000 + i, f"{i:06d}", "2000-01-01", None)

    def links():
        for i in range(firms):
            if i % 10 and i % 10 != 1:
                yield (f"{i:06d}", "P", "01", "LC", 10_000 + i, 20_000 + i, "2000-01-01", None)

    server.create_login(READER, READER_PASSWORD)
    server.create_database(DBNAME)
    conn = server.connect(DBNAME)
    counts = {}
    try:
        with conn.cursor() as cur:
            cur.execute(CAPITAL_IQ_DDL)
            counts["detail"] = _copy(cur, "ciq_transcripts.wrds_transcript_detail", detail())
            counts["components"] = _copy(
                cur, "ciq_transcripts.ciqtranscriptcomponent", component_and_person("component")
            )
            counts["people"] = _copy(cur, "ciq_transcripts.wrds_transcript_person", component_and_person("person"))
            counts["gvkeys"] = _copy(cur, "ciq.wrds_gvkey", gvkeys())
            counts["links"] = _copy(cur, "crsp.ccmxpf_lnkhist", links())
            cur.execute(CAPITAL_IQ_INDEXES)
            grant_read(cur, READER)
    finally:
        conn.close()
    counts["calls"] = len(calls)
    return counts


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fetch_child(port: int, chunk_rows: int, out_dir: str) -> dict:
    """In the child: fetch the quarter, write each chunk as a Parquet part, report time and memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy  # noqa: F401 - imported before the clock and the RSS baseline start
    import wrds  # noqa: F401

    from ftm_assets.transcripts.wrds import FetchStats, WrdsSettings, fetch_quarter
    from ftm_assets.storage.layout import raw_transcripts_part

    settings = WrdsSettings(READER, READER_PASSWORD, "127.0.0.1", port, "disable")
    rss_before = _rss_mib()
    stats = FetchStats()
    peak_arrow = 0
    start = time.perf_counter()
    for part, table in enumerate(fetch_quarter(settings, QUARTER, chunk_rows=chunk_rows, stats=stats)):
        path = Path(out_dir) / raw_transcripts_part(QUARTER, part)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        peak_arrow = max(peak_arrow, pa.total_allocated_bytes())
    seconds = time.perf_counter() - start
    parquet_mib = sum(p.stat().st_size for p in Path(out_dir).rglob("*.parquet")) / 2**20
    return {
        "rows": stats.rows, "calls": len(stats.calls), "firms": len(stats.firms), "parts": stats.chunks,
        "chunk_rows": chunk_rows, "seconds": round(seconds, 2), "rows_per_s": round(stats.rows / seconds),
        "rss_before_fetch_mib": round(rss_before, 1), "peak_rss_mib": round(_rss_mib(), 1),
        "peak_arrow_mib": round(peak_arrow / 2**20, 1), "parquet_mib": round(parquet_mib, 1),
    }


def main() -> int:
    from ftm_assets.transcripts.wrds import DEFAULT_CHUNK_ROWS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=5000)
    parser.add_argument("--components", type=int, default=70)
    parser.add_argument("--text-chars", type=int, default=600)
    parser.add_argument("--chunk-rows", type=int, nargs="+", default=[DEFAULT_CHUNK_ROWS])
    parser.add_argument("--child", nargs=3, metavar=("PORT", "CHUNK_ROWS", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fetch_child(int(args.child[0]), int(args.child[1]), args.child[2])))
        return 0

    from ftm_assets_tests.support.pg_server import start_pg_server

    server = start_pg_server()
    try:
        start = time.perf_counter()
        counts = load_synthetic_quarter(server, args.firms, args.components, args.text_chars)
        print(f"loaded {counts} in {time.perf_counter() - start:.1f}s", flush=True)
        for chunk_rows in args.chunk_rows:
            with tempfile.TemporaryDirectory(prefix="ftm-bench-") as out_dir:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", str(server.port), str(chunk_rows), out_dir],
                    capture_output=True, text=True, check=False,
                )
                if proc.returncode:
                    print(proc.stderr, file=sys.stderr)
                    return proc.returncode
                print(json.dumps({"firms": args.firms, "text_chars": args.text_chars, **json.loads(proc.stdout)}))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
