"""Statistical word aligners as a peer row: eflomal and fast_align, through PyPI ``sil-thot``.

The unsupervised statistical aligners that neural aligners are compared with (awesome-align,
SimAlign): **eflomal** (Östling and Tiedemann 2016; Bayesian IBM1 -> HMM -> fertility, Gibbs
sampling) and **fast_align** (Dyer et al. 2013; a reparameterised IBM2 favouring the diagonal,
variational Bayes). Both come from ``sil-thot`` (SIL's Thot toolkit, a binary wheel; its models
run in memory, so nothing is written to disk and nothing is cached).

The standard protocol of these aligners: they are trained **on the test sentences themselves**
plus any more parallel text (``train_pairs``), then the alignments of the test sentences are
read off the training run. Each model is trained twice, source -> English (each English word
aligned to at most one source word) and English -> source, and the two are symmetrised:

* ``"intersection"``: links both directions agree on (high precision);
* ``"grow-diag-final-and"`` (Koehn et al. 2003; Moses, fast_align's ``atools``): start from the
  intersection, repeatedly add union links that neighbour (8 directions) an accepted link and
  touch a word not yet aligned, then add the remaining links of each direction whose two words
  are both unaligned. It always contains the intersection and lies inside the union.

Words are lowercased (``options.lowercase``, as eflomal's own reader does) and mapped to id
tokens before they reach Thot, so Thot never sees a raw word (its file formats reserve ``|||``;
ja-en has U+3000 as a word of its own). eflomal's links are the samples of its last training
sweep (``emit_training_alignments``), which is what the ``eflomal`` command writes: re-decoding
the same sentences with ``get_best_alignment`` was measured 0.7 AER points worse on en-fr.

Measured (sil-thot 3.5.3, eflomal, seed 0; AER grow-diag-final-and / intersection, in points;
"alone" = trained on the test sentences only, "+N" = plus N offline pairs of
:func:`wordot.corpora.offline_pairs` tokenised by :func:`tokenize_pairs`):

===============  ==============  =====================  ==============================
set              alone           with offline pairs      awesome-align's anchor (eflomal)
===============  ==============  =====================  ==============================
en-fr (447)      17.1 / 16.0     +59,364: 11.8 / 9.6     8.2
ro-en (248)      37.9 / 39.6                             25.1
zh-en (450)      32.9 / 33.6                             28.7
ja-en (582)      57.4 / 60.5                             47.5
XL-WA es (245)   31.4 / 32.6     +34,010: 21.4 / 21.5
XL-WA bg (245)   27.1 / 27.3     +285: 27.6 / 27.1
de-en Biçici     41.4 / 41.5     +35,061: 24.8 / 24.4
===============  ==============  =====================  ==============================

The anchors were trained on far more parallel text than the test sentences (hence the gaps on
ro, zh, ja, where no offline corpus exists). fast_align is 4-18 points worse on every set (en-fr
+59,364: 21.4 / 17.6). On the XL-WA dev splits (es + bg, with their offline pairs) the two
symmetrisations are within a point of each other; grow-diag-final-and, the usual choice, is the
default. The ``eflomal`` 2.0.0 package, run on the same sets, is worse on 11 of 15 rows (by up
to 3.2 points; better by up to 1.5) in about half the time; it is not used: it seeds its sampler
from ``/dev/urandom`` (no seed; runs differ), builds from source with Cython, and has had no
release since 2024. Time, both directions on one core: 7.5 s for en-fr alone, 124 s with
59,364 more pairs, 187 s for XL-WA es + 34,010 (long Bible verses); fast_align 0.3 s, 72 s, 71 s.
Thot holds the GIL while it trains, so threads would not run the two directions in parallel.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from ..embed import moses_words
from .gold import Link, check_word_pairs

__all__ = [
    "StatMethod",
    "Symmetrization",
    "STAT_METHODS",
    "SYMMETRIZATIONS",
    "StatisticalOptions",
    "StatisticalRun",
    "AlignerNotInstalledError",
    "statistical_alignments",
    "align_statistical",
    "symmetrize_links",
    "grow_diag_final_and",
    "tokenize_pairs",
]

StatMethod = Literal["eflomal", "fast_align"]
Symmetrization = Literal["grow-diag-final-and", "intersection"]
STAT_METHODS: tuple[str, ...] = ("eflomal", "fast_align")
SYMMETRIZATIONS: tuple[str, ...] = ("grow-diag-final-and", "intersection")

#: the 8 neighbours of a link (Koehn et al. 2003's grow-diag)
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))

Pair = tuple[Sequence[str], Sequence[str]]


class AlignerNotInstalledError(ImportError):
    """The statistical aligner's package (``sil-thot``) is not installed."""


