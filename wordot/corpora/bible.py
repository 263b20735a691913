"""Verse-aligned Bibles from Debian's SWORD packages (``sword-text-*``), read with ``pysword``.

The English side is always the World English Bible; verses pair on their reference (book,
chapter, verse). OSIS markup is reduced to plain text by :func:`osis_to_text`.
"""

from __future__ import annotations

import collections
import functools
import html
import re

from .context import BuildContext
from .sources import BIBLES, ENGLISH_BIBLE, LICENCES
from .store import CorpusError, write_raw
from .text import filter_pairs

#: a verse's place: (OSIS book name, chapter, verse)
Ref = tuple[str, int, int]

_OSIS_DROP = re.compile(
    r"<note\b[^>]*/>|<note\b.*?</note>|<speaker\b.*?</speaker>"
    r"|<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>",
    re.S,
)
_OSIS_TAIL = re.compile(r"<div\b[^>]*type=\"(?:glossary|introduction)\"[^>]*/?>.*", re.S)
_OSIS_BREAK = re.compile(
    r"<(?:l|lg|lb|div|milestone|chapter|list|item|p)\b[^>]*>|</(?:l|lg|item|p)>"
)


def osis_to_text(osis: str) -> str:
    """Plain text of one OSIS verse: notes, non-canonical titles, speaker labels and anything
    after a glossary/introduction division are removed, other tags unwrapped, entities
    decoded, and a note or line break between two words becomes a space (``pysword``'s
    ``clean=True`` glues "God" and "created" there)."""
    text = _OSIS_TAIL.sub("", osis)
    text = _OSIS_DROP.sub("\x00", text)
    text = _OSIS_BREAK.sub("\x00", text)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r"(?<=\w)\x00+(?=\w)", " ", text).replace("\x00", "")
    text = html.unescape(text)
    text = " ".join(text.split())
    return re.sub(r"\s+([,.;:!?])", r"\1", text)


_SHOUTED_START = re.compile(r"^([¡¿“\"']*)([^\W\d_]{2,})(?=\s+[^\W\d_]*[a-zà-ÿ])")


def unshout(text: str) -> str:
    """Reina-Valera sets the first word of a chapter in capitals ("EN el principio")."""
    m = _SHOUTED_START.match(text)
    if m and m.group(2).isupper():
        return m.group(1) + m.group(2).capitalize() + text[m.end() :]
    return text


def read_verses(ctx: BuildContext, package: str, module: str) -> tuple[dict[Ref, str], dict]:
    """Every verse (raw OSIS) of SWORD ``module`` in Debian ``package``, and the package's
    ``{"package", "version", "deb"}``."""
    try:  # optional: only this step needs pysword (environment.yml pins it)
        from pysword.modules import SwordModules
    except ImportError as err:  # pragma: no cover - pysword is in environment.yml
        raise CorpusError("the Bible corpus needs pysword: pip install pysword==0.2.8") from err
    dest, info = ctx.pkg(package)
    modules = SwordModules(str(dest / "usr" / "share" / "sword"))
    modules.parse_modules()
    bible = modules.get_bible_from_module(module)
    # pysword inflates a whole compressed block for every verse; remember the last two
    bible._decompressed_text = functools.lru_cache(maxsize=2)(bible._decompressed_text)
    texts: dict[Ref, str] = {}
    books = bible.get_structure().get_books()
    for book in ctx.bar(books["ot"] + books["nt"], desc=module, unit=" book"):
        refs = [
            (book.osis_name, c, v)
            for c, n in enumerate(book.chapter_lengths, 1)
            for v in range(1, n + 1)
        ]
        got = list(bible.get_iter(books=[book.osis_name], clean=False))
        if len(got) != len(refs):  # a verse came back as None: ask verse by verse
            got = [bible.get(books=[b], chapters=[c], verses=[v], clean=False) for b, c, v in refs]
        texts.update(zip(refs, got, strict=True))
    return texts, info


def build_bible(ctx: BuildContext, lang: str) -> None:
    """Verse pairs of a Debian SWORD Bible in ``lang`` and the World English Bible."""
    if lang not in BIBLES:
        return
    if ctx.raw_reusable(lang, "bible"):
        return
    (xx_pkg, xx_mod), (en_pkg, en_mod) = BIBLES[lang], ENGLISH_BIBLE
    xx_verses, xx_info = read_verses(ctx, xx_pkg, xx_mod)
    en_verses, en_info = read_verses(ctx, en_pkg, en_mod)
    stats: collections.Counter = collections.Counter()
    pairs = []
    for ref, raw in xx_verses.items():
        en_raw = en_verses.get(ref)
        if en_raw is None:
            stats["no_english_verse"] += 1
            continue
        src, en = unshout(osis_to_text(raw)), osis_to_text(en_raw)
        if not src or not en:
            stats["empty_verse"] += 1
            continue
        pairs.append((src, en, ""))
    stats["verse_pairs"] = len(pairs)
    rows = filter_pairs(pairs, stats, min_words=3)
    meta = {
        "source": "bible",
        "origin": f"Debian {en_pkg} {en_info['version']} ({en_mod}) + "
        f"{xx_pkg} {xx_info['version']} ({xx_mod}), read with pysword",
        "licence": LICENCES["bible"],
        "available": True,
        "stats": dict(stats),
    }
    write_raw(ctx.root, lang, "bible", rows, meta)
