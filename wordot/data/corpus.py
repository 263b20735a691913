"""A parallel corpus: aligned ``(src, en)`` sentences of one language, read from pairs or TSV.

Every language is paired with English, the fixed target (Section 5.1 of the paper). A
:class:`ParallelCorpus` holds two aligned lists; :func:`corpus_from_pairs` builds one from raw
pairs of any origin (whitespace normalised, optionally a seeded uniform sample),
:func:`read_tsv` / :func:`write_tsv` handle local ``src<TAB>en`` files. Both leave out, by the
one rule :func:`pair_problem`, every pair that training could not embed (an empty side, a NUL
byte, a side of only punctuation or zero-width characters: :func:`wordot.embed.sentence_problem`),
so a run that starts can finish; :func:`read_tsv` names the file and line of each.

Randomness is keyed: :func:`seeded_rng` turns a seed plus names (language, purpose, epoch) into
an independent generator, so that every step of the preparation is deterministic on its own.
"""

from __future__ import annotations

import codecs
import io
import logging
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import paths
from ..embed import sentence_problem
from ..languages import NAMES

__all__ = [
    "ParallelCorpus",
    "normalize_space",
    "seeded_rng",
    "reservoir_sample",
    "pair_problem",
    "corpus_from_pairs",
    "is_header_row",
    "read_tsv",
    "write_tsv",
]

log = logging.getLogger(__name__)


