"""One encoder on the standard sets: gold AER on every alignment set, Tatoeba in many languages.

:func:`run_benchmarks` is the evaluation suite of the book's results: for one encoder it reads

* word alignments of every gold set of :data:`~wordot.align.gold.GOLD_SETS` (XL-WA on the split
  asked for, the others on their only, test, split) at each layer of ``align_layers``, with one
  method (:func:`~wordot.align.methods.word_alignments`), scored by corpus-level AER, precision
  and recall (:func:`~wordot.align.metrics.gold_scores`);
* Tatoeba retrieval accuracy in both directions for each language of ``tatoeba_languages`` at
  each layer of ``tatoeba_layers`` (:func:`~wordot.align.retrieval.tatoeba_layers`: one
  encoding of the sentences serves every layer).

The result is a long table, one row per (task, set or language, layer, metric), with the number
of sentences or pairs behind each value, and the seconds each part took in ``attrs["seconds"]``.
Two layers are read by default: 8, the usual choice for word alignment and retrieval with
BERT-size encoders, and the last, where the WordOT loss acts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tqdm.auto import tqdm

from .. import languages as L
from .gold import GOLD_SETS, SPLITS, load_gold, source_language
from .methods import METHODS, AlignOptions, Method, alignments_by_layer, word_alignments
from .metrics import gold_scores
from .retrieval import RetrievalOptions, tatoeba_code, tatoeba_layers
from .statistical import StatMethod, align_statistical, tokenize_pairs

if TYPE_CHECKING:
    from ..neighbours import FeatureMap

#: ``{language: {layer: feature map}}``: what :func:`run_benchmarks` applies to source vectors
SourceMaps = Mapping[str, Mapping[int, "FeatureMap"]]

__all__ = [
    "PUBLISHED_AER",
    "TATOEBA_LANGUAGES",
    "compare_readings",
    "layer_curve",
    "BenchmarkConfig",
    "COLUMNS",
    "averages",
    "layer_name",
    "run_benchmarks",
    "gold_rows",
    "tatoeba_rows",
    "StatisticalGold",
    "statistical_gold",
]

#: Tatoeba languages of the suite: the paper's fourteen XNLI languages (the training languages
#: de fr es ru among them) and the other sources of the gold alignment sets (ro, ja)
TATOEBA_LANGUAGES: tuple[str, ...] = L.TATOEBA

#: Published AER (points) on the sets here, from the awesome-align README (Dou and Neubig
#: 2021): mBERT layer 8 without fine-tuning, read with argmax (SimAlign's recipe), and two
#: statistical aligners trained on large parallel corpora. Its de-en figures are on the RWTH
#: set (not redistributable), not on the 100 Bicici sentences here, so they are left out.
PUBLISHED_AER: dict[str, dict[str, float]] = {
    "mBERT layer 8, argmax": {"enfr": 5.6, "roen": 27.9, "zhen": 18.1, "jaen": 45.6},
    "eflomal": {"enfr": 8.2, "roen": 25.1, "zhen": 28.7, "jaen": 47.5},
    "fast_align": {"enfr": 10.5, "roen": 32.1, "zhen": 38.1, "jaen": 51.1},
}

#: the columns of a benchmark table
COLUMNS: tuple[str, ...] = ("task", "set", "split", "language", "layer", "metric", "value", "n")


@dataclass(frozen=True)
class BenchmarkConfig:
    """What :func:`run_benchmarks` measures.

    ``gold_sets``: gold alignment sets; ``split``: the split of those that have one (XL-WA:
    ``"dev"`` to choose settings, ``"test"`` to report); ``method``, ``align_layers``,
    ``align``: how links are read; ``tatoeba_languages``, ``tatoeba_layers``, ``retrieval``:
    the retrieval part (an empty tuple skips a part).
    """

    gold_sets: tuple[str, ...] = tuple(GOLD_SETS)
    split: str = "test"
    method: Method = "argmax"
    align_layers: tuple[int, ...] = (8, -1)
    align: AlignOptions = field(default_factory=AlignOptions)
    tatoeba_languages: tuple[str, ...] = TATOEBA_LANGUAGES
    tatoeba_layers: tuple[int, ...] = (8, -1)
    retrieval: RetrievalOptions = field(default_factory=RetrievalOptions)

    def __post_init__(self) -> None:
        unknown = [s for s in self.gold_sets if s not in GOLD_SETS]
        if unknown:
            raise ValueError(f"unknown gold set(s) {unknown}; known: {list(GOLD_SETS)}")
        if self.split not in ("dev", "test"):
            raise ValueError(f"split must be 'dev' or 'test', got {self.split!r}")
        if self.method not in METHODS:
            raise ValueError(f"unknown alignment method {self.method!r}; choose one of {METHODS}")
        for lang in self.tatoeba_languages:
            tatoeba_code(lang)  # raises naming the language
        if (self.gold_sets and not self.align_layers) or (
            self.tatoeba_languages and not self.tatoeba_layers
        ):
            raise ValueError("give at least one layer for each part that has sets or languages")
        if not self.gold_sets and not self.tatoeba_languages:
            raise ValueError("nothing to measure: no gold set and no Tatoeba language")


def layer_name(layer: int) -> str:
    """``"layer 8"``, or ``"last"`` for -1: how tables and figures name a layer."""
    return "last" if layer == -1 else f"layer {layer}"


def _split_of(name: str, split: str) -> str:
    return split if name in SPLITS else "test"


def gold_rows(
    model,
    tokenizer,
    cfg: BenchmarkConfig,
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    source_maps: SourceMaps | None = None,
) -> list[dict]:
    """The word-alignment rows of :func:`run_benchmarks` (AER, precision, recall per set and
    layer)."""
    rows = []
    data = _gold_pairs(cfg.gold_sets, cfg.split, data_dir)
    for name, (gold, pairs) in tqdm(
        data.items(), desc="gold alignments", disable=not progress, leave=False
    ):
        split = _split_of(name, cfg.split)
        by_layer = alignments_by_layer(
            model,
            tokenizer,
            pairs,
            method=cfg.method,
            layers=cfg.align_layers,
            options=cfg.align,
            source_map=(source_maps or {}).get(source_language(name)),
        )
        for layer, links in by_layer.items():
            scores = gold_scores(links, gold)
            where = ("alignment", name, split, source_language(name), layer_name(layer))
            rows += [
                _row(*where, m, getattr(scores, m), len(gold))
                for m in ("aer", "precision", "recall")
            ]
    return rows


def _row(
    task: str, name: str, split: str, lang: str, layer: str, metric: str, value: float, n: int
) -> dict:
    """One row of a benchmark table (:data:`COLUMNS`)."""
    return dict(zip(COLUMNS, (task, name, split, lang, layer, metric, value, n), strict=True))


def tatoeba_rows(
    model,
    tokenizer,
    cfg: BenchmarkConfig,
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    source_maps: SourceMaps | None = None,
) -> list[dict]:
    """The retrieval rows of :func:`run_benchmarks` (accuracy xx->en and en->xx per language
    and layer)."""
    rows = []
    langs = tqdm(cfg.tatoeba_languages, desc="Tatoeba", disable=not progress, leave=False)
    for lang in langs:
        by_layer = tatoeba_layers(
            model,
            tokenizer,
            lang,
            layers=cfg.tatoeba_layers,
            options=cfg.retrieval,
            data_dir=data_dir,
            source_map=(source_maps or {}).get(lang),
        )
        for layer, r in by_layer.items():
            where = ("tatoeba", "tatoeba", "test", lang, layer_name(layer))
            rows += [
                _row(*where, "xx_to_en", r.xx_to_en, r.n),
                _row(*where, "en_to_xx", r.en_to_xx, r.n),
            ]
    return rows


def run_benchmarks(
    model,
    tokenizer,
    cfg: BenchmarkConfig = BenchmarkConfig(),
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    workers: int = 1,
    source_maps: SourceMaps | None = None,
) -> pd.DataFrame:
    """Every measure of ``cfg`` for one encoder: a long table with :data:`COLUMNS` (values are
    fractions; ``n`` is the number of sentence pairs behind each), seconds per part in
    ``attrs["seconds"]``. The encoder is put in eval mode; nothing is trained.

    ``data_dir``: a directory laid out like ``../shared/eval-data`` (default:
    :func:`wordot.datasets.path` finds the files). ``workers > 1``: the work is split into that
    many one-thread processes (:func:`shards`; on two cores this beats one process of two
    threads, ``benchmarks/eval_suite.py``); the rows are the same, in the same order.

    ``source_maps``: ``{language: {layer: feature map}}`` (:mod:`wordot.neighbours`), applied
    to that language's vectors before alignment and retrieval. A language or layer without a
    map is read unmapped and listed in ``attrs["unmapped"]`` (e.g. a gold set whose language
    had no training pairs), so that a table never passes unmapped rows off as mapped ones.
    """
    model.eval()
    if workers > 1:
        table = _run_in_workers(model, tokenizer, cfg, data_dir, workers, source_maps)
    else:
        seconds = {}
        kw = {"data_dir": data_dir, "progress": progress, "source_maps": source_maps}
        t0 = time.perf_counter()
        rows = gold_rows(model, tokenizer, cfg, **kw)
        seconds["alignment"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows += tatoeba_rows(model, tokenizer, cfg, **kw)
        seconds["tatoeba"] = time.perf_counter() - t0
        table = pd.DataFrame(rows, columns=list(COLUMNS))
        table.attrs["seconds"] = seconds
    if source_maps is not None:
        table.attrs["unmapped"] = unmapped(table, source_maps)
    return table


def unmapped(table: pd.DataFrame, source_maps: SourceMaps) -> list[tuple[str, str]]:
    """``(language, layer name)`` of the rows of ``table`` that no map of ``source_maps``
    covered, sorted."""
    covered = {(lang, layer_name(layer)) for lang, maps in source_maps.items() for layer in maps}
    rows = set(zip(table["language"], table["layer"], strict=True))
    return sorted(rows - covered)


#: measured cost of the gold alignment part per sentence pair, in Tatoeba languages (one language
#: is 1000 pairs read in both directions): 127 s for 2,317 pairs vs 14.7 s per language
GOLD_PAIR_COST = 0.0037


def shards(cfg: BenchmarkConfig, workers: int, data_dir: str | Path | None = None) -> list:
    """``cfg`` cut into ``workers`` configs of about equal cost: the first holds every gold set
    and as many Tatoeba languages as balance it, the others the rest of the languages."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    gold = sum(len(pairs) for _, pairs in _gold_pairs(cfg.gold_sets, cfg.split, data_dir).values())
    langs = list(cfg.tatoeba_languages)
    total = GOLD_PAIR_COST * gold + len(langs)
    with_gold = max(0, min(len(langs), round(total / workers - GOLD_PAIR_COST * gold)))
    parts = [langs[:with_gold]]
    rest = langs[with_gold:]
    k = workers - 1
    parts += [rest[i * len(rest) // k : (i + 1) * len(rest) // k] for i in range(k)] if k else []
    out = [dataclasses.replace(cfg, tatoeba_languages=tuple(parts[0]))]
    out += [dataclasses.replace(cfg, gold_sets=(), tatoeba_languages=tuple(p)) for p in parts[1:]]
    return [c for c in out if c.gold_sets or c.tatoeba_languages]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _shard_rows(
    weights: tuple, tokenizer, cfg: BenchmarkConfig, data_dir, source_maps=None
) -> tuple[list, dict]:
    """One shard in a worker; the encoder comes as ``(class, config, state_dict)`` (a model
    that has run carries transformers' output hooks, which do not pickle)."""
    kind, config, state = weights
    model = kind(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("pooler.") for k in missing):  # no pooler is fine
        raise RuntimeError(
            f"worker copy of the encoder: missing {missing}, unexpected {unexpected}"
        )
    table = run_benchmarks(
        model, tokenizer, cfg, data_dir=data_dir, progress=False, source_maps=source_maps
    )
    return table.to_dict("records"), table.attrs["seconds"]


def _run_in_workers(
    model, tokenizer, cfg, data_dir, workers: int, source_maps=None
) -> pd.DataFrame:
    """:func:`run_benchmarks` over :func:`shards` in one-thread worker processes."""
    parts = shards(cfg, workers, data_dir)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=len(parts), mp_context=get_context("spawn"), initializer=_one_thread
    ) as pool:
        weights = (type(model), model.config, model.state_dict())
        futures = [
            pool.submit(_shard_rows, weights, tokenizer, c, data_dir, source_maps) for c in parts
        ]
        done = [f.result() for f in futures]
    rows = [r for part, _ in done for r in part if r["task"] != "tatoeba"]
    rows += [r for part, _ in done for r in part if r["task"] == "tatoeba"]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.attrs["seconds"] = {
        "alignment": max(sec["alignment"] for _, sec in done),
        "tatoeba": max(sec["tatoeba"] for _, sec in done),
        "wall": time.perf_counter() - t0,
    }
    return table


def averages(table: pd.DataFrame, sets: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean value per (task, layer, metric) over the sets and languages of ``table`` (or the
    ``sets``/languages named): one row each, with the number of sets averaged."""
    t = table if sets is None else table[table["set"].isin(sets) | table["language"].isin(sets)]
    return (
        t.groupby(["task", "layer", "metric"], sort=False)["value"]
        .agg(value="mean", sets="size")
        .reset_index()
    )


def _gold_pairs(sets: Sequence[str], split: str, data_dir: str | Path | None) -> dict:
    out = {}
    for name in sets:
        gold = load_gold(name, _split_of(name, split), data_dir=data_dir)
        out[name] = (gold, [(g.src, g.en) for g in gold])
    return out


def compare_readings(
    model,
    tokenizer,
    readings: dict[str, tuple[Method, AlignOptions]],
    *,
    gold_sets: Sequence[str],
    split: str = "dev",
    layer: int = 8,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """AER, precision and recall of several ways of reading links (``{label: (method,
    options)}``) on ``gold_sets`` at one ``layer``: one row per (reading, set), plus one per
    reading over all the sets together (``set == "all"``, corpus-level over their sentences).
    Choose readings on ``split="dev"``; report the chosen one on test once."""
    model.eval()
    data = _gold_pairs(gold_sets, split, data_dir)
    rows = []
    for label, (method, options) in readings.items():
        every_links, every_gold = [], []
        for name, (gold, pairs) in data.items():
            links = word_alignments(
                model, tokenizer, pairs, method=method, layer=layer, options=options
            )
            every_links += links
            every_gold += gold
            rows.append(_score_row(label, name, links, gold))
        rows.append(_score_row(label, "all", every_links, every_gold))
    return pd.DataFrame(rows)


def _score_row(label: str, name: str, links: list, gold: list) -> dict:
    sc = gold_scores(links, gold)
    return {
        "reading": label,
        "set": name,
        "aer": sc.aer,
        "precision": sc.precision,
        "recall": sc.recall,
        "n": len(gold),
    }


def layer_curve(
    model,
    tokenizer,
    *,
    gold_sets: Sequence[str],
    split: str = "dev",
    method: Method = "argmax",
    layers: Sequence[int] | None = None,
    options: AlignOptions | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """AER of ``method`` at every layer (default 0 = embeddings ... last) on each gold set,
    from one forward pass per batch: rows (set, layer, aer, precision, recall, n)."""
    model.eval()
    if layers is None:
        layers = range(model.config.num_hidden_layers + 1)
    rows = []
    for name, (gold, pairs) in _gold_pairs(gold_sets, split, data_dir).items():
        by_layer = alignments_by_layer(
            model, tokenizer, pairs, method=method, layers=tuple(layers), options=options
        )
        for layer, links in by_layer.items():
            row = _score_row(method, name, links, gold)
            rows.append(
                {"set": name, "layer": layer}
                | {k: row[k] for k in row if k not in ("reading", "set")}
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class StatisticalGold:
    """A statistical aligner scored on one gold set: its ``aer`` (fraction), the number of extra
    training pairs it read (``n_train``) and its wall time in seconds."""

    name: str
    method: str
    aer: float
    n_train: int
    seconds: float


def statistical_gold(
    name: str,
    train_sentences: Sequence[tuple[str, str]] = (),
    *,
    method: StatMethod = "eflomal",
    seed: int = 0,
) -> StatisticalGold:
    """Train ``method`` on gold set ``name``'s test sentences (its only split where it has one)
    plus ``train_sentences`` of its source language (raw ``(source, english)`` text; ignored for
    languages written without spaces, which Moses does not segment) and score its symmetrised
    links against the gold links: the row a statistical aligner gets beside the encoders."""
    gold = load_gold(name, "test" if name in SPLITS else None)
    lang = source_language(name)
    extra = tokenize_pairs(train_sentences, lang) if lang not in L.NO_SPACE else []
    run = align_statistical(
        [(g.src, g.en) for g in gold], train_pairs=extra, method=method, seed=seed
    )
    return StatisticalGold(name, method, gold_scores(run.links, gold).aer, run.n_train, run.seconds)
