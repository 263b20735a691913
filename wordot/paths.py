"""Where things live, and writing files so that a crash never leaves half of one.

Nothing here reads global state at import time. Every location is an argument with a default
that is computed when it is asked for:

* :func:`cache_root`: ``$WORDOT_CACHE`` if set (a user's choice, read at call time), else
  ``~/.cache/wordot``; the offline corpora live in ``cache_root() / "corpora"``, converted
  encoders in ``cache_root() / "encoders"``.
* runs and results are written below a directory the caller passes (a chapter passes its
  profile's ``runs_dir``, relative to the working directory, which the book runner sets to the
  project root).

The writers go through a temporary file in the target's directory (a unique name, so two
writers never share one) and ``os.replace`` it into place, so a reader sees the old file or the
new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "cache_root",
    "atomic_file",
    "write_json",
    "write_jsonl",
    "write_text",
    "read_json",
    "read_jsonl",
    "CorruptFileError",
    "git_commit",
    "shown",
]


class CorruptFileError(ValueError):
    """A file on disk cannot be parsed; the message names the file and how to rebuild it."""


def cache_root(cache: str | Path | None = None) -> Path:
    """The wordot cache: ``cache`` if given, else ``$WORDOT_CACHE``, else ``~/.cache/wordot``."""
    if cache is not None:
        return Path(cache).expanduser()
    env = os.environ.get("WORDOT_CACHE")
    return Path(env).expanduser() if env else Path("~/.cache/wordot").expanduser()


def _umask() -> int:
    """The process umask, read without leaving it changed (only inside a write)."""
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        kwargs = {} if "b" in mode else {"encoding": "utf-8"}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_file(path) as fh:
        fh.write(text)


def write_json(path: str | Path, obj: Any, *, indent: int | None = 1) -> None:
    """Write ``obj`` as JSON atomically (non-ASCII kept, a final newline)."""
    with atomic_file(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent, default=_jsonable)
        fh.write("\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write one JSON object per line atomically; returns the number of rows."""
    n = 0
    with atomic_file(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n")
            n += 1
    return n


def _jsonable(obj: Any) -> Any:
    """Tuples and sets as lists, paths as strings (for ``json.dump(default=...)``)."""
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def read_json(path: str | Path, *, how_to_rebuild: str = "") -> Any:
    """Parse a JSON file; a corrupt one raises :class:`CorruptFileError` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(_corrupt(path, err, how_to_rebuild)) from err


def read_jsonl(path: str | Path, *, how_to_rebuild: str = "") -> Iterator[dict]:
    """Yield the objects of a JSON-lines file (blank lines skipped); a line that does not parse
    raises :class:`CorruptFileError` naming the file and line."""
    path = Path(path)
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                yield json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise CorruptFileError(_corrupt(path, err, how_to_rebuild, line=i)) from err


def _corrupt(path: Path, err: Exception, how_to_rebuild: str, line: int | None = None) -> str:
    where = f"{path}" + (f", line {line}" if line is not None else "")
    fix = f" {how_to_rebuild}" if how_to_rebuild else " Delete it to have it rebuilt."
    return f"corrupt file {where}: {err}.{fix}"


def git_commit(root: str | Path | None = None) -> tuple[str, bool]:
    """The commit checked out at ``root`` (default: the working directory) and whether
    ``wordot/`` or ``notebooks/`` have uncommitted changes; ``("unknown", False)`` outside a
    git checkout. Recorded next to results so that a number can be traced to its code."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        return git("rev-parse", "HEAD"), bool(
            git("status", "--porcelain", "--", ":/wordot", ":/notebooks")
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def shown(path: str | Path) -> str:
    """``path`` as a reader should see it: relative to the working directory (the project root
    when the book runs) when it lies below it, else below ``$WORDOT_DATA`` or the wordot cache
    written as that variable (``$WORDOT_DATA/xnli``, ``$WORDOT_CACHE/corpora``), else below the
    home directory as ``~/...``. Keeps machine-specific absolute paths out of the rendered
    chapters."""
    path = Path(path).expanduser().resolve()
    roots = [(Path.cwd(), "")]
    if os.environ.get("WORDOT_DATA"):
        roots.append((Path(os.environ["WORDOT_DATA"]), "$WORDOT_DATA"))
    roots += [(cache_root(), "$WORDOT_CACHE"), (Path.home(), "~")]
    for root, name in roots:
        try:
            rel = path.relative_to(root.expanduser().resolve())
        except ValueError:
            continue
        return str(rel) if not name else f"{name}/{rel}" if str(rel) != "." else name
    return str(path)
