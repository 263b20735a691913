"""Preparing parallel data for training (Sections 5.1-5.2 of the paper) and holding some out.

The paper's preparation of one language, in order (:func:`prepare_language`): the pairs
training could not embed are left out (:func:`~wordot.data.corpus.pair_problem`, the rule of
:func:`wordot.embed.embed_words`), a length filter in the style of Moses ``clean-corpus-n``
(:func:`filter_length`, with bounds on characters against junk lines), :func:`deduplicate`,
:func:`shuffle` (the corpora are in chronological order), then :func:`take_pairs`: 250K pairs
per language, upsampled where fewer are available. What each step removed is counted by reason
in :attr:`SampleInfo.removed` and logged. :func:`train_dev_split` splits without leaking
duplicates into dev.

Training draws one equal-sized batch per language per step (:func:`language_batches`, Section
5.2), deterministic by seed and resumable from any step. :func:`held_out_pairs` picks pairs for
before/after comparisons. Every random choice comes from :func:`~wordot.data.corpus.seeded_rng`
keyed by the seed, the language and the purpose, so the steps are independent of each other.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import corpora as offline_corpora
from ..languages import NO_SPACE
from .corpus import ParallelCorpus, normalize_space, pair_problem, seeded_rng
from .smoke import smoke_corpus
from .sources import load_corpora

__all__ = [
    "PAIRS_PER_LANGUAGE",
    "MAX_CHARS",
    "MAX_WORD_CHARS",
    "Batch",
    "SampleInfo",
    "filter_length",
    "deduplicate",
    "shuffle",
    "take_pairs",
    "train_dev_split",
    "prepare_language",
    "steps_per_epoch",
    "language_batches",
    "held_out_pairs",
]

log = logging.getLogger(__name__)

#: pairs per language the paper trains on (upsampled where fewer are available)
PAIRS_PER_LANGUAGE = 250_000

#: characters a side of a pair may have (:func:`prepare_language`). ``max_words`` bounds the
#: words, not their length: 1000 characters is 80 words of 12.5 characters on average, far
#: above natural text, while a 100k-character line is a document or junk, and the source side
#: of a language without spaces is not bounded by words at all
MAX_CHARS = 1000
#: characters a word (between spaces) may have: BERT's WordPiece reads a longer word as [UNK]
#: (its ``max_input_chars_per_word`` is 100), and under a SentencePiece vocabulary it can take
#: a subword per character, so a longer first word (a URL, base64, text without spaces) could
#: fill the whole ``max_length`` window and leave the sentence no word to embed. This includes
#: sentences of languages written without spaces (zh, th): Moses leaves them one word, and a
#: Chinese one of more than ``max_length - 2`` characters does not fit (mBERT: one subword per
#: character) and makes :func:`wordot.embed.embed_words` fail
MAX_WORD_CHARS = 100

#: one training step's data: ``{lang: (source sentences, English sentences)}``
Batch = dict[str, tuple[list[str], list[str]]]


def _drop(
    corpus: ParallelCorpus, problem: Callable[[str, str], str | None]
) -> tuple[ParallelCorpus, Counter[str]]:
    """The pairs of ``corpus`` for which ``problem(src, en)`` is None, and the others' reasons
    counted."""
    keep, why = [], Counter()
    for i, (s, e) in enumerate(corpus):
        reason = problem(s, e)
        if reason is None:
            keep.append(i)
        else:
            why[reason] += 1
    return corpus.select(keep), why


def _length_problem(
    s: str,
    e: str,
    *,
    min_words: int,
    max_words: int | None,
    max_ratio: float | None,
    src_has_spaces: bool,
    max_chars: int | None,
    max_word_chars: int | None,
) -> str | None:
    """Why :func:`filter_length` drops the pair ``(s, e)``, or None."""
    if max_chars is not None and max(len(s), len(e)) > max_chars:
        return f"longer than {max_chars} characters"
    sides = (e.split(), s.split()) if src_has_spaces else (e.split(),)
    counts = [len(words) for words in sides]
    if any(n < min_words or (max_words is not None and n > max_words) for n in counts):
        return "too few or too many words"
    if not src_has_spaces and not s.strip():
        return "too few or too many words"
    if src_has_spaces and max_ratio is not None and max(counts) > max_ratio * min(counts):
        return f"word-count ratio above {max_ratio}"
    if max_word_chars is not None and any(
        len(w) > max_word_chars for w in (*e.split(), *s.split())
    ):
        return f"a word longer than {max_word_chars} characters"
    return None


def _filter_length(
    corpus: ParallelCorpus, src_has_spaces: bool | None = None, **bounds: Any
) -> tuple[ParallelCorpus, Counter[str]]:
    """:func:`filter_length` and the reasons of what it dropped, counted."""
    spaces = corpus.lang not in NO_SPACE if src_has_spaces is None else src_has_spaces
    return _drop(corpus, partial(_length_problem, src_has_spaces=spaces, **bounds))


def filter_length(
    corpus: ParallelCorpus,
    *,
    min_words: int = 1,
    max_words: int | None = None,
    max_ratio: float | None = None,
    src_has_spaces: bool | None = None,
    max_chars: int | None = None,
    max_word_chars: int | None = None,
) -> ParallelCorpus:
    """Keep pairs whose sides have ``min_words``..``max_words`` whitespace-separated words and
    whose word-count ratio (longer/shorter) is at most ``max_ratio`` (Moses ``clean-corpus-n``),
    with at most ``max_chars`` characters a side and ``max_word_chars`` a word.

    For languages written without spaces (:data:`wordot.languages.NO_SPACE`, e.g. zh, th;
    override with ``src_has_spaces``) the source side is only required to be non-empty (and
    within ``max_chars`` and ``max_word_chars``) and the ratio is not checked: its word count
    would be 1.
    """
    return _filter_length(
        corpus,
        src_has_spaces,
        min_words=min_words,
        max_words=max_words,
        max_ratio=max_ratio,
        max_chars=max_chars,
        max_word_chars=max_word_chars,
    )[0]


def deduplicate(
    corpus: ParallelCorpus, by: Literal["pair", "src", "en"] = "pair"
) -> ParallelCorpus:
    """Drop repeated pairs (or repeated source / English sentences), keeping the first.

    Sentences are compared after :func:`normalize_space`.
    """
    if by not in ("pair", "src", "en"):
        raise ValueError(f"by must be 'pair', 'src' or 'en', got {by!r}")
    seen: set[Any] = set()
    keep = []
    for i, (s, e) in enumerate(corpus):
        key: Any = {"pair": (s, e), "src": s, "en": e}[by]
        key = tuple(normalize_space(k) for k in key) if by == "pair" else normalize_space(key)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return corpus.select(keep)


def shuffle(corpus: ParallelCorpus, seed: int) -> ParallelCorpus:
    """The pairs in a random order determined by ``seed`` (and the language)."""
    return corpus.select(seeded_rng(seed, corpus.lang, "shuffle").permutation(len(corpus)))


@dataclass(frozen=True)
class SampleInfo:
    """What :func:`take_pairs` did: ``requested`` pairs drawn from ``available`` ones; from
    :func:`prepare_language` also ``removed``: pairs left out before, ``{reason: count}``."""

    lang: str
    available: int
    requested: int
    removed: dict[str, int] = field(default_factory=dict, hash=False)

    @property
    def upsampled(self) -> bool:
        return self.requested > self.available

    @property
    def passes(self) -> int:
        """How many times the data was gone through (1 unless upsampled)."""
        return max(1, math.ceil(self.requested / self.available)) if self.available else 0

    @property
    def min_copies(self) -> int:
        """Fewest times any available pair occurs in the sample."""
        return self.requested // self.available if self.available else 0

    @property
    def max_copies(self) -> int:
        """Most times any available pair occurs in the sample."""
        return math.ceil(self.requested / self.available) if self.available else 0

    def __str__(self) -> str:
        if not self.upsampled:
            text = f"{self.lang}: {self.requested} of {self.available} pairs"
        else:
            text = (
                f"{self.lang}: {self.requested} pairs upsampled from {self.available} "
                f"(x{self.requested / self.available:.2f}; every pair {self.min_copies}-"
                f"{self.max_copies} times)"
            )
        if self.removed:
            text += f"; removed before: {_reasons(self.removed)}"
        return text


def _reasons(counts: Mapping[str, int]) -> str:
    """``12 duplicate, 1 longer than 1000 characters``: counts by reason, most first."""
    return ", ".join(f"{n} {why}" for why, n in Counter(counts).most_common())


def take_pairs(
    corpus: ParallelCorpus, n: int = PAIRS_PER_LANGUAGE, seed: int = 0
) -> tuple[ParallelCorpus, SampleInfo]:
    """``n`` pairs in random order: a random subset if there are enough, else upsampled.

    Upsampling concatenates independent random permutations of all pairs and cuts at ``n``,
    so every pair occurs ``n // len`` or ``ceil(n / len)`` times and no pair repeats within a
    pass. Deterministic given ``seed`` and the language.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    m = len(corpus)
    if m == 0 and n > 0:
        raise ValueError(f"{corpus.lang}: cannot take {n} pairs from an empty corpus")
    rng = seeded_rng(seed, corpus.lang, "take")
    passes = math.ceil(n / m) if m else 0
    order = np.concatenate([rng.permutation(m) for _ in range(passes)] or [np.zeros(0, int)])
    info = SampleInfo(corpus.lang, m, n)
    out = corpus.select(order[:n])
    out.source = _label(corpus.source, info)
    return out, info


