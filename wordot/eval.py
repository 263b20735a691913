"""Evaluation: zero-shot XNLI/XQuAD metrics (see :mod:`wordot.xtreme`)."""

from .xtreme import squad_metrics

__all__ = ["squad_metrics"]
