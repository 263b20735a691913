"""One protocol for the feature-level neighbours: fit a map per language and layer, on the same
training pairs WordOT trains on.

For ``method`` in :data:`FEATURE_METHODS`, the encoder is not fine-tuned. Its contextual vectors
of the word pairs that a statistical aligner finds in each language's training sentences
(:mod:`.pairs`: intersection, one-to-one, a word the mean of its subwords) are the data a map is
fitted on, one map per language and per layer read; :func:`wordot.align.run_benchmarks` then
applies them to the source side (``source_maps=``).

    maps = fit_source_maps("procrustes", model, tokenizer, corpora, layers=(8, -1))
    table = run_benchmarks(model, tokenizer, cfg, source_maps=maps)

A language without any aligned pair raises (the aligner's error names it); a map that cannot be
fitted (a rank-deficient Procrustes problem, a flow that diverges) raises its own error naming
the language and the layer, never a silent identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tqdm.auto import tqdm

from ..config import ALIGNMENT_METHODS
from ..data import ParallelCorpus
from . import FeatureMap
from .center import MeanCenter
from .pairs import WordPairs, align_corpus, pair_vectors
from .procrustes import Procrustes
from .realnvp import DensityMatching, RealNVPConfig

#: methods that map features instead of tuning the encoder
FEATURE_METHODS = ("procrustes", "realnvp", "center")
#: every method of the comparison: the two training objectives, the maps, and nothing at all
#: (the profile parameter ``methods`` chooses among them: :data:`wordot.config.ALIGNMENT_METHODS`)
METHODS = ALIGNMENT_METHODS


@dataclass(frozen=True)
class MapOptions:
    """How the feature maps are fitted: the aligner of the word pairs and the flow's settings
    (``realnvp``; its seed is the run's)."""

    aligner: str = "eflomal"
    realnvp: RealNVPConfig = field(default_factory=RealNVPConfig)


def new_map(method: str, options: MapOptions = MapOptions(), seed: int = 0) -> FeatureMap:
    """An unfitted map of ``method`` (one of :data:`FEATURE_METHODS`)."""
    if method == "procrustes":
        return Procrustes()
    if method == "center":
        return MeanCenter()
    if method == "realnvp":
        return DensityMatching(replace(options.realnvp, seed=seed))
    raise ValueError(f"{method!r} is not a feature-level method; choose one of {FEATURE_METHODS}")


def fit_source_maps(
    method: str,
    model,
    tokenizer,
    corpora: Mapping[str, ParallelCorpus],
    layers: Sequence[int] = (8, -1),
    *,
    options: MapOptions = MapOptions(),
    seed: int = 0,
    sentences: int | None = None,
    progress: bool = True,
) -> dict[str, dict[int, FeatureMap]]:
    """``{language: {layer: fitted map}}`` of ``method`` on the word pairs of ``corpora``
    (``{lang: ParallelCorpus}``, the training pairs; repeated pairs count once), read from
    ``model`` at each of ``layers``. The aligner reads every pair (statistical aligners need
    the text), the map is fitted on the links of the first ``sentences`` (None: all), e.g. as
    many as a training run of the same budget sees. Fitting is deterministic for
    ``procrustes`` and ``center``; ``realnvp`` draws from ``seed``."""
    if method not in FEATURE_METHODS:
        raise ValueError(
            f"{method!r} is not a feature-level method; choose one of {FEATURE_METHODS}"
        )
    maps: dict[str, dict[int, FeatureMap]] = {}
    for lang in tqdm(sorted(corpora), desc=f"fitting {method}", disable=not progress):
        corpus = corpora[lang]
        pairs = list(dict.fromkeys(zip(corpus.src, corpus.en, strict=True)))
        word_pairs: WordPairs = align_corpus(pairs, lang, method=options.aligner, seed=0)
        if sentences is not None:
            word_pairs = word_pairs.first(sentences)
        vectors = pair_vectors(model, tokenizer, word_pairs, layers)
        maps[lang] = {}
        for layer, (src, en) in vectors.items():
            try:
                maps[lang][layer] = new_map(method, options, seed).fit(src, en)
            except (ValueError, FloatingPointError) as err:
                raise type(err)(f"{method} for {lang}, layer {layer}: {err}") from err
    return maps


def describe_maps(maps: Mapping[str, Mapping[int, Any]]) -> str:
    """``"de: 8, last; fr: 8, last"``: which languages and layers have a map."""
    name = {-1: "last"}
    return "; ".join(
        f"{lang}: {', '.join(name.get(x, str(x)) for x in layers)}" for lang, layers in maps.items()
    )
