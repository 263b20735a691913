"""Word-alignment precision of OT plans: plans as hard links, judged against a lexicon.

The paper's Section 7 reads the plan ``pi`` of Eq. 1 as a word alignment; we score it. Each
source word is linked to the English word that receives most of its mass (``argmax_j pi_ij``,
"src->en"); the symmetrised variant keeps only mutual links (``i -> j`` and ``j -> i``). A link
is correct when the English word is a FreeDict translation of the source word; links whose
source word is in no lexicon entry are not scored, and links between identical strings
("Linux" -> "Linux") are ignored as trivially easy. FreeDict lists few senses (French "est" is
only "east", "paquet" not "package"), so this is a lower bound on the true precision, and
coverage is low where the dictionary is small (ru: ~1100 entries); it is the *change* under the
same lexicon that we read.

Plans are those of :func:`wordot.ot.transport_plan` with a :class:`~wordot.loss.LossConfig`'s
``cost``, ``eps``, ``reach`` and ``tol`` (its other fields do not apply to a plan); word
vectors those of :func:`wordot.embed.embed_words` with an :class:`~wordot.embed.EmbedConfig`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .. import corpora
from ..embed import EmbedConfig, WordEmbeddings, check_parallel, embed_words, word_spans, words_of
from ..loss import LossConfig
from ..ot import transport_plan
from .common import check_language, frozen

__all__ = [
    "AlignmentCounts",
    "Lexicon",
    "Link",
    "alignment_precision",
    "argmax_links",
    "classify_links",
    "lexicon_match",
    "same_word",
    "score_links",
    "word_links",
]

#: a bilingual lexicon: lower-case source word -> its English translations
Lexicon = Mapping[str, set[str]]
#: a link ``(i, j)``: source word i -> English word j of one sentence pair
Link = tuple[int, int]


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass
class AlignmentCounts:
    """Link counts of one alignment direction. ``links = identical + unscored + scored``."""

    links: int = 0  # links proposed
    identical: int = 0  # source and English word are the same string: ignored
    unscored: int = 0  # source word in no lexicon entry: not scored
    scored: int = 0
    correct: int = 0

    def __add__(self, other: AlignmentCounts) -> AlignmentCounts:
        return AlignmentCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def precision(self) -> float | None:
        """correct / scored (None when nothing was scored)."""
        return _ratio(self.correct, self.scored)

    @property
    def coverage(self) -> float | None:
        """scored / (links - identical): the share of non-trivial links the lexicon can judge."""
        return _ratio(self.scored, self.links - self.identical)


def argmax_links(plan: Tensor, mutual: bool = False) -> list[Link]:
    """Hard links of one plan ``(N, M)`` (no padding): ``(i, argmax_j plan[i, j])`` for every
    source word i, or with ``mutual`` only those where also ``i = argmax_i' plan[i', j]``."""
    if plan.dim() != 2 or plan.numel() == 0:
        raise ValueError(f"plan must be a non-empty (N, M) matrix, got {tuple(plan.shape)}")
    fwd = plan.argmax(1).tolist()
    if not mutual:
        return list(enumerate(fwd))
    bwd = plan.argmax(0).tolist()
    return [(i, j) for i, j in enumerate(fwd) if bwd[j] == i]


def _nfc_lower(word: str, lang: str) -> str:
    return corpora.lower(unicodedata.normalize("NFC", word).replace("\u2019", "'"), lang)


def _english_forms(word: str) -> set[str]:
    """A word and its form without a regular -s/-es/-ies ending (files -> file, libraries ->
    library): running English text and dictionary headwords differ mostly in that."""
    forms = {word}
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
        if word.endswith("ies"):
            forms.add(word[:-3] + "y")
    return forms


def lexicon_match(src_word: str, en_word: str, lexicon: Lexicon, lang: str) -> bool | None:
    """Is ``en_word`` a translation of ``src_word``? None when ``src_word`` is in no entry.

    Normalisations, kept few on purpose: NFC, typographic apostrophe -> ``'``, lower case
    (:func:`wordot.corpora.lower`); on the English side a regular plural/3rd-person ending is
    also removed on both the word and the dictionary's translations (``Dateien`` -> {"files"}
    is correct against "file", ``Spiel`` -> {"game"} against "games"). No source-side stemming:
    a source form the dictionary does not list is not scored, which lowers coverage, not
    precision.
    """
    translations = lexicon.get(_nfc_lower(src_word, lang))
    if not translations:
        return None
    en_forms = _english_forms(_nfc_lower(en_word, "en"))
    return any(en_forms & _english_forms(t) for t in translations)


def same_word(src_word: str, en_word: str, lang: str) -> bool:
    """Whether a source and an English word are the same string (NFC, lower case, typographic
    apostrophe as ASCII): numbers, names, code. Such links are not scored."""
    return _nfc_lower(src_word, lang) == _nfc_lower(en_word, "en")


def classify_links(
    links: Sequence[Link],
    src_words: Sequence[str],
    en_words: Sequence[str],
    lexicon: Lexicon,
    lang: str,
) -> list[str]:
    """The verdict on each link ``(i, j)`` = (source word i, English word j) of one sentence
    pair: ``"identical"`` (same string, not scored), ``"unscored"`` (source word in no lexicon
    entry), ``"correct"`` or ``"wrong"``."""
    out = []
    for i, j in links:
        if not (0 <= i < len(src_words) and 0 <= j < len(en_words)):
            raise ValueError(f"link {(i, j)} outside {len(src_words)} x {len(en_words)} words")
        s, e = src_words[i], en_words[j]
        if same_word(s, e, lang):
            out.append("identical")
            continue
        ok = lexicon_match(s, e, lexicon, lang)
        out.append("unscored" if ok is None else ("correct" if ok else "wrong"))
    return out


def score_links(
    links: Sequence[Link],
    src_words: Sequence[str],
    en_words: Sequence[str],
    lexicon: Lexicon,
    lang: str,
) -> AlignmentCounts:
    """Count the verdicts of :func:`classify_links` on the links of one sentence pair."""
    verdicts = classify_links(links, src_words, en_words, lexicon, lang)
    wrong = verdicts.count("wrong")
    correct = verdicts.count("correct")
    return AlignmentCounts(
        links=len(verdicts),
        identical=verdicts.count("identical"),
        unscored=verdicts.count("unscored"),
        scored=correct + wrong,
        correct=correct,
    )


def _owner_matrix(owners: list[int], n_points: int, n_words: int, like: Tensor) -> Tensor:
    """``O: (n_points, n_words)`` with ``O[p, w] = 1`` when point p belongs to word w."""
    owner = torch.zeros(n_points, n_words, dtype=like.dtype, device=like.device)
    owner[torch.arange(len(owners)), torch.tensor(owners)] = 1.0
    return owner


def word_links(
    src: WordEmbeddings,
    en: WordEmbeddings,
    plan: LossConfig,
    *,
    src_words: list[list[str]] | None = None,
    en_words: list[list[str]] | None = None,
) -> tuple[list[list[Link]], list[list[Link]]]:
    """Argmax and mutual links of each pair of a batch, from the entropic plans ``(B, N, M)``
    with ``plan``'s cost, eps, reach (None: balanced) and tol.

    Points are words, or for ``pooling="subword"`` subwords: then the word-level plan
    ``P = O_src^T pi O_en`` (mass summed over each word's subwords, via ``owners``) is divided
    by the words' masses, ``P_ij / (a_i b_j)``, so that a word split into many subwords does not
    win by its mass alone; ``src_words``/``en_words`` (the kept words) give the word counts.
    With one point per word and uniform weights that division changes no argmax.
    """
    if src.vectors.shape[0] != en.vectors.shape[0]:
        raise ValueError(
            f"mismatched pair counts: {src.vectors.shape[0]} source vs {en.vectors.shape[0]} English"
        )
    words = src_words is not None or en_words is not None
    if words and (src_words is None or en_words is None or not src.owners or not en.owners):
        raise ValueError("word-level plans need src_words, en_words and both owners")
    x, a, y, b = src.vectors, src.weights, en.vectors, en.weights
    plans = transport_plan(x, y, a, b, eps=plan.eps, cost=plan.cost, reach=plan.reach, tol=plan.tol)
    fwd, mutual = [], []
    for k in range(plans.shape[0]):
        n, m = int(src.mask[k].sum()), int(en.mask[k].sum())
        pi = plans[k, :n, :m]
        if words:
            assert src_words is not None and en_words is not None
            Os = _owner_matrix(src.owners[k], n, len(src_words[k]), pi)
            Oe = _owner_matrix(en.owners[k], m, len(en_words[k]), pi)
            mass_s, mass_e = a[k, :n] @ Os, b[k, :m] @ Oe
            pi = (Os.T @ pi @ Oe) / (mass_s[:, None] * mass_e[None, :])
        fwd.append(argmax_links(pi))
        mutual.append(argmax_links(pi, mutual=True))
    return fwd, mutual


def _kept_words(tokenizer, sentences: list[str], lang: str, max_length: int) -> list[list[str]]:
    return word_spans(tokenizer, words_of(sentences, lang), max_length).words


def _batch_counts(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    plan: LossConfig,
    embed: EmbedConfig,
    lexicon: Lexicon,
) -> tuple[AlignmentCounts, AlignmentCounts]:
    """Counts of the argmax and of the mutual links of one batch of pairs."""
    src_s = [p[0] for p in pairs]
    en_s = [p[1] for p in pairs]
    es = embed_words(model, tokenizer, src_s, lang, embed)
    ee = embed_words(model, tokenizer, en_s, "en", embed)
    if embed.pooling == "subword":
        sw = _kept_words(tokenizer, src_s, lang, embed.max_length)
        ew = _kept_words(tokenizer, en_s, "en", embed.max_length)
        links_f, links_m = word_links(es, ee, plan, src_words=sw, en_words=ew)
    else:
        sw, ew = es.words, ee.words
        links_f, links_m = word_links(es, ee, plan)
    fwd, mut = AlignmentCounts(), AlignmentCounts()
    for b in range(len(pairs)):
        fwd += score_links(links_f[b], sw[b], ew[b], lexicon, lang)
        mut += score_links(links_m[b], sw[b], ew[b], lexicon, lang)
    return fwd, mut


def alignment_precision(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    plan: LossConfig,
    embed: EmbedConfig = EmbedConfig(),
    *,
    lexicon: Lexicon | None = None,
    corpora_dir: str | Path | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, Any]:
    """Precision of the OT word alignments of ``pairs`` (source, English) against a lexicon.

    Word vectors come from :func:`wordot.embed.embed_words` with ``embed`` (as in training),
    plans from :func:`word_links` with ``plan`` (one per pair, batched). ``lexicon`` defaults
    to :func:`wordot.corpora.load_lexicon` from ``corpora_dir`` (default: the corpora cache).
    Returns ``precision``, ``scored``, ``coverage``, ``correct``, ``links``, ``identical`` for
    src->en argmax links and the same with suffix ``_mutual`` for the symmetrised
    (intersection) links, plus ``pairs``.
    """
    check_language(lang)
    if not pairs:
        raise ValueError(f"no pairs given for {lang}")
    if lexicon is None:
        lexicon = corpora.load_lexicon(lang, cache=corpora_dir)
    if not lexicon:
        raise ValueError(f"the lexicon for {lang} is empty")
    check_parallel([p[0] for p in pairs], [p[1] for p in pairs])
    # length-sorted batches: less padding in the encoder and in the plans
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    fwd, mut = AlignmentCounts(), AlignmentCounts()
    starts = range(0, len(order), batch_size)
    with frozen(model):
        for start in tqdm(starts, desc=f"align {lang}", disable=not progress, leave=False):
            batch = [pairs[i] for i in order[start : start + batch_size]]
            f, m = _batch_counts(model, tokenizer, batch, lang, plan, embed, lexicon)
            fwd, mut = fwd + f, mut + m
    out: dict[str, Any] = {"pairs": len(pairs)}
    for suffix, c in (("", fwd), ("_mutual", mut)):
        out.update(
            {
                f"precision{suffix}": c.precision,
                f"scored{suffix}": c.scored,
                f"coverage{suffix}": c.coverage,
                f"correct{suffix}": c.correct,
                f"links{suffix}": c.links,
                f"identical{suffix}": c.identical,
            }
        )
    return out
