"""Tatoeba sentence retrieval as XTREME measures it.

The Tatoeba test set of LASER (Artetxe and Schwenk 2019) holds, for each of 112 languages, up to
1000 sentences and their English translations, line i of one file translating line i of the
other (1000 for 72 languages; of the paper's 14, Thai has 548 and Swahili 390). XTREME (Hu et
al. 2020, ``third_party/run_retrieval.py``) represents a sentence by the mean of the hidden
states of one layer over all its tokens, special tokens included (the attention mask;
``pool_skip_special_token`` off), and retrieves for each query the candidate of highest cosine
similarity among all of the language's candidates. Accuracy is the fraction of queries whose
nearest candidate is their translation. XTREME's reported direction searches the non-English sentences with each
English one (``en_to_xx`` here); we report both directions and their mean.

XTREME's ``--specific_layer 7`` indexes the hidden states after the embedding layer, so it is
``layer=8`` here (0 = embeddings), the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .. import datasets
from ..embed import hidden_layers

if TYPE_CHECKING:
    from ..neighbours import FeatureMap

__all__ = [
    "TATOEBA_CODES",
    "tatoeba_code",
    "tatoeba_pairs",
    "RetrievalOptions",
    "TatoebaResult",
    "sentence_embeddings",
    "layer_embeddings",
    "retrieval_accuracy",
    "tatoeba_accuracy",
    "tatoeba_layers",
]

#: ISO 639-1 code -> the ISO 639-3 code of the Tatoeba file names (XTREME's map, extended)
TATOEBA_CODES: dict[str, str] = {
    "af": "afr", "am": "amh", "ar": "ara", "az": "aze", "be": "bel", "bg": "bul", "bn": "ben",
    "br": "bre", "bs": "bos", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu",
    "el": "ell", "eo": "epo", "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin",
    "fo": "fao", "fr": "fra", "fy": "fry", "ga": "gle", "gd": "gla", "gl": "glg", "he": "heb",
    "hi": "hin", "hr": "hrv", "hu": "hun", "hy": "hye", "ia": "ina", "id": "ind", "ie": "ile",
    "io": "ido", "is": "isl", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz",
    "km": "khm", "ko": "kor", "ku": "kur", "la": "lat", "lt": "lit", "lv": "lvs", "mk": "mkd",
    "ml": "mal", "mn": "mon", "mr": "mar", "ms": "zsm", "nb": "nob", "nl": "nld", "nn": "nno",
    "oc": "oci", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv",
    "sq": "sqi", "sr": "srp", "sv": "swe", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha",
    "tk": "tuk", "tl": "tgl", "tr": "tur", "tt": "tat", "ug": "uig", "uk": "ukr", "ur": "urd",
    "uz": "uzb", "vi": "vie", "xh": "xho", "yi": "yid", "zh": "cmn",
}  # fmt: skip


def tatoeba_code(lang: str) -> str:
    """The ISO 639-3 file code of ``lang`` (an ISO 639-1 code, or a file code itself)."""
    code = TATOEBA_CODES.get(lang, lang)
    known = datasets.get("tatoeba")
    try:
        known.file(f"tatoeba.{code}-eng.{code}")
    except ValueError:
        raise ValueError(
            f"no Tatoeba set for {lang!r}; use an ISO 639-1 code of {sorted(TATOEBA_CODES)} or "
            "a file code such as 'kab'"
        ) from None
    return code


def tatoeba_pairs(lang: str, *, data_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """The ``(sentence, English translation)`` pairs of ``lang`` (1000 for most languages), in
    file order."""
    code = tatoeba_code(lang)
    names = [f"tatoeba.{code}-eng.{code}", f"tatoeba.{code}-eng.eng"]
    d = datasets.path("tatoeba", data_dir=data_dir, files=names)
    src, en = ((d / n).read_text(encoding="utf-8").split("\n") for n in names)
    src, en = (x[:-1] if x and x[-1] == "" else x for x in (src, en))
    if len(src) != len(en):
        raise ValueError(f"{d / names[0]} has {len(src)} lines but {d / names[1]} {len(en)}")
    return list(zip(src, en, strict=True))


@dataclass(frozen=True)
class RetrievalOptions:
    """How sentence vectors are computed besides the layer: ``batch_size`` sentences per
    forward pass, ``max_length`` subword tokens per sentence (longer ones are truncated)."""

    batch_size: int = 64
    max_length: int = 512


@dataclass(frozen=True)
class TatoebaResult:
    """Accuracy (fraction) of both directions; ``en_to_xx`` is XTREME's reported one."""

    lang: str
    n: int
    xx_to_en: float
    en_to_xx: float

    @property
    def mean(self) -> float:
        """The mean of the two directions."""
        return (self.xx_to_en + self.en_to_xx) / 2


