"""Command line: ``python -m wordot {run,build,stale,profiles,curve,study,compare}``.

python -m wordot run --profile smoke -p eps 0.1      # execute chapters into book/chapters
python -m wordot run --profile cpu --chapters 01 02  # only some chapters
python -m wordot build                               # render HTML (warnings are errors)
python -m wordot stale                               # list executed copies that are stale
python -m wordot profiles                            # show every profile's parameters
python -m wordot curve -p curve_pairs 320,1280,5120  # a longer learning curve (chapter 7)
python -m wordot study --profile cpu                 # chapter 7's seeds and ablations
python -m wordot compare --profile cpu               # every alignment method, chapter 9
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config
from .book import runner
from .corpora.cli import main as corpora_main


def _parse_value(text: str) -> object:
    """papermill-style values: int, float, bool, None, else the string itself."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _param_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``-p NAME VALUE`` (repeatable): profile parameters, parsed by :func:`_parse_value`."""
    parser.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help=help,
    )


def _study_command(sub, name: str, help: str, description: str, example: str) -> None:
    """A subcommand that runs study jobs outside the book: ``--profile``, ``-p``, ``--workers``."""
    cmd = sub.add_parser(
        name,
        help=help,
        description=description + " Finished runs and records are reused, so it resumes.",
    )
    cmd.add_argument("--profile", default=config.BOOK_PROFILE, choices=sorted(config.PROFILES))
    _param_option(cmd, f"a profile parameter, e.g. {example}")
    cmd.add_argument("--workers", type=int, default=2, help="one-thread processes (default 2)")


def _curve(args: argparse.Namespace) -> int:
    """``python -m wordot curve``: :func:`wordot.evaluation.curve.learning_curve`, printed."""
    from .evaluation import curve

    params = {name: _parse_value(value) for name, value in args.param}
    try:
        p = config.resolve(args.profile, **params)
        cfg = curve.curve_config(p)
        cfg.steps(p.train.batch_size)  # every point a whole number of steps
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    over = {k: v for k, v in params.items() if not k.startswith("curve_")}
    frame = curve.learning_curve(args.profile, cfg, over, workers=args.workers)
    wide = frame.pivot_table(index=["layer_trained", "pairs"], columns="measure", values="value")
    print(wide.round(4).T.to_string())
    print(f"kept in {curve.curves_dir(p)}")
    return 0


#: profile parameters every job of a study command keeps (where runs go, what is evaluated)
_JOB_KEEPS = ("runs_dir", "eval_gold_sets", "eval_tatoeba_languages", "eval_layers")


def _study_profile(args: argparse.Namespace) -> tuple[config.Profile, dict[str, object]]:
    """The profile of ``--profile`` and ``-p`` (ValueError naming a bad parameter) and the
    overrides every job keeps."""
    params = {name: _parse_value(value) for name, value in args.param}
    p = config.resolve(args.profile, **params)
    return p, {k: v for k, v in params.items() if k in _JOB_KEEPS}