@dataclass(frozen=True)
class StatisticalOptions:
    """How :func:`align_statistical` trains, beyond ``method``, ``symmetrize`` and ``seed``.

    ``lowercase``: compare words lowercased. ``iterations``: for fast_align, EM iterations
    (None = 4, Thot's and SIL Machine's default; fast_align's own is 5); for eflomal,
    ``(ibm1, hmm, fertility)`` sweeps (None = eflomal's corpus-scaled schedule
    ``(s/4, s/4, s)`` with ``s = 5000 / sqrt(n_pairs)``: 354 sweeps for 447 pairs, 39 for
    34,255). ``samplers``: eflomal's independent Gibbs samplers (3, its default).
    ``null_prior``: the NULL-link prior (None = Thot's default: 0.2 for eflomal, 0.08 for
    fast_align). ``max_words``: the longest sentence in words (Thot's limit is 1024); longer
    training pairs are skipped and counted, longer test pairs raise.
    """

    lowercase: bool = True
    iterations: int | tuple[int, int, int] | None = None
    samplers: int = 3
    null_prior: float | None = None
    max_words: int = 1024

    def __post_init__(self) -> None:
        it = self.iterations
        if isinstance(it, tuple) and (len(it) != 3 or any(int(x) < 0 for x in it)):
            raise ValueError(f"iterations must be (ibm1, hmm, fertility) >= 0, got {it!r}")
        if isinstance(it, int) and it < 1:
            raise ValueError(f"iterations must be >= 1, got {it!r}")
        if self.samplers < 1:
            raise ValueError(f"samplers must be >= 1, got {self.samplers!r}")
        if self.null_prior is not None and not 0.0 < self.null_prior < 1.0:
            raise ValueError(f"null_prior must be in (0, 1), got {self.null_prior!r}")
        if self.max_words < 1:
            raise ValueError(f"max_words must be >= 1, got {self.max_words!r}")


@dataclass
class StatisticalRun:
    """What :func:`align_statistical` returns.

    ``links``: per test pair the symmetrised links ``(source_index, english_index)``;
    ``forward``/``reverse``: the links of the source -> English and English -> source models
    (same orientation); ``n_test``/``n_train``: pairs trained on (test pairs, extra pairs);
    ``skipped``: extra pairs left out, by reason (``"empty"``, ``"too long"``); ``seconds``:
    wall time of the two trainings.
    """

    links: list[set[Link]]
    forward: list[set[Link]]
    reverse: list[set[Link]]
    n_test: int
    n_train: int
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _thot() -> ModuleType:
    """``thot.alignment`` (sil-thot), imported on first use: an optional peer dependency."""
    try:
        import thot.alignment as ta  # heavy optional dependency, only for this peer row
    except ImportError as err:
        raise AlignerNotInstalledError(
            "the statistical aligners need the PyPI package sil-thot: pip install sil-thot "
            "(a binary wheel; see environment.yml)"
        ) from err
    return ta


def _usable_train_pairs(pairs: Iterable[Pair], max_words: int) -> tuple[list[Pair], dict[str, int]]:
    """The extra training pairs the aligner can take, and the count of the others by reason."""
    kept: list[Pair] = []
    skipped = {"empty": 0, "too long": 0}
    for src, en in pairs:
        if isinstance(src, str) or isinstance(en, str):
            raise TypeError("train_pairs must hold (source_words, english_words) word lists")
        src = [w for w in src if w]
        en = [w for w in en if w]
        if not src or not en:
            skipped["empty"] += 1
        elif len(src) > max_words or len(en) > max_words:
            skipped["too long"] += 1
        else:
            kept.append((src, en))
    return kept, {k: v for k, v in skipped.items() if v}


