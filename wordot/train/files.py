"""The files of a run directory, written so that a run can always be continued or reused.

=========================  ==================================================================
``config.json``            the run's settings (:meth:`TrainConfig.to_dict`), written first
``log.jsonl``              one record per optimiser update
``checkpoints/step-K/``    ``accelerate`` state (model, optimiser, RNG) after step K;
                           ``state.json`` in it is written last and marks it complete
``model/``                 the tuned model and tokenizer (``save_pretrained``)
``summary.json``           steps, updates, first/last loss, seconds; written at the end
=========================  ==================================================================
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .. import __version__
from ..paths import read_json, read_jsonl, write_json, write_jsonl

_REBUILD = "Delete the run directory to train again."


def write_config(out_dir: Path, settings: dict[str, Any]) -> None:
    """Create ``out_dir`` and write ``config.json`` (the settings and the wordot version)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", {"wordot_version": __version__, **settings}, indent=2)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"loss.eps": ...}``, for naming the ones that differ."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def finished_run(settings: dict[str, Any], out_dir: Path, total_steps: int) -> dict | None:
    """Look at a run directory before resuming into it.

    ValueError naming the differing settings if its ``config.json`` was written for other
    ``settings`` (JSON values, :meth:`TrainConfig.to_dict`); the stored summary (plus
    ``"reused": True``) if its ``summary.json`` says the run has made ``total_steps`` steps
    already; None otherwise (train, or continue).
    """
    config_file = out_dir / "config.json"
    if config_file.exists():
        stored = read_json(config_file, how_to_rebuild=_REBUILD)
        stored.pop("wordot_version", None)
        old, new = _flat(stored), _flat(settings)
        missing = object()
        differ = sorted(
            k for k in old.keys() | new.keys() if old.get(k, missing) != new.get(k, missing)
        )
        if differ:
            raise ValueError(
                f"{out_dir} holds a run made with other settings (differing: "
                f"{', '.join(differ)}); delete the directory or choose another one"
            )
    summary_file = out_dir / "summary.json"
    if summary_file.exists():
        summary = read_json(summary_file, how_to_rebuild=_REBUILD)
        if summary.get("steps", 0) >= total_steps:
            return summary | {"reused": True}
    return None


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json``, the mark of a finished run."""
    write_json(out_dir / "summary.json", summary, indent=2)


# -- checkpoints -------------------------------------------------------------------------------


def _checkpoints(out_dir: Path) -> list[Path]:
    """``checkpoints/step-K`` directories, by K."""
    found = (out_dir / "checkpoints").glob("step-*")
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The complete checkpoint (one with ``state.json``) of the highest step, or None."""
    complete = [p for p in _checkpoints(out_dir) if (p / "state.json").exists()]
    return complete[-1] if complete else None


def checkpoint_step(path: Path) -> int:
    """The step after which checkpoint ``path`` was saved."""
    return int(read_json(path / "state.json", how_to_rebuild=_REBUILD)["step"])


def save_checkpoint(acc, out_dir: Path, step: int, keep: int) -> Path:
    """Save the ``accelerate`` state after ``step`` (every process); the main process marks it
    complete and removes all but the ``keep`` newest (``keep=0``: all are kept)."""
    path = out_dir / "checkpoints" / f"step-{step}"
    acc.save_state(str(path))
    if acc.is_main_process:
        write_json(path / "state.json", {"step": step})  # written last: marks it complete
        for old in _checkpoints(out_dir)[:-keep] if keep else []:
            shutil.rmtree(old, ignore_errors=True)
    return path


# -- the log -----------------------------------------------------------------------------------


def append_log(out_dir: Path, record: dict[str, Any]) -> None:
    """Append one update's record to ``log.jsonl``."""
    with (out_dir / "log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def trim_log(out_dir: Path, start_step: int) -> None:
    """Make ``log.jsonl`` that of a run at ``start_step``: removed for a fresh start, cut to
    the records up to the checkpoint for a resumed one."""
    path = out_dir / "log.jsonl"
    if not path.exists():
        return
    if start_step == 0:
        path.unlink()
        return
    write_jsonl(path, [r for r in read_log(out_dir) if r["step"] <= start_step])


def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The JSONL training log of a run as a list of records."""
    return list(read_jsonl(Path(out_dir) / "log.jsonl", how_to_rebuild=_REBUILD))
