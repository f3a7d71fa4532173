"""Read the pipeline's outputs as pandas DataFrames: ``from ftm_assets.readers import read_firm_topics``.

The names below are the public readers; they live in lower modules that import downward only
(``readers.topics``: committed batches; ``readers.themes``: themes and the panel), so the code that builds
themes can use the topic readers without an import loop through this package.
"""

from ftm_assets.readers.themes import ThemesNotMaterialized, read_sentence_themes, read_theme_exposure, read_themes
from ftm_assets.readers.topics import (
    IncompleteOutputError,
    IncompleteOutputWarning,
    commit_records,
    committed_parts,
    quarter_commits,
    read_failures,
    read_firm_topics,
    read_firm_topics_table,
    read_sentences,
    read_topic_sentences,
    stale_commits,
)

__all__ = [
    "IncompleteOutputError",
    "IncompleteOutputWarning",
    "ThemesNotMaterialized",
    "commit_records",
    "committed_parts",
    "quarter_commits",
    "read_failures",
    "read_firm_topics",
    "read_firm_topics_table",
    "read_sentence_themes",
    "read_sentences",
    "read_theme_exposure",
    "read_themes",
    "read_topic_sentences",
    "stale_commits",
]
