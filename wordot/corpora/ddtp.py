"""Debian package descriptions and their DDTP translations, as sentence pairs.

``Packages`` and ``Translation-<code>`` are deb822 files, read with ``python-debian``
(:mod:`debian.deb822`). A translation is joined to its English description on
``Description-md5``; the two long descriptions are split into blocks (paragraphs, list items,
preformatted lines) and then sentences, and pair up only where the structure matches.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from debian.deb822 import Deb822

from ..paths import write_json
from .context import BuildContext
from .sources import DDTP_CODES, LICENCES
from .store import CorpusError, read_reserved, reserved_path, write_raw
from .text import bucket, filter_pairs, norm, split_sentences


def iter_deb822(path: Path, fields: Sequence[str] | None = None) -> Iterator[Mapping[str, str]]:
    """Stanzas of a Debian control file (``Packages``, ``Translation-*``), only ``fields`` when
    given. Values are python-debian's: a multi-line field keeps the leading space of its
    continuation lines (:func:`description_lines` removes it). Bytes that are not UTF-8 become
    U+FFFD."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        yield from Deb822.iter_paragraphs(
            fh, fields=list(fields) if fields else None, use_apt_pkg=False
        )


def description_lines(stanza: Mapping[str, str], field: str) -> tuple[str, list[str]] | None:
    """The short description and the long description's lines (without their one leading
    space) of ``stanza[field]``, or None when there is no such field."""
    value = stanza.get(field)
    if value is None:
        return None
    short, *long_lines = value.split("\n")
    return short, [line[1:] for line in long_lines]


_BULLET = re.compile(r"^\s*(?:[*\-+o•·‣▪–—]|\d{1,2}[.)])[\s⋅]+(?=\S)")


@dataclass(frozen=True)
class Block:
    """One unit of a Debian long description: a paragraph (``p``), a list item (``li``) or a
    preformatted line (``pre``)."""

    kind: str
    text: str


def parse_description(long_lines: Sequence[str]) -> list[Block]:
    """Blocks of a Debian long description (its lines without the leading space).

    ``.`` separates paragraphs; a line starting with a bullet (``*``, ``-``, ``–``, ``o``,
    ``1.``...) starts a list item that runs to the next item or paragraph; other indented
    lines are preformatted and kept one block per line."""
    blocks: list[Block] = []
    kind, buf = "", []  # the block being built

    def flush() -> None:
        nonlocal kind, buf
        if buf:
            blocks.append(Block(kind, " ".join(" ".join(buf).split())))
        kind, buf = "", []

    for raw in long_lines:
        line = raw.rstrip()
        if line.strip() == ".":
            flush()
            continue
        m = _BULLET.match(line)
        if m:
            flush()
            kind, buf = "li", [line[m.end() :]]
        elif kind == "li":  # a list item runs to the next item or paragraph
            buf.append(line.strip())
        elif line[:1].isspace():
            flush()
            blocks.append(Block("pre", line.strip()))
        else:
            if kind != "p":
                flush()
                kind = "p"
            buf.append(line.strip())
    flush()
    return [b for b in blocks if b.text]


def align_descriptions(
    en_short: str, en_long: Sequence[str], xx_short: str, xx_long: Sequence[str]
) -> tuple[list[tuple[str, str]], str | None]:
    """Sentence pairs (src, en) of one description and its translation, and why the long
    part was not used (``"blocks"`` when the block structure differs), else None.

    The short descriptions make a pair; then blocks must match in number and kind (``pre``
    blocks are skipped), and within each pair of blocks the sentences must match in number."""
    pairs = [(xx_short.strip(), en_short.strip())]
    be, bx = parse_description(en_long), parse_description(xx_long)
    if [b.kind for b in be] != [b.kind for b in bx]:
        return pairs, "blocks"
    for e, x in zip(be, bx, strict=True):
        if e.kind == "pre":
            continue
        se, sx = split_sentences(e.text), split_sentences(x.text)
        if len(se) == len(sx):
            pairs.extend(zip(sx, se, strict=True))
    return pairs, None


def description_text(short: str, long_lines: Sequence[str]) -> str:
    """A description as one line of text: the short description, then every block."""
    return " ".join([short.strip(), *(b.text for b in parse_description(long_lines))]).strip()


# -- the English side, shared by the DDTP pairs and the classification set ----------------------


@dataclass
class DdtpIndex:
    """The English DDTP descriptions of a suite.

    ``english``: md5 -> (short, long lines); ``source_of``: md5 -> source package;
    ``section_of``: md5 -> the ``Section`` of every binary package with that description;
    ``reserved``: the normalised English sentences of test/dev packages, per split."""

    english: dict[str, tuple[str, list[str]]]
    source_of: dict[str, str]
    section_of: dict[str, list[str]]
    reserved: dict[str, set[str]]


