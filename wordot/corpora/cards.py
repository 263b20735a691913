"""Data cards: per language, how many pairs each source gave per split, where they come from,
under which licence, three examples; the lexicon and the classification set when built.

``cards/<lang>.json`` holds the card, ``cards/<lang>.md`` the same for a reader.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from ..paths import write_json, write_text
from .sources import DEFAULT_LANGUAGES, PAIR_SOURCES
from .store import (
    PAIR_KEYS,
    card_path,
    counts_path,
    lexicon_path,
    pairs_path,
    raw_meta_path,
    read_object,
    read_rows,
    rebuild_hint,
    sections_meta_path,
)
from .text import SPLITS


def _examples(root: Path, lang: str) -> dict[str, list[list[str]]]:
    """Three training pairs of 6-25 English words per source, at its quartiles."""
    eligible: dict[str, list] = collections.defaultdict(list)
    train_file = pairs_path(root, lang, "train")
    if train_file.exists():
        for r in read_rows(train_file, PAIR_KEYS, rebuild_hint([lang], None, root)):
            if 6 <= len(r["en"].split()) <= 25:
                eligible[r["source"]].append([r["src"], r["en"]])
    return {k: [v[len(v) * i // 4] for i in (1, 2, 3)] for k, v in eligible.items()}


def data_card(root: Path, lang: str) -> dict[str, Any]:
    """The card of ``lang`` from what the cache holds now."""
    card: dict[str, Any] = {"language": lang, "target": "en", "sources": {}}
    counts_file = counts_path(root, lang)
    how = rebuild_hint([lang], None, root)
    counts = read_object(counts_file, ("counts",), how)["counts"] if counts_file.exists() else {}
    examples = _examples(root, lang)
    for source in PAIR_SOURCES:
        meta_file = raw_meta_path(root, lang, source)
        if not meta_file.exists():
            continue
        how = rebuild_hint([lang], [source], root)
        meta = read_object(meta_file, ("origin", "licence", "available", "stats"), how)
        card["sources"][source] = {
            "pairs": counts.get(source, dict.fromkeys(SPLITS, 0)),
            "origin": meta["origin"],
            "licence": meta["licence"],
            "available": meta["available"],
            "filtering": meta["stats"],
            "examples": examples.get(source, []),
        }
    if lexicon_path(root, lang).exists():
        how = rebuild_hint([lang], ["lexicon"], root)
        card["lexicon"] = read_object(lexicon_path(root, lang), ("meta",), how)["meta"]
    if sections_meta_path(root).exists():
        keys = ("languages", "labels", "split_counts", "origin", "licence")
        how = rebuild_hint(DEFAULT_LANGUAGES, ["sections"], root)
        sec = read_object(sections_meta_path(root), keys, how)
        if lang in sec["split_counts"]:
            card["sections"] = {
                "items": sec["split_counts"][lang],
                "labels": sec["labels"],
                "origin": sec["origin"],
                "licence": sec["licence"],
            }
    return card


def card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown: a table of pairs per source and split, then origins, examples,
    the lexicon and the classification set."""
    lang = card["language"]
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
    return "\n".join(lines)


def write_card(root: Path, lang: str) -> dict[str, Any]:
    """Write ``cards/<lang>.json`` and ``.md`` (:func:`data_card`); returns the card."""
    card = data_card(root, lang)
    write_json(card_path(root, lang), card)
    write_text(card_path(root, lang, ".md"), card_markdown(card))
    return card