class _Vocab:
    """Words -> id tokens ``"w<n>"`` (lowercased if asked): Thot never sees a raw word."""

    def __init__(self, lowercase: bool) -> None:
        self.lowercase = lowercase
        self.ids: dict[str, str] = {}

    def __call__(self, words: Sequence[str]) -> list[str]:
        out = []
        for w in words:
            key = w.lower() if self.lowercase else w
            out.append(self.ids.setdefault(key, f"w{len(self.ids)}"))
        return out


def _model(method: str, seed: int, options: StatisticalOptions) -> Any:
    """A fresh Thot model (``thot.alignment.EflomalAlignmentModel`` or ``FastAlignModel``)."""
    ta = _thot()
    if method == "eflomal":
        m = ta.EflomalAlignmentModel()
        m.seed = seed
        m.deterministic = True  # the same seed gives the same links
        m.num_samplers = options.samplers
        if isinstance(options.iterations, tuple):
            m.set_iterations(*(int(x) for x in options.iterations))
        if options.null_prior is not None:
            m.p0 = options.null_prior
    else:
        m = ta.FastAlignModel()
        m.variational_bayes = True  # fast_align -v, as SIL Machine trains it
        if options.null_prior is not None:
            m.fast_align_p0 = options.null_prior
    return m


def _train_one_direction(
    sides: list[tuple[list[str], list[str]]],
    n_test: int,
    method: str,
    seed: int,
    options: StatisticalOptions,
) -> list[set[Link]]:
    """Train on ``sides`` (given-side ids, generated-side ids) and return the links
    ``(given_index, generated_index)`` of the first ``n_test`` pairs."""
    m = _model(method, seed, options)
    for given, generated in sides:
        m.add_sentence_pair(given, generated)
    m.emit_training_alignments = True
    n = m.start_training()
    if n != len(sides):
        raise RuntimeError(f"the aligner took {n} of {len(sides)} sentence pairs")
    if method == "eflomal":
        sweeps = m.scheduled_iterations
    else:
        sweeps = options.iterations if isinstance(options.iterations, int) else 4
    for _ in range(sweeps):
        m.train()
    m.end_training()
    out = []
    for k in range(n_test):
        matrix = m.get_training_alignment(k)[1].to_numpy()  # (given, generated)
        out.append({(int(i), int(j)) for i, j in zip(*matrix.nonzero(), strict=True)})
    m.clear()
    return out


def grow_diag_final_and(forward: Iterable[Link], reverse: Iterable[Link]) -> set[Link]:
    """grow-diag-final-and of one pair's two directional alignments, both given as
    ``(source_index, english_index)`` links, as fast_align's ``atools`` computes it.

    Start from the intersection; then, pass after pass until one adds nothing, visit the union
    links not yet accepted in ``(source, english)`` order and accept each that has an accepted
    neighbour (8 directions) and a word not yet aligned on one side or both; then visit the
    links of ``forward``, then of ``reverse``, in the same order and accept each whose source
    and English words are both unaligned.
    """
    fwd, rev = set(forward), set(reverse)
    links = fwd & rev
    src_done = {i for i, _ in links}
    en_done = {j for _, j in links}

    def accept(i: int, j: int) -> None:
        links.add((i, j))
        src_done.add(i)
        en_done.add(j)

    candidates = sorted((fwd | rev) - links)
    grew = True
    while grew and candidates:  # grow-diag
        grew = False
        for i, j in candidates:
            one_free = i not in src_done or j not in en_done
            if one_free and any((i + di, j + dj) in links for di, dj in _NEIGHBOURS):
                accept(i, j)
                grew = True
        candidates = [c for c in candidates if c not in links]
    for direction in (fwd, rev):  # final-and
        for i, j in sorted(direction):
            if i not in src_done and j not in en_done:
                accept(i, j)
    return links


