"""What every build step is handed: the cache, the languages, the seed, apt (opened on first
use), a progress bar and a log, and a place for what several steps share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .apt import Apt


@dataclass
class BuildContext:
    """The state of one :func:`wordot.corpora.build` run.

    ``apt`` is created, checked and updated the first time a step asks for it (the PyPI step
    never does); ``shared`` holds what one step computes for others (the English DDTP
    descriptions, read once)."""

    root: Path
    languages: tuple[str, ...]
    seed: int
    force: bool = False
    progress: bool = True
    mirror: str | None = None
    suite: str | None = None
    log: Callable[[str], None] = print
    shared: dict[str, Any] = field(default_factory=dict)
    _apt: Apt | None = None

    @property
    def apt(self) -> Apt:
        """Private apt state in ``downloads/apt``, updated once per build."""
        if self._apt is None:
            self._apt = Apt(
                self.root / "downloads" / "apt",
                list(self.languages),
                mirror=self.mirror,
                suite=self.suite,
            )
            self._apt.check_tools()
            self.log(f"apt: {self._apt.mirror} {self._apt.suite} (private lists)")
            self._apt.update(force=self.force)
        return self._apt

    def bar(self, it: Iterable, **kw: Any) -> Iterable:
        """``it`` with a progress bar when the build shows progress."""
        return tqdm(it, disable=not self.progress, **kw)

    def pkg(self, package: str) -> tuple[Path, dict]:
        """Download and unpack a Debian package into ``downloads/pkgs/<package>``; returns
        the directory and ``{"package", "version", "deb"}``."""
        dest = self.root / "downloads" / "pkgs" / package
        return dest, self.apt.fetch(package, dest)

    def wheels_dir(self) -> Path:
        """Where pinned PyPI wheels are downloaded."""
        return self.root / "downloads" / "wheels"
