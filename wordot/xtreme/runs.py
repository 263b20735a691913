"""Runs and their results files: one fine-tuning run per (task, encoder, seed).

:func:`run_task` (and its two names :func:`run_xnli`, :func:`run_xquad`) loads the data, puts a
new head on the encoder, fine-tunes on English, tests every language and writes
``results.json`` (per-language scores, averages, the training summary, data sizes, the preset,
software versions and git commit) with ``log.jsonl``, XTREME-style predictions and every test
item's score to :func:`task_run_dir`. A finished run with the same settings is reused, so an
interrupted :func:`run_grid` resumes. :func:`load_results` reads the files back.

Two protocols (:data:`PIPELINES`): ``"xtreme"``, the paper's (English MultiNLI / SQuAD from
the hub), and ``"downsized"`` (:mod:`~wordot.xtreme.downsized`: training on English parts of
the XNLI / XQuAD evaluation files, testing on the rest).

Results directories are passed explicitly; a relative one is relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from accelerate.utils import set_seed

from .. import __version__
from ..languages import check_languages
from ..paths import git_commit, read_json, write_json
from .downsized import EVAL_DATA, XQUAD_FILES, DownsizedXNLIPipeline, DownsizedXQuADPipeline
from .finetune import fine_tune, make_accelerator, run_autocast
from .heads import check_encoders, float32_head, load_task_model
from .pipelines import (
    PROTOCOLS,
    DataRequest,
    DownsizedSplit,
    Inference,
    XNLIPipeline,
    XQuADPipeline,
)
from .presets import TaskPreset, get_preset
from .tasks import check_task, resolve_path, task_languages

RESULTS_FILE = "results.json"

#: the pipeline of each (task, protocol)
PIPELINES: dict[tuple[str, str], type[XNLIPipeline] | type[XQuADPipeline]] = {
    ("xnli", "xtreme"): XNLIPipeline,
    ("xquad", "xtreme"): XQuADPipeline,
    ("xnli", "downsized"): DownsizedXNLIPipeline,
    ("xquad", "downsized"): DownsizedXQuADPipeline,
}


def task_run_dir(results_dir: str | Path, task: str, encoder: str, seed: int) -> Path:
    """``results_dir/<task>/<encoder slug>/seed<seed>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "__", encoder.strip()).strip("_") or "encoder"
    return Path(results_dir).expanduser() / task / slug / f"seed{seed}"


