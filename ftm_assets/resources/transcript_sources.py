"""Transcript sources as Dagster resources: one interface, one implementation per place data lives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa


class TranscriptSource(dg.ConfigurableResource, ABC):
    """Yields a quarter's component-level transcripts in ``RAW_TRANSCRIPTS_SCHEMA``, in chunks.

    Chunks let a large source (WRDS: ~5,000 firms x ~70 components) stream to Parquet with flat memory.
    """

    @property
    @abstractmethod
    def label(self) -> str:
        """A short name for metadata and logs (``demo-synthetic``, ``files``, ``wrds``)."""

    @abstractmethod
    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        """The quarter's transcripts; raises with what to fix when the source cannot deliver."""


class DemoTranscriptSource(TranscriptSource):
    """A deterministic, clearly labelled synthetic corpus: the embedded default, no WRDS needed."""

    n_firms: int = 40
    seed: int = 0

    @property
    def label(self) -> str:
        return "demo-synthetic"

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        from ftm_assets.sources.demo import demo_transcripts

        log.info(f"Generating the synthetic demo corpus for {quarter}: {self.n_firms} firms (not real calls).")
        yield demo_transcripts(quarter, n_firms=self.n_firms, seed=self.seed)


class FilesTranscriptSource(TranscriptSource):
    """Transcripts a user already has: JSONL or Parquet files with the raw_transcripts columns."""

    folder: str

    @property
    def label(self) -> str:
        return "files"

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        from ftm_assets.sources.files import read_transcript_files

        log.info(f"Reading transcripts for {quarter} from {self.folder}.")
        yield read_transcript_files(self.folder, quarter)
