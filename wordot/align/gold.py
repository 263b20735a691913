"""Gold word alignments: three file formats read into one form per sentence pair.

Every pair becomes a :class:`GoldPair`: the source words (the non-English side), the English
words, and the sure and possible links as sets of 0-indexed ``(source_index, english_index)``.
``possible`` holds the links marked possible only (disjoint from ``sure``), so that the possible
set of Och and Ney (2003) is ``P = sure | possible``.

The formats (see :mod:`wordot.datasets` for origins and licences):

* awesome-align ``X.src-tgt`` (``left ||| right``) + ``X.gold``: Pharaoh ``i-j`` links
  **1-indexed** left-right, ``ipj`` a possible link. English is the LEFT side in ``enfr`` and
  the right side in ``roen``, ``zhen``, ``jaen``.
* XL-WA ``dev.tsv``/``test.tsv``: ``english TAB other TAB links``, links **0-indexed**
  ``english-other``, sure only.
* Biçici de-en: ``test.de``, ``test.en`` and ``de-en.wa``, Pharaoh ``german-english``,
  0-indexed, sure only.

Words are separated by ASCII spaces only: the files are tokenised that way, and ``jaen`` has
U+3000 (ideographic space) as a token of its own, which ``str.split()`` would swallow and shift
every later index.

A link outside the sentence raises :class:`GoldFormatError` naming the file and line, except the
known errata of :data:`ERRATA`, which are dropped: the registered files are pinned by sha256, so
an erratum always refers to the same line of the same file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import datasets
from ..languages import GOLD_ALIGNMENT

__all__ = [
    "Link",
    "GoldPair",
    "GoldFormatError",
    "GOLD_SETS",
    "SPLITS",
    "ERRATA",
    "source_language",
    "load_gold",
    "read_awesome",
    "read_xl_wa",
    "read_pharaoh",
]

Link = tuple[int, int]

#: gold alignment sets: registry name -> (source language, format)
_FORMATS = {"enfr": "awesome", "roen": "awesome", "zhen": "awesome", "jaen": "awesome"}
_FORMATS |= {"xl-wa-bg": "xl-wa", "xl-wa-es": "xl-wa", "bicici-deen": "pharaoh"}
GOLD_SETS: dict[str, tuple[str, str]] = {
    name: (lang, _FORMATS[name]) for name, lang in GOLD_ALIGNMENT.items()
}
#: the splits of the sets that have them (the others are one test set: split None or "test")
SPLITS: dict[str, tuple[str, ...]] = {"xl-wa-bg": ("dev", "test"), "xl-wa-es": ("dev", "test")}

#: links of the registered gold files that point outside their sentence, dropped on reading:
#: set name -> {1-indexed line: link tokens as written}. bicici-deen line 63: German '.' (word
#: 12) is linked to English word 16 of a 13-word sentence (its '.' is word 12).
ERRATA: dict[str, dict[int, frozenset[str]]] = {"bicici-deen": {63: frozenset({"12-16"})}}

_LINK = re.compile(r"^(\d+)([p-])(\d+)$")


class GoldFormatError(ValueError):
    """A gold file does not parse; the message names the file and line."""


@dataclass(frozen=True)
class GoldPair:
    """One gold-aligned sentence pair.

    ``src``/``en``: the source and English words; ``sure``/``possible``: 0-indexed links
    ``(source_index, english_index)``, ``possible`` the possible-only ones (P = sure | possible).
    """

    src: tuple[str, ...]
    en: tuple[str, ...]
    sure: frozenset[Link]
    possible: frozenset[Link] = frozenset()


def source_language(name: str) -> str:
    """ISO 639-1 code of the non-English side of gold set ``name``."""
    _check_name(name)
    return GOLD_SETS[name][0]


def _check_name(name: str) -> None:
    if name not in GOLD_SETS:
        if name in datasets.REGISTRY:
            raise ValueError(f"{name!r} is not a word-alignment set; those are {list(GOLD_SETS)}")
        raise ValueError(f"unknown gold alignment set {name!r}; known: {list(GOLD_SETS)}")


def load_gold(
    name: str, split: str | None = None, data_dir: str | Path | None = None
) -> list[GoldPair]:
    """The sentence pairs of gold set ``name`` (one of :data:`GOLD_SETS`), in file order.

    ``split``: ``"dev"`` or ``"test"`` for the XL-WA sets (required there: settings are chosen on
    dev, test is reported once); None or ``"test"`` for the others. ``data_dir``: a directory
    laid out like ``../shared/eval-data`` (else :func:`wordot.datasets.path` finds the files).
    """
    _check_name(name)
    fmt = GOLD_SETS[name][1]
    errata = ERRATA.get(name)
    splits = SPLITS.get(name, ("test",))
    if split is None and name in SPLITS:
        raise ValueError(f"{name} has splits {splits}: pass split='dev' or split='test'")
    if split is not None and split not in splits:
        raise ValueError(f"{name} has no split {split!r}; it has {splits}")
    if fmt == "awesome":
        files = [f"{name}.src-tgt", f"{name}.gold"]
        d = datasets.path(name, data_dir=data_dir, files=files)
        return read_awesome(d / files[0], d / files[1], english_left=name == "enfr", errata=errata)
    if fmt == "xl-wa":
        file = f"{source_language(name)}/{split}.tsv"
        d = datasets.path(name, data_dir=data_dir, files=[file])
        return read_xl_wa(d / file, errata=errata)
    files = ["test.de", "test.en", "de-en.wa"]
    d = datasets.path(name, data_dir=data_dir, files=files)
    return read_pharaoh(d / files[0], d / files[1], d / files[2], errata=errata)


def _words(text: str, file: Path, line: int, side: str) -> tuple[str, ...]:
    words = tuple(w for w in text.strip("\r\n").split(" ") if w)
    if not words:
        raise GoldFormatError(f"{file}, line {line}: the {side} sentence is empty")
    return words


def _lines(file: Path) -> list[str]:
    """The lines of a UTF-8 file (a byte-order mark and line ends stripped; no final empty)."""
    text = Path(file).read_text(encoding="utf-8-sig")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _parse_links(
    field: str,
    file: Path,
    line: int,
    n_left: int,
    n_right: int,
    *,
    one_indexed: bool,
    errata: dict[int, frozenset[str]] | None = None,
) -> tuple[set[Link], set[Link]]:
    """``(sure, possible)`` links ``(left, right)`` of one line, 0-indexed and range-checked
    (the tokens of ``errata[line]`` are dropped)."""
    sure: set[Link] = set()
    possible: set[Link] = set()
    offset = 1 if one_indexed else 0
    dropped = (errata or {}).get(line, frozenset())
    for token in field.split():
        if token in dropped:
            continue
        m = _LINK.match(token)
        if m is None:
            raise GoldFormatError(f"{file}, line {line}: cannot read the link {token!r}")
        i, j = int(m.group(1)) - offset, int(m.group(3)) - offset
        if not (0 <= i < n_left and 0 <= j < n_right):
            base = "1-indexed" if one_indexed else "0-indexed"
            raise GoldFormatError(
                f"{file}, line {line}: link {token!r} ({base}) is out of range for "
                f"{n_left} x {n_right} words"
            )
        (possible if m.group(2) == "p" else sure).add((i, j))
    return sure, possible - sure


def _pair(
    src: tuple[str, ...], en: tuple[str, ...], sure: set[Link], possible: set[Link], flip: bool
) -> GoldPair:
    if flip:
        sure = {(j, i) for i, j in sure}
        possible = {(j, i) for i, j in possible}
    return GoldPair(src, en, frozenset(sure), frozenset(possible))


def _same_length(files: list[Path], counts: list[int]) -> None:
    if len(set(counts)) > 1:
        listed = ", ".join(f"{f} ({n} lines)" for f, n in zip(files, counts, strict=True))
        raise GoldFormatError(f"parallel files differ in length: {listed}")


def read_awesome(
    text_file: Path,
    gold_file: Path,
    *,
    english_left: bool,
    errata: dict[int, frozenset[str]] | None = None,
) -> list[GoldPair]:
    """awesome-align's ``left ||| right`` sentences and 1-indexed ``i-j``/``ipj`` links
    (``errata``: link tokens to drop, by 1-indexed line)."""
    texts, golds = _lines(text_file), _lines(gold_file)
    _same_length([text_file, gold_file], [len(texts), len(golds)])
    out = []
    for k, (text, gold) in enumerate(zip(texts, golds, strict=True), 1):
        sides = text.split(" ||| ")
        if len(sides) != 2:
            raise GoldFormatError(f"{text_file}, line {k}: expected 'left ||| right'")
        left = _words(sides[0], text_file, k, "left")
        right = _words(sides[1], text_file, k, "right")
        sure, possible = _parse_links(gold, gold_file, k, len(left), len(right), one_indexed=True)
        src, en = (right, left) if english_left else (left, right)
        out.append(_pair(src, en, sure, possible, flip=english_left))
    return out


def read_xl_wa(file: Path, *, errata: dict[int, frozenset[str]] | None = None) -> list[GoldPair]:
    """XL-WA's ``english TAB other TAB links`` (0-indexed ``english-other``; ``errata`` as in
    :func:`read_awesome`)."""
    out = []
    for k, line in enumerate(_lines(file), 1):
        cols = line.split("\t")
        if len(cols) < 3 or any(c.strip() for c in cols[3:]):
            raise GoldFormatError(f"{file}, line {k}: expected english TAB other TAB links")
        en, src = _words(cols[0], file, k, "English"), _words(cols[1], file, k, "other")
        sure, possible = _parse_links(
            cols[2], file, k, len(en), len(src), one_indexed=False, errata=errata
        )
        out.append(_pair(src, en, sure, possible, flip=True))
    return out


def read_pharaoh(
    src_file: Path,
    en_file: Path,
    links_file: Path,
    *,
    errata: dict[int, frozenset[str]] | None = None,
) -> list[GoldPair]:
    """Sentences in two files and 0-indexed Pharaoh ``source-english`` links in a third
    (``errata`` as in :func:`read_awesome`)."""
    srcs, ens, links = _lines(src_file), _lines(en_file), _lines(links_file)
    _same_length([src_file, en_file, links_file], [len(srcs), len(ens), len(links)])
    out = []
    for k, (s, e, field) in enumerate(zip(srcs, ens, links, strict=True), 1):
        src, en = _words(s, src_file, k, "source"), _words(e, en_file, k, "English")
        sure, possible = _parse_links(
            field, links_file, k, len(src), len(en), one_indexed=False, errata=errata
        )
        out.append(_pair(src, en, sure, possible, flip=False))
    return out


def check_word_pairs(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    what: str = "pair",
    max_words: int | None = None,
) -> None:
    """Check pre-tokenised ``(source_words, english_words)`` pairs, the input of every aligner:
    a list of pairs, no empty sentence or word, at most ``max_words`` words a side if given.
    ``what`` names a pair in the messages (e.g. ``"test pair"``)."""
    if isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0][0], str):
        raise TypeError("pairs must be a list of (source_words, english_words); got one pair")
    if len(pairs) == 0:
        raise ValueError(f"no {what.replace('pair', 'sentence pairs')} given")
    for k, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"{what} {k} is not (source_words, english_words)")
        for side, words in zip(("source", "English"), pair, strict=True):
            if isinstance(words, str):
                raise TypeError(f"{what} {k}: the {side} side must be a list of words, not a str")
            if len(words) == 0:
                raise ValueError(f"{what} {k}: the {side} sentence is empty")
            if not all(isinstance(w, str) and w for w in words):
                raise ValueError(f"{what} {k}: the {side} side has an empty or non-string word")
            if max_words is not None and len(words) > max_words:
                raise ValueError(
                    f"{what} {k}: the {side} sentence has {len(words)} words, more than the "
                    f"aligner's max_words={max_words}"
                )
