"""``python -m wordot.xtreme``: GPU runs outside the notebooks, e.g. under ``accelerate launch``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .pipelines import PROTOCOLS, DownsizedSplit
from .runs import run_grid
from .tables import results_table
from .tasks import TASKS


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wordot.xtreme {xnli,xquad} --encoders A B --seeds 0 1 2 ...``

    Several GPUs: ``accelerate launch --num_processes 4 -m wordot.xtreme xnli ...``. Results go
    where chapters 10-11 look for them (``--results-dir``, default ``runs/xtreme``, relative to
    the working directory).
    """
    parser = argparse.ArgumentParser(prog="python -m wordot.xtreme", description=main.__doc__)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--encoders", nargs="+", default=["bert-base-multilingual-cased"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", help="default: the paper's (DEFAULT_PRESET)")
    parser.add_argument("--languages", nargs="+", help="default: all of the task's")
    parser.add_argument(
        "--data",
        help="xtreme: hub (default) | fixtures | a directory; downsized: eval-data | a directory",
    )
    parser.add_argument("--protocol", default="xtreme", choices=PROTOCOLS)
    parser.add_argument("--split-seed", type=int, default=0, help="downsized: the split's seed")
    parser.add_argument("--test-items", type=int, help="downsized: test items per language")
    parser.add_argument("--results-dir", default="runs/xtreme")
    parser.add_argument("--train-limit", type=int, help="the first N training examples")
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "bf16", "fp16"])
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    downsized = args.protocol == "downsized"
    split = DownsizedSplit(seed=args.split_seed, test_items=args.test_items) if downsized else None
    records = run_grid(
        args.task,
        args.encoders,
        args.seeds,
        args.preset,
        languages=args.languages,
        data=args.data,
        results_dir=args.results_dir,
        train_limit=args.train_limit,
        protocol=args.protocol,
        split=split,
        mixed_precision=args.mixed_precision,
        overwrite=args.overwrite,
    )
    table = results_table([r for r in records if r])
    if len(table):
        print(table.round(1).to_string())
    return 0
