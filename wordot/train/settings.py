"""What a fine-tuning run depends on: :class:`TrainConfig`, and how a run profile maps to it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Profile, resolve
from ..data import ParallelCorpus, load_corpora, prepare_language
from ..embed import EmbedConfig
from ..languages import NAMES, check_languages
from ..loss import LossConfig
from ..precision import MIXED_PRECISION

#: source languages a run may train (English is the target side of every pair)
SOURCE_LANGUAGES = tuple(sorted(k for k in NAMES if k != "en"))
#: the whole-number settings and their least value
_COUNTS = {
    "batch_size": 1,
    "grad_accum": 1,
    "epochs": 1,
    "checkpoint_every": 0,
    "keep_checkpoints": 0,
}

#: the fields of a profile's ``train`` group that a run depends on (``runs_dir`` only says where)
_SCHEDULE = (
    "batch_size",
    "grad_accum",
    "lr",
    "epochs",
    "max_steps",
    "checkpoint_every",
    "freeze_word_embeddings",
    "mixed_precision",
    "bucket_by_length",
    "cache_targets",
    "snapshot_steps",
    "objective",
    "aligner",
    "adam_betas",
    "adam_eps",
    "warmup",
)

#: what a run minimises: WordOT's S_eps, or Cao et al. (2020)'s L2 over aligned word pairs
OBJECTIVES = ("wordot", "l2")
#: where the word pairs of the ``l2`` objective come from (:mod:`wordot.neighbours.pairs`)
ALIGNERS = ("eflomal", "fast_align")


@dataclass
class TrainConfig:
    """Everything a WordOT fine-tuning run depends on (written to ``config.json``)."""

    encoder: str = "tiny"
    languages: tuple[str, ...] = ("de", "fr")
    batch_size: int = 24  # pairs per language per step (the global batch under several GPUs)
    grad_accum: int = 2  # steps per optimiser update
    lr: float = 5e-5
    epochs: int = 1
    max_steps: int | None = None  # stop after this many steps (batches per language)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    freeze_word_embeddings: bool = False
    dropout: bool = False  # dropout noise would count as drift in the regulariser
    seed: int = 0
    checkpoint_every: int = 50  # optimiser updates between checkpoints (0: never)
    keep_checkpoints: int = 2
    mixed_precision: str = "auto"  # auto: bf16 where the GPU or CPU multiplies it natively
    bucket_by_length: bool = False  # batches of similar lengths (less padding), order shuffled
    cache_targets: bool = False  # keep the frozen model's English word vectors per sentence
    snapshot_steps: tuple[int, ...] = ()  # also save the model after these steps (a curve)
    objective: str = "wordot"  # wordot | l2 (Cao et al. 2020, on aligned word pairs)
    aligner: str = "eflomal"  # l2 only: the statistical aligner that gives the word pairs
    adam_betas: tuple[float, float] = (0.9, 0.999)  # torch's defaults; Cao et al.: (0.9, 0.98)
    adam_eps: float = 1e-8  # torch's default; Cao et al.: 1e-9
    warmup: float = 0.0  # fraction of the updates with a linear warm-up (Cao et al.: 0.1)
    cpu: bool = False

    def __post_init__(self) -> None:
        """Refuse settings that would train nothing, fail later, or save an untrained model."""
        for name, least in _COUNTS.items():
            _check_count(name, getattr(self, name), least)
        if self.max_steps is not None:
            _check_count("max_steps", self.max_steps, 1)
        _check_count("seed", self.seed, None)
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real):
            raise TypeError(f"TrainConfig.lr must be a number, got {self.lr!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr={self.lr!r}; it must be finite and > 0")
        if isinstance(self.languages, str):
            raise TypeError(
                f"TrainConfig.languages must be a tuple of codes, got {self.languages!r}"
            )
        self.languages = tuple(self.languages)
        if not self.languages or len(set(self.languages)) < len(self.languages):
            raise ValueError(f"TrainConfig.languages={self.languages!r}; give each code once")
        if "en" in self.languages:
            raise ValueError("TrainConfig.languages: English is the target side of every pair")
        check_languages(self.languages, SOURCE_LANGUAGES, "TrainConfig.languages")
        self.snapshot_steps = tuple(self.snapshot_steps)
        for k in self.snapshot_steps:
            _check_count("snapshot_steps", k, 1)
            if k % self.grad_accum:
                raise ValueError(
                    f"TrainConfig.snapshot_steps: step {k} ends no optimiser update "
                    f"(grad_accum={self.grad_accum}); give multiples of grad_accum"
                )
        if self.max_steps is not None and any(k >= self.max_steps for k in self.snapshot_steps):
            raise ValueError(
                f"TrainConfig.snapshot_steps={self.snapshot_steps!r}; each must be below "
                f"max_steps={self.max_steps} (the run's end saves the final model)"
            )
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"TrainConfig.objective={self.objective!r}; choose one of {OBJECTIVES}"
            )
        if self.aligner not in ALIGNERS:
            raise ValueError(f"TrainConfig.aligner={self.aligner!r}; choose one of {ALIGNERS}")
        self.adam_betas = tuple(float(b) for b in self.adam_betas)
        if len(self.adam_betas) != 2 or not all(0.0 <= b < 1.0 for b in self.adam_betas):
            raise ValueError(f"TrainConfig.adam_betas={self.adam_betas!r}; two numbers in [0, 1)")
        if not (math.isfinite(self.adam_eps) and self.adam_eps > 0):
            raise ValueError(f"TrainConfig.adam_eps={self.adam_eps!r}; it must be finite and > 0")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"TrainConfig.warmup={self.warmup!r}; a fraction of updates in [0, 1)")
        if not isinstance(self.embed, EmbedConfig):
            raise TypeError(f"TrainConfig.embed must be an EmbedConfig, got {self.embed!r}")
        if not isinstance(self.loss, LossConfig):
            raise TypeError(f"TrainConfig.loss must be a LossConfig, got {self.loss!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"TrainConfig.mixed_precision={self.mixed_precision!r}; "
                f"choose one of {MIXED_PRECISION}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values (tuples as lists, ``embed``/``loss`` as dicts), as they
        are stored in ``config.json``."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def _check_count(name: str, value: Any, least: int | None) -> None:
    """TypeError unless ``value`` is a whole number, ValueError if it is below ``least``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"TrainConfig.{name} must be a whole number, got {value!r}")
    if least is not None and value < least:
        raise ValueError(f"TrainConfig.{name}={value!r}; it must be >= {least}")


