"""Sentence features of a frozen encoder, and a cache of them keyed by the weights.

Retrieval and zero-shot classification both read a sentence as the mean of the encoder's last
hidden states (:func:`sentence_vectors`). The "before" encoder is the same in every seed and
run, so its features are worth keeping: a :class:`FeatureCache` names a directory and the
weights' fingerprint (:func:`model_fingerprint`), and :func:`cached_vectors` reads features from
it or writes them there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .. import paths
from .common import frozen

__all__ = [
    "FeatureCache",
    "cached_vectors",
    "make_feature_cache",
    "model_fingerprint",
    "sentence_vectors",
]


def sentence_vectors(
    model,
    tokenizer,
    sentences: Sequence[str],
    *,
    prefix: str = "",
    max_length: int = 128,
    batch_size: int = 32,
    progress: bool = False,
    desc: str = "encode",
) -> Tensor:
    """Mean of the last hidden states over each sentence's real tokens (attention mask,
    special tokens included, as e5 does): ``(N, D)`` float32 on the CPU, in input order.

    ``prefix`` is prepended to every sentence (e5's convention is ``"query: "``). Sentences
    are encoded in length-sorted batches (little padding: 2-3x faster on a CPU than in order).
    """
    if not sentences:
        raise ValueError("no sentences given")
    texts = [prefix + s for s in sentences]
    lengths = [
        len(x) for x in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    ]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out: Tensor | None = None
    device = next(model.parameters()).device
    starts = range(0, len(order), batch_size)
    with frozen(model):
        for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [texts[i] for i in idx],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            enc = {k: v.to(device) for k, v in enc.items()}
            H = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(H.dtype)
            v = ((H * m).sum(1) / m.sum(1).clamp_min(1.0)).float().cpu()
            if out is None:
                out = torch.empty(len(texts), v.shape[1])
            out[idx] = v
    assert out is not None
    return out


def model_fingerprint(model) -> str:
    """A key for cached features that changes whenever the weights do: BLAKE2b over each
    parameter's and buffer's name, shape, sum, and every 7th value. Not a full hash (that
    takes seconds for e5-small), but a fine-tuning step moves every trainable weight, so it
    cannot go unnoticed."""
    h = hashlib.blake2b(digest_size=16)
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            flat = t.detach().reshape(-1).cpu()
            if flat.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 is exact
                flat = flat.float()
            h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
            if flat.is_floating_point():
                h.update(repr(flat.sum().item()).encode())
            h.update(flat[::7].numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class FeatureCache:
    """Where to keep sentence features (a directory) and for which weights (a fingerprint)."""

    directory: Path
    fingerprint: str


def make_feature_cache(model, directory: str | Path | FeatureCache | None) -> FeatureCache | None:
    """A :class:`FeatureCache` for ``model`` in ``directory`` (None: no caching). Make it once
    and pass it on: fingerprinting the weights is the only cost."""
    if directory is None or isinstance(directory, FeatureCache):
        return directory
    return FeatureCache(Path(directory).expanduser(), model_fingerprint(model))


def cached_vectors(
    model, tokenizer, texts: list[str], *, cache: FeatureCache | None, **options: Any
) -> Tensor:
    """:func:`sentence_vectors` of ``texts`` with its keyword ``options`` (``prefix``,
    ``max_length``, ``batch_size``, ``progress``, ``desc``), read from / written to ``cache``
    when it is set.

    A file is named by the weights' fingerprint and a hash of the tokenizer, ``prefix``,
    ``max_length`` and the texts; it is written atomically (:func:`wordot.paths.atomic_file`).
    """
    if cache is None:
        return sentence_vectors(model, tokenizer, texts, **options)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((getattr(tokenizer, "name_or_path", ""), options.get("prefix"))).encode())
    h.update(repr(options.get("max_length")).encode())
    for t in texts:
        h.update(t.encode() + b"\x00")
    path = cache.directory / f"{cache.fingerprint}-{h.hexdigest()}.pt"
    if path.exists():
        return torch.load(path)
    v = sentence_vectors(model, tokenizer, texts, **options)
    with paths.atomic_file(path, "wb") as fh:
        torch.save(v, fh)
    return v
