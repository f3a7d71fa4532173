"""Arrow schemas of every table ftm writes: one place, used by writers, readers and checks."""

from __future__ import annotations

import pyarrow as pa

# Component-level transcripts, one row per transcript component (speech, question, answer).
# Columns marked nullable may be null for the ``files`` source. Sources may add documented extra
# columns after these (``source``: where the row came from, e.g. ``demo-synthetic``).
RAW_TRANSCRIPTS_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("firm_name", pa.string()),
        pa.field("call_id", pa.int64()),  # Capital IQ keydevid
        pa.field("transcript_id", pa.int64()),
        pa.field("earnings_call_date", pa.date32()),
        pa.field("gvkey", pa.string()),  # zero-padded text, as in Compustat
        pa.field("permno", pa.int64()),
        pa.field("component_order", pa.int32(), nullable=False),
        pa.field("component_type", pa.string()),  # e.g. Presentation Operator Message, Question, Answer
        pa.field("speaker_type", pa.string()),  # e.g. Operator, Executives, Analysts
        pa.field("text", pa.string()),
        pa.field("source", pa.string()),  # demo-synthetic | files | wrds
    ]
)
RAW_REQUIRED_COLUMNS = ("quarter", "firm_id", "earnings_call_date", "component_order", "text")

# One row per (firm, topic). topic_id -1 holds the sentences BERTopic left as outliers, so that every
# modelled sentence of a firm appears in exactly one row.
FIRM_TOPICS_SCHEMA = pa.schema(
    [
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("firm_name", pa.string()),
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("permno", pa.int64()),
        pa.field("gvkey", pa.string()),
        pa.field("earnings_call_date", pa.date32()),  # the latest call of the firm in the quarter
        pa.field("topic_id", pa.int32(), nullable=False),
        pa.field("representation", pa.string()),  # short human label: top keywords joined
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("n_sentences", pa.int32(), nullable=False),
        pa.field("sentence_ids", pa.list_(pa.int32())),  # join on (firm_id, sentence_id) in sentences
        pa.field("processing_timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        # In [0, 1]: how reliably the topic recurs across the consensus members (mean best-match Jaccard)
        pa.field("stability", pa.float32()),
    ]
)

# The sentences the topic model saw, so that sentence_ids resolve to text without re-segmenting.
SENTENCES_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("sentence_id", pa.int32(), nullable=False),
        pa.field("call_id", pa.int64()),
        pa.field("component_order", pa.int32()),
        pa.field("speaker_type", pa.string()),
        pa.field("text", pa.string(), nullable=False),
    ]
)

FAILURES_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("batch", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("firm_name", pa.string()),
        pa.field("error_class", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("n_sentences", pa.int32()),
        pa.field("processing_timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def conform(table: pa.Table, schema: pa.Schema, *, keep_extra: bool = False) -> pa.Table:
    """Cast ``table`` to ``schema`` (adding missing nullable columns as nulls), in schema order.

    Raises ValueError naming the missing non-nullable columns, so a bad input file says what to fix.
    """
    missing = [f.name for f in schema if f.name not in table.column_names and not f.nullable]
    if missing:
        raise ValueError(f"Missing required column(s) {missing}; have {table.column_names}.")
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    out = pa.Table.from_arrays(columns, schema=schema.remove_metadata())
    if keep_extra:
        for name in table.column_names:
            if name not in schema.names:
                out = out.append_column(name, table.column(name))
    return out
