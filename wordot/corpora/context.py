"""What every build step is handed: the cache, the languages, the seed, apt (opened on first
use), a progress bar and a log, a place for what several steps share, and the test of whether
a step's files can be reused."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tqdm.auto import tqdm

from ..paths import CorruptFileError
from .apt import Apt
from .store import raw_meta_path, raw_path, read_raw

log = logging.getLogger(__name__)
T = TypeVar("T")


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

    def reusable(
        self, what: str, read: Callable[[str], T], *files: Path, warn: bool = True
    ) -> T | None:
        """What ``read(how_to_rebuild)`` reads back from a step's ``files``, or None when the
        step must run: the build is forced, a file is missing, or one is corrupt (``read``
        raised :class:`~wordot.paths.CorruptFileError`; with ``warn``, a warning names the file
        and says that ``what``, e.g. ``"the ddtp step of de"``, is built again)."""
        if self.force or not all(f.exists() for f in files):
            return None
        try:
            return read(f"Building {what} again.")
        except CorruptFileError as err:
            if warn:
                log.warning("%s", err)
            return None

    def raw_reusable(self, lang: str, source: str) -> bool:
        """Whether the step that writes ``source``'s raw pairs for ``lang`` can be skipped:
        not forced, and both its files exist and read back (:func:`~.store.read_raw`)."""
        files = raw_path(self.root, lang, source), raw_meta_path(self.root, lang, source)
        read = partial(read_raw, self.root, lang, source)
        return self.reusable(f"the {source} step of {lang}", read, *files) is not None

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
