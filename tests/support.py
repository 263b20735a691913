"""Helpers shared by the test modules (imported as ``support``; pytest puts tests/ on the path)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def eval_data() -> Path | None:
    """The shared evaluation data: ``$WORDOT_DATA``, else ``<repo>/../shared/eval-data``."""
    for candidate in (os.environ.get("WORDOT_DATA"), ROOT.parent / "shared" / "eval-data"):
        if candidate and (Path(candidate) / "README.md").is_file():
            return Path(candidate)
    return None


EVAL_DATA = eval_data()
needs_eval_data = pytest.mark.skipif(
    EVAL_DATA is None, reason="real evaluation data absent (../shared/eval-data or $WORDOT_DATA)"
)
