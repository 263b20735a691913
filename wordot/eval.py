"""Evaluation of an encoder's cross-lingual alignment: before vs after OT fine-tuning.

Three measurements, each a plain function, and :func:`evaluate_all` that runs them into one flat,
JSON-serialisable record (fractions in [0, 1]; ``None`` where a metric is undefined):

* **word-alignment precision** (:func:`alignment_precision`): the paper's Section 7 looks at the
  plan ``pi`` of Eq. 1 as a word alignment; we score it. Each source word is linked to the
  English word that receives most of its mass (``argmax_j pi_ij``, "src->en"), and the
  symmetrised variant keeps only mutual links (``i -> j`` and ``j -> i``). A link is correct
  when the English word is a FreeDict translation of the source word; links whose source word
  is in no lexicon entry are not scored, links between identical strings ("Linux" -> "Linux")
  are ignored as trivially easy. FreeDict lists few senses (French "est" is only "east",
  "paquet" not "package"), so this is a lower bound on the true precision, and coverage is
  low where the dictionary is small (ru: ~1100 entries); it is the *change* under the same
  lexicon that we read.
* **sentence retrieval P@1** (:func:`retrieval`), Tatoeba-style as in Zhao et al.'s Section
  4.4: each of N held-out source sentences must find its translation among all N English ones
  (and back) by the cosine of mean-pooled last hidden states. Chance is 1/N; a model-free
  character-trigram matcher is reported beside it, because package names and numbers shared
  by both sides make part of this task string matching.
* **zero-shot classification** (:func:`zero_shot_classification`), the offline stand-in for
  XNLI: a Debian package's section group from its description, a softmax-regression probe
  trained on English features only, tested on de/fr/es/ru/zh. The encoder stays *frozen*: this
  measures how well the representation itself transfers across languages, which is what
  alignment changes, not what full task fine-tuning (the paper's XNLI protocol) would reach.

Comparing records over seeds: :func:`summarise` (mean, std, n per metric) and :func:`compare`
(paired differences, "supported" when ``|mean difference| > 2 standard errors``).

Also re-exported: :func:`squad_metrics` (XQuAD F1/EM, from :mod:`wordot.xtreme`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import re
import time
import unicodedata
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from . import corpora
from .embed import WordEmbeddings, check_parallel, embed_words, word_spans, words_of
from .ot import transport_plan
from .xtreme import squad_metrics

__all__ = [
    "AlignmentCounts",
    "FeatureCache",
    "Probe",
    "alignment_precision",
    "argmax_links",
    "compare",
    "evaluate_all",
    "fit_probe",
    "lexicon_match",
    "make_feature_cache",
    "model_fingerprint",
    "ngram_vectors",
    "retrieval",
    "retrieval_p1",
    "sample_pairs",
    "classify_links",
    "same_word",
    "score_links",
    "sentence_vectors",
    "squad_metrics",
    "summarise",
    "supported",
    "word_links",
    "zero_shot_classification",
]

#: languages a record may name (the paper's; English is always the other side)
LANGUAGES: tuple[str, ...] = corpora.PAPER_LANGUAGES
#: weight decays tried by :func:`fit_probe`, chosen on the English dev set
WEIGHT_DECAYS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {' '.join(LANGUAGES)}")


@contextlib.contextmanager
def _eval_mode(model) -> Iterator[None]:
    """Dropout off and no autograd inside; the model's train/eval mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


# ----------------------------------------------------------------------------------------------
# Held-out pairs
# ----------------------------------------------------------------------------------------------