def symmetrize_links(
    forward: Iterable[Link], reverse: Iterable[Link], how: Symmetrization
) -> set[Link]:
    """One pair's links from its two directional alignments: ``"intersection"`` or
    ``"grow-diag-final-and"`` (:func:`grow_diag_final_and`)."""
    if how == "intersection":
        return set(forward) & set(reverse)
    if how == "grow-diag-final-and":
        return grow_diag_final_and(forward, reverse)
    raise ValueError(f"unknown symmetrization {how!r}; choose one of {SYMMETRIZATIONS}")


def align_statistical(
    pairs: Sequence[Pair],
    *,
    train_pairs: Iterable[Pair] = (),
    method: StatMethod = "eflomal",
    symmetrize: Symmetrization = "grow-diag-final-and",
    seed: int = 0,
    options: StatisticalOptions | None = None,
) -> StatisticalRun:
    """Train ``method`` on the test ``pairs`` plus ``train_pairs`` in both directions and
    symmetrise: the links of each test pair, with the directional links, sizes and time.

    ``pairs``/``train_pairs``: ``(source_words, english_words)`` pre-tokenised. A test pair
    with an empty side, an empty word or more than ``options.max_words`` words raises
    ValueError naming it. Training pairs lose their empty words; those left with an empty side
    or too long are skipped and counted in ``skipped``.
    """
    if method not in STAT_METHODS:
        raise ValueError(f"unknown statistical aligner {method!r}; choose one of {STAT_METHODS}")
    if symmetrize not in SYMMETRIZATIONS:
        raise ValueError(f"unknown symmetrization {symmetrize!r}; choose one of {SYMMETRIZATIONS}")
    options = options or StatisticalOptions()
    if isinstance(options.iterations, int) and method == "eflomal":
        raise ValueError("eflomal takes iterations=(ibm1, hmm, fertility), not one number")
    if isinstance(options.iterations, tuple) and method == "fast_align":
        raise ValueError("fast_align takes one number of iterations, not a tuple")
    check_word_pairs(pairs, what="test pair", max_words=options.max_words)
    extra, skipped = _usable_train_pairs(train_pairs, options.max_words)
    src_vocab, en_vocab = _Vocab(options.lowercase), _Vocab(options.lowercase)
    corpus = [(src_vocab(s), en_vocab(e)) for s, e in [*pairs, *extra]]
    start = time.perf_counter()
    forward = _train_one_direction(corpus, len(pairs), method, seed, options)
    swapped = [(e, s) for s, e in corpus]
    reverse = [
        {(i, j) for j, i in links}
        for links in _train_one_direction(swapped, len(pairs), method, seed, options)
    ]
    seconds = time.perf_counter() - start
    links = [symmetrize_links(f, r, symmetrize) for f, r in zip(forward, reverse, strict=True)]
    return StatisticalRun(links, forward, reverse, len(pairs), len(extra), skipped, seconds)


def statistical_alignments(
    pairs: Sequence[Pair],
    *,
    train_pairs: Iterable[Pair] = (),
    method: StatMethod = "eflomal",
    symmetrize: Symmetrization = "grow-diag-final-and",
    seed: int = 0,
    options: StatisticalOptions | None = None,
) -> list[set[Link]]:
    """Word links of each ``(source_words, english_words)`` test pair from a statistical
    aligner trained on them plus ``train_pairs`` (see :func:`align_statistical`, which also
    returns the directional links, the training sizes, the skipped pairs and the time).

    Returns one set of 0-indexed ``(source_index, english_index)`` per pair, like
    :func:`wordot.align.word_alignments`.
    """
    run = align_statistical(
        pairs,
        train_pairs=train_pairs,
        method=method,
        symmetrize=symmetrize,
        seed=seed,
        options=options,
    )
    return run.links


def tokenize_pairs(
    pairs: Iterable[tuple[str, str]], lang: str
) -> list[tuple[list[str], list[str]]]:
    """``(source, english)`` sentences -> word lists with the Moses tokenizer
    (:func:`wordot.embed.moses_words`), e.g. for ``wordot.corpora.offline_pairs(lang)`` as
    ``train_pairs``. Moses does not segment Chinese or Japanese: use it for spaced scripts."""
    return [(moses_words(src, lang), moses_words(en, "en")) for src, en in pairs]
