"""``python -m wordot.xtreme``: GPU runs outside the notebooks, e.g. under ``accelerate launch``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .runs import run_grid
from .tables import results_table
from .tasks import TASKS


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wordot.xtreme {xnli,xquad} --encoders A B --seeds 0 1 2 ...``

    Several GPUs: ``accelerate launch --num_processes 4 -m wordot.xtreme xnli ...``. Results go
    where chapters 6-7 look for them (``--results-dir``, default ``runs/xtreme``, relative to
    the working directory).
    """
    parser = argparse.ArgumentParser(prog="python -m wordot.xtreme", description=main.__doc__)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--encoders", nargs="+", default=["bert-base-multilingual-cased"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", help="default: the paper's (DEFAULT_PRESET)")
    parser.add_argument("--languages", nargs="+", help="default: all of the task's")
    parser.add_argument("--data", default="hub", help="hub | fixtures | a local directory")
    parser.add_argument("--results-dir", default="runs/xtreme")
    parser.add_argument("--train-limit", type=int, help="the first N training examples")
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "bf16", "fp16"])
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    records = run_grid(
        args.task,
        args.encoders,
        args.seeds,
        args.preset,
        languages=args.languages,
        data=args.data,
        results_dir=args.results_dir,
        train_limit=args.train_limit,
        mixed_precision=args.mixed_precision,
        overwrite=args.overwrite,
    )
    table = results_table([r for r in records if r])
    if len(table):
        print(table.round(1).to_string())
    return 0