def _label(source: str, info: SampleInfo) -> str:
    return f"{source} [{info}]" if source else str(info)


def train_dev_split(
    corpus: ParallelCorpus, dev_size: int | float, seed: int = 0
) -> tuple[ParallelCorpus, ParallelCorpus]:
    """Random (train, dev) split; ``dev_size`` is a count or a fraction in (0, 1).

    A training pair identical (after :func:`normalize_space`) to a dev pair is removed from
    train, so duplicated data cannot leak into dev.
    """
    m = len(corpus)
    k = int(round(dev_size * m)) if isinstance(dev_size, float) else int(dev_size)
    if isinstance(dev_size, float) and not 0 < dev_size < 1:
        raise ValueError(f"a fractional dev_size must be in (0, 1), got {dev_size}")
    if not 0 <= k <= m:
        raise ValueError(f"{corpus.lang}: dev_size {dev_size} does not fit {m} pairs")
    order = seeded_rng(seed, corpus.lang, "split").permutation(m)
    dev_idx, train_idx = order[:k], order[k:]
    dev = corpus.select(dev_idx, source=f"{corpus.source} [dev]")
    dev_keys = {(normalize_space(s), normalize_space(e)) for s, e in dev}
    train_keep = [
        i
        for i in train_idx
        if (normalize_space(corpus.src[i]), normalize_space(corpus.en[i])) not in dev_keys
    ]
    train = corpus.select(train_keep, source=f"{corpus.source} [train]")
    return train, dev


