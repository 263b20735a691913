"""A parallel corpus: aligned ``(src, en)`` sentences of one language, read from pairs or TSV.

Every language is paired with English, the fixed target (Section 5.1 of the paper). A
:class:`ParallelCorpus` holds two aligned lists; :func:`corpus_from_pairs` builds one from raw
pairs of any origin (whitespace normalised, pairs with an empty side dropped and counted,
optionally a seeded uniform sample), :func:`read_tsv` / :func:`write_tsv` handle local
``src<TAB>en`` files.

Randomness is keyed: :func:`seeded_rng` turns a seed plus names (language, purpose, epoch) into
an independent generator, so that every step of the preparation is deterministic on its own.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import paths

__all__ = [
    "ParallelCorpus",
    "normalize_space",
    "seeded_rng",
    "reservoir_sample",
    "corpus_from_pairs",
    "read_tsv",
    "write_tsv",
]

log = logging.getLogger(__name__)


@dataclass
class ParallelCorpus:
    """Aligned sentences of one language (``src``) and their English translations (``en``).

    ``source`` says where they came from; ``dropped`` counts pairs left out while reading
    (malformed TSV lines, records with an empty side).
    """

    lang: str
    src: list[str]
    en: list[str]
    source: str = ""
    dropped: int = 0

    def __post_init__(self) -> None:
        if len(self.src) != len(self.en):
            raise ValueError(
                f"{self.lang}: {len(self.src)} source sentences but {len(self.en)} English ones"
            )

    def __len__(self) -> int:
        return len(self.src)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return zip(self.src, self.en, strict=True)

    def select(self, indices: Iterable[int], source: str | None = None) -> ParallelCorpus:
        """A new corpus with the pairs at ``indices`` (in that order; repeats allowed)."""
        idx = [int(i) for i in indices]
        return ParallelCorpus(
            self.lang,
            [self.src[i] for i in idx],
            [self.en[i] for i in idx],
            self.source if source is None else source,
        )


def normalize_space(text: str) -> str:
    """Strip and collapse every run of whitespace (tabs, newlines, NBSP, ...) to one space."""
    return " ".join(text.split())


def seeded_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator determined by ``seed`` and ``keys`` (strings hashed stably with CRC32)."""
    words = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(words)


def reservoir_sample(items: Iterable[Any], k: int, rng: np.random.Generator) -> list[Any]:
    """A uniform random sample of ``k`` items read once in O(k) memory (Li's algorithm L).

    Fewer than ``k`` items: all of them, in order."""
    it = iter(items)
    res = list(islice(it, k))
    if len(res) < k or k == 0:
        return res
    w = math.exp(math.log(rng.random()) / k)
    skip = math.floor(math.log(rng.random()) / math.log(1 - w))
    for item in it:
        if skip:
            skip -= 1
            continue
        res[int(rng.integers(k))] = item
        w *= math.exp(math.log(rng.random()) / k)
        skip = math.floor(math.log(rng.random()) / math.log(1 - w))
    return res


def corpus_from_pairs(
    lang: str,
    pairs: Iterable[tuple[Any, Any]],
    source: str,
    sample: int | None = None,
    seed: int = 0,
) -> ParallelCorpus:
    """Normalise whitespace, drop pairs with an empty (or non-string) side, counted in
    ``dropped``, and with ``sample=N`` keep a seeded uniform sample of N (:func:`reservoir_sample`).
    """
    dropped = 0

    def clean() -> Iterator[tuple[str, str]]:
        nonlocal dropped
        for s, e in pairs:
            s = normalize_space(s) if isinstance(s, str) else ""
            e = normalize_space(e) if isinstance(e, str) else ""
            if s and e:
                yield s, e
            else:
                dropped += 1

    if sample is None:
        kept = list(clean())
    else:
        kept = reservoir_sample(clean(), sample, seeded_rng(seed, lang, "sample"))
        source = f"{source} [random sample of {len(kept)}]"
    if dropped:
        log.info("%s: dropped %d pairs with an empty side (%s)", lang, dropped, source)
    return ParallelCorpus(lang, [p[0] for p in kept], [p[1] for p in kept], source, dropped)


def _parse_tsv_line(line: str) -> tuple[str, str] | str:
    """``(src, en)`` of one ``src<TAB>en`` line, or what is wrong with it."""
    parts = line.split("\t")
    if len(parts) != 2:
        return f"expected 1 tab (src<TAB>en), found {len(parts) - 1}"
    s, e = normalize_space(parts[0]), normalize_space(parts[1])
    if not s or not e:
        return "empty " + ("source" if not s else "English") + " side"
    return s, e


def read_tsv(
    path: str | Path,
    lang: str,
    *,
    header: bool = False,
    errors: Literal["raise", "skip"] = "raise",
) -> ParallelCorpus:
    """Read ``src<TAB>en`` lines (UTF-8; ``header=True`` skips the first line).

    Blank lines are ignored. A line without exactly one tab, or with an empty side, raises
    ValueError naming the file and line number, or with ``errors="skip"`` is left out and
    counted in ``dropped``.
    """
    path = Path(path)
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    src: list[str] = []
    en: list[str] = []
    skipped = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if header and lineno == 1:
                continue
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parsed = _parse_tsv_line(line)
            if isinstance(parsed, str):
                if errors == "raise":
                    raise ValueError(f"{path}:{lineno}: {parsed}: {line[:80]!r}")
                skipped += 1
                continue
            src.append(parsed[0])
            en.append(parsed[1])
    if skipped:
        log.warning("%s: skipped %d malformed lines", path, skipped)
    return ParallelCorpus(lang, src, en, f"tsv:{path}", skipped)


def write_tsv(corpus: ParallelCorpus, path: str | Path) -> Path:
    """Write ``corpus`` as ``src<TAB>en`` lines, atomically (whitespace inside a sentence
    becomes a space, so every pair stays on one line)."""
    path = Path(path)
    with paths.atomic_file(path) as fh:
        for s, e in corpus:
            fh.write(f"{normalize_space(s)}\t{normalize_space(e)}\n")
    return path
