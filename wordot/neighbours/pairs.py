"""Aligned word pairs from a statistical aligner: what L2, Procrustes and Real-NVP are fitted on.

WordOT needs only parallel *sentences*: the transport plan finds the word correspondences. Its
neighbours need parallel *words*. As in Cao et al. 2020 and Wang et al. 2020, they come from a
statistical aligner run on the training sentences: here eflomal or fast_align
(:mod:`wordot.align.statistical`, PyPI ``sil-thot``), trained in both directions and
symmetrised by **intersection**, then cut to **one-to-one** links (a word in at most one link on
each side), so every link is one ``(source word, English word)`` training pair.

The words are the Moses words of :func:`wordot.embed.words_of`, the units every chapter embeds,
so a link ``(i, j)`` indexes the same words the encoder's vectors are computed for.

    pairs = align_corpus(corpus_pairs, "de", method="eflomal")   # cached on disk
    vectors = pair_vectors(model, tokenizer, pairs, layers=(8, -1))
    src, en = vectors[8]                                        # (n_links, D) each

A sentence pair the aligner gives no one-to-one link is counted in ``WordPairs.skipped``
(``"no link"``), never silently dropped; a corpus with no link at all raises.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from .. import paths
from ..align.statistical import STAT_METHODS, StatisticalOptions, align_statistical
from ..embed import hidden_layers, original_indices, word_spans, words_of

Link = tuple[int, int]

#: bump when the pairs of the same input would change (the cache is keyed by it)
PAIRS_VERSION = 1


@dataclass
class WordPairs:
    """One-to-one word links of parallel sentences in one language pair (``lang``-en).

    ``words[k] = (source_words, english_words)`` of sentence pair ``k`` (Moses words) and
    ``links[k]`` its links ``(source_index, english_index)``, sorted. ``skipped``: sentence
    pairs without a link, by reason; ``seconds``: the aligner's training time.
    """

    lang: str
    method: str
    words: list[tuple[list[str], list[str]]]
    links: list[list[Link]]
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def first(self, n: int) -> WordPairs:
        """The links of the first ``n`` sentence pairs only (the aligner has read them all)."""
        if n < 1:
            raise ValueError(f"sentences must be at least 1, got {n}")
        return replace(self, words=self.words[:n], links=self.links[:n])

    @property
    def n_links(self) -> int:
        """Word pairs in all sentences."""
        return sum(len(k) for k in self.links)

    def word_pairs(self) -> Iterable[tuple[str, str]]:
        """Every link as ``(source word, English word)``."""
        for (src, en), links in zip(self.words, self.links, strict=True):
            for i, j in links:
                yield src[i], en[j]


def one_to_one(links: Iterable[Link]) -> list[Link]:
    """The links whose source word and English word are in no other link, sorted."""
    links = list(links)
    n_src = Counter(i for i, _ in links)
    n_en = Counter(j for _, j in links)
    return sorted((i, j) for i, j in set(links) if n_src[i] == 1 and n_en[j] == 1)


def _cache_file(
    pairs: Sequence[tuple[str, str]], lang: str, method: str, seed: int, cache: str | Path | None
) -> Path:
    h = hashlib.sha256(json.dumps([PAIRS_VERSION, lang, method, seed]).encode())
    for src, en in pairs:
        h.update(f"{src}\x00{en}\x01".encode())
    return paths.cache_root(cache) / "aligned-pairs" / f"{lang}-{method}-{h.hexdigest()[:16]}.json"


def align_corpus(
    pairs: Sequence[tuple[str, str]],
    lang: str,
    *,
    method: str = "eflomal",
    seed: int = 0,
    cache: str | Path | None = None,
    options: StatisticalOptions | None = None,
) -> WordPairs:
    """One-to-one word links of ``(source, English)`` sentence pairs by ``method`` (eflomal or
    fast_align, both directions, intersection), kept under the wordot cache
    (``<cache>/aligned-pairs/``, keyed by the sentences, language, method and seed) so that a
    second call reads them back. A sentence :func:`wordot.embed.words_of` rejects raises its
    :class:`~wordot.embed.SentenceError`; a corpus without any link raises ValueError."""
    if method not in STAT_METHODS:
        raise ValueError(f"unknown statistical aligner {method!r}; choose one of {STAT_METHODS}")
    if not pairs:
        raise ValueError(f"no {lang}-en sentence pairs to align")
    file = _cache_file(pairs, lang, method, seed, cache) if options is None else None
    if file is not None and file.exists():
        kept = paths.read_json(file, how_to_rebuild="Delete it to align the corpus again.")
        kept["words"] = [tuple(w) for w in kept["words"]]
        kept["links"] = [[tuple(link) for link in row] for row in kept["links"]]
        return WordPairs(**kept)
    src_words = words_of([s for s, _ in pairs], lang)
    en_words = words_of([e for _, e in pairs], "en")
    words = list(zip(src_words, en_words, strict=True))
    run = align_statistical(
        words, method=method, symmetrize="intersection", seed=seed, options=options
    )
    links = [one_to_one(row) for row in run.links]
    n_empty = sum(1 for row in links if not row)
    result = WordPairs(
        lang,
        method,
        words,
        links,
        {"no link": n_empty} if n_empty else {},
        round(run.seconds, 2),
    )
    if result.n_links == 0:
        raise ValueError(
            f"{method} found no one-to-one link in {len(pairs)} {lang}-en sentence pairs; "
            "are the two sides translations of each other?"
        )
    if file is not None:
        paths.write_json(file, asdict(result), indent=None)
    return result


def pair_vectors(
    model,
    tokenizer,
    pairs: WordPairs,
    layers: Sequence[int] = (-1,),
    *,
    batch_size: int = 32,
    max_length: int = 128,
) -> dict[int, tuple[Tensor, Tensor]]:
    """Contextual vectors of every link, at each of ``layers``: ``{layer: (src, en)}`` with
    ``src``, ``en`` of shape ``(n, D)``, row ``r`` of both the two words of link ``r``; a word
    is the mean of its subword vectors (Wang et al. 2020). Links to a word the tokenizer drops
    (truncation at ``max_length``, or no subword at all) are left out. Computed without
    gradients, in batches of sentences sorted by length."""
    rows: dict[int, tuple[list[Tensor], list[Tensor]]] = {x: ([], []) for x in layers}
    order = sorted(range(len(pairs.words)), key=lambda k: len(pairs.words[k][0]))
    order = [k for k in order if pairs.links[k]]
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            sides = []
            for side, lang in ((0, pairs.lang), (1, "en")):
                words = [pairs.words[k][side] for k in batch]
                sp = word_spans(tokenizer, words, max_length, lang)
                states = hidden_layers(model, sp.encoding, layers)
                sides.append((words, sp, states))
            for b, k in enumerate(batch):
                where = []
                for words, sp, _ in sides:
                    kept = original_indices(words[b], sp.words[b])
                    where.append({w: n for n, w in enumerate(kept)})
                links = [(i, j) for i, j in pairs.links[k] if i in where[0] and j in where[1]]
                for x, layer in enumerate(layers):
                    for side, (_, sp, states) in enumerate(sides):
                        spans = sp.spans[b]
                        picked = [spans[where[side][link[side]]] for link in links]
                        h = states[x][b]
                        vecs = [h[s : e + 1].mean(0) for s, e in picked]
                        if vecs:
                            rows[layer][side].append(torch.stack(vecs).float())
    out = {}
    for layer, (src, en) in rows.items():
        if not src:
            raise ValueError(f"no {pairs.lang}-en link has both words embedded at layer {layer}")
        out[layer] = (torch.cat(src), torch.cat(en))
    return out


__all__ = ["WordPairs", "align_corpus", "one_to_one", "pair_vectors", "StatisticalOptions"]
