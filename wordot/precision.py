"""Which arithmetic the hardware runs fast: bfloat16 autocast where it pays, float32 elsewhere.

``mixed_precision="auto"`` (training and the task fine-tunings) means bfloat16 autocast on a GPU
that supports it and on a CPU with native bfloat16 matrix units (Intel AMX or AVX512-BF16, read
from the CPU flags), float32 everywhere else. Without those units oneDNN emulates bfloat16 and is
slower than float32: measured on an AVX2-only AMD EPYC, an e5-small training step took 16x longer
under CPU autocast. ``"no"`` turns it off; ``"bf16"`` forces it. The OT loss always runs in
float32 (:func:`wordot.loss.alignment_divergence`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
#: CPU flags (``/proc/cpuinfo``) of units that multiply bfloat16 matrices natively
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def cpu_info(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    """The fields of the first processor in ``/proc/cpuinfo`` (empty where it does not exist)."""
    path = Path(cpuinfo)
    if not path.exists():
        return {}
    fields: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            if fields:
                break  # the end of the first processor's block
            continue
        fields.setdefault(name.strip(), value.strip())
    return fields


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of this machine's CPU (empty where ``/proc/cpuinfo`` does not exist)."""
    info = cpu_info(cpuinfo)
    return frozenset(info.get("flags", info.get("Features", "")).split())


def cpu_bf16_supported(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU multiplies bfloat16 natively (AMX or AVX512-BF16), so autocast pays."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_CPU_FLAGS)


def resolve_mixed_precision(choice: str, cpu: bool) -> str:
    """``"no"``, ``"bf16"`` or ``"fp16"`` for a run: ``choice`` unless it is ``"auto"``, which
    becomes ``"bf16"`` on a bfloat16-capable GPU (unless ``cpu``) or CPU, else ``"no"``."""
    if choice not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision={choice!r}; choose one of {MIXED_PRECISION}")
    if choice != "auto":
        return choice
    if not cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if cpu_bf16_supported() else "no"
