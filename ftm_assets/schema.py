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
        # L2-normalised mean of the topic's sentence embeddings (null for -1): themes cluster these, never re-embed
        pa.field("centroid", pa.list_(pa.float32())),
        # In [0, 1]: how reliably the topic recurs across seeded resamples (mean best-match Jaccard; ward.py)
        pa.field("stability", pa.float32()),
    ]
)

# The sentences the topic model saw, so that sentence_ids resolve to text without re-segmenting, with each
# sentence's tone counts (summed per firm, quarter and theme by the panel: ratios of sums, text/tone.py).
SENTENCES_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("sentence_id", pa.int32(), nullable=False),
        pa.field("call_id", pa.int64()),
        pa.field("component_order", pa.int32()),
        pa.field("speaker_type", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        # Nullable, so that files written before these columns read back with nulls:
        pa.field("procedural", pa.bool_()),  # boilerplate.procedural_mask: the fit set it aside as an outlier
        pa.field("n_words", pa.int32()),  # words as text/tone.py counts them
        pa.field("lm_positive", pa.int16()),  # Loughran-McDonald positive / negative / uncertainty word counts
        pa.field("lm_negative", pa.int16()),
        pa.field("lm_uncertainty", pa.int16()),
        pa.field("tone_model", pa.float32()),  # FTM_TONE_MODEL's P(positive) - P(negative); null when unset
    ]
)

# One row per firm without topics: ``outcome`` "failed" (an error) or "skipped" (too little text to model:
# EmptyTranscript, InsufficientText; a property of the data, not counted as a failure). Files written before
# the column existed read with outcome "failed".
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
        pa.field("outcome", pa.string(), nullable=False),  # failed | skipped
    ]
)

# Themes (ftm_assets/themes): one row per theme of a quarter. ``centroid`` is the theme's anchor (its centroid
# in the quarter it was born, fixed after); ``split_from`` the living theme a newborn one split from.
THEMES_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("theme_id", pa.string(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("representative_sentences", pa.list_(pa.struct(
            [pa.field("firm_id", pa.string()), pa.field("firm_name", pa.string()), pa.field("text", pa.string())]))),
        pa.field("n_firms", pa.int32(), nullable=False),
        pa.field("n_topics", pa.int32(), nullable=False),
        pa.field("n_sentences", pa.int32(), nullable=False),
        pa.field("first_quarter", pa.string(), nullable=False),
        pa.field("split_from", pa.string()),
        pa.field("centroid", pa.list_(pa.float32())),
        # Share of the quarter's modelled firms with a sentence on the theme; share of its sentences spoken by
        # analysts (null without speaker types); generic: breadth > FTM_THEME_GENERIC_BREADTH or analyst_share >
        # FTM_THEME_GENERIC_ANALYST_SHARE (call talk every firm has, or the form of a question): kept, flagged.
        pa.field("breadth", pa.float64()),
        pa.field("analyst_share", pa.float64()),
        pa.field("generic", pa.bool_()),
    ]
)

# Which firm topic went to which theme (topics not listed stay firm-specific).
THEME_MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("topic_id", pa.int32(), nullable=False),
        pa.field("theme_id", pa.string(), nullable=False),
        pa.field("similarity", pa.float32()),
    ]
)

# The panel: one row per (firm_id, quarter, theme_id) with a sentence on the theme (a missing row is a zero).
# Exposure is measured per sentence (themes/assign.py, themes/exposure.py): share = the firm's non-procedural
# sentences assigned to the theme / all its non-procedural sentences (a firm's shares sum to at most 1);
# intensity = the same weighted by each sentence's cosine to the theme's anchor; share_<kind> = the ratio within
# what management / analysts said, or within the presentation / Q&A (null when the firm has no such sentence).
# tone = (LM positive - negative) / (positive + negative) over the firm's sentences on the theme (null when
# neither occurs), uncertainty = LM uncertainty words / words, tone_model = mean classifier score (null without).
THEME_EXPOSURE_SCHEMA = pa.schema(
    [
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("theme_id", pa.string(), nullable=False),
        pa.field("firm_name", pa.string()),
        pa.field("gvkey", pa.string()),
        pa.field("permno", pa.int64()),
        pa.field("earnings_call_date", pa.date32()),
        pa.field("n_sentences", pa.int32(), nullable=False),
        pa.field("share", pa.float64(), nullable=False),
        pa.field("intensity", pa.float64(), nullable=False),
        pa.field("share_management", pa.float64()),
        pa.field("share_analyst", pa.float64()),
        pa.field("share_presentation", pa.float64()),
        pa.field("share_qa", pa.float64()),
        pa.field("tone", pa.float64()),
        pa.field("uncertainty", pa.float64()),
        pa.field("tone_model", pa.float64()),
    ]
)

# Which sentence went to which theme: every non-procedural sentence whose embedding reaches
# FTM_THEME_SENTENCE_SIMILARITY (cosine) to its nearest theme anchor; join on (quarter, firm_id, sentence_id)
# with the sentences table for text, speaker and tone.
SENTENCE_THEMES_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("sentence_id", pa.int32(), nullable=False),
        pa.field("theme_id", pa.string(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
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

# ``quarter_topic_summary``: one row per manifest firm. ``status`` is ok | no_topics (only outlier sentences) |
# failed | skipped (the worker set the firm aside without modelling it) | missing (its batch has no committed
# output). ``stability``: median of the firm's per-topic stability, where firm_topics carries it.
SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("batch", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("firm_name", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("topics", pa.int32(), nullable=False),
        pa.field("sentences", pa.int32(), nullable=False),
        pa.field("outlier_sentences", pa.int32(), nullable=False),
        pa.field("error_class", pa.string()),
        pa.field("stability", pa.float64()),
    ]
)