def config_from_profile(p: Profile) -> TrainConfig:
    """The fine-tuning settings of a run profile (:class:`wordot.config.Profile`)."""
    schedule = {k: getattr(p.train, k) for k in _SCHEDULE}
    options = {"embed": p.embed, "loss": p.loss, "seed": p.seed, "cpu": p.device == "cpu"}
    return TrainConfig(encoder=p.encoder, languages=tuple(p.data.languages), **options, **schedule)


def _run_settings(p: Profile) -> dict[str, Any]:
    """The training settings of ``p`` and the data they train on (what names a run)."""
    data = {"corpus": p.data.corpus, "pairs_per_language": p.data.pairs_per_language}
    return config_from_profile(p).to_dict() | {"data": data}


def run_dir(p: Profile, name: str = "wordot") -> Path:
    """Where the fine-tuning run of profile ``p`` lives: ``runs_dir/<profile>/<name>`` for the
    profile's own settings, ``<name>-<8 hex of the settings' hash>`` for any other (training
    settings, corpus and pairs per language), so runs with different settings never share a
    directory. A relative ``p.train.runs_dir`` is relative to the current working directory
    (the book runs its chapters in the project root)."""
    settings = _run_settings(p)
    if settings != _run_settings(resolve(p.name)):
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        name = f"{name}-{digest}"
    root = Path(p.train.runs_dir).expanduser()
    return (root if root.is_absolute() else Path.cwd() / root) / p.name / name


def profile_corpora(p: Profile) -> dict[str, ParallelCorpus]:
    """Training pairs of a profile: ``p.data.pairs_per_language`` per language, prepared as the
    paper (length filter, dedup, shuffle, upsampling); returns ``{lang: ParallelCorpus}``."""
    raw = load_corpora(p.data.languages, p.data.corpus)
    return {k: prepare_language(c, p.data.pairs_per_language, p.seed)[0] for k, c in raw.items()}
