"""The ``"tiny"`` encoder: a 2-layer, 64-wide BERT with seeded random weights (smoke tests, CI).

Its cased WordPiece tokenizer is committed under ``wordot/assets/tiny_tokenizer/`` (trained once
by ``tools/make_tiny_tokenizer.py``, because WordPiece training is not reproducible); the
weights are drawn from a fixed seed, so every call returns the same model. Random weights: it
checks that the pipeline runs, never what it measures.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

__all__ = ["TINY_CONFIG", "TINY_SEED", "TINY_TOKENIZER_DIR", "tiny_encoder"]

#: architecture of the ``"tiny"`` encoder (vocabulary size comes from its tokenizer)
TINY_CONFIG: dict[str, Any] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
TINY_SEED = 0
TINY_TOKENIZER_DIR = Path(__file__).resolve().parents[1] / "assets" / "tiny_tokenizer"


def tiny_encoder(seed: int = TINY_SEED) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """The ``"tiny"`` encoder: committed WordPiece tokenizer + BERT initialised from ``seed``.

    Same ``seed`` -> bit-identical weights (the global torch RNG is left untouched).
    Hidden size 64, so ``last_hidden_state`` is ``(batch, tokens, 64)``.
    """
    # torch and transformers are heavy: imported when a model is built, not with wordot.models
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(TINY_TOKENIZER_DIR))
    config = BertConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **TINY_CONFIG
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    model.eval()
    return model, tokenizer