def _study(args: argparse.Namespace) -> int:
    """``python -m wordot study``: :func:`wordot.evaluation.study.run_study`."""
    from .evaluation import study

    try:
        p, base = _study_profile(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    seeds, records = study.run_study(p, base, workers=args.workers)
    for rec in seeds:
        print(f"{rec['job']}: gold AER mean, last layer {rec['gold/avg/aer@last']:.4f}")
    print(study.ablation_table(p, records).round(2).to_string())
    print("records are kept next to their runs; chapter 7 reads them")
    return 0


def _compare(args: argparse.Namespace) -> int:
    """``python -m wordot compare``: :func:`wordot.evaluation.comparison.run_comparison`."""
    from .evaluation import comparison

    try:
        p, base = _study_profile(args)
        comparison.comparison_jobs(p, {}, p.study.methods, p.study.seeds)  # checks the request
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    records = comparison.run_comparison(
        p, base, p.study.methods, p.study.seeds, workers=args.workers
    )
    keys = ["gold/avg/aer@8", "gold/avg/aer@last", "tatoeba/avg/en_to_xx@8"]
    print(comparison.method_summary(records, keys).round(4).to_string())
    print("records are kept next to their runs; the comparison chapter reads them")
    if "l2" in p.study.methods and p.tasks.run and not args.no_tasks:
        # L2's encoders on the zero-shot tasks too, beside WordOT's (chapters 10-11)
        for task, runs in comparison.run_comparison_tasks(p, base, "l2").items():
            for r in runs:
                print(f"{task}, {r['encoder']}, seed {r['seed']}: written to {p.tasks.results_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "corpora":  # its own argument parser
        return corpora_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m wordot", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_run = sub.add_parser("run", help="execute chapters with papermill into book/chapters")
    p_run.add_argument("--profile", default=config.BOOK_PROFILE, choices=sorted(config.PROFILES))
    _param_option(p_run, "override a chapter parameter (repeatable), e.g. -p eps 0.1")
    p_run.add_argument("--chapters", nargs="+", help="only chapters whose name starts so")
    p_run.add_argument("--out", type=Path, help="output directory (default book/chapters)")
    p_run.add_argument(
        "--root", type=Path, help="project root (default: found upwards from the working dir)"
    )
    p_run.add_argument(
        "--jobs", type=int, default=1, help="chapters at a time (one torch thread each; default 1)"
    )
    p_run.add_argument("--no-progress", action="store_true")

    p_build = sub.add_parser("build", help="render the book to _build/html")
    p_build.add_argument("--out", type=Path, help="--path-output for jupyter-book")
    p_build.add_argument("--no-strict", action="store_true", help="do not fail on warnings")

    _study_command(
        sub,
        "curve",
        "a learning curve beyond the book's (chapter 7 shows it when present)",
        "Train one run per curve_layers, evaluate every curve_pairs point on the dev sets and "
        "keep the table under runs/<profile>/curves/, where chapter 7 reads it.",
        "-p curve_pairs 320,1280,5120",
    )
    _study_command(
        sub,
        "study",
        "chapter 7's seeds and ablations (the cpu book reads them when present)",
        "Train and evaluate one run per seed (test sets) and every ablation run of the profile "
        "(eps, word vector, seed, embeddings, data size; one language, dev sets) and write their "
        "records next to the runs, where chapter 7 reads them.",
        "-p result_seeds 0,1,2",
    )
    _study_command(
        sub,
        "compare",
        "every alignment method under one protocol (the cpu book reads it when present)",
        "Train (wordot, l2), fit (procrustes, realnvp, center) or take as it is (none) every "
        "method of -p methods, for each of -p result_seeds where it is stochastic, evaluate each "
        "on the standard test sets and write the records next to the runs, where chapter 9 "
        "reads them; then fine-tune the L2 encoders on the profile's zero-shot tasks, where "
        "chapters 10-11 read them.",
        "-p methods wordot,l2,none",
    )
    sub.choices["compare"].add_argument(
        "--no-tasks",
        action="store_true",
        help="skip fine-tuning the L2 encoders on the profile's zero-shot tasks (chapters 10-11)",
    )

    sub.add_parser("stale", help="list chapters whose executed copy is stale")
    sub.add_parser("profiles", help="print the run profiles")
    sub.add_parser("corpora", help="build the offline corpora (see python -m wordot corpora -h)")

    args = parser.parse_args(argv)
    if args.command == "run":
        params = {name: _parse_value(value) for name, value in args.param}
        try:
            manifest = runner.run(
                args.profile,
                params,
                args.chapters,
                root=args.root,
                out_dir=args.out,
                progress=not args.no_progress,
                jobs=args.jobs,
            )
        except (runner.ChapterFailed, ValueError, FileNotFoundError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        for name, rec in manifest["chapters"].items():
            print(f"{name}: {rec['status']} in {rec['seconds']} s ({rec['profile']})")
        return 0
    if args.command == "curve":
        return _curve(args)
    if args.command == "study":
        return _study(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "build":
        html = runner.build_book(out=args.out, strict=not args.no_strict)
        print(f"book: {html / 'index.html'}")
        return 0
    if args.command == "stale":
        stale = runner.stale_chapters()
        print("\n".join(stale) if stale else "all executed chapters are up to date")
        return 1 if stale else 0
    if args.command == "profiles":
        for name, prof in config.PROFILES.items():
            print(f"[{name}] {prof.description}")
            for key, value in config.parameters(prof).items():
                spec = config.PARAMETERS[key]
                where = f"{spec.group}.{spec.field}" if spec.group else spec.field
                print(f"  {key} = {value!r}" + (f"  ({where})" if where != key else ""))
        return 0
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