def sentence_embeddings(
    model,
    tokenizer,
    sentences: list[str],
    *,
    layer: int = 8,
    options: RetrievalOptions = RetrievalOptions(),
) -> Tensor:
    """Mean of ``layer``'s hidden states over each sentence's tokens, special tokens included
    (XTREME): ``(len(sentences), D)``, float32, without gradients."""
    return layer_embeddings(model, tokenizer, sentences, layers=(layer,), options=options)[layer]


def layer_embeddings(
    model,
    tokenizer,
    sentences: list[str],
    *,
    layers: Sequence[int] = (8,),
    options: RetrievalOptions = RetrievalOptions(),
) -> dict[int, Tensor]:
    """:func:`sentence_embeddings` of several layers from one forward pass per batch:
    ``{layer: (len(sentences), D)}``.

    Batches are formed from sentences sorted by length (less padding); rows come back in input
    order.
    """
    if not sentences:
        raise ValueError("no sentences given")
    layers = tuple(dict.fromkeys(layers))
    order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
    rows = {layer: [torch.empty(0)] * len(sentences) for layer in layers}
    with torch.no_grad():
        for start in range(0, len(order), options.batch_size):
            idx = order[start : start + options.batch_size]
            enc = tokenizer(
                [sentences[k] for k in idx],
                padding=True,
                truncation=True,
                max_length=options.max_length,
                return_tensors="pt",
            )
            for layer, H in zip(layers, hidden_layers(model, dict(enc), layers), strict=True):
                mask = enc["attention_mask"].to(H.device, H.dtype).unsqueeze(-1)
                pooled = (H * mask).sum(1) / mask.sum(1)
                for k, row in zip(idx, pooled, strict=True):
                    rows[layer][k] = row.float().cpu()
    return {layer: torch.stack(r) for layer, r in rows.items()}


def retrieval_accuracy(queries: Tensor, candidates: Tensor) -> float:
    """Fraction of queries ``(n, D)`` whose cosine nearest neighbour among ``candidates (n, D)``
    is the candidate of the same index (first index on ties)."""
    if queries.shape != candidates.shape:
        raise ValueError(
            f"queries {tuple(queries.shape)} and candidates {tuple(candidates.shape)} differ"
        )
    q = torch.nn.functional.normalize(queries.double(), dim=-1)
    c = torch.nn.functional.normalize(candidates.double(), dim=-1)
    best = (q @ c.T).argmax(1)
    return (best == torch.arange(len(q))).double().mean().item()


def tatoeba_accuracy(
    model,
    tokenizer,
    lang: str,
    *,
    layer: int = 8,
    options: RetrievalOptions | None = None,
    data_dir: str | Path | None = None,
) -> TatoebaResult:
    """Tatoeba retrieval accuracy of ``lang`` in both directions (XTREME's protocol), over all
    of its pairs."""
    return tatoeba_layers(
        model, tokenizer, lang, layers=(layer,), options=options, data_dir=data_dir
    )[layer]


def tatoeba_layers(
    model,
    tokenizer,
    lang: str,
    *,
    layers: Sequence[int] = (8,),
    options: RetrievalOptions | None = None,
    data_dir: str | Path | None = None,
    source_map: Mapping[int, FeatureMap] | None = None,
) -> dict[int, TatoebaResult]:
    """:func:`tatoeba_accuracy` of several layers, from one encoding of the sentences.
    ``source_map``: per layer, a feature map (:mod:`wordot.neighbours`) applied to the
    ``lang`` sentence vectors before retrieval (a map fitted on word vectors, applied to their
    mean over the sentence: exact for the linear and affine maps, an approximation for a flow)."""
    options = options or RetrievalOptions()
    pairs = tatoeba_pairs(lang, data_dir=data_dir)
    kw = {"layers": layers, "options": options}
    xx = layer_embeddings(model, tokenizer, [s for s, _ in pairs], **kw)
    en = layer_embeddings(model, tokenizer, [e for _, e in pairs], **kw)
    for layer, fmap in (source_map or {}).items():
        if layer in xx:
            xx[layer] = fmap.map(xx[layer])
            if not torch.isfinite(xx[layer]).all():
                raise FloatingPointError(
                    f"the feature map {type(fmap).__name__} produced non-finite {lang} vectors"
                )
    return {
        layer: TatoebaResult(
            lang,
            len(pairs),
            retrieval_accuracy(xx[layer], en[layer]),
            retrieval_accuracy(en[layer], xx[layer]),
        )
        for layer in xx
    }
