"""A topic-classification set (a zero-shot stand-in for XNLI): Debian package descriptions
labelled with a coarse group of their ``Section``, English train/dev, a test set per language.

Items are split by source package with the same hash as the DDTP pairs, so a description and
its translations never straddle splits.
"""

from __future__ import annotations

import collections
from functools import partial

from .context import BuildContext
from .ddtp import DdtpIndex, ddtp_index, description_lines, description_text, iter_deb822
from .sources import DDTP_CODES, LICENCES
from .store import read_sections, sections_items_path, sections_meta_path, write_sections
from .text import bucket

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


def _english_items(index: DdtpIndex, seed: int) -> tuple[dict[str, dict], int]:
    """Items ``{"id", "group", "label", "split", "text": {"en": ...}}`` by md5 of every English
    description whose packages' sections agree on one group, and how many disagreed."""
    items: dict[str, dict] = {}
    conflicts = 0
    for md5, (short, long_lines) in index.english.items():
        sections = index.section_of.get(md5)
        if not sections:
            continue
        groups = collections.Counter(SECTION_GROUPS.get(s) for s in sections)
        (label, n), *rest = groups.most_common()
        if rest and rest[0][1] == n:
            conflicts += 1
            continue
        if label is None:
            continue
        group = "pkg:" + index.source_of[md5]
        items[md5] = {
            "id": md5,
            "group": group,
            "label": label,
            "split": bucket(group, seed),
            "text": {"en": description_text(short, long_lines)},
        }
    return items, conflicts


def _add_translations(ctx: BuildContext, items: dict[str, dict], lang: str) -> None:
    """Add the DDTP text in ``lang`` to every item that has one."""
    code = DDTP_CODES.get(lang, lang)
    path = ctx.apt.list_file(f"Translation-{code}")
    if path is None:
        return
    for st in ctx.bar(iter_deb822(path), desc=f"sections {code}", unit=" desc"):
        md5, xx = st.get("Description-md5"), description_lines(st, f"Description-{code}")
        if md5 in items and xx and lang not in items[md5]["text"]:
            items[md5]["text"][lang] = description_text(*xx)


def build_sections(ctx: BuildContext) -> None:
    """Package descriptions labelled with a coarse group of their Debian section, in English
    and every language of the build that DDTP has (the set grows as languages are added)."""
    langs = [x for x in ctx.languages if x != "en"]
    files = sections_items_path(ctx.root), sections_meta_path(ctx.root)
    found = ctx.reusable("the sections step", partial(read_sections, ctx.root), *files)
    if found is not None:
        have = found[0]["languages"]
        if set(langs) <= set(have):
            return
        langs = sorted(set(langs) | set(have))
    index = ddtp_index(ctx)
    items, conflicts = _english_items(index, ctx.seed)
    counts = collections.Counter(it["label"] for it in items.values())
    labels = sorted(g for g, n in counts.items() if n >= MIN_SECTION_GROUP)
    items = {k: v for k, v in items.items() if v["label"] in labels}
    for lang in langs:
        _add_translations(ctx, items, lang)
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
    write_sections(ctx.root, rows, meta)
