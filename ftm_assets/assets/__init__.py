"""Asset families: transcripts (prefetch), manifest (batching), topics (the launched worker)."""
