"""A digest of a quarter's firm_topics that ignores run-specific columns, to show a change kept the topics.

    python -m benchmarks.demo_topics_digest data 2024Q4      # run before and after a change; compare digests

Only the columns a topic is made of are hashed (firm, ids, keywords, sentences), sorted by firm and topic, so
new columns (centroid, stability) and timestamps do not change it.
"""

from __future__ import annotations

import argparse
import hashlib

from ftm_assets.readers import read_firm_topics

COLUMNS = ["firm_id", "firm_name", "quarter", "permno", "gvkey", "earnings_call_date", "topic_id",
           "representation", "keywords", "n_sentences", "sentence_ids"]


def digest(root: str, quarter: str) -> tuple[int, str]:
    """(rows, sha256) of the quarter's firm_topics, on ``COLUMNS`` only."""
    topics = read_firm_topics(root, quarter)[COLUMNS].sort_values(["firm_id", "topic_id"]).reset_index(drop=True)
    for column in ("keywords", "sentence_ids"):
        topics[column] = topics[column].map(list)
    return len(topics), hashlib.sha256(topics.to_json().encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("quarter")
    args = parser.parse_args()
    rows, sha = digest(args.root, args.quarter)
    print(f"{args.quarter}: {rows} firm_topics rows, digest {sha}")


if __name__ == "__main__":
    main()