def _read_packages(ctx: BuildContext) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Source package and sections of each description md5, from ``Packages``."""
    packages = ctx.apt.list_file("Packages")
    if packages is None:
        raise CorpusError(f"no Packages file in {ctx.apt.lists}: run with --force to update apt")
    source_of: dict[str, str] = {}
    section_of: dict[str, list[str]] = collections.defaultdict(list)
    fields = ("Package", "Source", "Section", "Description-md5")
    for st in ctx.bar(iter_deb822(packages, fields), desc="Packages", unit=" pkg"):
        md5 = st.get("Description-md5")
        if not md5:
            continue
        src = st.get("Source", st.get("Package", md5)).split()[0]
        source_of.setdefault(md5, src)
        if "Section" in st:
            section_of[md5].append(st["Section"].rsplit("/", 1)[-1])
    return source_of, dict(section_of)


def ddtp_index(ctx: BuildContext) -> DdtpIndex:
    """The :class:`DdtpIndex` of the build (read once, kept in ``ctx.shared``); writes the
    reserved sentences to :func:`~wordot.corpora.store.reserved_path`."""
    if "ddtp" in ctx.shared:
        return ctx.shared["ddtp"]
    source_of, section_of = _read_packages(ctx)
    en_file = ctx.apt.list_file("Translation-en")
    if en_file is None:
        raise CorpusError(f"no Translation-en in {ctx.apt.lists}: run with --force to update apt")
    english: dict[str, tuple[str, list[str]]] = {}
    for st in ctx.bar(iter_deb822(en_file), desc="Translation-en", unit=" desc"):
        md5, d = st.get("Description-md5"), description_lines(st, "Description-en")
        if md5 and d and md5 not in english:
            english[md5] = d
            source_of.setdefault(md5, st.get("Package", md5))
    reserved: dict[str, set[str]] = {"test": set(), "dev": set()}
    for md5, (short, long_lines) in english.items():
        split = bucket("pkg:" + source_of[md5], ctx.seed)
        if split != "train":
            sents = [short] + [
                s for b in parse_description(long_lines) for s in split_sentences(b.text)
            ]
            reserved[split].update(norm(s) for s in sents)
    reserved_file = reserved_path(ctx.root, ctx.seed)
    read = partial(read_reserved, ctx.root, ctx.seed)
    if ctx.reusable("the held-out sentences", read, reserved_file, warn=False) is None:
        write_json(reserved_file, {k: sorted(v) for k, v in reserved.items()})
    ctx.shared["ddtp"] = DdtpIndex(english, source_of, section_of, reserved)
    return ctx.shared["ddtp"]


def build_ddtp(ctx: BuildContext, lang: str) -> None:
    """Sentence pairs from DDTP translations of Debian package descriptions."""
    reserved = partial(read_reserved, ctx.root, ctx.seed)
    reserved_file = reserved_path(ctx.root, ctx.seed)
    step = f"the ddtp step of {lang}"
    if ctx.raw_reusable(lang, "ddtp") and ctx.reusable(step, reserved, reserved_file) is not None:
        return
    index = ddtp_index(ctx)
    code = DDTP_CODES.get(lang, lang)
    path = ctx.apt.list_file(f"Translation-{code}")
    stats: collections.Counter = collections.Counter()
    pairs: list[tuple[str, str, str]] = []
    seen_md5 = set()
    if path is not None:
        for st in ctx.bar(iter_deb822(path), desc=f"Translation-{code}", unit=" desc"):
            md5, xx = st.get("Description-md5"), description_lines(st, f"Description-{code}")
            if not md5 or not xx or md5 in seen_md5:
                continue
            seen_md5.add(md5)
            en = index.english.get(md5)
            if en is None:
                stats["no_english"] += 1
                continue
            stats["descriptions"] += 1
            got, why = align_descriptions(en[0], en[1], xx[0], xx[1])
            if why:
                stats[f"long_{why}"] += 1
            group = "pkg:" + index.source_of[md5]
            pairs += [(s, e, group) for s, e in got]
    stats["sentence_pairs"] = len(pairs)
    rows = filter_pairs(pairs, stats)
    meta = {
        "source": "ddtp",
        "origin": f"Debian {ctx.apt.suite} main/i18n/Translation-{code} + Translation-en "
        f"({ctx.apt.mirror}, Release {ctx.apt.release_date()})",
        "licence": LICENCES["ddtp"],
        "available": path is not None,
        "stats": dict(stats),
    }
    write_raw(ctx.root, lang, "ddtp", rows, meta)
