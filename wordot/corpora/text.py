"""Text as every source sees it: the normal form two texts are compared in, the filter a pair
must pass, the sentence splitter, and the hash that puts a group of pairs into a split."""

from __future__ import annotations

import collections
import hashlib
import re
import unicodedata
from collections.abc import Iterable

SPLITS: tuple[str, ...] = ("train", "dev", "test")
#: share of groups (packages, English sentences) in each held-out split
SPLIT_FRACTIONS = {"test": 0.10, "dev": 0.05}
SPLIT_SEED = 0


def norm(text: str) -> str:
    """The key two texts are "the same" under: NFKC, case-folded, whitespace collapsed, no
    surrounding punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    return text.strip(" .,;:!?。，；：！？\"'“”‘’«»()[]")


def bucket(key: str, seed: int = SPLIT_SEED) -> str:
    """The split a group key falls in: a fixed function of ``seed`` and ``key``."""
    h = int.from_bytes(hashlib.sha256(f"{seed}\x00{key}".encode()).digest()[:8], "big") / 2**64
    if h < SPLIT_FRACTIONS["test"]:
        return "test"
    if h < SPLIT_FRACTIONS["test"] + SPLIT_FRACTIONS["dev"]:
        return "dev"
    return "train"


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def keep_pair(src: str, en: str, min_words: int = 2, max_words: int = 80) -> str | None:
    """Why a pair is dropped (``"short"``, ``"long"``, ``"ratio"``, ``"same"``), or None to keep.

    Words are counted on the English side; the length ratio is in characters and allows for
    Chinese/Japanese writing a word in one or two characters."""
    n_en = len(en.split())
    if n_en < min_words or not src.strip():
        return "short"
    if n_en > max_words or len(en) > 700 or len(src) > 700:
        return "long"
    if norm(src) == norm(en):
        return "same"
    if len(en) >= 15:
        ratio = len(src) / len(en)
        lo, hi = (0.1, 1.2) if len(_CJK.findall(src)) > len(src) / 3 else (0.4, 2.5)
        if not lo <= ratio <= hi:
            return "ratio"
    return None


def filter_pairs(
    pairs: Iterable[tuple[str, str, str]], stats: collections.Counter, min_words: int = 2
) -> list[dict]:
    """Candidate rows ``{"src", "en", "group"}`` of the ``(src, en, group)`` triples that
    :func:`keep_pair` keeps, each normalised pair once; reasons counted in ``stats``."""
    rows, seen = [], set()
    for src, en, group in pairs:
        why = keep_pair(src, en, min_words=min_words)
        if why:
            stats[why] += 1
            continue
        key = (norm(src), norm(en))
        if key in seen:
            stats["duplicate"] += 1
            continue
        seen.add(key)
        rows.append({"src": src, "en": en, "group": group})
    return rows


#: tokens after which a full stop does not end a sentence (lower case, without the final dot);
#: tokens with a dot inside (e.g., z.B, т.е) and single letters are abbreviations anyway
ABBREVIATIONS = frozenset(
    """e.g i.e etc vs cf approx incl mr mrs ms dr prof st jr sr no nr fig al resp ca vol ver ed
    eds inc ltd co corp dept est jan feb mar apr jun jul aug sep sept oct nov dec min max
    bzw usw ggf evtl inkl bspw sog vgl dt engl abk bzgl ggü allg zzgl env mme mlle ex éd
    aprox sra srta ej pág núm др напр см англ г гг рус ок прим стр""".split()
)
_END = re.compile(r"([.!?…]+|[。！？])([\"'”’»)\]」』）]*)(\s*)")
_OPENERS = "\"'“‘«([¿¡„「『（"


def _ends_sentence(text: str, m: re.Match) -> bool:
    """Whether the end mark ``m`` of ``text`` (not at its very end) closes a sentence."""
    if m.group(1)[0] in "。！？":
        return True
    end = m.end()
    if not m.group(3):
        return False
    nxt = text[end:].lstrip(_OPENERS)
    if not nxt or not (nxt[0].isupper() or text[end] in "¿¡"):
        return False
    if m.group(1) == ".":
        before = text[: m.start()].rsplit(None, 1)
        token = before[-1].lstrip(_OPENERS).lower() if before else ""
        if (
            token in ABBREVIATIONS
            or "." in token
            or len(token) == 1
            or token.replace(",", "").isdigit()
        ):
            return False
    return True


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (conservatively: when unsure, do not split).

    A Latin-style end (``.``, ``!``, ``?``) needs white space and then an upper-case letter; a
    full stop after an abbreviation, an initial or a number (German ordinals: "3. Mai") does not
    end a sentence. ``。！？`` end a sentence wherever they stand."""
    text = " ".join(text.split())
    out: list[str] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        if end >= len(text):
            break
        if not _ends_sentence(text, m):
            continue
        sentence = text[start:end].strip()
        if sentence:
            out.append(sentence)
        start = end
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out
