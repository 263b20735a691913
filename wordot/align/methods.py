"""Word alignments read from an encoder: SimAlign's argmax and itermax, and OT plans.

Input: pre-tokenised pairs ``(source_words, english_words)``. Each side is fed to the encoder's
fast tokenizer as split words (:func:`wordot.embed.word_spans`); the hidden states of one
``layer`` (0 = embeddings, 8 = the usual choice for BERT-size models, -1 = last) give the
points of each sentence through :func:`wordot.embed.selection_matrix`:

* ``pooling="subword"`` (default): every subword is a point, as SimAlign's ``token_type="bpe"``;
  a word pair is linked when any of their subwords are (Jalili Sabet et al. 2020, Section 2);
* ``"mean"``/``"first"``/``"last"``: one point per word (``"mean"`` is SimAlign's ``"word"``).

Methods (output: per pair a set of 0-indexed word links ``(source_index, english_index)``):

* ``"argmax"``: mutual argmax of the cosine similarity matrix ``(n_src, n_en)``: i-j is linked
  when j is i's most similar point and i is j's (SimAlign's "inter" / ArgMax);
* ``"itermax"``: SimAlign's IterMax: argmax, then one more round of mutual argmax among points
  left unaligned on at least one side, on the similarity ``(1 + cos) / 2`` damped by 0.9 where
  one side is already aligned (SimAlign 0.4, ``max_count=2``, ``alpha=0.9``);
* ``"ot-row"``, ``"ot-column"``, ``"ot-mutual"``: argmax of each row, of each column, or both,
  of the entropic transport plan ``pi: (n_src, n_en)`` between the two clouds with uniform
  weights (:func:`wordot.ot.transport_plan`; cost, eps and reach from a
  :class:`wordot.loss.LossConfig`, reach None = balanced);
* ``"ot-threshold"``: i-j when ``pi_ij >= threshold * min(a_i, b_j)``: the plan moves at least
  that fraction of the smaller of the two points' masses between them.

Words the tokenizer cannot represent (no subword) and words cut by ``max_length`` get no link,
as in SimAlign; indices always refer to the words given.

Measured (multilingual-e5-small, layer 8, subword points): ``argmax`` and ``itermax`` give the
same links as the ``simalign`` 0.4 package on every sentence of the seven gold test sets. OT
readings chosen on the XL-WA dev splits only (es + bg, 210 sentences, cosine cost; argmax 15.6
AER there): ``ot-threshold`` is best at eps 0.05 and threshold 0.5 (15.4; 16.6 at 0.4, 17.0 at
0.6), the defaults of :class:`AlignOptions`; ``ot-mutual`` needs a larger eps (17.1 at 0.05,
15.0 at 0.2, 14.9 at 1.0); ``ot-row`` and ``ot-column`` trade precision for recall (22.3, 19.3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from ..embed import (
    POOLINGS,
    Pooling,
    hidden_layers,
    original_indices,
    selection_matrix,
    word_spans,
)
from ..loss import LossConfig
from ..ot import transport_plan
from .gold import Link, check_word_pairs

if TYPE_CHECKING:
    from ..neighbours import FeatureMap

__all__ = [
    "Method",
    "METHODS",
    "OT_METHODS",
    "AlignOptions",
    "word_alignments",
    "alignments_by_layer",
    "mutual_argmax",
    "itermax",
    "plan_links",
    "similarity",
    "word_similarity",
]

Method = Literal["argmax", "itermax", "ot-row", "ot-column", "ot-mutual", "ot-threshold"]
OT_METHODS: tuple[str, ...] = ("ot-row", "ot-column", "ot-mutual", "ot-threshold")
METHODS: tuple[str, ...] = ("argmax", "itermax") + OT_METHODS

#: SimAlign 0.4's IterMax constants
_ITERMAX_ALPHA = 0.9
_ITERMAX_ROUNDS = 2


@dataclass(frozen=True)
class AlignOptions:
    """How :func:`word_alignments` reads links, beyond ``method`` and ``layer``.

    ``pooling``: the points (see the module docstring); ``plan``: the OT plan's settings (cost,
    eps, reach = None for balanced, tol) for the ``ot-*`` methods; ``threshold``: the mass
    fraction of ``"ot-threshold"``; ``batch_size``: pairs per forward pass; ``max_length``:
    subword tokens per sentence (SimAlign: the model's 512).
    """

    pooling: Pooling = "subword"
    plan: LossConfig = field(default_factory=lambda: LossConfig(cost="cosine", eps=0.05))
    threshold: float = 0.5
    batch_size: int = 32
    max_length: int = 512

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}")
        if not isinstance(self.plan, LossConfig):
            raise TypeError(f"plan must be a LossConfig, got {type(self.plan).__name__}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if self.batch_size < 1 or self.max_length < 2:
            raise ValueError(
                f"batch_size must be >= 1 and max_length >= 2, got {self.batch_size}, "
                f"{self.max_length}"
            )


@dataclass
class _Points:
    """Points of a batch of sentences: ``vectors (B, N, D)``, ``mask (B, N)`` and, per point,
    the index of its word among the words given (``owners[b][n]``)."""

    vectors: Tensor
    mask: Tensor
    owners: list[list[int]]


def _points(
    model, tokenizer, words: list[list[str]], layers: Sequence[int], options: AlignOptions
) -> list[_Points]:
    """The points of a batch of sentences at each of ``layers`` (see :class:`_Points`), from
    one forward pass."""
    spans = word_spans(tokenizer, words, options.max_length)
    out = []
    kept = [original_indices(w, k) for w, k in zip(words, spans.words, strict=True)]
    for H in hidden_layers(model, spans.encoding, layers):
        P, mask, owners = selection_matrix(spans.spans, H.shape[1], options.pooling)
        vectors = P.to(H.device, H.dtype) @ H
        owners = [[kept[b][w] for w in row] for b, row in enumerate(owners)]
        out.append(_Points(vectors, mask.to(H.device), owners))
    return out


def _mapped(points: _Points, fmap: FeatureMap) -> _Points:
    """``points`` with ``fmap`` applied to every real point's vector (padding stays zero)."""
    vectors = torch.zeros_like(points.vectors)
    moved = fmap.map(points.vectors[points.mask].float())
    if not torch.isfinite(moved).all():
        raise FloatingPointError(
            f"the feature map {type(fmap).__name__} produced non-finite vectors"
        )
    vectors[points.mask] = moved.to(vectors.dtype)
    return _Points(vectors, points.mask, points.owners)


def similarity(x: Tensor, y: Tensor) -> Tensor:
    """SimAlign's similarity ``(1 + cos) / 2`` in [0, 1]: ``(n, D), (m, D) -> (n, m)``."""
    x = torch.nn.functional.normalize(x, dim=-1)
    y = torch.nn.functional.normalize(y, dim=-1)
    return (x @ y.T + 1.0) / 2.0


def word_similarity(
    model,
    tokenizer,
    pair: tuple[Sequence[str], Sequence[str]],
    *,
    layer: int = 8,
    options: AlignOptions | None = None,
) -> Tensor:
    """SimAlign's :func:`similarity` between the points of one ``(source_words,
    english_words)`` pair at ``layer``: ``(n_points_src, n_points_en)``; with
    ``options.pooling="mean"`` (or first/last) one row per source word and one column per
    English word, for pictures. Words the tokenizer cannot represent have no point."""
    options = options or AlignOptions(pooling="mean")
    check_word_pairs([pair])
    with torch.no_grad():
        src, en = (_points(model, tokenizer, [list(words)], (layer,), options)[0] for words in pair)
    n, m = int(src.mask[0].sum()), int(en.mask[0].sum())
    return similarity(src.vectors[0, :n].float(), en.vectors[0, :m].float())


def mutual_argmax(sim: Tensor) -> Tensor:
    """Boolean ``(n, m)``: i-j where j is row i's argmax and i is column j's (first on ties)."""
    n, m = sim.shape
    fwd = torch.zeros(n, m, dtype=torch.bool, device=sim.device)
    fwd[torch.arange(n), sim.argmax(1)] = True
    bwd = torch.zeros(n, m, dtype=torch.bool, device=sim.device)
    bwd[sim.argmax(0), torch.arange(m)] = True
    return fwd & bwd


def itermax(sim: Tensor) -> Tensor:
    """SimAlign's IterMax on a similarity ``(n, m)`` in [0, 1]: boolean ``(n, m)``."""
    inter = mutual_argmax(sim).to(sim.dtype)
    n, m = sim.shape
    if min(n, m) <= 2:
        return inter.bool()
    for _ in range(1, _ITERMAX_ROUNDS):
        free_row = (1.0 - inter.sum(1).clamp(0.0, 1.0)).unsqueeze(1).expand(n, m)
        free_col = (1.0 - inter.sum(0).clamp(0.0, 1.0)).unsqueeze(0).expand(n, m)
        if free_row.sum() < 1.0 or free_col.sum() < 1.0:
            break  # every row or every column is aligned
        damp = (_ITERMAX_ALPHA * free_row + _ITERMAX_ALPHA * free_col).clamp(0.0, 1.0)
        open_ = 1.0 - (1.0 - free_row) * (1.0 - free_col)  # 0 where both sides are aligned
        new = mutual_argmax(sim * damp).to(sim.dtype) * open_
        if torch.equal(inter + new, inter):
            break
        inter = inter + new
    return inter > 0


def plan_links(plan: Tensor, how: str, threshold: float = 0.5) -> Tensor:
    """Boolean ``(n, m)`` links read from a transport plan ``(n, m)`` (real points only).

    ``how``: ``"ot-row"`` (argmax of each row), ``"ot-column"``, ``"ot-mutual"`` (both), or
    ``"ot-threshold"`` (``pi_ij >= threshold * min(a_i, b_j)`` with a, b the uniform weights).
    """
    n, m = plan.shape
    if how == "ot-mutual":
        return mutual_argmax(plan)
    out = torch.zeros(n, m, dtype=torch.bool, device=plan.device)
    if how == "ot-row":
        out[torch.arange(n), plan.argmax(1)] = True
    elif how == "ot-column":
        out[plan.argmax(0), torch.arange(m)] = True
    elif how == "ot-threshold":
        out = plan >= threshold * min(1.0 / n, 1.0 / m)
    else:
        raise ValueError(f"unknown plan reading {how!r}; choose one of {OT_METHODS}")
    return out


def _to_words(matrix: Tensor, own_src: list[int], own_en: list[int]) -> set[Link]:
    return {(own_src[i], own_en[j]) for i, j in matrix.nonzero().tolist()}


def _batch_links(src: _Points, en: _Points, method: str, options: AlignOptions) -> list[set[Link]]:
    B = src.vectors.shape[0]
    plans = None
    if method in OT_METHODS:
        cfg = options.plan
        solver = dict(cfg.solver) | ({"tol": cfg.tol} if cfg.tol is not None else {})
        a = src.mask.to(src.vectors.dtype)
        b = en.mask.to(en.vectors.dtype)
        a, b = a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)
        plans = transport_plan(
            src.vectors, en.vectors, a, b, eps=cfg.eps, cost=cfg.cost, reach=cfg.reach, **solver
        )
    out = []
    for k in range(B):
        n, m = int(src.mask[k].sum()), int(en.mask[k].sum())
        if plans is not None:
            links = plan_links(plans[k, :n, :m], method, options.threshold)
        else:
            sim = similarity(src.vectors[k, :n], en.vectors[k, :m])
            links = mutual_argmax(sim) if method == "argmax" else itermax(sim)
        out.append(_to_words(links, src.owners[k], en.owners[k]))
    return out