@dataclass
class ParallelCorpus:
    """Aligned sentences of one language (``src``) and their English translations (``en``).

    ``source`` says where they came from; ``dropped`` counts pairs left out while reading
    (malformed TSV lines, records with an empty side, :func:`pair_problem`), ``drop_reasons``
    the same by reason (``{reason: count}``, summing to ``dropped`` when given).
    """

    lang: str
    src: list[str]
    en: list[str]
    source: str = ""
    dropped: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.src) != len(self.en):
            raise ValueError(
                f"{self.lang}: {len(self.src)} source sentences but {len(self.en)} English ones"
            )
        if self.drop_reasons and sum(self.drop_reasons.values()) != self.dropped:
            raise ValueError(
                f"{self.lang}: drop_reasons {self.drop_reasons} do not sum to "
                f"dropped={self.dropped}"
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


def pair_problem(src: Any, en: Any) -> str | None:
    """Why ``(src, en)`` cannot be trained on, or None: an empty (or non-string) side, a NUL
    byte (binary data, or UTF-16 read as UTF-8), or a side :func:`wordot.embed.embed_words`
    would reject (:func:`wordot.embed.sentence_problem`: only punctuation, only zero-width
    characters, ...). The source side is checked first.
    """
    for side, text in (("source", src), ("English", en)):
        if not isinstance(text, str) or not text or text.isspace():
            return f"empty {side} side"
        if "\x00" in text:
            return f"NUL byte in the {side} side"
        problem = sentence_problem(text)
        if problem:
            return f"{side} side {problem}"
    return None


def _log_drops(where: str, why: Counter[str], what: str = "pairs") -> None:
    if why:
        detail = ", ".join(f"{n} {reason}" for reason, n in why.most_common())
        log.warning("%s: left out %d %s (%s)", where, why.total(), what, detail)


def corpus_from_pairs(
    lang: str,
    pairs: Iterable[tuple[Any, Any]],
    source: str,
    sample: int | None = None,
    seed: int = 0,
) -> ParallelCorpus:
    """Normalise whitespace, drop the pairs :func:`pair_problem` rejects (an empty or
    non-string side, ...), counted in ``dropped`` and ``drop_reasons``, and with ``sample=N``
    keep a seeded uniform sample of N (:func:`reservoir_sample`).
    """
    why: Counter[str] = Counter()

    def clean() -> Iterator[tuple[str, str]]:
        for s, e in pairs:
            s = normalize_space(s) if isinstance(s, str) else ""
            e = normalize_space(e) if isinstance(e, str) else ""
            problem = pair_problem(s, e)
            if problem:
                why[problem] += 1
            else:
                yield s, e

    if sample is None:
        kept = list(clean())
    else:
        kept = reservoir_sample(clean(), sample, seeded_rng(seed, lang, "sample"))
        source = f"{source} [random sample of {len(kept)}]"
    _log_drops(f"{lang} ({source})", why)
    return ParallelCorpus(
        lang, [p[0] for p in kept], [p[1] for p in kept], source, why.total(), dict(why)
    )


#: first-line cells that name a column rather than hold a sentence (with the language codes
#: and names of :data:`wordot.languages.NAMES`)
_SRC_LABELS = frozenset({"src", "source", "source text", "source sentence", "sentence", "text"})
_EN_LABELS = frozenset({"en", "eng", "english", "tgt", "trg", "target", "target text"})
_LABELS = frozenset(NAMES) | {n.casefold() for n in NAMES.values()}


def is_header_row(src: str, en: str) -> bool:
    """Whether a first line ``src<TAB>en`` names the columns (``de<TAB>en``,
    ``source<TAB>target``, ``German<TAB>English``, ...) rather than holding a pair."""

    def label(text: str) -> str:
        return normalize_space(text).strip("#\"' ").replace("_", " ").casefold()

    s, e = label(src), label(en)
    return (s in _SRC_LABELS or s in _LABELS) and (e in _EN_LABELS or e in _LABELS)


def _tsv_lines(path: Path) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """``(line number, text)`` of each line of ``path`` without its line end (universal
    newlines); the text is the decoding error where a line is not valid UTF-8. A file that
    starts with a UTF-16 byte-order mark is read as UTF-16, a UTF-8 one is skipped."""
    with path.open("rb") as fh:
        if fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            fh.seek(0)
            with io.TextIOWrapper(fh, encoding="utf-16", newline="") as text:
                lineno = 0
                try:
                    for lineno, line in enumerate(text, start=1):
                        yield lineno, line.rstrip("\r\n")
                except UnicodeDecodeError as err:
                    raise ValueError(
                        f"{path}: not valid UTF-16 after line {lineno} ({err.reason})"
                    ) from None
            return
        fh.seek(0)
        lineno = 0
        for chunk in fh:
            if lineno == 0 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            for raw in chunk.splitlines() or [b""]:
                lineno += 1
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    yield lineno, err


@dataclass(frozen=True)
class _BadLine:
    """What is wrong with a TSV line: a ``reason`` to count it by, the ``message`` for the
    error (reason and detail, then what of the line to show)."""

    reason: str
    message: str


def _parse_tsv_line(line: str | UnicodeDecodeError) -> tuple[str, str] | _BadLine:
    """``(src, en)`` of one ``src<TAB>en`` line, or what is wrong with it."""
    if isinstance(line, UnicodeDecodeError):
        bad = line.object[line.start : line.start + 4]
        return _BadLine(
            "not UTF-8",
            f"not UTF-8 ({line.reason} at byte {line.start}: {bad!r}); is the file Latin-1 or "
            f"another encoding? Re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8): "
            f"{line.object[:80]!r}",
        )
    shown = repr(line[:80]) + ("..." if len(line) > 80 else "")
    if "\x00" in line:
        why = "NUL byte (binary data, or UTF-16 without a byte-order mark?)"
        return _BadLine("NUL byte", f"{why}: {shown}")
    parts = line.split("\t")
    if len(parts) != 2:
        why = f"expected 1 tab (src<TAB>en), found {len(parts) - 1}"
        return _BadLine(why, f"{why}: {shown}")
    s, e = normalize_space(parts[0]), normalize_space(parts[1])
    problem = pair_problem(s, e)
    return _BadLine(problem, f"{problem}: {shown}") if problem else (s, e)


def read_tsv(
    path: str | Path,
    lang: str,
    *,
    header: bool | None = None,
    errors: Literal["raise", "skip"] = "raise",
) -> ParallelCorpus:
    """Read ``src<TAB>en`` lines: UTF-8 (or UTF-16 with a byte-order mark).

    ``header=True`` skips the first line, ``False`` reads it as a pair, ``None`` skips it if it
    names the columns (:func:`is_header_row`: ``de<TAB>en``, ``source<TAB>target``). Blank lines
    are ignored. A line that is not UTF-8, holds a NUL byte, has not exactly one tab or has a
    pair :func:`pair_problem` rejects (an empty side, a side of only punctuation or zero-width
    characters, which training could not embed) raises ValueError naming the file and line
    number, or with ``errors="skip"`` is left out and counted in ``dropped`` and
    ``drop_reasons``.
    """
    path = Path(path)
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    src: list[str] = []
    en: list[str] = []
    why: Counter[str] = Counter()
    detect = header is None
    for lineno, line in _tsv_lines(path):
        if (header and lineno == 1) or (isinstance(line, str) and not line.strip()):
            continue
        parsed = _parse_tsv_line(line)
        if detect:
            detect = False
            if isinstance(parsed, tuple) and is_header_row(*parsed):
                log.info("%s:%d: header row %r skipped", path, lineno, line)
                continue
        if isinstance(parsed, _BadLine):
            if errors == "raise":
                raise ValueError(f"{path}:{lineno}: {parsed.message}")
            why[parsed.reason] += 1
            continue
        src.append(parsed[0])
        en.append(parsed[1])
    _log_drops(str(path), why, "lines")
    return ParallelCorpus(lang, src, en, f"tsv:{path}", why.total(), dict(why))


def write_tsv(corpus: ParallelCorpus, path: str | Path) -> Path:
    """Write ``corpus`` as ``src<TAB>en`` lines, atomically (whitespace inside a sentence
    becomes a space, so every pair stays on one line)."""
    path = Path(path)
    with paths.atomic_file(path) as fh:
        for s, e in corpus:
            fh.write(f"{normalize_space(s)}\t{normalize_space(e)}\n")
    return path
