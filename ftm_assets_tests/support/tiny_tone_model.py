"""A tiny Hugging Face sequence classifier saved to a folder, as FTM_TONE_MODEL expects (random weights, a
16-word vocabulary): what the tone-classifier tests load instead of FinBERT."""

from __future__ import annotations

from pathlib import Path

WORDS = ["revenue", "grew", "strongly", "margins", "declined", "we", "expect", "uncertain", "demand", "the", "quarter"]


def tiny_tone_model(folder: Path, id2label: dict[int, str] | None = None, seed: int = 0) -> str:
    """A 1-layer BERT sequence classifier with a 16-word vocabulary, saved as save_pretrained writes it."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    id2label = id2label or {0: "positive", 1: "negative", 2: "neutral"}
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=len(id2label),
                        id2label=id2label, label2id={v: k for k, v in id2label.items()})
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