def prepare_language(
    corpus: ParallelCorpus,
    n_pairs: int = PAIRS_PER_LANGUAGE,
    seed: int = 0,
    *,
    min_words: int = 1,
    max_words: int | None = 80,
    max_ratio: float | None = 9.0,
    max_chars: int | None = MAX_CHARS,
    max_word_chars: int | None = MAX_WORD_CHARS,
) -> tuple[ParallelCorpus, SampleInfo]:
    """The paper's preparation of one language: pairs training could not embed left out
    (:func:`~wordot.data.corpus.pair_problem`), length filter, deduplication, shuffle (to
    break chronological order) and ``n_pairs`` pairs, upsampled where fewer remain.

    Defaults of the filter are those of Moses ``clean-corpus-n`` as commonly run (1-80 words,
    ratio 9; the paper does not state its own), plus :data:`MAX_CHARS` and
    :data:`MAX_WORD_CHARS` against junk lines. What was removed is counted by reason in
    ``SampleInfo.removed`` and logged (a warning for pairs training could not embed).
    """
    usable, unusable = _drop(corpus, pair_problem)
    if unusable:
        log.warning(
            "%s: left out %s (training could not embed them)", corpus.lang, _reasons(unusable)
        )
    kept, removed = _filter_length(
        usable,
        min_words=min_words,
        max_words=max_words,
        max_ratio=max_ratio,
        max_chars=max_chars,
        max_word_chars=max_word_chars,
    )
    unique = deduplicate(kept)
    removed = unusable + removed + Counter({"duplicate": len(kept) - len(unique)})
    out, info = take_pairs(shuffle(unique, seed), n_pairs, seed)
    if removed:
        info = dataclasses.replace(info, removed=dict(removed))
        out.source = _label(corpus.source, info)
        log.info("%s: removed %s before sampling", corpus.lang, _reasons(removed))
    return out, info


# --------------------------------------------------------------------------------------------
# batching (Section 5.2)
# --------------------------------------------------------------------------------------------


