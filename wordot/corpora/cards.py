"""Data cards: per language, how many pairs each source gave per split, where they come from,
under which licence, three examples; the lexicon and the classification set when built.

``cards/<lang>.json`` holds the card, ``cards/<lang>.md`` the same for a reader.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from ..paths import read_json, read_jsonl, write_json, write_text
from .sources import PAIR_SOURCES
from .store import (
    build_command,
    card_path,
    counts_path,
    lexicon_path,
    pairs_path,
    raw_meta_path,
    sections_meta_path,
)
from .text import SPLITS


def _examples(root: Path, lang: str) -> dict[str, list[list[str]]]:
    """Three training pairs of 6-25 English words per source, at its quartiles."""
    eligible: dict[str, list] = collections.defaultdict(list)
    train_file = pairs_path(root, lang, "train")
    if train_file.exists():
        how = "Rebuild it with: " + build_command([lang], force=True, out=root)
        for r in read_jsonl(train_file, how_to_rebuild=how):
            if 6 <= len(r["en"].split()) <= 25:
                eligible[r["source"]].append([r["src"], r["en"]])
    return {k: [v[len(v) * i // 4] for i in (1, 2, 3)] for k, v in eligible.items()}


def data_card(root: Path, lang: str) -> dict[str, Any]:
    """The card of ``lang`` from what the cache holds now."""
    card: dict[str, Any] = {"language": lang, "target": "en", "sources": {}}
    counts_file = counts_path(root, lang)
    counts = read_json(counts_file)["counts"] if counts_file.exists() else {}
    examples = _examples(root, lang)
    for source in PAIR_SOURCES:
        meta_file = raw_meta_path(root, lang, source)
        if not meta_file.exists():
            continue
        meta = read_json(meta_file)
        card["sources"][source] = {
            "pairs": counts.get(source, dict.fromkeys(SPLITS, 0)),
            "origin": meta["origin"],
            "licence": meta["licence"],
            "available": meta["available"],
            "filtering": meta["stats"],
            "examples": examples.get(source, []),
        }
    if lexicon_path(root, lang).exists():
        card["lexicon"] = read_json(lexicon_path(root, lang))["meta"]
    if sections_meta_path(root).exists():
        sec = read_json(sections_meta_path(root))
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
