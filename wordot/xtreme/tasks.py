"""The two tasks, XNLI and XQuAD: their names, test languages, "seen" languages, and files.

The language lists themselves live in :mod:`wordot.languages`; here they are only looked up by
task. Paths the pipeline is given (``data=DIR``, ``results_dir``, an encoder directory) are
relative to the working directory (the book runner sets it to the project root).
"""

from __future__ import annotations

from pathlib import Path

from ..languages import MAIN, XNLI, XQUAD

TASKS = ("xnli", "xquad")

#: files shipped with the package: ``hub/`` (the fixtures) and ``paper/`` (the paper's tables)
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "xtreme"


def check_task(task: str) -> None:
    """Raise a ValueError naming ``task`` unless it is one of :data:`TASKS`."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


def task_languages(task: str) -> tuple[str, ...]:
    """The test languages of ``task`` in the order of the paper's Table 2."""
    check_task(task)
    return XNLI if task == "xnli" else XQUAD


#: the "seen" averages of Tables 1-2: English plus the WordOT languages (the paper's main five)
#: the task covers -- xnli: en bg de el es fr; xquad: en de el es
SEEN: dict[str, tuple[str, ...]] = {
    task: ("en",) + tuple(lg for lg in MAIN if lg in task_languages(task)) for task in TASKS
}


def resolve_path(path: str | Path) -> Path:
    """``path`` with ``~`` expanded, made absolute from the working directory."""
    return Path(path).expanduser().absolute()
