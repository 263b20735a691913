"""What differs between XNLI and XQuAD in a run: data, inputs, training set, test, records.

:func:`wordot.xtreme.runs.run_task` drives either pipeline through the same steps:

1. ``Pipeline(preset, DataRequest(...))`` loads every split (so that missing data
   fail before a long model download);
2. :meth:`prepare` turns them into model inputs and returns the :class:`TrainInputs`;
3. after :func:`~wordot.xtreme.finetune.fine_tune`, :meth:`test` scores every test language and
   writes XTREME-style predictions and every item's score (``scores-<lang>.json``, for paired
   comparisons, :mod:`~wordot.xtreme.compare`); :meth:`data_record` and :meth:`results` are
   the pipeline's part of ``results.json``.

The classes here are the ``"xtreme"`` protocol (English MultiNLI / SQuAD from the hub);
:mod:`~wordot.xtreme.downsized` subclasses them for the ``"downsized"`` one, and
:data:`wordot.xtreme.runs.PIPELINES` picks a class by task and protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import write_json, write_text
from .data import NLI_LABELS, SQUAD_HUB, XNLI_HUB, XQUAD_HUB, load_nli, load_qa
from .features import QAFeatures, encode_nli, prepare_qa, set_lowercase, wants_token_types
from .finetune import ArrayDataset, collate_arrays, nli_collator, predict_nli, qa_logits
from .metrics import accuracy, language_averages, squad_metrics, squad_scores
from .postprocess import postprocess_qa
from .presets import TaskPreset

#: the protocols of a run: XTREME's (English MultiNLI / SQuAD training data from the hub) and
#: the downsized one on the evaluation files alone (:mod:`wordot.xtreme.downsized`)
PROTOCOLS = ("xtreme", "downsized")


@dataclass(frozen=True)
class DownsizedSplit:
    """The fixed split of the ``"downsized"`` protocol: the same for every run and encoder.

    ``seed`` chooses the split (not the fine-tuning seed of a run); ``test_articles``: XQuAD
    articles held out for testing (of 48); ``dev_items``: English XNLI dev items held out to
    choose the checkpoint (rounded up to whole premises); ``train_items``: a subsample of the
    training items (XNLI: of the dev items not held out; XQuAD: of the training articles'
    questions; None = all); ``test_items``: a subsample of the test items, the same items in
    every language (XNLI: of 5010 per language; XQuAD: of the held-out questions; None = all).
    """

    seed: int = 0
    test_articles: int = 12
    dev_items: int = 490
    train_items: int | None = None
    test_items: int | None = None

    def __post_init__(self) -> None:
        for name in ("test_articles", "dev_items", "train_items", "test_items"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"DownsizedSplit.{name} must be a positive integer, got {value!r}")

    def to_dict(self, task: str) -> dict[str, Any]:
        """The fields that apply to ``task`` (what ``results.json`` records and reuse compares)."""
        own = "test_articles" if task == "xquad" else "dev_items"
        return {
            "seed": self.seed,
            own: getattr(self, own),
            "train_items": self.train_items,
            "test_items": self.test_items,
        }


@dataclass(frozen=True)
class DataRequest:
    """The data of a run: test languages, where from, the first N training examples (None =
    all), the protocol and, for ``"downsized"``, its split.

    ``source``: for ``"xtreme"`` ``"hub"``, ``"fixtures"`` or a directory laid out like the
    hub (:func:`~wordot.xtreme.data.load_split`); for ``"downsized"`` ``"eval-data"``
    (:func:`wordot.datasets.path`'s search) or a directory laid out like ``eval-data``.
    """

    languages: tuple[str, ...]
    source: str | Path = "hub"
    train_limit: int | None = None
    protocol: str = "xtreme"
    split: DownsizedSplit | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose one of {PROTOCOLS}")
        if self.protocol == "xtreme" and self.split is not None:
            raise ValueError("a DownsizedSplit is for protocol='downsized', not 'xtreme'")


@dataclass(frozen=True)
class TrainInputs:
    """What :func:`~wordot.xtreme.finetune.fine_tune` needs from a pipeline."""

    train_set: Any  # a sequence of items that ``collate`` batches
    collate: Callable[[list[dict]], dict]
    evaluate: Callable[[Any], float] | None = None  # dev score of a model (XNLI)


@dataclass(frozen=True)
class Inference:
    """Where the trained model runs: the accelerator's device and autocast."""

    device: Any = "cpu"
    autocast: Callable[[], contextlib.AbstractContextManager] | None = None


def _split(dataset: str, config: str, split: str, examples: int, **extra: Any) -> dict[str, Any]:
    """One data split as recorded in ``results.json``."""
    return {"dataset": dataset, "config": config, "split": split, "examples": examples, **extra}


def write_item_scores(path: Path, ids: list[str], scores: dict[str, list[float]]) -> None:
    """``{"id": [...], <metric>: [...], ...}``: every test item's scores, 0-100, in test order
    (their means are the language's metrics)."""
    for name, values in scores.items():
        if len(values) != len(ids):
            raise ValueError(f"{path}: {len(values)} {name} scores for {len(ids)} items")
    write_json(path, {"id": ids} | scores)


class XNLIPipeline:
    """English MultiNLI for training, English XNLI dev for model selection, accuracy on each
    language's test set; predictions are label names, one a line (``test-<lang>.tsv``)."""

    task = "xnli"

    def __init__(self, preset: TaskPreset, request: DataRequest):
        self.preset, source = preset, request.source
        self.train = load_nli("en", "train", source, limit=request.train_limit)
        self.dev = load_nli("en", "validation", source)
        self.tests = {lg: load_nli(lg, "test", source) for lg in request.languages}
        self.test_ids = {lg: [str(i) for i in range(len(ds))] for lg, ds in self.tests.items()}

    def prepare(self, model: Any, tokenizer: Any) -> TrainInputs:
        tt = wants_token_types(model)

        def enc(ds: Any) -> list[dict[str, Any]]:
            return encode_nli(tokenizer, ds, self.preset.max_length, token_type_ids=tt)

        train_rows, dev_rows = enc(self.train), enc(self.dev)
        self.test_rows = {lg: enc(ds) for lg, ds in self.tests.items()}
        self.collate = nli_collator(tokenizer, None)
        dev_labels = [r["labels"] for r in dev_rows]

        def dev_accuracy(m: Any) -> float:
            pred = predict_nli(m, dev_rows, self.collate, device=next(m.parameters()).device)
            return accuracy(pred, dev_labels)

        return TrainInputs(train_rows, self.collate, dev_accuracy)

    def test(self, model: Any, run: Inference, pred_dir: Path) -> dict[str, dict[str, Any]]:
        metrics = {}
        for lg, rows in self.test_rows.items():
            pred = predict_nli(model, rows, self.collate, device=run.device, autocast=run.autocast)
            gold = np.asarray([r["labels"] for r in rows])
            metrics[lg] = {"accuracy": accuracy(pred, gold), "examples": len(rows)}
            write_text(pred_dir / f"test-{lg}.tsv", "".join(NLI_LABELS[i] + "\n" for i in pred))
            correct = (100.0 * (pred == gold)).tolist()
            write_item_scores(
                pred_dir / f"scores-{lg}.json", self.test_ids[lg], {"accuracy": correct}
            )
        return metrics

    def data_record(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "train": _split(XNLI_HUB, "en", "train", len(self.train)),
            "dev": _split(XNLI_HUB, "en", "validation", len(self.dev)),
            "test": {lg: _split(XNLI_HUB, lg, "test", len(ds)) for lg, ds in self.tests.items()},
        }

    def results(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        scores = {lg: m["accuracy"] for lg, m in metrics.items()}
        return {
            "metric": "accuracy",
            "metrics": metrics,
            "averages": language_averages(scores, "xnli"),
        }


def _answer_window_settings(preset: TaskPreset, tokenizer: Any) -> dict[str, Any]:
    """``prepare_qa`` settings of ``preset.answer_window`` training windows, starting
    ``answer_window // 2`` tokens apart (with a 15-token question and 128-token windows,
    consecutive windows share 46 context tokens)."""
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    context = preset.answer_window - preset.max_query_length - specials
    if context < 2:
        raise ValueError(
            f"preset {preset.name!r}: answer_window {preset.answer_window} leaves {context} "
            f"context tokens after a {preset.max_query_length}-token question and {specials} "
            "special tokens"
        )
    return {
        "max_length": preset.answer_window,
        "doc_stride": preset.answer_window // 2,
        "keep_offsets": False,
    }


def _answer_windows(feats: QAFeatures) -> np.ndarray:
    """``(F,)``: each example's first window that holds its whole answer. The first, not the
    one where the answer is most central: a test window (384 tokens) starts where the context
    starts, and so does the first training window. Measured on 60 held-out questions, the
    most central window (BERT's maximum context, windows 30 tokens apart) gave lower F1 than
    the first (64 apart): English 38.2 against 40.6, German 26.1 against 31.5."""
    holds = np.flatnonzero(feats.start_positions > 0)
    _, first = np.unique(feats.example_index[holds], return_index=True)
    out = np.zeros(len(feats), dtype=bool)
    out[holds[first]] = True
    return out


class XQuADPipeline:
    """English SQuAD v1.1 for training, SQuAD F1/EM on each XQuAD language; predictions are
    ``{id: answer}`` (``test-<lang>.json``)."""

    task = "xquad"

    def __init__(self, preset: TaskPreset, request: DataRequest):
        self.preset, source = preset, request.source
        self.train = load_qa("squad", data=source, limit=request.train_limit)
        self.tests = {lg: load_qa("xquad", lg, source) for lg in request.languages}

    def prepare(self, model: Any, tokenizer: Any) -> TrainInputs:
        p = self.preset
        self.lowercased = set_lowercase(tokenizer) if p.do_lower_case else False
        kw: dict[str, Any] = dict(
            max_length=p.max_length,
            doc_stride=p.doc_stride,
            max_query_length=p.max_query_length,
            token_type_ids=wants_token_types(model),
        )
        train = self.train
        train_kw = kw | {"keep_offsets": False}
        if p.answer_window:
            train_kw = kw | _answer_window_settings(p, tokenizer)
        feats = prepare_qa(
            tokenizer, train["question"], train["context"], train["answers"], **train_kw
        )
        self.test_feats = {
            lg: prepare_qa(tokenizer, ds["question"], ds["context"], **kw)
            for lg, ds in self.tests.items()
        }
        keep = np.isin(feats.example_index, feats.skipped, invert=True)
        self.windowless = 0  # answer_window: questions whose answer lies whole in no window
        if p.answer_window:
            keep &= _answer_windows(feats)
            self.windowless = len(train) - len(feats.skipped) - int(keep.sum())
        self.train_windows, self.skipped = int(keep.sum()), len(feats.skipped)
        arrays = {k: v[keep] for k, v in feats.arrays(labels=True).items()}
        return TrainInputs(ArrayDataset(arrays), collate_arrays)

    def test(self, model: Any, run: Inference, pred_dir: Path) -> dict[str, dict[str, Any]]:
        metrics = {}
        for lg, ds in self.tests.items():
            feats = self.test_feats[lg]
            start, end = qa_logits(model, feats, device=run.device, autocast=run.autocast)
            preds, _ = postprocess_qa(
                feats,
                start,
                end,
                ds["context"],
                ds["id"],
                n_best=self.preset.n_best,
                max_answer_length=self.preset.max_answer_length,
            )
            refs = {qid: a["text"] for qid, a in zip(ds["id"], ds["answers"], strict=True)}
            metrics[lg] = squad_metrics(preds, refs) | {"examples": len(ds), "windows": len(feats)}
            write_json(pred_dir / f"test-{lg}.json", preds, indent=2)
            items = squad_scores(preds, refs)
            ids = list(items)
            write_item_scores(
                pred_dir / f"scores-{lg}.json",
                ids,
                {key: [items[q][key] for q in ids] for key in ("f1", "exact_match")},
            )
        return metrics

    def data_record(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        train = _split(
            SQUAD_HUB,
            "plain_text",
            "train",
            len(self.train),
            windows=self.train_windows,
            skipped_examples=self.skipped,
        )
        test = {
            lg: _split(
                XQUAD_HUB, f"xquad.{lg}", "validation", len(ds), windows=metrics[lg]["windows"]
            )
            for lg, ds in self.tests.items()
        }
        return {"train": train, "test": test}

    def results(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "metric": "f1",
            "metrics": metrics,
            "averages": {
                key: language_averages({lg: m[key] for lg, m in metrics.items()}, "xquad")
                for key in ("f1", "exact_match")
            },
            "tokenizer": {
                "do_lower_case": self.preset.do_lower_case,
                "lowercase_applied": self.lowercased,
            },
        }
