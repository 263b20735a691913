"""Contextual word embeddings of sentences: Moses words -> subword spans -> one vector per word.

A sentence is split into words with the Moses tokenizer (sacremoses, as the paper, Section 5.1),
the words are fed to the encoder's fast tokenizer with ``is_split_into_words=True``, and the
tokenizer's ``word_ids()`` give each word's subword span. A word is then represented by

* ``"last"``: its last subword (the paper, following Cao et al. 2020),
* ``"first"``: its first subword,
* ``"mean"``: the mean of its subwords,
* ``"subword"``: every subword is a point of its own (SubOT, the paper's Table 3).

All four are one matrix product ``P @ H`` with a selection matrix ``P: (B, N, T)`` over the
hidden states ``H: (B, T, D)``, so gradients flow to the encoder in every mode.

A sentence without a letter or a digit has no word to embed: :func:`sentence_problem` is that
rule, here and in the preparation of training data (:func:`wordot.data.pair_problem`), and a
sentence it rejects raises :class:`SentenceError` naming its index, language and text.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import torch
from torch import Tensor

Pooling = Literal["last", "first", "mean", "subword"]
POOLINGS: tuple[str, ...] = ("last", "first", "mean", "subword")


@dataclass(frozen=True)
class EmbedConfig:
    """How sentences become word vectors: the options of :func:`embed_words`.

    ``pooling``: which subwords represent a word (``"last"`` is the paper's, Section 4.1);
    ``layer``: the hidden layer read (-1 = last, as the paper; 0 = the embedding layer);
    ``max_length``: subword tokens per sentence, longer sentences are truncated (words past the
    cut are dropped and counted in ``WordEmbeddings.n_truncated``).
    """

    pooling: Pooling = "last"
    layer: int = -1
    max_length: int = 128

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}")
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise ValueError(f"layer must be an integer, got {self.layer!r}")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int):
            raise ValueError(f"max_length must be an integer, got {self.max_length!r}")
        if self.max_length < 2:
            raise ValueError(
                f"max_length must be at least 2 (room for CLS/SEP), got {self.max_length}"
            )


@lru_cache(maxsize=32)
def _moses(lang: str):
    from sacremoses import MosesTokenizer

    return MosesTokenizer(lang=lang)


def moses_words(sentence: str, lang: str) -> list[str]:
    """Split one sentence into words with the Moses tokenizer (no HTML escaping)."""
    return _moses(lang).tokenize(sentence.strip(), escape=False, aggressive_dash_splits=False)


#: a letter or a digit (``str.isalnum``): the Moses word that holds it is a word to embed
_WORD_CHAR = re.compile(r"[^\W_]")


def sentence_problem(text: object) -> str | None:
    """Why :func:`embed_words` rejects ``text`` (``"is empty"``, ``"has only punctuation"``,
    ...), or None if it takes it: the one rule for sentences, also applied to training data.

    A sentence needs a letter or a digit. Without one it has no word to align: only white
    space, punctuation or symbols (``"!!!"``, an emoji), or only invisible characters (zero-width
    spaces, control and format characters, which tokenizers drop).
    """
    if not isinstance(text, str):
        return f"is {type(text).__name__}, not str"
    if not text or text.isspace():
        return "is empty"
    if _WORD_CHAR.search(text):
        return None
    visible = [c for c in (unicodedata.category(ch)[0] for ch in text) if c not in "CZ"]
    if not visible:
        return "has only invisible characters (zero-width, format or control characters)"
    if all(c in "PS" for c in visible):
        return "has only punctuation or symbols"
    return "has no letter or digit"


class SentenceError(ValueError):
    """A sentence :func:`embed_words` cannot embed: ``index`` in its batch, ``lang``, the
    ``text`` and the ``problem`` (for callers that add a training step or a file line)."""

    def __init__(self, index: int, lang: str, text: object, problem: str) -> None:
        self.index, self.lang, self.text, self.problem = index, lang, text, problem
        message = f"sentence {index} ({lang}) {problem}"
        if isinstance(text, str):
            message += f": {text[:80]!r}" + ("..." if len(text) > 80 else "")
        super().__init__(message)

    def __reduce__(self):  # picklable (worker processes send exceptions back)
        return type(self), (self.index, self.lang, self.text, self.problem)


def words_of(sentences: list[str], lang: str) -> list[list[str]]:
    """Moses words of each sentence; a sentence :func:`sentence_problem` rejects raises
    :class:`SentenceError` (a ValueError) naming its index, the language and the text."""
    out = []
    for i, sentence in enumerate(sentences):
        problem = sentence_problem(sentence)
        if problem:
            raise SentenceError(i, lang, sentence, problem)
        words = moses_words(sentence, lang)
        if not words:  # not expected: Moses keeps every letter and digit
            raise SentenceError(i, lang, sentence, "has no word after Moses tokenization")
        out.append(words)
    return out


@dataclass
class Spans:
    """Subword spans of each kept word: ``spans[b][n] = (first_token, last_token)``."""

    encoding: dict[str, Tensor]
    spans: list[list[tuple[int, int]]]
    words: list[list[str]]
    n_truncated: int = 0  # words dropped because the sentence exceeded max_length
    n_unrepresented: int = 0  # words the tokenizer mapped to no subword at all


def word_spans(tokenizer, words: list[list[str]], max_length: int = 128, lang: str = "?") -> Spans:
    """Tokenize pre-split words and find each word's subword span.

    Truncation drops whole words: a word whose subwords do not all fit is removed and counted,
    never cut in half, so word i of the output is always word i of what was kept. A sentence
    left with no word raises :class:`SentenceError` (``lang`` is named in it).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("a fast tokenizer is needed (word_ids); got " + type(tokenizer).__name__)
    enc = tokenizer(
        words,
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )
    full = tokenizer(words, is_split_into_words=True, truncation=False, add_special_tokens=False)
    spans, kept_words = [], []
    n_trunc = n_unrep = 0
    for b, sentence in enumerate(words):
        ids = enc.word_ids(b)
        positions: dict[int, list[int]] = {}
        for t, w in enumerate(ids):
            if w is not None:
                positions.setdefault(w, []).append(t)
        n_full: dict[int, int] = {}
        for w in full.word_ids(b):
            if w is not None:
                n_full[w] = n_full.get(w, 0) + 1
        row, row_words = [], []
        for w, word in enumerate(sentence):
            if w not in n_full:
                n_unrep += 1
            elif len(positions.get(w, [])) < n_full[w]:
                n_trunc += 1
            else:
                row.append((positions[w][0], positions[w][-1]))
                row_words.append(word)
        if not row:
            why = (
                f"has no word that fits in max_length {max_length} subwords"
                if n_full
                else "has no word the tokenizer can represent"
            )
            raise SentenceError(b, lang, " ".join(sentence), why)
        spans.append(row)
        kept_words.append(row_words)
    return Spans(dict(enc), spans, kept_words, n_trunc, n_unrep)


def original_indices(words: Sequence[str], kept: Sequence[str]) -> list[int]:
    """Index in ``words`` of each word of ``kept`` (``kept`` is ``words`` without the words the
    tokenizer cannot represent, a property of the word alone, and without a cut-off tail, so
    matching left to right is exact)."""
    out, i = [], 0
    for w in kept:
        while words[i] != w:
            i += 1
        out.append(i)
        i += 1
    return out


def selection_matrix(
    spans: list[list[tuple[int, int]]], n_tokens: int, pooling: Pooling = "last"
) -> tuple[Tensor, Tensor, list[list[int]]]:
    """``P: (B, N, T)`` with ``P @ H`` the word vectors, the mask ``(B, N)`` and, per point,
    the index of the word it belongs to (for ``"subword"`` several points share a word)."""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
    rows: list[list[tuple[list[int], int]]] = []
    for sent in spans:
        row = []
        for w, (s, e) in enumerate(sent):
            if pooling == "last":
                row.append(([e], w))
            elif pooling == "first":
                row.append(([s], w))
            elif pooling == "mean":
                row.append((list(range(s, e + 1)), w))
            else:
                row.extend(([t], w) for t in range(s, e + 1))
        rows.append(row)
    B, N = len(rows), max(len(r) for r in rows)
    P = torch.zeros(B, N, n_tokens)
    mask = torch.zeros(B, N, dtype=torch.bool)
    owners = []
    for b, row in enumerate(rows):
        owners.append([w for _, w in row])
        for n, (toks, _) in enumerate(row):
            P[b, n, toks] = 1.0 / len(toks)
            mask[b, n] = True
    return P, mask, owners


@dataclass
class WordEmbeddings:
    """Padded word vectors of a batch of sentences.

    ``vectors: (B, N, D)`` (zeros at padding), ``mask: (B, N)`` (True = a real point),
    ``words[b]``: the words (or, for ``"subword"``, the subword strings) of the points of b.
    """

    vectors: Tensor
    mask: Tensor
    words: list[list[str]]
    n_truncated: int = 0
    n_unrepresented: int = 0
    owners: list[list[int]] = field(default_factory=list)

    @property
    def weights(self) -> Tensor:
        """Uniform weights over each sentence's points, zero at padding: ``(B, N)``, in float32
        at least (vectors computed under bfloat16 autocast give float32 weights)."""
        m = self.mask.to(torch.promote_types(self.vectors.dtype, torch.float32))
        return m / m.sum(-1, keepdim=True)


def _layer_stack(model) -> torch.nn.ModuleList | None:
    """The encoder's list of transformer layers (BERT, XLM-R, ...: ``model.encoder.layer``)."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    return layers if isinstance(layers, torch.nn.ModuleList) else None


#: models whose hidden states have been read at full depth once (transformers installs the
#: hooks that collect hidden states on the layers present at the first such call, so that call
#: must see them all), and models where running fewer layers did not give the expected states
_FULL_DEPTH_SEEN: weakref.WeakSet = weakref.WeakSet()
_NOT_TRUNCATABLE: weakref.WeakSet = weakref.WeakSet()


@contextlib.contextmanager
def _first_layers(model, k: int) -> Iterator[None]:
    """Run only the first ``k`` transformer layers of ``model`` inside the block."""
    layers = _layer_stack(model)
    if layers is None or k >= len(layers):
        yield
        return
    model.encoder.layer = layers[:k]
    try:
        yield
    finally:
        model.encoder.layer = layers


def hidden_layers(model, encoding: dict[str, Tensor], layers: Sequence[int]) -> list[Tensor]:
    """Hidden states ``(B, T, D)`` of each of ``layers`` (-1 = last, 0 = embeddings), from one
    forward pass.

    Without gradients (evaluation), when no requested layer is the last, the layers above the
    highest requested one are not run (for encoders that keep their layers in
    ``model.encoder.layer``, as BERT and XLM-R do): layer 8 of a 12-layer model costs two
    thirds of a full pass, with the same values.
    """
    if not layers:
        raise ValueError("no layer requested")
    device = next(model.parameters()).device
    enc = {k: v.to(device) for k, v in encoding.items()}
    if tuple(layers) == (-1,):
        return [model(**enc).last_hidden_state]
    inner = getattr(model, "module", model)  # the model inside DistributedDataParallel
    stack = _layer_stack(inner)
    n = len(stack) if stack is not None else inner.config.num_hidden_layers
    for layer in layers:
        if not -(n + 1) <= layer <= n:
            raise ValueError(f"layer {layer} out of range for a model with {n} layers")
    wanted = [layer % (n + 1) for layer in layers]  # -1 -> n
    if wanted == [n]:
        return [model(**enc).last_hidden_state]
    top = max(wanted)
    # fewer layers only without gradients (evaluation): a DistributedDataParallel model must
    # use every parameter in each backward
    shallow = top < n and not torch.is_grad_enabled()
    if shallow and inner in _FULL_DEPTH_SEEN and inner not in _NOT_TRUNCATABLE:
        with _first_layers(inner, top):
            out = model(**enc, output_hidden_states=True)
        if len(out.hidden_states) == top + 1:
            return [out.hidden_states[k] for k in wanted]
        _NOT_TRUNCATABLE.add(inner)  # the states are not the first layers': run them all
    out = model(**enc, output_hidden_states=True)
    _FULL_DEPTH_SEEN.add(inner)
    return [out.hidden_states[k] for k in wanted]


def hidden_states(model, encoding: dict[str, Tensor], layer: int = -1) -> Tensor:
    """Hidden states ``(B, T, D)`` of one layer (-1 = last, 0 = embeddings); see
    :func:`hidden_layers`."""
    return hidden_layers(model, encoding, (layer,))[0]


def embed_words(
    model,
    tokenizer,
    sentences: list[str],
    lang: str,
    cfg: EmbedConfig = EmbedConfig(),
) -> WordEmbeddings:
    """Contextual word vectors of ``sentences`` in language ``lang``: ``(B, N, D)`` + mask.

    Gradients flow to ``model`` unless called under ``torch.no_grad()``. A sentence without a
    word (:func:`sentence_problem`), or whose words the tokenizer cannot fit into
    ``cfg.max_length``, raises :class:`SentenceError` naming its index, ``lang`` and the text.
    """
    if isinstance(sentences, str):
        raise TypeError(
            f"embed_words takes a list of sentences, got the string {sentences[:40]!r}; "
            "wrap a single sentence in a list"
        )
    if not isinstance(cfg, EmbedConfig):
        raise TypeError(f"cfg must be an EmbedConfig, got {type(cfg).__name__}")
    if not sentences:
        raise ValueError(f"no sentences given for {lang}")
    pooling = cfg.pooling
    words = words_of(list(sentences), lang)
    sp = word_spans(tokenizer, words, cfg.max_length, lang)
    H = hidden_states(model, sp.encoding, cfg.layer)
    P, mask, owners = selection_matrix(sp.spans, H.shape[1], pooling)
    vectors = P.to(H.device, H.dtype) @ H
    if pooling == "subword":
        ids = sp.encoding["input_ids"]
        point_words = []
        for b, sent in enumerate(sp.spans):
            toks = [t for s, e in sent for t in range(s, e + 1)]
            point_words.append(tokenizer.convert_ids_to_tokens(ids[b, toks].tolist()))
    else:
        point_words = sp.words
    return WordEmbeddings(
        vectors, mask.to(H.device), point_words, sp.n_truncated, sp.n_unrepresented, owners
    )


def embed_pairs(
    model, tokenizer, pairs: list[tuple[str, str]], lang: str, cfg: EmbedConfig = EmbedConfig()
) -> tuple[WordEmbeddings, WordEmbeddings]:
    """Word vectors of both sides of ``(source, English)`` pairs, without gradients.

    Returns ``(src, en)``: the source sentences embedded as language ``lang`` and the English
    ones as ``"en"``, each ``(B, N, D)`` + mask with ``B = len(pairs)``. For looking at a model
    (plans, divergences before and after training); training calls :func:`embed_words`.
    """
    if not pairs:
        raise ValueError(f"no {lang}-en pairs given")
    with torch.no_grad():
        src = embed_words(model, tokenizer, [s for s, _ in pairs], lang, cfg)
        en = embed_words(model, tokenizer, [e for _, e in pairs], "en", cfg)
    return src, en


def check_parallel(src: list[str], tgt: list[str]) -> None:
    """Parallel lists must have the same length (pair i = src[i], tgt[i])."""
    if len(src) != len(tgt):
        raise ValueError(
            f"mismatched pair counts: {len(src)} source sentences vs {len(tgt)} English ones"
        )
