"""Building the cache: every step of every language, then the splits and the data cards.

Each step writes its files atomically and is skipped when they exist (``force=True`` redoes
it), so an interrupted build resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ..languages import OFFLINE, check_languages
from .bible import build_bible
from .cards import write_card
from .context import BuildContext
from .ddtp import build_ddtp
from .freedict import build_lexicon
from .gettext import build_gettext
from .sections import build_sections
from .sources import DEFAULT_LANGUAGES, STEPS
from .splits import finalize
from .store import corpora_dir
from .text import SPLIT_SEED

#: the steps run once per language (``sections`` runs once for all)
LANGUAGE_STEPS: dict[str, Callable[[BuildContext, str], None]] = {
    "ddtp": build_ddtp,
    "bible": build_bible,
    "gettext": build_gettext,
    "lexicon": build_lexicon,
}


def build(
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    steps: Sequence[str] = STEPS,
    cache: str | Path | None = None,
    seed: int = SPLIT_SEED,
    force: bool = False,
    progress: bool = True,
    mirror: str | None = None,
    suite: str | None = None,
) -> dict[str, dict]:
    """Build the corpora of ``languages`` into the cache; returns the data card of each.

    ``languages`` are codes of :data:`wordot.languages.OFFLINE` (``"en"``, the target, is
    ignored); ``steps`` is any of :data:`STEPS`; a step whose files exist is skipped unless
    ``force``. Debian steps need ``apt-get`` and ``dpkg-deb`` (no root); ``gettext`` needs
    pip."""
    bad = sorted(set(steps) - set(STEPS))
    if bad:
        raise ValueError(f"unknown steps {bad}; choose from {STEPS}")
    languages = tuple(dict.fromkeys(x for x in languages if x != "en"))
    check_languages(languages, OFFLINE)
    root = corpora_dir(cache)
    root.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        if progress:
            tqdm.write(msg)

    ctx = BuildContext(
        root, languages, seed, force=force, progress=progress, mirror=mirror, suite=suite, log=log
    )
    for lang in languages:
        for step in steps:
            if step in LANGUAGE_STEPS:
                t0 = time.time()
                LANGUAGE_STEPS[step](ctx, lang)
                if time.time() - t0 > 1:
                    log(f"{lang} {step}: {time.time() - t0:.0f} s")
    if "sections" in steps:
        build_sections(ctx)
    finalize(root, seed)
    cards = {d.name: write_card(root, d.name) for d in sorted((root / "raw").glob("*/"))}
    for lang in languages:
        if lang not in cards:
            cards[lang] = write_card(root, lang)
    return cards