def run_task(
    task: str,
    encoder: str,
    seed: int = 0,
    preset: str | TaskPreset | None = None,
    *,
    results_dir: str | Path,
    languages: Iterable[str] | None = None,
    data: str | Path | None = None,
    train_limit: int | None = None,
    protocol: str = "xtreme",
    split: DownsizedSplit | None = None,
    overwrite: bool = False,
    progress: bool = True,
    mixed_precision: str = "auto",
    cpu: bool = False,
    root: str | Path | None = None,
) -> dict[str, Any]:
    """Fine-tune ``encoder`` on ``task``'s English training data; test on ``languages``.

    ``preset``: a :class:`TaskPreset` or its name (default: the paper's); ``languages``: test
    languages (default: all of the task's); ``protocol``: ``"xtreme"`` (the paper's) or
    ``"downsized"`` (:mod:`~wordot.xtreme.downsized`, with ``split``, default
    :class:`DownsizedSplit()`); ``data``: for ``"xtreme"`` ``"hub"`` (None), ``"fixtures"`` or a
    directory (:func:`wordot.xtreme.data.load_split`), for ``"downsized"`` ``"eval-data"``
    (None: :func:`wordot.datasets.path`'s search) or a directory laid out like eval-data;
    ``train_limit``: the first N training examples (None = all); ``mixed_precision``, ``cpu``:
    see :func:`~wordot.xtreme.finetune.make_accelerator` (a preset's own ``mixed_precision``
    is applied by the loop, :func:`~wordot.xtreme.finetune.run_autocast`); ``root``: the git
    checkout whose commit the record names (default: the working directory's).

    Returns the record written to ``task_run_dir(...)/results.json``; an existing one with the
    same settings (protocol and split included; for ``"downsized"`` the same chosen items,
    compared by digest) is returned as it is unless ``overwrite``;
    either has its path as ``"_path"``. All data are loaded before the model, so missing data
    fail before a long model download. Under several processes only the main one evaluates
    and writes; the others return ``{}``.
    """
    p = get_preset(task, preset)
    request = _request(task, languages, data, train_limit, protocol, split)
    out = task_run_dir(results_dir, task, encoder, seed)
    record = _base_record(task, encoder, seed, p, request, root)
    t0 = time.perf_counter()
    pipeline = None
    if request.protocol == "downsized":  # the files are small: read them to compare the items
        pipeline = PIPELINES[task, request.protocol](p, request)
        record["data"]["items"] = pipeline.selection()
    old = None if overwrite else _reuse(out / RESULTS_FILE, record)
    if old is not None:
        return old
    if pipeline is None:
        pipeline = PIPELINES[task, request.protocol](p, request)  # all data before the model
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"wordot-{task}-") as tmp:
        set_seed(seed)  # the new head's weights are drawn here: seed them, as XTREME does
        model, tokenizer, head = load_task_model(task, encoder, tmp)
        head["float32"] = p.mixed_precision == "bf16"
        if head["float32"]:
            float32_head(model)
        inputs = pipeline.prepare(model, tokenizer)
        t1 = time.perf_counter()
        acc = make_accelerator(mixed_precision, cpu)
        summary = fine_tune(
            model,
            inputs.train_set,
            inputs.collate,
            p,
            seed=seed,
            evaluate=inputs.evaluate,
            log_path=out / "log.jsonl",
            progress=progress,
            accelerator=acc,
        )
        if not acc.is_main_process:
            return {}
        t2 = time.perf_counter()
        run = Inference(acc.device, run_autocast(p, acc))
        metrics = pipeline.test(model.to(acc.device), run, out / "predictions")
        t3 = time.perf_counter()
    record["data"].update(pipeline.data_record(metrics))
    seconds = {"data_and_model": t1 - t0, "fine_tune": t2 - t1, "test": t3 - t2}
    fields = pipeline.results(metrics) | {
        "training": summary.to_dict(),
        "head": head,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    return _finish(out, record, fields)


def run_xnli(
    encoder: str, seed: int = 0, preset: str | TaskPreset | None = None, **options: Any
) -> dict[str, Any]:
    """Fine-tune ``encoder`` on English MultiNLI and test zero-shot on XNLI (:func:`run_task`).

    Writes ``results.json`` (accuracy per language, seen/all averages, dev curve, data sizes),
    ``log.jsonl``, ``predictions/test-<lang>.tsv`` (label names, as in XTREME) and
    ``predictions/scores-<lang>.json`` (every item's accuracy, 0 or 100).
    """
    return run_task("xnli", encoder, seed, preset, **options)


def run_xquad(
    encoder: str, seed: int = 0, preset: str | TaskPreset | None = None, **options: Any
) -> dict[str, Any]:
    """Fine-tune ``encoder`` on SQuAD v1.1 and test zero-shot on XQuAD (:func:`run_task`).

    Writes ``results.json`` (F1/EM per language, seen/all averages, window counts),
    ``log.jsonl``, ``predictions/test-<lang>.json`` (``{id: answer}``, as in XTREME) and
    ``predictions/scores-<lang>.json`` (every question's F1 and EM).
    """
    return run_task("xquad", encoder, seed, preset, **options)


def run_grid(
    task: str,
    encoders: Iterable[str],
    seeds: Iterable[int],
    preset: str | TaskPreset | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """:func:`run_task` for every encoder and seed (finished runs with the same settings are
    reused, so an interrupted grid resumes where it stopped). Every encoder is checked before
    the first is trained (:func:`~wordot.xtreme.heads.check_encoders`)."""
    check_task(task)
    encoders, seeds = list(encoders), list(seeds)
    check_encoders(encoders)
    return [run_task(task, enc, seed, preset, **options) for enc in encoders for seed in seeds]


def load_results(
    results_dir: str | Path, task: str, *, include_fixtures: bool = False
) -> list[dict[str, Any]]:
    """Every ``results.json`` of ``task`` under ``results_dir`` (none if it does not exist),
    each with its path as ``"_path"``; unreadable files are skipped.

    Runs on the shipped fixtures are pipeline checks, not results: they are left out unless
    ``include_fixtures``.
    """
    check_task(task)
    root = Path(results_dir).expanduser() / task
    records = []
    for path in sorted(root.glob(f"*/seed*/{RESULTS_FILE}")):
        try:
            rec = read_json(path)
        except ValueError:
            continue
        if rec.get("task") != task or "metrics" not in rec:
            continue
        if rec["data"]["source"] == "fixtures" and not include_fixtures:
            continue
        rec["_path"] = str(path)
        records.append(rec)
    return records


def versions() -> dict[str, str]:
    """Versions of the software a result depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform(), "wordot": __version__}
    for pkg in ("torch", "transformers", "tokenizers", "datasets", "accelerate", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------


def _request(
    task: str,
    languages: Iterable[str] | None,
    data: str | Path | None,
    train_limit: int | None,
    protocol: str,
    split: DownsizedSplit | None,
) -> DataRequest:
    """The checked :class:`DataRequest` of a run (test languages default to the task's)."""
    check_task(task)
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
    downsized = protocol == "downsized"
    langs = _test_languages(
        task, languages, extra=XQUAD_FILES if downsized and task == "xquad" else ()
    )
    if downsized:
        source: str | Path = EVAL_DATA if data is None else data
        split = split if split is not None else DownsizedSplit()
    else:
        source = "hub" if data is None else data
    return DataRequest(tuple(langs), source, train_limit, protocol, split)


def _test_languages(
    task: str, languages: Iterable[str] | None, extra: tuple[str, ...] = ()
) -> list[str]:
    known = task_languages(task)
    langs = list(known if languages is None else languages)
    if not langs:
        raise ValueError(f"no {task} test languages given; choose from {', '.join(known)}")
    check_languages(langs, known + extra, f"{task} test language")
    return langs


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _base_record(
    task: str,
    encoder: str,
    seed: int,
    preset: TaskPreset,
    request: DataRequest,
    root: str | Path | None,
) -> dict[str, Any]:
    """The settings of a run (what :func:`_same_run` compares) and its provenance."""
    data = str(request.source)
    source = data if data in ("hub", "fixtures", EVAL_DATA) else str(resolve_path(data))
    commit, dirty = git_commit(root)
    settings: dict[str, Any] = {
        "source": source,
        "train_limit": request.train_limit,
        "protocol": request.protocol,
    }
    if request.split is not None:
        settings["split"] = request.split.to_dict(task)
    return {
        "task": task,
        "encoder": encoder,
        "seed": seed,
        "preset": preset.to_dict(),
        "languages": list(request.languages),
        "data": settings,
        "versions": versions(),
        "git_commit": commit,
        "git_dirty": dirty,
        "started": _now(),
    }


#: what a record written before a field existed meant by it
_PRESET_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(TaskPreset)
    if f.default is not dataclasses.MISSING
}
_DATA_DEFAULTS = {"protocol": "xtreme"}


def _same_run(old: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether a finished results file was made with the settings of ``record`` (protocol and
    split included; fields a record predates take their defaults)."""
    keys = ("task", "encoder", "seed", "languages")
    if "metrics" not in old or any(old.get(k) != record[k] for k in keys):
        return False
    if _PRESET_DEFAULTS | old.get("preset", {}) != record["preset"]:
        return False
    data = _DATA_DEFAULTS | old.get("data", {})
    return all(data.get(k) == v for k, v in record["data"].items())


def _reuse(path: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The finished results file at ``path`` if it has ``record``'s settings, else None."""
    if not path.is_file():
        return None
    try:
        old = read_json(path)
    except ValueError:
        return None
    return old | {"_path": str(path)} if _same_run(old, record) else None


def _finish(out: Path, record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Complete ``record`` with ``fields`` and the finishing time; write ``results.json``."""
    record.update(fields, finished=_now())
    write_json(out / RESULTS_FILE, record, indent=2)
    return record | {"_path": str(out / RESULTS_FILE)}
