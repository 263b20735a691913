"""Bilingual lexicons from FreeDict dictionaries in Debian (``dict-freedict-*``, dictd format).

A dictd dictionary is an ``.index`` (headword, offset, length; the numbers in base64 digits)
and a ``.dict.dz`` (gzip) with the entries. Only single words are kept, lower-cased; English ->
language dictionaries are read backwards.
"""

from __future__ import annotations

import collections
import gzip
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from .context import BuildContext
from .sources import FREEDICT
from .store import lexicon_path, read_object, write_lexicon

_B64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def dictd_number(text: str) -> int:
    """A dictd index offset/length (base64 digits, most significant first)."""
    n = 0
    for c in text:
        n = n * 64 + _B64[c]
    return n


def read_dictd(index: Path, data: Path) -> Iterator[str]:
    """The entries of a dictd dictionary (``.index`` + ``.dict.dz`` or ``.dict``), each once,
    without the ``00-database-*`` metadata."""
    opener = gzip.open if data.suffix == ".dz" else open
    with opener(data, "rb") as fh:
        blob = fh.read()
    seen = set()
    with open(index, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00database") or parts[0].startswith("00-"):
                continue
            span = (dictd_number(parts[1]), dictd_number(parts[2]))
            if span in seen:
                continue
            seen.add(span)
            yield blob[span[0] : span[0] + span[1]].decode("utf-8", errors="replace")


def is_word(text: str) -> bool:
    """One word of any script: letters and combining marks (Devanagari vowel signs, Arabic
    harakat), inner hyphens and apostrophes allowed, no digits or spaces."""
    if not text or not unicodedata.category(text[0]).startswith("L"):
        return False
    if unicodedata.category(text[-1])[0] not in "LM":
        return False
    return all(unicodedata.category(c)[0] in "LM" or c in "-'’" for c in text)


_HEAD_END = re.compile(r"\s+(?:/|<|\[)")


def _strip_stress(word: str) -> str:
    """Remove the acute stress marks of Russian/Bulgarian dictionaries (про́повед -> проповед)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", word).replace("\u0301", ""))


def parse_dictd_entry(entry: str) -> tuple[str, list[str]]:
    """Headword and translations of a FreeDict entry. Pronunciation (``/.../``), grammar
    (``<n>``), domain labels (``[adm.]``), parentheses, sense numbers, examples (quoted lines),
    ``see:``/``Synonyms:`` lines are dropped; ``Plural of {x}: a, b`` gives ``a, b``."""
    lines = entry.strip("\n").split("\n")
    head = _HEAD_END.split(lines[0], maxsplit=1)[0].strip()
    out: list[str] = []
    for line in lines[1:]:
        s = line.strip()
        if not s or s.startswith('"') or re.match(r"^(see|synonyms?|antonyms?|note)\b", s, re.I):
            continue
        if re.search(r"\{[^}]*\}:", s):
            s = s.split("}:", 1)[1]
        s = re.sub(r"^\d+\.\s*", "", s)
        s = re.sub(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|/[^/]+/", " ", s)
        for piece in re.split(r"[,;]", s):
            piece = " ".join(piece.split())
            if piece:
                out.append(piece)
    return head, out


def lower(word: str, lang: str = "") -> str:
    """Lower case as the lexicons store words (Turkish: İ -> i, I -> ı)."""
    if lang in ("tr", "az"):
        word = word.replace("İ", "i").replace("I", "ı")
    return word.lower()


def lexicon_from_dictd(
    entries: Iterable[str], reverse: bool = False, strip_stress: bool = False, lang: str = ""
) -> dict[str, set[str]]:
    """Single-word lexicon source word -> English words (lower case) from dictd entries.

    ``reverse`` reads an English -> language dictionary backwards; the translations are then
    told from English glosses by their script (Cyrillic, Devanagari...)."""
    lex: dict[str, set[str]] = collections.defaultdict(set)
    for entry in entries:
        head, translations = parse_dictd_entry(entry)
        if reverse:
            en_words = [head]
            src_words = [t for t in translations if not t.isascii()]
        else:
            en_words, src_words = translations, [head]
        for s in src_words:
            s = lower(_strip_stress(s) if strip_stress else s, lang)
            if not is_word(s):
                continue
            for e in en_words:
                e = e.lower()
                if is_word(e) and e.isascii() and e != s:
                    lex[s].add(e)
    return dict(lex)


def licence_from_copyright(text: str, files: str) -> str | None:
    """The ``License:`` of the ``Files: <files>`` stanza of a Debian copyright file."""
    for stanza in text.split("\n\n"):
        if re.search(rf"^Files:.*(?<![\w-]){re.escape(files)}(?![\w-])", stanza, re.M):
            m = re.search(r"^License:\s*(\S+)", stanza, re.M)
            if m:
                return m.group(1)
    return None


def build_lexicon(ctx: BuildContext, lang: str) -> None:
    """A single-word bilingual lexicon from the FreeDict dictionary of ``lang``."""
    if lang not in FREEDICT:
        return
    path = lexicon_path(ctx.root, lang)
    read = partial(read_object, path, ("meta", "entries"))
    if ctx.reusable(f"the lexicon step of {lang}", read, path) is not None:
        return
    name, reverse = FREEDICT[lang]
    dest, info = ctx.pkg(f"dict-freedict-{name}")
    share = dest / "usr" / "share" / "dictd"
    entries = read_dictd(share / f"freedict-{name}.index", share / f"freedict-{name}.dict.dz")
    lex = lexicon_from_dictd(
        ctx.bar(entries, desc=f"freedict-{name}", unit=" entry"),
        reverse=reverse,
        strip_stress=lang in ("ru", "bg"),
        lang=lang,
    )
    copyright_file = dest / "usr" / "share" / "doc" / info["package"] / "copyright"
    licence = None
    if copyright_file.exists():
        licence = licence_from_copyright(copyright_file.read_text(errors="replace"), f"{name}/*")
    meta = {
        "origin": f"Debian {info['package']} {info['version']} (FreeDict {name}"
        + (", read English -> language backwards" if reverse else "")
        + ")",
        "licence": licence or "see the package's copyright file",
        "words": len(lex),
        "pairs": sum(len(v) for v in lex.values()),
    }
    write_lexicon(ctx.root, lang, dict(sorted(lex.items())), meta)