def sample_pairs(
    pairs: Sequence[tuple[str, str]], n: int | None, seed: int = 0, lang: str | None = None
) -> list[tuple[str, str]]:
    """Up to ``n`` pairs (all if None), shuffled by ``seed``, without duplicates.

    A pair is dropped when its English or its source sentence (under :func:`corpora.norm`) was
    already taken, since a retrieval pool with two copies of one sentence has no single right
    answer; with ``lang``, also when either side has no word (``embed.words_of`` would fail).
    """
    if not pairs:
        raise ValueError("no pairs given")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    seen_src: set[str] = set()
    seen_en: set[str] = set()
    out: list[tuple[str, str]] = []
    for i in order:
        src, en = pairs[i]
        ks, ke = corpora.norm(src), corpora.norm(en)
        if not ks or not ke or ks in seen_src or ke in seen_en:
            continue
        if lang is not None:
            try:
                words_of([src], lang)
                words_of([en], "en")
            except ValueError:
                continue
        seen_src.add(ks)
        seen_en.add(ke)
        out.append((src, en))
        if n is not None and len(out) >= n:
            break
    return out


# ----------------------------------------------------------------------------------------------
# 1. Word-alignment precision of OT plans
# ----------------------------------------------------------------------------------------------


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


def argmax_links(plan: Tensor, mutual: bool = False) -> list[tuple[int, int]]:
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


def lexicon_match(
    src_word: str, en_word: str, lexicon: Mapping[str, set[str]], lang: str
) -> bool | None:
    """Is ``en_word`` a translation of ``src_word``? None when ``src_word`` is in no entry.

    Normalisations, kept few on purpose: NFC, typographic apostrophe -> ``'``, lower case
    (:func:`corpora.lower`); on the English side a regular plural/3rd-person ending is also
    removed on both the word and the dictionary's translations (``Dateien`` -> {"files"} is
    correct against "file", ``Spiel`` -> {"game"} against "games"). No source-side stemming: a
    source form the dictionary does not list is not scored, which lowers coverage, not precision.
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
    links: Sequence[tuple[int, int]],
    src_words: Sequence[str],
    en_words: Sequence[str],
    lexicon: Mapping[str, set[str]],
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
    links: Sequence[tuple[int, int]],
    src_words: Sequence[str],
    en_words: Sequence[str],
    lexicon: Mapping[str, set[str]],
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
    *,
    eps: float,
    cost: str,
    reach: float | None = None,
    tol: float | None = None,
    src_words: list[list[str]] | None = None,
    en_words: list[list[str]] | None = None,
) -> tuple[list[list[tuple[int, int]]], list[list[tuple[int, int]]]]:
    """Argmax and mutual links of each pair of a batch, from the entropic plans ``(B, N, M)``.

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
    solver = {} if tol is None else {"tol": tol}
    x, a, y, b = src.vectors, src.weights, en.vectors, en.weights
    plans = transport_plan(x, y, a, b, eps=eps, cost=cost, reach=reach or None, **solver)
    fwd, mutual = [], []
    for k in range(plans.shape[0]):
        n, m = int(src.mask[k].sum()), int(en.mask[k].sum())
        plan = plans[k, :n, :m]
        if words:
            assert src_words is not None and en_words is not None
            Os = _owner_matrix(src.owners[k], n, len(src_words[k]), plan)
            Oe = _owner_matrix(en.owners[k], m, len(en_words[k]), plan)
            mass_s, mass_e = a[k, :n] @ Os, b[k, :m] @ Oe
            plan = (Os.T @ plan @ Oe) / (mass_s[:, None] * mass_e[None, :])
        fwd.append(argmax_links(plan))
        mutual.append(argmax_links(plan, mutual=True))
    return fwd, mutual


def _kept_words(tokenizer, sentences: list[str], lang: str, max_length: int) -> list[list[str]]:
    return word_spans(tokenizer, words_of(sentences, lang), max_length).words


