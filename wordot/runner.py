"""Execute the book's chapters with papermill and record what ran in a manifest.

``notebooks/*.ipynb`` (stored without outputs) are executed in order into ``book/chapters/``,
the tree the book is built from. ``book/chapters/manifest.json`` records, per chapter, the
parameters, profile, package version, git commit, duration and a hash of the source notebook,
so a test can tell when an executed copy is stale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, config

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "manifest.json"


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; the message names the chapter and the cell."""


@dataclass(frozen=True)
class Chapter:
    """One chapter: its source notebook and the executed copy the book is built from."""

    name: str
    source: Path
    output: Path


def discover(
    root: Path = ROOT, out_dir: Path | None = None, only: list[str] | None = None
) -> list[Chapter]:
    """Chapters in ``root/notebooks`` sorted by file name; ``only`` selects by name prefix."""
    out_dir = out_dir or root / "book" / "chapters"
    sources = sorted((root / "notebooks").glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks in {root / 'notebooks'}")
    chapters = [Chapter(p.stem, p, out_dir / p.name) for p in sources]
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
    import papermill

    info = papermill.inspect_notebook(str(path))
    return {name: p["default"] for name, p in info.items()}


def git_commit(root: Path = ROOT) -> tuple[str, bool]:
    """The checked-out commit and whether the work tree has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "wordot", "notebooks"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head, bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def _kernel_env() -> None:
    """Settings the kernels inherit: one busy thread per op on small CPU machines, and no
    Hugging Face progress bars in the rendered chapters (transformers 5 reads
    ``HF_HUB_DISABLE_PROGRESS_BARS`` when imported, for its "Loading weights" and "Writing model
    shards" bars, as huggingface_hub does for downloads; our own tqdm bars are unaffected)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torch

        if not torch.cuda.is_available():
            os.environ.setdefault("OMP_NUM_THREADS", "1")
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def run(
    profile: str = config.BOOK_PROFILE,
    params: dict[str, Any] | None = None,
    only: list[str] | None = None,
    root: Path = ROOT,
    out_dir: Path | None = None,
    kernel: str = "python3",
    progress: bool = True,
) -> dict[str, Any]:
    """Execute chapters with papermill under ``profile`` and ``params``; return the manifest.

    Raises ChapterFailed naming the chapter and cell on the first failure (the partial
    executed notebook is kept for inspection). The manifest is written after every chapter,
    so finished chapters are recorded even when a later one fails.
    """
    import papermill
    from tqdm.auto import tqdm

    params = dict(params or {})
    params.pop("profile", None)
    if profile not in config.PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(config.PROFILES)}")
    chapters = discover(root, out_dir, only)
    out_dir = chapters[0].output.parent
    out_dir.mkdir(parents=True, exist_ok=True)

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
    config.resolve(profile, **{k: v for k, v in params.items() if k in fields})  # type-check

    manifest_path = out_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
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

    bar = tqdm(chapters, desc=f"chapters ({profile})", unit="chapter", disable=not progress)
    for chapter in bar:
        bar.set_postfix_str(chapter.name)
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
        }
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(chapter.source),
                str(chapter.output),
                parameters=chapter_params,
                kernel_name=kernel,
                progress_bar=progress,
                cwd=str(root),
            )
        except papermill.PapermillExecutionError as err:
            record.update(status="failed", seconds=round(time.perf_counter() - start, 1))
            record["error"] = f"cell {err.cell_index} (execution count {err.exec_count}): " + (
                f"{err.ename}: {err.evalue}"
            )
            manifest["chapters"][chapter.name] = record
            _write(manifest_path, manifest)
            raise ChapterFailed(
                f"chapter {chapter.name} failed in cell {err.cell_index} "
                f"({err.ename}: {err.evalue}); partial output in {chapter.output}"
            ) from err
        record.update(status="ok", seconds=round(time.perf_counter() - start, 1))
        manifest["chapters"][chapter.name] = record
        _write(manifest_path, manifest)
    return manifest


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def stale_chapters(root: Path = ROOT, out_dir: Path | None = None) -> list[str]:
    """Chapters whose executed copy is missing, failed, or older than its source or package."""
    chapters = discover(root, out_dir)
    manifest_path = chapters[0].output.parent / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    recorded = manifest.get("chapters", {})
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


def build_book(root: Path = ROOT, out: Path | None = None, strict: bool = True) -> Path:
    """Render the book with Jupyter Book 1 (Sphinx); warnings are errors when ``strict``."""
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]
    cmd += ["build", str(root), "--keep-going"]
    if strict:
        cmd.append("-W")
    if out is not None:
        cmd += ["--path-output", str(out)]
    subprocess.run(cmd, check=True)
    return (out or root) / "_build" / "html"
