"""Execute the book's chapters with papermill and record what ran in a manifest.

``notebooks/*.ipynb`` (stored without outputs) are executed in order into ``book/chapters/``,
the tree the book is built from. ``book/chapters/manifest.json`` records, per chapter, the
parameters, profile, package version, git commit, duration and a hash of the source notebook,
so a test can tell when an executed copy is stale.

Chapters run one at a time in file order, or ``jobs`` at a time (``--jobs 2`` on two cores:
every kernel uses one torch thread). A chapter's notebook metadata says what it waits for,
``{"wordot": {"needs": ["05_fine_tuning"]}}`` (chapters whose runs it reads),
``{"wordot": {"alone": true}}`` (it measures the machine: it starts after every earlier chapter
and nothing runs beside it), ``{"wordot": {"priority": 1}}`` (among the chapters ready to start,
higher priorities start first: the longest chapter should not wait behind shorter ones). A chapter whose need failed is skipped; the others go on.

A chapter is executed into a temporary file that replaces the executed copy only when the whole
chapter succeeded; the manifest marks it ``running`` before and ``ok`` after, so a run that is
interrupted (Ctrl-C, SIGKILL) leaves the previous copy and a chapter that counts as stale.
Every parameter is checked against the profile before the first chapter starts.

The project root (the folder with ``notebooks/`` and ``_toc.yml``) is an argument; by default
it is found upwards from the working directory (:func:`project_root`).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .. import __version__, config
from ..paths import CorruptFileError, git_commit, read_json, write_json

MANIFEST = "manifest.json"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds
    ``_toc.yml`` and ``notebooks/``: the book's project root."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise FileNotFoundError(
        f"no book project (a folder with _toc.yml and notebooks/) at or above {here}; "
        "run from the project root or pass root="
    )


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; the message names the chapter and the cell."""


@dataclass(frozen=True)
class Chapter:
    """One chapter: its source notebook and the executed copy the book is built from."""

    name: str
    source: Path
    output: Path
    needs: tuple[str, ...] = ()  # chapters whose results this one reads (they run first)
    alone: bool = False  # measures the machine: no other chapter runs beside it
    priority: int = 0  # among chapters ready to start, higher first (then file order)


def _schedule_metadata(path: Path) -> dict[str, Any]:
    """The ``wordot`` entry of a notebook's metadata (``needs``, ``alone``, ``priority``),
    checked."""
    meta = json.loads(path.read_text()).get("metadata", {}).get("wordot", {})
    unknown = set(meta) - {"needs", "alone", "priority"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} in metadata.wordot")
    return {
        "needs": tuple(meta.get("needs", ())),
        "alone": bool(meta.get("alone", False)),
        "priority": int(meta.get("priority", 0)),
    }


def discover(
    root: Path | None = None, out_dir: Path | None = None, only: list[str] | None = None
) -> list[Chapter]:
    """Chapters in ``root/notebooks`` sorted by file name; ``only`` selects by name prefix."""
    root = root or project_root()
    out_dir = out_dir or root / "book" / "chapters"
    sources = sorted((root / "notebooks").glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks in {root / 'notebooks'}")
    chapters = [Chapter(p.stem, p, out_dir / p.name, **_schedule_metadata(p)) for p in sources]
    names = {c.name for c in chapters}
    for c in chapters:
        if set(c.needs) - names:
            raise ValueError(
                f"chapter {c.name} needs {sorted(set(c.needs) - names)}, which are not chapters"
            )
    if only:
        picked = [c for c in chapters if any(c.name.startswith(o) for o in only)]
        missing = [o for o in only if not any(c.name.startswith(o) for c in chapters)]
        if missing:
            names = [c.name for c in chapters]
            raise ValueError(f"no chapter matches {missing}; chapters are {names}")
        chapters = picked
    return chapters


def source_hash(path: Path) -> str:
    """SHA-256 of a notebook's cell types, tags and sources (outputs and metadata ignored)."""
    nb = json.loads(path.read_text())
    h = hashlib.sha256()
    for cell in nb["cells"]:
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        tags = ",".join(cell.get("metadata", {}).get("tags", []))
        h.update(f"{cell['cell_type']}\x00{tags}\x00{src}\x01".encode())
    return h.hexdigest()


def declared_parameters(path: Path) -> dict[str, Any]:
    """Names and defaults of a notebook's ``parameters`` cell (via papermill)."""
    import papermill  # the kernel machinery, only when chapters are inspected

    info = papermill.inspect_notebook(str(path))
    return {name: p["default"] for name, p in info.items()}


def _kernel_env() -> None:
    """Settings the kernels inherit: one busy thread per op on small CPU machines, and no
    Hugging Face progress bars in the rendered chapters (transformers 5 reads
    ``HF_HUB_DISABLE_PROGRESS_BARS`` when imported, for its "Loading weights" and "Writing model
    shards" bars, as huggingface_hub does for downloads; our own tqdm bars are unaffected)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch  # only to ask for a GPU; the kernels import it anyway

    if not torch.cuda.is_available():
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path`` ({} if there is none); a corrupt one is named as such."""
    if not path.exists():
        return {}
    try:
        return read_json(path)
    except CorruptFileError as err:
        raise CorruptFileError(
            f"the book's manifest {path} is corrupt ({err.__cause__}); delete it and rerun "
            "`python -m wordot run` (every chapter then counts as stale)"
        ) from err


def check_parameters(profile: str, params: dict[str, Any], chapters: list[Chapter]) -> None:
    """Raise a ValueError before anything runs if a parameter is unknown or has a bad value."""
    if "profile" in params:
        raise ValueError(
            f"choose the profile with --profile {params['profile']}, not as a parameter "
            "(-p profile ...)"
        )
    if profile not in config.PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(config.PROFILES)}")
    declared = {c.name: declared_parameters(c.source) for c in chapters}
    for c in chapters:
        if "profile" not in declared[c.name]:
            raise ValueError(f"chapter {c.name} has no `profile` in its parameters cell")
    known = set().union(*declared.values())
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"parameter(s) {unknown} are not in any chapter's parameters cell; "
            f"the chapters take {sorted(known)}"
        )
    fields = set(config.parameter_names())
    config.resolve(profile, **{k: v for k, v in params.items() if k in fields})


