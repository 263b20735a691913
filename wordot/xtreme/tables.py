"""Tables: our runs' means over seeds, the paper's Table 1 and Table 2, and both together.

The paper's numbers are the CSV files in ``wordot/assets/xtreme/paper`` (:data:`PAPER_DIR`),
copies of ``shared/paper_results``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .metrics import language_averages
from .tasks import ASSETS, check_task, task_languages

#: the paper's numbers (copies of ``shared/paper_results``: Table 1, Table 2, Table 5)
PAPER_DIR = ASSETS / "paper"

_SHORT_NAMES = {
    "bert-base-multilingual-cased": "mBERT",
    "xlm-roberta-base": "XLM-R base",
    "FacebookAI/xlm-roberta-base": "XLM-R base",
    "tiny": "tiny",
}


def encoder_name(encoder: str) -> str:
    """A short name for tables: mBERT, XLM-R base, ``WordOT (<run dir>)`` for a WordOT
    checkpoint (a directory inside a :func:`wordot.train.train` output), else the name."""
    if encoder in _SHORT_NAMES:
        return _SHORT_NAMES[encoder]
    path = Path(encoder).expanduser()
    run_config = path.parent / "config.json"
    if path.is_dir() and run_config.is_file():
        try:
            if "wordot_version" in json.loads(run_config.read_text(encoding="utf-8")):
                return f"WordOT ({path.parent.name})"
        except ValueError:
            pass
    return encoder


def results_table(records: Sequence[dict[str, Any]], metric: str | None = None) -> pd.DataFrame:
    """Mean over seeds per encoder and preset: one row per (encoder, preset), languages as
    columns, then ``avg_seen``, ``avg_all`` and ``seeds``. ``metric``: ``accuracy`` (XNLI),
    ``f1`` or ``exact_match`` (XQuAD)."""
    if not records:
        return pd.DataFrame()
    task = records[0]["task"]
    metric = metric or ("accuracy" if task == "xnli" else "f1")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rec in records:
        groups[(rec["encoder"], rec["preset"]["name"])].append(rec)
    rows = {}
    for (enc, preset), recs in groups.items():
        scores: dict[str, list[float]] = defaultdict(list)
        for rec in recs:
            for lg, m in rec["metrics"].items():
                scores[lg].append(m[metric])
        row: dict[str, Any] = {
            lg: float(np.mean(scores[lg])) for lg in task_languages(task) if lg in scores
        }
        avg = language_averages(row, task)
        row["avg_seen"] = avg["seen"] if avg["seen_complete"] else float("nan")
        row["avg_all"] = avg["all"] if avg["all_complete"] else float("nan")
        row["seeds"] = len(recs)
        rows[f"ours: {encoder_name(enc)} [{preset}]"] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def paper_table(task: str, metric: str | None = None) -> pd.DataFrame:
    """The paper's Table 2 for ``task`` (rows: mBERT, L2, WordOT, WordOT*, LargeWordOT;
    columns: languages, ``avg_seen``, ``avg_all``). XQuAD: ``metric`` ``"F1"`` or ``"EM"``.

    The paper calls XNLI's score "F1"; it is XTREME's XNLI metric, accuracy.
    """
    check_task(task)
    df = pd.read_csv(PAPER_DIR / f"{task}_per_language.csv")
    if task == "xquad":
        metric = (metric or "F1").upper().replace("EXACT_MATCH", "EM")
        if metric not in ("F1", "EM"):
            raise ValueError(f"XQuAD metric is F1 or EM, not {metric!r}")
        df = df[df["metric"] == metric].drop(columns="metric")
    return df.set_index("model")


def comparison_table(
    task: str, records: Sequence[dict[str, Any]] = (), metric: str | None = None
) -> pd.DataFrame:
    """The paper's Table 2 rows ("paper: ...") above our runs' means ("ours: ..."), with the
    average of every row recomputed from its per-language numbers where complete."""
    paper_metric = None if task == "xnli" else ("EM" if metric == "exact_match" else "F1")
    ours_metric = (
        "accuracy" if task == "xnli" else ("exact_match" if paper_metric == "EM" else "f1")
    )
    paper = paper_table(task, paper_metric)
    paper.index = [f"paper: {m}" for m in paper.index]
    if records:
        paper = pd.concat([paper, results_table(records, ours_metric)])
    return paper


def paper_averages() -> pd.DataFrame:
    """The paper's Table 1 (averages over the seen languages; published vs internal runs)."""
    return pd.read_csv(PAPER_DIR / "averages_seen.csv")
