"""Translation catalogues as message pairs: Django's ``.po`` files (read with ``polib``) and
JupyterLab language packs (JSON), both from pinned PyPI wheels.

A message becomes a pair ``(msgstr, msgid)`` unless it is fuzzy, plural, empty, or holds a
placeholder or markup; keyboard accelerators (``&File``) are removed.
"""

from __future__ import annotations

import collections
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polib

from .apt import pip_download
from .context import BuildContext
from .sources import DJANGO_DIRS, DJANGO_WHEEL, JUPYTERLAB_PACKS, LICENCES
from .store import write_raw
from .text import filter_pairs


@dataclass
class PoEntry:
    """One message of a gettext catalogue (``msgid_plural`` is None for a singular one)."""

    msgid: str
    msgstr: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr_plural: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def parse_po(text: str) -> list[PoEntry]:
    """Messages of a ``.po`` file's text (the header and obsolete ``#~`` entries are left
    out), parsed by ``polib``."""
    return [
        PoEntry(
            msgid=e.msgid,
            msgstr=e.msgstr,
            msgctxt=e.msgctxt,
            msgid_plural=e.msgid_plural or None,
            msgstr_plural=[e.msgstr_plural[i] for i in sorted(e.msgstr_plural)],
            flags=set(e.flags),
        )
        for e in polib.pofile(text)
        if e.msgid and not e.obsolete
    ]


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


def _wheel_entries(wheel: Path, lang: str) -> tuple[str, list[PoEntry]]:
    """The catalogue messages of ``lang`` in a Django or JupyterLab wheel, and their origin."""
    with zipfile.ZipFile(wheel) as zf:
        if wheel.name.lower().startswith("django-"):
            loc = DJANGO_DIRS.get(lang, lang)
            names = sorted(n for n in zf.namelist() if f"/locale/{loc}/LC_MESSAGES/" in n)
            entries = [e for n in names if n.endswith(".po") for e in parse_po(zf.read(n).decode())]
            return f"Django {DJANGO_WHEEL[1]}", entries
        names = sorted(n for n in zf.namelist() if n.endswith(".json") and "/locale/" in n)
        entries = [e for n in names for e in entries_from_jupyterlab_json(json.loads(zf.read(n)))]
        return f"{JUPYTERLAB_PACKS[lang][0]} {JUPYTERLAB_PACKS[lang][1]}", entries


def build_gettext(ctx: BuildContext, lang: str) -> None:
    """Message pairs of Django's and JupyterLab's translation catalogues."""
    if ctx.raw_reusable(lang, "gettext"):
        return
    reqs = [DJANGO_WHEEL] + ([JUPYTERLAB_PACKS[lang]] if lang in JUPYTERLAB_PACKS else [])
    stats: collections.Counter = collections.Counter()
    per_origin: dict[str, int] = {}
    pairs: list[tuple[str, str, str]] = []
    for wheel in pip_download(reqs, ctx.wheels_dir()):
        origin, entries = _wheel_entries(wheel, lang)
        got = list(catalogue_pairs(entries, stats))
        per_origin[origin] = len(got)
        pairs += [(s, e, "") for s, e in got]
    stats["messages"] = len(pairs)
    rows = filter_pairs(pairs, stats, min_words=2)
    licences = [LICENCES["django"]] + ([LICENCES["jupyterlab"]] if lang in JUPYTERLAB_PACKS else [])
    meta = {
        "source": "gettext",
        "origin": ", ".join(f"{k} ({v} messages)" for k, v in per_origin.items()) + " from PyPI",
        "licence": "; ".join(licences),
        "available": bool(pairs),
        "stats": dict(stats),
    }
    write_raw(ctx.root, lang, "gettext", rows, meta)
