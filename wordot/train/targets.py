"""The drift regulariser's targets: the frozen initial model's English word vectors.

The initial model never changes, so the vectors of an English sentence are the same at every
step and epoch: with ``cache`` they are computed once per sentence and kept (on the CPU, in the
dtype they were computed in), which saves the third forward pass of every step from the second
epoch on (and for sentences repeated by upsampling). Without it every step computes them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..embed import EmbedConfig, WordEmbeddings, embed_words


class InitialEnglish:
    """``targets(sentences) -> WordEmbeddings (B, N, D)``: the frozen ``model``'s English words.

    Identical (up to float rounding of a batch's padding) to ``embed_words(model, tokenizer,
    sentences, "en", cfg)`` under ``torch.no_grad()``, which is what it runs for the sentences it
    has not seen (all of them unless ``cache``).
    """

    def __init__(self, model, tokenizer, cfg: EmbedConfig, *, cache: bool = False) -> None:
        self.model, self.tokenizer, self.cfg, self.cache = model, tokenizer, cfg, cache
        self._rows: dict[str, tuple[Tensor, list[str]]] = {}
        self.computed = 0  # sentences embedded so far (cache hits are not counted)

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, sentences: list[str]) -> WordEmbeddings:
        if not self.cache:
            self.computed += len(sentences)
            with torch.no_grad():
                return embed_words(self.model, self.tokenizer, sentences, "en", self.cfg)
        missing = [s for s in dict.fromkeys(sentences) if s not in self._rows]
        if missing:
            self.computed += len(missing)
            with torch.no_grad():
                new = embed_words(self.model, self.tokenizer, missing, "en", self.cfg)
            for i, s in enumerate(missing):
                self._rows[s] = (new.vectors[i, new.mask[i]].cpu(), new.words[i])
        return self._stack(sentences)

    def _stack(self, sentences: list[str]) -> WordEmbeddings:
        """The cached rows of ``sentences`` padded into ``(B, N, D)`` + mask."""
        rows = [self._rows[s] for s in sentences]
        n = max(len(words) for _, words in rows)
        first = rows[0][0]
        device = next(self.model.parameters()).device
        vectors = torch.zeros(len(rows), n, first.shape[-1], dtype=first.dtype)
        mask = torch.zeros(len(rows), n, dtype=torch.bool)
        for b, (v, _) in enumerate(rows):
            vectors[b, : len(v)] = v
            mask[b, : len(v)] = True
        return WordEmbeddings(vectors.to(device), mask.to(device), [w for _, w in rows])