def steps_per_epoch(corpora: Mapping[str, ParallelCorpus], batch_size: int) -> int:
    """Steps in one epoch: the smallest corpus divided by ``batch_size`` (rest dropped)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not corpora:
        raise ValueError("no corpora")
    small = min(corpora, key=lambda k: len(corpora[k]))
    if len(corpora[small]) < batch_size:
        raise ValueError(
            f"{small} has {len(corpora[small])} pairs, fewer than batch_size {batch_size}; "
            "upsample it first (take_pairs)"
        )
    return len(corpora[small]) // batch_size


def language_batches(
    corpora: Mapping[str, ParallelCorpus],
    batch_size: int,
    seed: int = 0,
    *,
    epochs: int = 1,
    start_step: int = 0,
    bucket: int = 0,
) -> Iterator[Batch]:
    """One ``{lang: (src_list, en_list)}`` batch per step, ``batch_size`` pairs per language.

    Every epoch each language is drawn in a fresh random order (determined by ``seed``, the
    language and the epoch) and has :func:`steps_per_epoch` steps, so no pair repeats within an
    epoch. ``start_step=k`` yields exactly the batches an uninterrupted run yields from step k
    on (steps count from 0 across epochs), which is what resuming a run needs.

    ``bucket=m > 1`` groups pairs of similar length (:func:`bucketed_order`): padding then
    costs little, and the batches keep a random order and random membership beyond length.
    """
    spe = steps_per_epoch(corpora, batch_size)
    total = spe * epochs
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0, got {start_step}")
    order: dict[str, np.ndarray] = {}
    epoch_of_order = -1
    for step in range(start_step, total):
        epoch, t = divmod(step, spe)
        if epoch != epoch_of_order:
            order = {
                lang: bucketed_order(c, spe * batch_size, batch_size, bucket, seed, lang, epoch)
                for lang, c in corpora.items()
            }
            epoch_of_order = epoch
        batch: Batch = {}
        for lang, c in corpora.items():
            idx = order[lang][t * batch_size : (t + 1) * batch_size]
            batch[lang] = ([c.src[i] for i in idx], [c.en[i] for i in idx])
        yield batch


def bucketed_order(
    corpus: ParallelCorpus, n: int, batch_size: int, bucket: int, seed: int, lang: str, epoch: int
) -> np.ndarray:
    """The order of ``corpus`` in ``epoch`` (its first ``n`` positions make the batches).

    ``bucket <= 1``: a random permutation. Otherwise the permutation is cut into windows of
    ``bucket * batch_size`` pairs; inside a window the pairs are sorted by length (characters
    of the longer side, a proxy of the padded token length), cut into batches, and the batches
    of the whole epoch are shuffled, as length-grouped samplers do (transformers'
    ``group_by_length``).
    """
    rng = seeded_rng(seed, lang, "epoch", epoch)
    perm = rng.permutation(len(corpus))
    if bucket <= 1:
        return perm
    used, rest = perm[:n], perm[n:]
    length = np.array([max(len(corpus.src[i]), len(corpus.en[i])) for i in used])
    width = bucket * batch_size
    sorted_used = np.concatenate(
        [
            used[w : w + width][np.argsort(-length[w : w + width], kind="stable")]
            for w in range(0, len(used), width)
        ]
    )
    batches = sorted_used.reshape(-1, batch_size)
    return np.concatenate([batches[rng.permutation(len(batches))].ravel(), rest])


def held_out_pairs(
    lang: str, k: int, corpus: str = "offline", seed: int = 0, cache: str | Path | None = None
) -> list[tuple[str, str]]:
    """``k`` random ``(src, en)`` pairs of ``lang`` for before/after comparisons, in corpus order.

    ``offline``: the test split of :func:`wordot.corpora.offline_pairs` (never trained on), read
    from the corpora directory ``cache`` (default :func:`wordot.corpora.corpora_dir`);
    ``smoke``: the shipped pairs (which smoke training also uses: a pipeline check only);
    ``hub`` (or a local path): the first ``50 * k`` rows of the corpus, which training may also draw.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if corpus == "offline":
        pool = offline_corpora.offline_pairs(lang, "test", cache=cache)
    elif corpus == "smoke":
        pool = list(smoke_corpus(lang))
    else:
        pool = list(load_corpora([lang], corpus, limit=50 * k)[lang])
    if not pool:
        raise ValueError(f"no {corpus} pairs for {lang}-en to hold out")
    rng = np.random.default_rng([seed, k])
    return [pool[i] for i in sorted(rng.choice(len(pool), size=min(k, len(pool)), replace=False))]