def alignment_precision(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    *,
    eps: float,
    cost: str,
    reach: float | None = None,
    lexicon: Mapping[str, set[str]] | None = None,
    pooling: str = "last",
    layer: int = -1,
    max_length: int = 128,
    batch_size: int = 32,
    tol: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Precision of the OT word alignments of ``pairs`` (source, English) against a lexicon.

    Word vectors come from :func:`wordot.embed.embed_words` (``pooling``, ``layer`` as in
    training), plans from :func:`wordot.ot.transport_plan` with ``eps``/``cost``/``reach``
    (``reach`` 0 or None = balanced), one per pair, batched. ``lexicon`` defaults to
    :func:`corpora.load_lexicon`. Returns ``precision``, ``scored``, ``coverage``, ``correct``,
    ``links``, ``identical`` for src->en argmax links and the same with suffix ``_mutual`` for
    the symmetrised (intersection) links, plus ``pairs``.
    """
    _check_lang(lang)
    if not pairs:
        raise ValueError(f"no pairs given for {lang}")
    if lexicon is None:
        lexicon = corpora.load_lexicon(lang)
    if not lexicon:
        raise ValueError(f"the lexicon for {lang} is empty")
    src_all = [p[0] for p in pairs]
    en_all = [p[1] for p in pairs]
    check_parallel(src_all, en_all)
    # length-sorted batches: less padding in the encoder and in the plans
    order = sorted(range(len(pairs)), key=lambda i: len(src_all[i]) + len(en_all[i]))
    fwd, mut = AlignmentCounts(), AlignmentCounts()
    starts = range(0, len(order), batch_size)
    with _eval_mode(model):
        for start in tqdm(starts, desc=f"align {lang}", disable=not progress, leave=False):
            idx = order[start : start + batch_size]
            src_s = [src_all[i] for i in idx]
            en_s = [en_all[i] for i in idx]
            kw = {"pooling": pooling, "layer": layer, "max_length": max_length}
            es = embed_words(model, tokenizer, src_s, lang, **kw)
            ee = embed_words(model, tokenizer, en_s, "en", **kw)
            if pooling == "subword":
                sw = _kept_words(tokenizer, src_s, lang, max_length)
                ew = _kept_words(tokenizer, en_s, "en", max_length)
                links_f, links_m = word_links(
                    es, ee, eps=eps, cost=cost, reach=reach, tol=tol, src_words=sw, en_words=ew
                )
            else:
                sw, ew = es.words, ee.words
                links_f, links_m = word_links(es, ee, eps=eps, cost=cost, reach=reach, tol=tol)
            for b in range(len(idx)):
                fwd += score_links(links_f[b], sw[b], ew[b], lexicon, lang)
                mut += score_links(links_m[b], sw[b], ew[b], lexicon, lang)
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


# ----------------------------------------------------------------------------------------------
# 2. Sentence vectors and Tatoeba-style retrieval
# ----------------------------------------------------------------------------------------------


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
    device = _device(model)
    starts = range(0, len(order), batch_size)
    with _eval_mode(model):
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


def ngram_vectors(sentences: Sequence[str], n: int = 3, dim: int = 4096) -> Tensor:
    """Model-free baseline vectors: counts of lower-cased character n-grams, hashed (CRC32,
    stable across processes) into ``dim`` buckets: ``(N, dim)``."""
    if not sentences:
        raise ValueError("no sentences given")
    out = torch.zeros(len(sentences), dim)
    for k, s in enumerate(sentences):
        s = f" {' '.join(s.lower().split())} "
        for i in range(max(len(s) - n + 1, 1)):
            out[k, zlib.crc32(s[i : i + n].encode()) % dim] += 1.0
    return out


def retrieval_p1(src: Tensor, en: Tensor) -> dict[str, float]:
    """Tatoeba P@1 from sentence vectors ``(N, D)`` whose row i are translations of each other:
    ``xx_en`` = share of source rows whose most cosine-similar English row is their own,
    ``en_xx`` the same the other way (ties go to the lower index)."""
    if src.dim() != 2 or en.dim() != 2:
        raise ValueError(f"vectors must be (N, D), got {tuple(src.shape)} and {tuple(en.shape)}")
    if src.shape[0] != en.shape[0]:
        raise ValueError(
            f"mismatched counts: {src.shape[0]} source vs {en.shape[0]} English sentences"
        )
    if src.shape[0] == 0:
        raise ValueError("no sentences to retrieve")
    S = F.normalize(src.double(), dim=1) @ F.normalize(en.double(), dim=1).T
    gold = torch.arange(S.shape[0])
    return {
        "xx_en": (S.argmax(1) == gold).double().mean().item(),
        "en_xx": (S.argmax(0) == gold).double().mean().item(),
    }


def retrieval(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    *,
    prefix: str = "",
    max_length: int = 128,
    batch_size: int = 32,
    feature_cache: str | Path | FeatureCache | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Tatoeba-style P@1 over ``pairs`` in both directions (the pool is all N sentences of the
    other side; pass deduplicated pairs, e.g. from :func:`sample_pairs`).

    Returns ``p1_xx_en``, ``p1_en_xx``, ``n``, ``random`` (= 1/N) and ``ngram_xx_en`` /
    ``ngram_en_xx`` (character-trigram cosine, no model). ``feature_cache``: as in
    :func:`zero_shot_classification`.
    """
    _check_lang(lang)
    if not pairs:
        raise ValueError(f"no pairs given for {lang}")
    src = [p[0] for p in pairs]
    en = [p[1] for p in pairs]
    check_parallel(src, en)
    kw = {
        "prefix": prefix,
        "max_length": max_length,
        "batch_size": batch_size,
        "progress": progress,
        "cache": make_feature_cache(model, feature_cache),
    }
    vs = _cached_vectors(model, tokenizer, src, desc=f"retrieval {lang}", **kw)
    ve = _cached_vectors(model, tokenizer, en, desc="retrieval en", **kw)
    p = retrieval_p1(vs, ve)
    g = retrieval_p1(ngram_vectors(src), ngram_vectors(en))
    return {
        "p1_xx_en": p["xx_en"],
        "p1_en_xx": p["en_xx"],
        "n": len(pairs),
        "random": 1.0 / len(pairs),
        "ngram_xx_en": g["xx_en"],
        "ngram_en_xx": g["en_xx"],
    }


# ----------------------------------------------------------------------------------------------
# 3. Zero-shot classification with a frozen encoder
# ----------------------------------------------------------------------------------------------


@dataclass
class Probe:
    """Softmax regression on standardised features: ``logits = ((X - mean) / std) @ W + b``.

    ``W: (D, C)``, ``b: (C,)``, ``mean``/``std: (D,)`` from the training features.
    """

    W: Tensor
    b: Tensor
    mean: Tensor
    std: Tensor
    weight_decay: float
    dev_accuracy: float | None = None

    def logits(self, X: Tensor) -> Tensor:
        """``(N, D) -> (N, C)``."""
        return ((X.double() - self.mean) / self.std) @ self.W + self.b

    def predict(self, X: Tensor) -> Tensor:
        """Class indices ``(N,)``."""
        return self.logits(X).argmax(1)

    def accuracy(self, X: Tensor, y: Tensor) -> float:
        return (self.predict(X) == y).double().mean().item()


def _fit_one(Z: Tensor, y: Tensor, n_classes: int, weight_decay: float, max_iter: int):
    """Full-batch L-BFGS on mean cross-entropy + ``weight_decay / 2 * |W|^2`` from zeros."""
    W = torch.zeros(Z.shape[1], n_classes, dtype=Z.dtype, requires_grad=True)
    b = torch.zeros(n_classes, dtype=Z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS(
        [W, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(Z @ W + b, y) + 0.5 * weight_decay * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def fit_probe(
    X_train: Tensor,
    y_train: Tensor,
    X_dev: Tensor,
    y_dev: Tensor,
    n_classes: int,
    *,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    max_iter: int = 200,
) -> Probe:
    """Softmax regression ``(N, D) -> C`` classes; the weight decay with the best dev accuracy
    (ties: the larger decay) is kept. Deterministic: float64, zero init, full batch, no
    sampling, so the same features give the same probe."""
    if X_train.shape[0] == 0 or X_dev.shape[0] == 0:
        raise ValueError("empty training or dev features")
    if X_train.shape[0] != y_train.shape[0] or X_dev.shape[0] != y_dev.shape[0]:
        raise ValueError(
            f"mismatched counts: {X_train.shape[0]} vs {y_train.shape[0]} training labels, "
            f"{X_dev.shape[0]} vs {y_dev.shape[0]} dev labels"
        )
    if not weight_decays:
        raise ValueError("no weight decay to try")
    X = X_train.double()
    mean, std = X.mean(0), X.std(0).clamp_min(1e-6)
    Z = (X - mean) / std
    best: Probe | None = None
    with torch.enable_grad():
        for wd in sorted(weight_decays):
            W, b = _fit_one(Z, y_train.long(), n_classes, float(wd), max_iter)
            probe = Probe(W, b, mean, std, float(wd))
            probe.dev_accuracy = probe.accuracy(X_dev, y_dev.long())
            if best is None or probe.dev_accuracy >= best.dev_accuracy:
                best = probe
    assert best is not None
    return best


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


def _cached_vectors(
    model, tokenizer, texts: list[str], *, cache: FeatureCache | None, **kw: Any
) -> Tensor:
    """:func:`sentence_vectors`, read from / written to ``cache`` when it is set."""
    if cache is None:
        return sentence_vectors(model, tokenizer, texts, **kw)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((getattr(tokenizer, "name_or_path", ""), kw.get("prefix"))).encode())
    h.update(repr(kw.get("max_length")).encode())
    for t in texts:
        h.update(t.encode() + b"\x00")
    path = cache.directory / f"{cache.fingerprint}-{h.hexdigest()}.pt"
    if path.exists():
        return torch.load(path)
    v = sentence_vectors(model, tokenizer, texts, **kw)
    cache.directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{id(v)}")
    torch.save(v, tmp)
    tmp.replace(path)
    return v


def _subset(rows: list[tuple[str, str]], n: int | None, seed: int) -> list[tuple[str, str]]:
    if n is None or n >= len(rows):
        return rows
    idx = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in idx]


def zero_shot_classification(
    model,
    tokenizer,
    langs: Sequence[str],
    *,
    train_limit: int | None = 1000,
    dev_limit: int | None = 300,
    test_limit: int | None = 300,
    seed: int = 0,
    prefix: str = "",
    max_length: int = 48,
    batch_size: int = 32,
    feature_cache: str | Path | FeatureCache | None = None,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    progress: bool = True,
) -> dict[str, Any]:
    """Package-section classification, trained on English, tested zero-shot on ``langs``.

    The encoder is *frozen*: each description becomes its mean-pooled last hidden state
    (:func:`sentence_vectors`, first ``max_length`` tokens: the synopsis and the opening
    sentence), and a softmax-regression probe (:func:`fit_probe`) is trained on English train
    features with the weight decay chosen on English dev. So this measures how well the frozen
    representation transfers across languages (what alignment changes), not what full task
    fine-tuning reaches. ``*_limit`` cap each split (a seeded random subset; None = all);
    ``feature_cache`` (a directory or :class:`FeatureCache`) keeps features per model
    fingerprint and text set, so the frozen "before" model is encoded once across seeds and
    runs.

    Returns accuracies ``acc/en`` (English test) and ``acc/<lang>``, the transfer gap
    ``gap/<lang>`` = acc/en - acc/<lang> (note: over different items: the translated
    descriptions are a subset of packages), ``n/<lang>``, the majority-class accuracy
    ``majority/<lang>``, the chosen ``weight_decay``, ``dev_acc`` and ``train_n``.
    """
    if not langs:
        raise ValueError("no language given")
    for lang in langs:
        _check_lang(lang)
    labels = corpora.section_labels()
    index = {label: k for k, label in enumerate(labels)}
    kw = {"prefix": prefix, "max_length": max_length, "batch_size": batch_size}
    fc = make_feature_cache(model, feature_cache)

    def features(rows: list[tuple[str, str]], desc: str) -> tuple[Tensor, Tensor]:
        X = _cached_vectors(
            model,
            tokenizer,
            [t for t, _ in rows],
            cache=fc,
            progress=progress,
            desc=desc,
            **kw,
        )
        return X, torch.tensor([index[label] for _, label in rows])

    train = _subset(corpora.load_sections("en", "train"), train_limit, seed)
    dev = _subset(corpora.load_sections("en", "dev"), dev_limit, seed + 1)
    Xtr, ytr = features(train, "cls en train")
    Xdv, ydv = features(dev, "cls en dev")
    probe = fit_probe(Xtr, ytr, Xdv, ydv, len(labels), weight_decays=weight_decays)
    majority = int(torch.bincount(ytr, minlength=len(labels)).argmax())
    out: dict[str, Any] = {
        "train_n": len(train),
        "dev_acc": probe.dev_accuracy,
        "weight_decay": probe.weight_decay,
    }
    for lang in ["en", *langs]:
        rows = _subset(corpora.load_sections(lang, "test"), test_limit, seed + 2)
        X, y = features(rows, f"cls {lang} test")
        out[f"acc/{lang}"] = probe.accuracy(X, y)
        out[f"n/{lang}"] = len(rows)
        out[f"majority/{lang}"] = (y == majority).double().mean().item()
        if lang != "en":
            out[f"gap/{lang}"] = out["acc/en"] - out[f"acc/{lang}"]
    return out


# ----------------------------------------------------------------------------------------------
# 4. Everything, one flat record; comparing records
# ----------------------------------------------------------------------------------------------


def _has_sections(lang: str) -> bool:
    try:
        corpora.load_sections(lang, "test")
    except corpora.CorpusError:
        return False
    return True


#: the evaluations of :func:`evaluate_all`
TASKS: tuple[str, ...] = ("align", "retrieval", "cls")


def evaluate_all(
    model,
    tokenizer,
    langs: Sequence[str],
    *,
    eps: float,
    cost: str,
    seed: int = 0,
    reach: float | None = None,
    pooling: str = "last",
    layer: int = -1,
    max_length: int = 128,
    align_pairs: int | None = 150,
    retrieval_pairs: int | None = 300,
    cls_train: int | None = 1000,
    cls_dev: int | None = 300,
    cls_test: int | None = 300,
    cls_max_length: int = 48,
    prefix: str = "",
    batch_size: int = 32,
    feature_cache: str | Path | FeatureCache | None = None,
    progress: bool = True,
    tasks: Sequence[str] = TASKS,
) -> dict[str, Any]:
    """All three evaluations of one model (or the ``tasks`` named); a flat, JSON-serialisable
    record.

    Keys are ``<task>/<lang>/<metric>`` (and ``<task>/avg/<metric>``, the mean over the
    languages that have the metric): ``align/de/precision``, ``align/de/precision_mutual``,
    ``align/de/coverage``, ``align/de/scored``, ``retrieval/de/p1_xx_en``,
    ``retrieval/de/p1_en_xx``, ``retrieval/de/random``, ``retrieval/de/ngram_xx_en``,
    ``cls/en/acc``, ``cls/de/acc``, ``cls/de/gap``, ...; ``time/<task>`` in seconds; ``seed``
    and the settings. Values are fractions in [0, 1], counts, or None (undefined).

    Held-out data: ``corpora.load_pairs(lang, "test")`` deduplicated and shuffled by ``seed``
    (:func:`sample_pairs`); the first ``retrieval_pairs`` form the retrieval pool and the first
    ``align_pairs`` of them are aligned. Languages without a FreeDict lexicon (zh, ...) get no
    alignment and languages without translated descriptions no classification; both are
    listed under ``skipped``. Give before and after fine-tuning the same ``seed`` to compare
    them on the same items (:func:`compare` pairs records by seed).

    ``eps``/``cost``/``reach``/``pooling``/``layer`` are the training profile's, for the plans;
    ``prefix`` goes before sentences and descriptions (e5: ``"query: "``; default none, as in
    training). Classification: see :func:`zero_shot_classification`. ``feature_cache``: a
    directory (or :class:`FeatureCache`) for sentence features of retrieval and classification.

    Defaults are sized for time: with multilingual-e5-small on one CPU thread, one record for
    de fr es ru zh takes about 3 CPU-minutes (classification ~45%, retrieval ~30%, alignment
    ~20%, loading data and Moses the rest), 4-6 minutes of wall time on the two cores it was
    measured on while other jobs shared them. The retrieval pool is 300 pairs, not Tatoeba's
    1000, and e5 is near the ceiling on it (P@1 0.92-1.0). A ``feature_cache`` halves the cost
    of a repeated record of the same weights (alignment is not cached).
    """
    if not langs:
        raise ValueError("no language given")
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f"unknown or no tasks {unknown or list(tasks)}; choose from {TASKS}")
    langs = list(dict.fromkeys(langs))
    for lang in langs:
        _check_lang(lang)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    feature_cache = make_feature_cache(model, feature_cache)
    rec: dict[str, Any] = {
        "seed": seed,
        "eps": eps,
        "cost": cost,
        "reach": reach,
        "pooling": pooling,
        "layer": layer,
        "prefix": prefix,
        "langs": " ".join(langs),
        "tasks": " ".join(t for t in TASKS if t in tasks),
    }
    skipped: list[str] = []
    t_align = t_retr = 0.0
    for lang in langs:
        pool = sample_pairs(corpora.load_pairs(lang, "test"), retrieval_pairs, seed, lang)
        t0 = time.perf_counter()
        if "retrieval" in tasks:
            r = retrieval(
                model,
                tokenizer,
                pool,
                lang,
                prefix=prefix,
                max_length=max_length,
                batch_size=batch_size,
                feature_cache=feature_cache,
                progress=progress,
            )
            rec.update({f"retrieval/{lang}/{k}": v for k, v in r.items()})
        t_retr += time.perf_counter() - t0
        if "align" not in tasks:
            continue
        try:
            lexicon = corpora.load_lexicon(lang)
        except corpora.CorpusError:
            skipped.append(f"align/{lang}: no lexicon")
            continue
        t0 = time.perf_counter()
        a = alignment_precision(
            model,
            tokenizer,
            pool[:align_pairs] if align_pairs is not None else pool,
            lang,
            eps=eps,
            cost=cost,
            reach=reach,
            lexicon=lexicon,
            pooling=pooling,
            layer=layer,
            max_length=max_length,
            batch_size=batch_size,
            progress=progress,
        )
        t_align += time.perf_counter() - t0
        rec.update({f"align/{lang}/{k}": v for k, v in a.items()})
    cls_langs = [x for x in langs if "cls" in tasks and _has_sections(x)]
    skipped += [
        f"cls/{x}: no translated descriptions"
        for x in langs
        if "cls" in tasks and x not in cls_langs
    ]
    t0 = time.perf_counter()
    if cls_langs:
        c = zero_shot_classification(
            model,
            tokenizer,
            cls_langs,
            train_limit=cls_train,
            dev_limit=cls_dev,
            test_limit=cls_test,
            seed=seed,
            prefix=prefix,
            max_length=cls_max_length,
            batch_size=batch_size,
            feature_cache=feature_cache,
            progress=progress,
        )
        for k, v in c.items():
            if "/" in k:
                metric, lang = k.split("/")
                rec[f"cls/{lang}/{metric}"] = v
            else:
                rec[f"cls/{k}"] = v
    t_cls = time.perf_counter() - t0
    _add_averages(rec)
    rec["skipped"] = skipped
    rec.update(
        {
            "time/retrieval": t_retr,
            "time/align": t_align,
            "time/cls": t_cls,
            "time/total": time.perf_counter() - t_start,
            "time/cpu": time.process_time() - cpu_start,
        }
    )
    return rec


_AVERAGED = {
    "align": ("precision", "precision_mutual", "coverage"),
    "retrieval": ("p1_xx_en", "p1_en_xx", "ngram_xx_en", "ngram_en_xx"),
    "cls": ("acc", "gap"),
}


def _add_averages(rec: dict[str, Any]) -> None:
    """``<task>/avg/<metric>``: unweighted mean over the non-English languages having it."""
    for task, metrics in _AVERAGED.items():
        for metric in metrics:
            vals = []
            for key, v in rec.items():
                parts = key.split("/")
                if parts[0] == task and parts[-1] == metric and parts[1] not in ("en", "avg"):
                    if v is not None:
                        vals.append(v)
            if vals:
                rec[f"{task}/avg/{metric}"] = sum(vals) / len(vals)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """Per numeric metric over ``records`` (e.g. one per seed): ``mean``, ``std`` (sample
    standard deviation, n - 1; None for n < 2) and ``n`` (records where it is defined).
    ``seed`` and non-numeric values are skipped."""
    if not records:
        raise ValueError("no records to summarise")
    keys = list(dict.fromkeys(k for r in records for k in r))
    out: dict[str, dict[str, float | int | None]] = {}
    for k in keys:
        if k == "seed":
            continue
        vals = [float(r[k]) for r in records if _is_number(r.get(k))]
        if not vals:
            continue
        n = len(vals)
        mean = sum(vals) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
        out[k] = {"mean": mean, "std": std, "n": n}
    return out


def supported(differences: Sequence[float], k: float = 2.0) -> dict[str, float | int | bool | None]:
    """Is a mean paired difference supported by its spread? ``mean``, ``se`` (standard error:
    sample std / sqrt(n)), ``n`` and ``supported`` = ``|mean| > k * se`` with n >= 2 (with
    n = 1 there is no spread to judge by, so never; nor for a mean below rounding noise, 1e-9
    relative). A rough rule (about a 95% interval for a
    normal mean), not a test corrected for the number of metrics compared."""
    d = [float(x) for x in differences]
    n = len(d)
    if n == 0:
        raise ValueError("no differences given")
    mean = sum(d) / n
    if n < 2:
        return {"mean": mean, "se": None, "n": n, "supported": False}
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
    # a metric that cannot change (se = 0) is not supported by rounding noise in its mean
    real = abs(mean) > 1e-9 * max(1.0, max(abs(x) for x in d))
    return {"mean": mean, "se": se, "n": n, "supported": real and abs(mean) > k * se}


#: record keys that are settings, counts or timings, not metrics to compare
_NOT_METRICS = re.compile(
    r"^(seed|eps|reach|layer|time/.*"  # settings, timings
    r"|.*/(n|pairs|scored|correct|links|identical|train_n|weight_decay)(_mutual)?"  # counts
    r"|.*/(random|majority|ngram_xx_en|ngram_en_xx))$"  # model-free baselines
)


def _is_metric(key: str) -> bool:
    return _NOT_METRICS.match(key) is None


def compare(
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    keys: Sequence[str] | None = None,
    k: float = 2.0,
) -> dict[str, dict[str, float | int | bool | None]]:
    """Paired after - before differences per metric, records matched by their ``seed``;
    :func:`supported` on each. ``keys`` default: every numeric metric both sides have, except
    ``time/*``, counts and settings."""
    if not before or not after:
        raise ValueError("both before and after need at least one record")
    b_by = {r.get("seed"): r for r in before}
    a_by = {r.get("seed"): r for r in after}
    if len(b_by) != len(before) or len(a_by) != len(after):
        raise ValueError("records on one side share a seed; pair them by distinct seeds")
    seeds = [s for s in a_by if s in b_by]
    if not seeds:
        raise ValueError(f"no common seed: before {sorted(b_by)} vs after {sorted(a_by)}")
    if keys is None:
        keys = [k for k in dict.fromkeys(k for s in seeds for k in a_by[s]) if _is_metric(k)]
    out = {}
    for key in keys:
        d = [
            float(a_by[s][key]) - float(b_by[s][key])
            for s in seeds
            if _is_number(a_by[s].get(key)) and _is_number(b_by[s].get(key))
        ]
        if d:
            out[key] = supported(d, k)
    return out