def word_alignments(
    model,
    tokenizer,
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    method: Method,
    layer: int = 8,
    options: AlignOptions | None = None,
) -> list[set[Link]]:
    """Word links of each ``(source_words, english_words)`` pair, read from ``model``'s hidden
    states at ``layer`` by ``method`` (see the module docstring). Runs without gradients, in
    batches of ``options.batch_size`` pairs sorted by length (the output is in input order).

    Returns one set of 0-indexed ``(source_index, english_index)`` per pair.
    """
    return alignments_by_layer(
        model, tokenizer, pairs, method=method, layers=(layer,), options=options
    )[layer]


def alignments_by_layer(
    model,
    tokenizer,
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    method: Method,
    layers: Sequence[int] = (8,),
    options: AlignOptions | None = None,
    source_map: Mapping[int, FeatureMap] | None = None,
) -> dict[int, list[set[Link]]]:
    """:func:`word_alignments` at each of ``layers``, from one forward pass per batch:
    ``{layer: [links of pair k, ...]}``. ``source_map``: per layer, a feature map
    (:mod:`wordot.neighbours`) applied to the source words' vectors before they are aligned;
    a layer without one is read as it is."""
    if method not in METHODS:
        raise ValueError(f"unknown alignment method {method!r}; choose one of {METHODS}")
    if not layers:
        raise ValueError("no layer given")
    options = options or AlignOptions()
    layers = tuple(dict.fromkeys(layers))
    check_word_pairs(pairs)
    order = sorted(range(len(pairs)), key=lambda k: len(pairs[k][0]) + len(pairs[k][1]))
    result: dict[int, list[set[Link]]] = {x: [set() for _ in pairs] for x in layers}
    with torch.no_grad():
        for start in range(0, len(order), options.batch_size):
            idx = order[start : start + options.batch_size]
            src, en = (
                _points(model, tokenizer, [list(pairs[k][side]) for k in idx], layers, options)
                for side in (0, 1)
            )
            for layer, s_pts, e_pts in zip(layers, src, en, strict=True):
                if source_map and layer in source_map:
                    s_pts = _mapped(s_pts, source_map[layer])
                for k, links in zip(idx, _batch_links(s_pts, e_pts, method, options), strict=True):
                    result[layer][k] = links
    return result
