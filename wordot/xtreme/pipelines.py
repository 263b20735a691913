"""What differs between XNLI and XQuAD in a run: data, inputs, training set, test, records.

:func:`wordot.xtreme.runs.run_task` drives either pipeline through the same steps:

1. ``Pipeline(preset, DataRequest(...))`` loads every split (so that missing data
   fail before a long model download);
2. :meth:`prepare` turns them into model inputs and returns the :class:`TrainInputs`;
3. after :func:`~wordot.xtreme.finetune.fine_tune`, :meth:`test` scores every test language and
   writes XTREME-style predictions; :meth:`data_record` and :meth:`results` are the pipeline's
   part of ``results.json``.
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
from .features import encode_nli, prepare_qa, set_lowercase, wants_token_types
from .finetune import ArrayDataset, collate_arrays, nli_collator, predict_nli, qa_logits
from .metrics import accuracy, language_averages, squad_metrics
from .postprocess import postprocess_qa
from .presets import TaskPreset


@dataclass(frozen=True)
class DataRequest:
    """The data of a run: test languages, where from (``"hub"``, ``"fixtures"`` or a
    directory, see :func:`~wordot.xtreme.data.load_split`), the first N training examples
    (None = all)."""

    languages: tuple[str, ...]
    source: str | Path = "hub"
    train_limit: int | None = None


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


class XNLIPipeline:
    """English MultiNLI for training, English XNLI dev for model selection, accuracy on each
    language's test set; predictions are label names, one a line (``test-<lang>.tsv``)."""

    task = "xnli"

    def __init__(self, preset: TaskPreset, request: DataRequest):
        self.preset, source = preset, request.source
        self.train = load_nli("en", "train", source, limit=request.train_limit)
        self.dev = load_nli("en", "validation", source)
        self.tests = {lg: load_nli(lg, "test", source) for lg in request.languages}

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
            metrics[lg] = {
                "accuracy": accuracy(pred, [r["labels"] for r in rows]),
                "examples": len(rows),
            }
            write_text(pred_dir / f"test-{lg}.tsv", "".join(NLI_LABELS[i] + "\n" for i in pred))
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
        feats = prepare_qa(
            tokenizer,
            train["question"],
            train["context"],
            train["answers"],
            keep_offsets=False,
            **kw,
        )
        self.test_feats = {
            lg: prepare_qa(tokenizer, ds["question"], ds["context"], **kw)
            for lg, ds in self.tests.items()
        }
        keep = np.isin(feats.example_index, feats.skipped, invert=True)
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


#: the pipeline of each task
PIPELINES: dict[str, type[XNLIPipeline] | type[XQuADPipeline]] = {
    "xnli": XNLIPipeline,
    "xquad": XQuADPipeline,
}
