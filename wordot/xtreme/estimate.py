"""GPU time of a run: an estimate from example counts and assumed throughput (no GPU here)."""

from __future__ import annotations

import math

import pandas as pd

from ..languages import XNLI, XQUAD
from .presets import PRESETS, TaskPreset, get_preset

#: split sizes of the real data (dataset cards)
DATA_SIZES = {
    "mnli_train": 392_702,
    "xnli_dev": 2_490,
    "xnli_test": 5_010,
    "squad_train": 87_599,
    "xquad_test": 1_190,
}

#: Assumed single-GPU throughput of this code (PyTorch eager, transformers' BERT-base), in
#: examples or windows per second: fp32 on a V100 (as XTREME ran), bf16 on an A100. Not
#: measured here (the book's machines have no GPU); a real run records its own in results.json.
GPU_THROUGHPUT = {
    "V100 (fp32)": {
        "xnli_train": 150.0,
        "xnli_eval": 1500.0,
        "xquad_train": 45.0,
        "xquad_eval": 150.0,
    },
    "A100 (bf16)": {
        "xnli_train": 450.0,
        "xnli_eval": 4500.0,
        "xquad_train": 180.0,
        "xquad_eval": 600.0,
    },
}
#: windows per SQuAD/XQuAD example at 384 tokens with doc stride 128 (assumed: ~4% of SQuAD
#: contexts exceed one window; other languages' contexts tokenise longer in mBERT)
QA_WINDOWS_PER_EXAMPLE = {"squad_train": 1.04, "xquad_test": 1.3}


def estimate_hours(
    task: str, preset: str | TaskPreset | None = None, gpu: str = "V100 (fp32)"
) -> dict[str, float]:
    """GPU hours for one encoder and one seed of ``task`` (all languages), with the arithmetic:
    ``train_passes / train_rate + dev_examples * evals / eval_rate + test / eval_rate``."""
    p = get_preset(task, preset)
    rate = GPU_THROUGHPUT[gpu]
    if task == "xnli":
        n_train = DATA_SIZES["mnli_train"]
        updates = math.ceil(n_train / p.batch_size) // p.grad_accum * p.epochs
        evals = updates // p.eval_every if p.eval_every else 0
        dev = evals * DATA_SIZES["xnli_dev"]
        test = DATA_SIZES["xnli_test"] * len(XNLI)
    else:
        n_train = round(DATA_SIZES["squad_train"] * QA_WINDOWS_PER_EXAMPLE["squad_train"])
        updates = math.ceil(n_train / p.batch_size) // p.grad_accum * p.epochs
        evals, dev = 0, 0
        windows = round(DATA_SIZES["xquad_test"] * QA_WINDOWS_PER_EXAMPLE["xquad_test"])
        test = windows * len(XQUAD)
    passes = n_train * p.epochs
    train_h = passes / rate[f"{task}_train"] / 3600
    dev_h = dev / rate[f"{task}_eval"] / 3600
    test_h = test / rate[f"{task}_eval"] / 3600
    return {
        "train_items": n_train,
        "epochs": p.epochs,
        "train_passes": passes,
        "updates": updates,
        "train_rate": rate[f"{task}_train"],
        "train_hours": train_h,
        "dev_evaluations": evals,
        "dev_items": dev,
        "test_items": test,
        "eval_rate": rate[f"{task}_eval"],
        "eval_hours": dev_h + test_h,
        "total_hours": train_h + dev_h + test_h,
    }


def estimate_table(task: str) -> pd.DataFrame:
    """:func:`estimate_hours` for every XTREME preset of ``task`` (not ``cpu``, which is for the
    downsized protocol, nor ``smoke``) and every GPU of :data:`GPU_THROUGHPUT` (one row each)."""
    rows = []
    for name in PRESETS[task]:
        if name in ("smoke", "cpu"):
            continue
        for gpu in GPU_THROUGHPUT:
            rows.append({"preset": name, "gpu": gpu} | estimate_hours(task, name, gpu))
    return pd.DataFrame(rows)