def _source_cell(source: Path, executed: Path, index: int) -> str:
    """``cell N ('first line')`` of the source notebook for papermill's cell ``index`` (which
    counts the ``injected-parameters`` cell papermill inserts, but not its error banners)."""
    try:
        ran = nbformat.read(executed, as_version=4).cells
        cells = nbformat.read(source, as_version=4).cells
    except (OSError, ValueError):
        return f"cell {index} of the executed notebook"
    ran = [c for c in ran if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    injected = [i for i, c in enumerate(ran) if "injected-parameters" in c.metadata.get("tags", [])]
    number = index - sum(1 for i in injected if i < index)
    lines = cells[number].source.strip().splitlines() if number < len(cells) else []
    return f"cell {number} ({(lines[0] if lines else '')[:60]!r})"


def _execute(chapter: Chapter, params: dict, root: Path, kernel: str, progress: bool) -> None:
    """Execute one chapter into a temporary file; replace the executed copy only on success."""
    import papermill  # the kernel machinery, only when chapters run

    tmp = chapter.output.with_name(f".{chapter.output.stem}.running.ipynb")
    try:
        papermill.execute_notebook(
            str(chapter.source),
            str(tmp),
            parameters=params,
            kernel_name=kernel,
            progress_bar=progress,
            cwd=str(root),
        )
    except papermill.PapermillExecutionError as err:
        failed = chapter.output.with_name(f"{chapter.output.stem}.failed.ipynb")
        os.replace(tmp, failed)
        raise ChapterFailed(
            f"chapter {chapter.name} failed in {_source_cell(chapter.source, failed, err.cell_index)} "
            f"({err.ename}: {err.evalue}); partial output in {failed}"
        ) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _relative_paths(tmp, chapter, root)
    os.replace(tmp, chapter.output)


def _relative_paths(executed: Path, chapter: Chapter, root: Path) -> None:
    """Papermill records where it read and wrote; keep those paths relative to the project
    root (no machine-specific absolute path, no temporary name) in the executed notebook."""
    nb = nbformat.read(executed, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key, path in (("input_path", chapter.source), ("output_path", chapter.output)):
        if key in meta:
            meta[key] = os.path.relpath(path, root)
    nbformat.write(nb, executed)


def run(
    profile: str = config.BOOK_PROFILE,
    params: dict[str, Any] | None = None,
    only: list[str] | None = None,
    root: Path | None = None,
    out_dir: Path | None = None,
    kernel: str = "python3",
    progress: bool = True,
    jobs: int = 1,
) -> dict[str, Any]:
    """Execute chapters with papermill under ``profile`` and ``params``, ``jobs`` at a time
    (see the module docstring for the order); return the manifest.

    When a chapter fails, the chapters that do not need it still run; then ChapterFailed names
    every failed chapter with the source notebook's cell (the partial notebook is kept as
    ``<chapter>.failed.ipynb``) and every chapter skipped because of it. The manifest is written
    before and after every chapter, so finished chapters are recorded whatever fails later.
    """
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: run at least one chapter at a time")
    from tqdm.auto import tqdm

    root = root or project_root()
    params = dict(params or {})
    chapters = discover(root, out_dir, only)
    check_parameters(profile, params, chapters)
    declared = {c.name: declared_parameters(c.source) for c in chapters}
    out_dir = chapters[0].output.parent
    out_dir.mkdir(parents=True, exist_ok=True)

    manifest_path = out_dir / MANIFEST
    manifest = read_manifest(manifest_path)
    commit, dirty = git_commit(root)
    manifest.update(
        {
            "wordot_version": __version__,
            "git_commit": commit,
            "git_dirty": dirty,
            "profile": profile,
            "parameters": params,
        }
    )
    manifest.setdefault("chapters", {})
    _kernel_env()

    lock = threading.Lock()

    def execute(chapter: Chapter) -> None:
        chapter_params = {"profile": profile}
        chapter_params.update({k: v for k, v in params.items() if k in declared[chapter.name]})
        record: dict[str, Any] = {
            "profile": profile,
            "parameters": chapter_params,
            "source_sha256": source_hash(chapter.source),
            "wordot_version": __version__,
            "git_commit": commit,
            "git_dirty": dirty,
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "status": "running",
        }
        with lock:
            manifest["chapters"][chapter.name] = record
            write_json(manifest_path, manifest, indent=2)
        start = time.perf_counter()
        try:
            _execute(chapter, chapter_params, root, kernel, progress and jobs == 1)
        except ChapterFailed as err:
            with lock:
                record.update(status="failed", seconds=round(time.perf_counter() - start, 1))
                record["error"] = str(err)
                write_json(manifest_path, manifest, indent=2)
            raise
        with lock:
            record.update(status="ok", seconds=round(time.perf_counter() - start, 1))
            write_json(manifest_path, manifest, indent=2)

    bar = tqdm(
        total=len(chapters), desc=f"chapters ({profile})", unit="chapter", disable=not progress
    )
    failures = _run_scheduled(chapters, jobs, execute, bar.update)
    bar.close()
    for name, reason in failures.items():
        if name not in manifest["chapters"] or manifest["chapters"][name]["status"] == "running":
            manifest["chapters"][name] = {"status": "skipped", "error": reason, "profile": profile}
    write_json(manifest_path, manifest, indent=2)
    if failures:
        raise ChapterFailed("; ".join(failures.values()))
    return manifest


def _run_scheduled(
    chapters: list[Chapter], jobs: int, execute: Callable[[Chapter], None], done: Callable
) -> dict[str, str]:
    """Run ``execute(chapter)`` for every chapter, ``jobs`` at a time, in file order as far as
    ``needs`` and ``alone`` allow; ``{name: why}`` of the chapters that failed or were skipped."""
    selected = {c.name for c in chapters}
    pending = list(chapters)
    running: dict[cf.Future, Chapter] = {}
    finished: set[str] = set()
    failures: dict[str, str] = {}

    def ready(c: Chapter) -> bool:
        if any(r.alone for r in running.values()):
            return False
        if c.alone:
            earlier = {e.name for e in chapters[: chapters.index(c)]}
            return not running and earlier <= finished
        return all(n in finished or n not in selected for n in c.needs)

    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            before = len(pending)
            for c in sorted(pending, key=lambda c: -c.priority):  # stable: then file order
                bad = [n for n in c.needs if n in failures]
                if bad:
                    pending.remove(c)
                    finished.add(c.name)
                    failures[c.name] = (
                        f"chapter {c.name} skipped: it needs {bad}, which did not run"
                    )
                    done()
                elif len(running) < jobs and ready(c):
                    pending.remove(c)
                    running[pool.submit(execute, c)] = c
            if not running:
                if pending and len(pending) == before:
                    raise ValueError(
                        f"the needs of {[c.name for c in pending]} form a cycle; "
                        "fix metadata.wordot.needs"
                    )
                continue
            complete, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in complete:
                c = running.pop(future)
                finished.add(c.name)
                if future.exception() is not None:
                    err = future.exception()
                    if not isinstance(err, ChapterFailed):
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise err
                    failures[c.name] = str(err)
                done()
    return failures


def stale_chapters(root: Path | None = None, out_dir: Path | None = None) -> list[str]:
    """Chapters whose executed copy is missing, failed, interrupted, or older than its source
    or the package."""
    chapters = discover(root, out_dir)
    recorded = read_manifest(chapters[0].output.parent / MANIFEST).get("chapters", {})
    stale = []
    for c in chapters:
        rec = recorded.get(c.name)
        if (
            not c.output.exists()
            or rec is None
            or rec.get("status") != "ok"
            or rec.get("source_sha256") != source_hash(c.source)
            or rec.get("wordot_version") != __version__
        ):
            stale.append(c.name)
    return stale


def build_book(root: Path | None = None, out: Path | None = None, strict: bool = True) -> Path:
    """Render the book with Jupyter Book 1 (Sphinx); warnings are errors when ``strict``."""
    root = root or project_root()
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]
    cmd += ["build", str(root), "--keep-going"]
    if strict:
        cmd.append("-W")
    if out is not None:
        cmd += ["--path-output", str(out)]
    subprocess.run(cmd, check=True)
    return (out or root) / "_build" / "html"
