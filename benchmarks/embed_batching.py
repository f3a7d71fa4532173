"""How the CPU embedder batches (issue 29): padding, batch size, a cross-firm stream and int8, each interleaved.

    python -m benchmarks.embed_batching --firms 2      # prints a markdown section and a BENCH_JSON line

On real Earnings-22 calls, against the worker's embedder as it runs now (``Embedder``: its backend and
precision, one call per firm, longest sentence first by characters, batches of ``EMBEDDING_BATCH_SIZE``):

- padding: padded tokens over real tokens for each batching, counted with the model's own tokenizer (no
  model run: exact, load-proof);
- speed, each variant against the current encode, alternating (``benchmarks/interleave``), median of
  ``--repeats`` with min and max: sorted by token count instead of characters; batch sizes 16-128; one call
  over all the firms' sentences (the cross-firm stream); torch dynamic int8 (``quantize_dynamic`` on the
  Linear layers);
- quality of anything that changes the numbers: cosine against the torch fp32 reference and the ARI of the
  firm's topics (the worker's default method) fitted on its vectors against those fitted on the reference's.

The load is sampled as in ``make bench``; a loaded run says so beside its figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import numpy as np

from benchmarks import interleave, load
from benchmarks.corpora import bench_config, demo_firms, real_firms
from ftm_assets import constants as C

BATCH_SIZES = (16, 32, 64, 128)


def padded_tokens(lengths: list[int], order: np.ndarray, batch_size: int) -> int:
    """Tokens the encoder computes when ``lengths`` are taken in ``order`` and each batch pads to its longest."""
    ordered = np.asarray(lengths)[order]
    return int(sum(ordered[i : i + batch_size].max() * len(ordered[i : i + batch_size])
                   for i in range(0, len(ordered), batch_size)))  # fmt: skip


def padding(texts_per_firm: list[list[str]], count_tokens, batch_size: int) -> dict:
    """Padded/real token ratio of per-firm batching by characters (before issue 29), by tokens, one cross-firm stream."""
    lengths = [[count_tokens(t) for t in texts] for texts in texts_per_firm]
    real = sum(sum(ls) for ls in lengths)
    by_chars = sum(padded_tokens(ls, np.argsort([-len(t) for t in texts], kind="stable"), batch_size)
                   for ls, texts in zip(lengths, texts_per_firm))  # fmt: skip
    by_tokens = sum(padded_tokens(ls, np.argsort([-n for n in ls], kind="stable"), batch_size) for ls in lengths)
    stream = [n for ls in lengths for n in ls]
    cross = padded_tokens(stream, np.argsort([-n for n in stream], kind="stable"), batch_size)
    return {"real_tokens": real, "per_firm_by_chars": by_chars / real, "per_firm_by_tokens": by_tokens / real,
            "cross_firm_by_tokens": cross / real}  # fmt: skip


def by_token_count(embedder, texts: list[str], count_tokens) -> np.ndarray:
    """``embedder.encode`` one batch at a time, the batches cut from the sentences sorted by token count."""
    order = np.argsort([-count_tokens(t) for t in texts], kind="stable")
    batches = [order[i : i + embedder.batch_size] for i in range(0, len(texts), embedder.batch_size)]
    vectors = [embedder.encode([texts[i] for i in idx]) for idx in batches]
    out = np.zeros((len(texts), vectors[0].shape[1]), dtype=np.float32)
    for idx, v in zip(batches, vectors):
        out[idx] = v
    return out


def topics_of(firm, vectors: np.ndarray, params) -> np.ndarray:
    from benchmarks.naive import assignments
    from ftm_assets.worker.model.topic_model import fit_topics
    from ftm_assets.worker.segment import segment

    sentences = segment(firm.components, min_words=params.min_sentence_words)
    topics = fit_topics([s.text for s in sentences], vectors, params, use_gpu=False,
                        groups=[(s.call_id, s.component_order) for s in sentences])  # fmt: skip
    return assignments(topics, len(sentences))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=2)
    parser.add_argument("--offset", type=int, default=8,
                        help="skip this many real calls: settings are chosen on calls make bench does not report")
    parser.add_argument("--budgets", default="512,1024,2048,4096", help="token budgets to try (0: none)")
    parser.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS)
    parser.add_argument("--skip", default="", help="comma list of: budgets, batch-sizes, onnx-int8, torch-int8, cross-firm, token-sort")
    parser.add_argument("--write", action="store_true", help="append the section to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    logging.basicConfig(level=logging.WARNING)
    import torch
    from sklearn.metrics import adjusted_rand_score

    from benchmarks.naive import NaiveBaseline
    from ftm_assets.worker.model.embed import Embedder
    from ftm_assets.worker.processor import FirmProcessor
    from ftm_assets.worker.segment import segment

    cfg = bench_config()
    processor = FirmProcessor(cfg, logging.getLogger("embed_batching"))
    processor.close()
    path, cache = processor.model_path, cfg.embedding.onnx_cache_dir
    # The embedder as it batched before issue 29 (by count): what every variant is timed against.
    ours = Embedder(path, "cpu", cfg.topics.embedding_batch_size, processor.precision, processor.backend,
                    onnx_cache_dir=cache)  # fmt: skip
    naive = NaiveBaseline(cfg.topics)
    firms = (real_firms(args.offset + args.firms) or [])[args.offset :] or demo_firms(args.firms)
    texts = [[s.text for s in segment(f.components, min_words=cfg.topics.min_sentence_words)] for f in firms]
    n = sum(len(t) for t in texts)
    tokenizer = naive.model.tokenizer
    out: dict = {"offset": args.offset if real_firms(1) else 0, "firms": len(firms), "sentences": n, "repeats": args.repeats, "batch_size": ours.batch_size,
                 "embedder": f"{ours.backend} {ours.precision}"}  # fmt: skip
    def count_tokens(text: str) -> int:
        return len(tokenizer(text, truncation=True, max_length=naive.model.max_seq_length)["input_ids"])

    out["padding"] = padding(texts, count_tokens, ours.batch_size)
    reference = [naive.encode(t) for t in texts]
    ref_topics = [topics_of(f, r, cfg.topics) for f, r in zip(firms, reference)]

    def quality(vectors: list[np.ndarray]) -> dict:
        cos = np.concatenate([(r * v).sum(axis=1) for r, v in zip(reference, vectors)])
        ari = [adjusted_rand_score(rt, topics_of(f, v, cfg.topics)) for f, v, rt in zip(firms, vectors, ref_topics)]
        return {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()), "ari_vs_fp32": float(np.mean(ari))}

    def now() -> list[np.ndarray]:
        return [ours.encode(t) for t in texts]

    def versus(variant, label: str) -> dict:
        timed = interleave.time_interleaved(variant, now, args.repeats)
        row = {"variant": label, "speedup_vs_now": timed["b_over_a"]["median"],
               "speedup_spread": [timed["b_over_a"]["min"], timed["b_over_a"]["max"]],
               "sentences_per_s": n / timed["a"]["median"]}  # fmt: skip
        print(f"embed_batching: {label}: {row['speedup_vs_now']:.3f}x", file=sys.stderr, flush=True)
        return row

    rows = []
    with load.LoadSampler() as sampler:
        rows.append({**versus(now, "by count (control: the same encode twice)"), **quality(now())})
        if "budgets" not in skip:
            for budget in [int(b) for b in args.budgets.split(",") if b]:
                other = Embedder(path, "cpu", ours.batch_size, ours.precision, ours.backend, onnx_cache_dir=cache,
                                 token_budget=budget)  # fmt: skip
                rows.append({**versus(lambda e=other: [e.encode(t) for t in texts], f"token budget {budget}"),
                             **quality([other.encode(t) for t in texts])})  # fmt: skip
        if "token-sort" not in skip:
            def by_tokens() -> list[np.ndarray]:
                return [by_token_count(ours, t, count_tokens) for t in texts]

            rows.append({**versus(by_tokens, "per firm, longest first by tokens"), **quality(by_tokens())})
        if "cross-firm" not in skip:
            bounds = np.cumsum([0, *(len(t) for t in texts)])

            def stream() -> list[np.ndarray]:
                flat = ours.encode([s for t in texts for s in t])
                return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

            rows.append({**versus(stream, f"one stream of {len(firms)} firms"), **quality(stream())})
        if "batch-sizes" not in skip:
            for size in BATCH_SIZES:
                if size == ours.batch_size:
                    continue
                other = Embedder(path, "cpu", size, ours.precision, ours.backend, onnx_cache_dir=cache)
                rows.append({**versus(lambda e=other: [e.encode(t) for t in texts], f"batch size {size}"),
                             **quality([other.encode(t) for t in texts])})  # fmt: skip
        if "onnx-int8" not in skip and ours.backend == "onnx":
            o8 = Embedder(path, "cpu", ours.batch_size, "int8", "onnx", onnx_cache_dir=cache,
                          token_budget=C.EMBEDDING_TOKEN_BUDGET)  # fmt: skip
            rows.append({**versus(lambda: [o8.encode(t) for t in texts], "ONNX int8 (token budget)"),
                         **quality([o8.encode(t) for t in texts])})  # fmt: skip
        if "torch-int8" not in skip:
            q8 = torch.ao.quantization.quantize_dynamic(naive.model, {torch.nn.Linear}, dtype=torch.qint8)

            def int8() -> list[np.ndarray]:
                with torch.inference_mode():
                    return [q8.encode(t, batch_size=ours.batch_size, normalize_embeddings=True,
                                      show_progress_bar=False) for t in texts]  # fmt: skip

            rows.append({**versus(int8, "torch dynamic int8 (Linear layers)"), **quality(int8())})
    out["rows"] = rows
    out["load"] = sampler.record.to_json()
    section = "\n".join(render(out))
    print(section)
    print("BENCH_JSON " + json.dumps(out))
    if args.write:
        import datetime as dt
        from pathlib import Path

        when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with open(Path(__file__).resolve().parent / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\n## {when} — embedder batching (`python -m benchmarks.embed_batching`, issue 29)\n\n"
                     f"{section}\n")
    return 0


def render(out: dict) -> list[str]:
    ld = out["load"]
    p = out["padding"]
    lines = [
        f"Embedder batching ({out['embedder']}, batch size {out['batch_size']}, {out['firms']} real calls, "
        f"{out['sentences']} sentences, real calls {out['offset']}-{out['offset'] + out['firms'] - 1} of the corpus order; {'LOADED machine' if ld['loaded'] else 'quiet machine'}: others' CPU up to "
        f"{ld['max_others_busy_cores'] or 0:.2f} cores). Padded/real tokens: per firm by characters, batches of 64 (before issue 29) "
        f"{p['per_firm_by_chars']:.3f}, per firm by tokens {p['per_firm_by_tokens']:.3f}, one cross-firm stream "
        f"{p['cross_firm_by_tokens']:.3f}.",
        "",
        "| variant | speed vs by-count batches, median [min-max] | sentences/s | cosine vs torch fp32 mean (min) | topic ARI vs fp32 |",
        "|---|---|---|---|---|",
    ]
    for r in out["rows"]:
        lo, hi = r["speedup_spread"]
        lines.append(f"| {r['variant']} | {r['speedup_vs_now']:.2f}x [{lo:.2f}-{hi:.2f}] | {r['sentences_per_s']:.0f} | "
                     f"{r['cosine_mean']:.4f} ({r['cosine_min']:.4f}) | {r['ari_vs_fp32']:.3f} |")  # fmt: skip
    return lines


if __name__ == "__main__":
    sys.exit(main())
