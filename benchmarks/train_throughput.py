"""How many sentence pairs per second does WordOT training make, and what does each speed option buy?

Real training runs (``wordot.train.train``, a profile's encoder, corpus, loss and batch size:
``--profile cpu`` by default, multilingual-e5-small on the offline corpora), one variant per subprocess (an ``Accelerator`` fixes its precision for the
life of a process), variants round-robin over ``--rounds`` so that drift in machine load hits all
alike; medians reported as pairs per second (pairs of all languages per second of the training
loop in the second of two epochs: warm-up excluded, and the first epoch's cached targets there to
be reused) and as ratios to today's cpu path:

* ``today``: the plain path the speed options are measured against: float32, word-embedding
  matrix frozen, random batches, targets recomputed (the cpu profile before chapter 12);
* ``trained-emb``: the embedding matrix trained too (the paper profile's choice);
* ``bucket``: batches of similar length (``bucket_by_length``);
* ``cache``: the frozen model's English vectors computed once per sentence (``cache_targets``;
  it pays from the second epoch on, which is what is timed);
* ``bf16``: ``torch.autocast`` to bfloat16 (only where the CPU has AMX or AVX512-BF16, unless
  ``--force-bf16``);
* ``all``: every option this CPU supports.

    python benchmarks/train_throughput.py                  # 2 languages, 6 steps, 2 rounds
    python benchmarks/train_throughput.py --threads 2 --rounds 3
    python benchmarks/train_throughput.py --profile smoke --steps 2 --rounds 1   # tiny, seconds

Peak memory is the largest resident set of a variant's process (``ru_maxrss``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

VARIANTS: dict[str, dict] = {
    "today": {},
    "trained-emb": {"freeze_word_embeddings": False},
    "bucket": {"bucket_by_length": True},
    "cache": {"cache_targets": True},
    "bf16": {"mixed_precision": "bf16"},
    "all": {"bucket_by_length": True, "cache_targets": True, "mixed_precision": "auto"},
}


def one_run(variant: str, languages: list[str], steps: int, threads: int, profile: str) -> dict:
    """Train ``variant`` for ``steps`` steps (two epochs) in this process; its measurements."""
    import dataclasses

    import torch

    from wordot import train
    from wordot.config import resolve
    from wordot.data import load_corpora, take_pairs
    from wordot.train.settings import config_from_profile

    torch.set_num_threads(threads)
    p = resolve(profile)
    base = config_from_profile(p)
    per_epoch = steps // 2
    pairs = per_epoch * base.batch_size
    raw = load_corpora(languages, p.data.corpus)
    corpora = {k: take_pairs(v, pairs, seed=0)[0] for k, v in raw.items()}
    # every variant starts from the plain path (no speed option, no snapshot in the timed epoch)
    plain = {"mixed_precision": "no", "bucket_by_length": False, "cache_targets": False}
    options = plain | {"snapshot_steps": ()} | VARIANTS[variant]
    cfg = dataclasses.replace(
        base,
        languages=tuple(languages),
        epochs=2,
        max_steps=steps,
        checkpoint_every=0,
        **options,
    )
    with tempfile.TemporaryDirectory() as tmp:
        summary = train.train(cfg, corpora, Path(tmp) / "run", progress=False)
        log = train.read_log(Path(tmp) / "run")
    # the second epoch only: warm-up (first Adam step, allocations) is over, and the cached
    # targets of the first epoch are there to be reused
    seconds = log[-1]["seconds"] - log[per_epoch - 1]["seconds"]
    n_pairs = (steps - per_epoch) * cfg.batch_size * len(languages)
    return {
        "variant": variant,
        "seconds": seconds,
        "pairs_per_s": n_pairs / seconds,
        "first_loss": summary["first_loss"],
        "last_loss": summary["last_loss"],
        "precision": summary["mixed_precision"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--languages", nargs="+", default=["de", "es"])
    parser.add_argument("--steps", type=int, default=6, help="even: two epochs of steps/2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--force-bf16", action="store_true", help="run bf16 without AMX/BF16")
    parser.add_argument("--profile", default="cpu", help="encoder, corpus, batch and loss of")
    parser.add_argument("--json", type=Path, help="also write the runs to this JSON file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 2 or args.steps % 2:
        parser.error(f"--steps must be an even number >= 2, got {args.steps}")
    if args.one:
        print(json.dumps(one_run(args.one, args.languages, args.steps, args.threads, args.profile)))
        return

    from wordot.precision import cpu_bf16_supported

    variants = list(args.variants)
    if not cpu_bf16_supported() and not args.force_bf16 and "bf16" in variants:
        variants.remove("bf16")
        print("bf16: not run; this CPU has neither amx_bf16 nor avx512_bf16, so oneDNN emulates")
        print("      bfloat16 and autocast is slower than float32 (--force-bf16 runs it anyway)")
    results: dict[str, list[dict]] = {v: [] for v in variants}
    base = [sys.executable, __file__, "--languages", *args.languages]
    base += ["--steps", str(args.steps), "--threads", str(args.threads)]
    base += ["--profile", args.profile, "--one"]
    for r in range(args.rounds):
        for v in variants:
            out = subprocess.run(base + [v], capture_output=True, text=True, check=False)
            if out.returncode:
                sys.exit(f"variant {v} failed:\n{out.stderr[-3000:]}")
            results[v].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(
                f"round {r + 1}/{args.rounds} {v:>12}: {results[v][-1]['pairs_per_s']:.2f} pairs/s"
            )

    from wordot.config import resolve

    p = resolve(args.profile)
    setting = {
        "profile": args.profile,
        "encoder": p.encoder,
        "batch_size": p.train.batch_size,
        "languages": args.languages,
        "steps": args.steps,
        "threads": args.threads,
        "rounds": args.rounds,
        "skipped": [v for v in args.variants if v not in variants],
    }
    print(
        f"\n{p.encoder}, profile {args.profile} (batch {p.train.batch_size} pairs per language,"
        f" eps {p.loss.eps}), languages {' '.join(args.languages)}, {args.steps} steps over 2"
        f" epochs, {args.threads} thread(s), {args.rounds} rounds, medians"
    )
    ref = (
        statistics.median(x["pairs_per_s"] for x in results.get("today", []))
        if "today" in results
        else None
    )
    print(
        f"{'variant':>12} {'pairs/s':>8} {'min':>6} {'max':>6} {'x today':>8} {'precision':>9} {'peak MB':>8} {'loss first->last':>18}"
    )
    for v, runs in results.items():
        rates = [x["pairs_per_s"] for x in runs]
        med = statistics.median(rates)
        ratio = f"{med / ref:.2f}" if ref else "-"
        last = runs[-1]
        print(
            f"{v:>12} {med:8.2f} {min(rates):6.2f} {max(rates):6.2f} {ratio:>8} "
            f"{last['precision']:>9} {max(x['peak_mb'] for x in runs):8.0f} "
            f"{last['first_loss']:8.3f}->{last['last_loss']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"setting": setting, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
