"""The files of a run directory, written so that a run can always be continued or reused.

=========================  ==================================================================
``config.json``            the run's settings (:meth:`TrainConfig.to_dict`), written first
``log.jsonl``              one record per optimiser update
``checkpoints/step-K/``    ``accelerate`` state (model, optimiser, RNG) after step K;
                           ``state.json`` in it is written last and marks it complete
``model/``                 the tuned model and tokenizer (``save_pretrained``)
``summary.json``           steps, updates, first/last loss, seconds; written at the end
``train.lock``             held while a process trains into the directory (:mod:`.lock`)
=========================  ==================================================================

Damage is named and, where the run can go on, repaired: a checkpoint whose files cannot be
loaded gives way to the one before it (:func:`~.loop.restore`), a record torn by a crash at the
end of ``log.jsonl`` is cut off (:func:`trim_log`); a ``state.json`` or ``summary.json`` that
does not fit the run's plan stops the run (the data it trained on were others).
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from .. import __version__
from ..paths import CorruptFileError, atomic_file, read_json, read_jsonl, write_json, write_jsonl
from .lock import LOCK_FILE

_REBUILD = "Delete the run directory to train again."
_OTHER_DATA = "it was made with other training data (other corpora, or of another size)"


def has_run(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds anything but its lock file."""
    return out_dir.is_dir() and any(p.name != LOCK_FILE for p in out_dir.iterdir())


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
    already (ValueError if it says another number); None otherwise (train, or continue).
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
            what = "other settings"
            if all(k.startswith("provenance.") for k in differ):
                other = "other code" if "provenance.code_sha256" in differ else "other pairs"
                what = f"the same settings but {other}"
            raise ValueError(
                f"{out_dir} holds a run made with {what} (differing: "
                f"{', '.join(differ)}); delete the directory or choose another one"
            )
    summary_file = out_dir / "summary.json"
    if summary_file.exists():
        how = f"Delete it to have the run continued from its last checkpoint. {_REBUILD}"
        summary = read_json(summary_file, how_to_rebuild=how)
        steps = summary.get("steps") if isinstance(summary, dict) else None
        if not _is_count(steps):
            raise CorruptFileError(f"{summary_file} holds no step count ({steps!r}). {how}")
        if steps != total_steps:
            raise ValueError(
                f"{summary_file} says the run made {steps} steps, but this plan has "
                f"{total_steps}: {_OTHER_DATA}; train into another directory"
            )
        return summary | {"reused": True}
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json``, the mark of a finished run."""
    write_json(out_dir / "summary.json", summary, indent=2)


# -- checkpoints -------------------------------------------------------------------------------


def _checkpoints(out_dir: Path) -> list[Path]:
    """``checkpoints/step-K`` directories, by K."""
    found = [
        p for p in (out_dir / "checkpoints").glob("step-*") if re.fullmatch(r"step-\d+", p.name)
    ]
    return sorted(found, key=_named_step)


def _named_step(path: Path) -> int:
    return int(path.name.split("-")[1])


def complete_checkpoints(out_dir: Path) -> list[Path]:
    """The complete checkpoints (those with ``state.json``), newest first."""
    return [p for p in reversed(_checkpoints(out_dir)) if (p / "state.json").exists()]


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The complete checkpoint of the highest step, or None."""
    complete = complete_checkpoints(out_dir)
    return complete[0] if complete else None


def checkpoint_step(path: Path, total_steps: int | None = None) -> int:
    """The step after which checkpoint ``path`` was saved, as its ``state.json`` says.

    ValueError (naming the file) if that is not the step of the directory's name, or not a step
    of a run of ``total_steps`` steps (when given): resuming from it would give a run that
    looks finished with the wrong weights.
    """
    state_file = path / "state.json"
    how = f"Delete {path} to resume from the checkpoint before it."
    state = read_json(state_file, how_to_rebuild=how)
    step = state.get("step") if isinstance(state, dict) else None
    if not _is_count(step) or step != _named_step(path):
        raise CorruptFileError(f"{state_file} says step {step!r}, not {_named_step(path)}. {how}")
    if total_steps is not None and not 0 < step <= total_steps:
        raise ValueError(
            f"{state_file}: a checkpoint after step {step}, but this run has {total_steps} "
            f"steps: {_OTHER_DATA}; train into another directory"
        )
    return step


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


def snapshot_dir(out_dir: Path, step: int) -> Path:
    """Where the model saved after ``step`` lives (``TrainConfig.snapshot_steps``)."""
    return Path(out_dir) / "snapshots" / f"step-{step}"


def append_log(out_dir: Path, record: dict[str, Any]) -> None:
    """Append one update's record to ``log.jsonl``."""
    with (out_dir / "log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def trim_log(out_dir: Path, start_step: int) -> None:
    """Make ``log.jsonl`` that of a run at ``start_step``: removed for a fresh start, cut to
    the records up to the checkpoint for a resumed one (after :func:`cut_torn_record`)."""
    path = out_dir / "log.jsonl"
    if not path.exists():
        return
    if start_step == 0:
        path.unlink()
        return
    cut_torn_record(path)
    write_jsonl(path, [r for r in read_log(out_dir) if r["step"] <= start_step])


def cut_torn_record(path: Path) -> None:
    """Cut a last line without its newline (a record torn by a crash while it was appended)
    off the JSONL file ``path``, with a warning that shows it."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # just after the last complete record
    if data[end:].strip():
        warnings.warn(
            f"{path}: cut off a partial last line (a crash while it was written): "
            f"{data[end:][:80]!r}",
            stacklevel=2,
        )
        with atomic_file(path, "wb") as fh:
            fh.write(data[:end])


def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The JSONL training log of a run as a list of records."""
    return list(read_jsonl(Path(out_dir) / "log.jsonl", how_to_rebuild=_REBUILD))
