"""Benchmarks measured by a chapter: run a script of ``benchmarks/`` once, keep what it measured.

The efficiency chapter shows measurements, not numbers typed into prose: it runs the scripts of
``benchmarks/`` (each prints its table and, with ``--json``, writes its rows) and reads their
JSON. A measurement is kept under ``runs/<profile>/benchmarks/<script>-<hash of the
arguments>.json`` with the machine it was taken on, so that a rerun of the book reuses it (delete
the file to measure again), as finished training runs are reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..paths import read_json, write_json
from ..precision import cpu_flags, cpu_info
from .runner import project_root

__all__ = ["machine", "measure"]


def machine() -> dict[str, Any]:
    """What a measurement was taken on: CPU model, cores, Python and torch versions."""
    import torch

    flags = cpu_flags()
    return {
        "cpu": cpu_info().get("model name") or platform.processor(),
        "cores": os.cpu_count(),
        "simd": sorted(f for f in flags if f.startswith(("avx", "amx"))),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def measure(
    script: str,
    args: list[str],
    out_dir: str | Path,
    *,
    root: str | Path | None = None,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Run ``benchmarks/<script>.py *args --json FILE`` (unless FILE exists) and return its JSON
    with ``machine``, ``args``, ``printed`` (its output) and ``wall_seconds`` added.

    ``root``: the project root (default: found upwards from the working directory, as a chapter
    runs in ``notebooks/`` under nbval and in the root under the book's runner). A failing script
    raises RuntimeError with the end of its error output.
    """
    path = Path(root or project_root()) / "benchmarks" / f"{script}.py"
    if not path.exists():
        raise FileNotFoundError(f"no benchmark script {path}; run from the project root")
    digest = hashlib.sha1(json.dumps([script, args]).encode()).hexdigest()[:8]
    out = Path(out_dir) / f"{script}-{digest}.json"
    if out.exists():
        return read_json(out, how_to_rebuild="Delete it to measure again.")
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".raw.json")
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(path), *args, "--json", str(raw)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode or not raw.exists():
        raise RuntimeError(
            f"benchmarks/{script}.py {' '.join(args)} failed (exit {done.returncode}):\n"
            f"{done.stderr[-3000:]}"
        )
    record = json.loads(raw.read_text())
    raw.unlink()
    record |= {
        "script": script,
        "args": args,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
        "printed": done.stdout,
    }
    write_json(out, record)
    return record
