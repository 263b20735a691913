"""The on-disk cache of the offline corpora: where every file lives, and reading it back.

The cache is ``corpora_dir()`` (``paths.cache_root() / "corpora"``) or a directory passed as
``cache``::

    downloads/                     apt state (private lists), .deb, wheels, unpacked packages
    raw/<lang>/<source>.jsonl      candidate pairs {"src", "en", "group"} + .meta.json
    pairs/<lang>/<split>.jsonl     the splits the loaders read {"src", "en", "source"}
    pairs/<lang>/counts.json       {"seed", "counts": {source: {split: n}}}
    lexicons/<lang>.json           {"meta": ..., "entries": {word: [english, ...]}}
    sections/items.jsonl           {"id", "group", "label", "split", "text": {lang: text}}
    sections/meta.json             {"languages", "labels", "seed", ...}
    cards/<lang>.json, <lang>.md   data cards: counts per source and split, licence, examples

The path helpers and writers below are the format: the builders and
:func:`wordot.data.write_smoke_cache` write through them, the loaders read through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..hub import NotAvailableError
from ..languages import OFFLINE, check_languages
from ..paths import cache_root, read_json, read_jsonl, write_json, write_jsonl
from .sources import DEFAULT_LANGUAGES, FREEDICT, PAIR_SOURCES
from .text import SPLITS


class CorpusError(NotAvailableError):
    """A corpus is missing or cannot be built; the message says what to run or install."""


def corpora_dir(cache: str | Path | None = None) -> Path:
    """The corpora cache: ``cache``, else ``paths.cache_root() / "corpora"`` (read now)."""
    if cache is not None:
        return Path(cache).expanduser()
    return cache_root() / "corpora"


def build_command(
    langs: Iterable[str],
    steps: Iterable[str] | None = None,
    *,
    force: bool = False,
    out: str | Path | None = None,
) -> str:
    """The ``python -m wordot corpora`` command that builds ``steps`` of ``langs``."""
    cmd = "python -m wordot corpora --languages " + " ".join(langs)
    if steps:
        cmd += " --steps " + " ".join(steps)
    if out is not None:
        cmd += f" --out {out}"
    return cmd + (" --force" if force else "")


def _rebuild(langs: Iterable[str], steps: Iterable[str] | None, out: Path) -> str:
    return f"Rebuild it with: {build_command(langs, steps, force=True, out=out)}"


# -- where things are ---------------------------------------------------------------------------


def raw_path(root: Path, lang: str, source: str) -> Path:
    """Candidate pairs of one source, before splitting (its existence marks the step done)."""
    return root / "raw" / lang / f"{source}.jsonl"


def raw_meta_path(root: Path, lang: str, source: str) -> Path:
    """Origin, licence and filtering counts of :func:`raw_path`."""
    return raw_path(root, lang, source).with_suffix(".meta.json")


def reserved_path(root: Path, seed: int) -> Path:
    """The normalised English sentences of held-out Debian packages, ``{"test": [...],
    "dev": [...]}``: no pair of any source may use them outside their split."""
    return root / "raw" / f"ddtp-reserved-seed{seed}.json"


def pairs_path(root: Path, lang: str, split: str) -> Path:
    """The pairs of ``lang`` in ``split``, one ``{"src", "en", "source"}`` a line."""
    return root / "pairs" / lang / f"{split}.jsonl"


def counts_path(root: Path, lang: str) -> Path:
    """``{"seed", "counts": {source: {split: n}}}`` of ``lang``'s pairs."""
    return root / "pairs" / lang / "counts.json"


def lexicon_path(root: Path, lang: str) -> Path:
    """``{"meta": ..., "entries": {word: [english, ...]}}`` of ``lang``."""
    return root / "lexicons" / f"{lang}.json"


def sections_items_path(root: Path) -> Path:
    """The classification set, one ``{"id", "group", "label", "split", "text"}`` a line."""
    return root / "sections" / "items.jsonl"


def sections_meta_path(root: Path) -> Path:
    """``{"languages", "labels", "seed", ...}`` of the classification set."""
    return root / "sections" / "meta.json"


def card_path(root: Path, lang: str, suffix: str = ".json") -> Path:
    """The data card of ``lang`` (``.json`` or ``.md``)."""
    return root / "cards" / f"{lang}{suffix}"


# -- writing ------------------------------------------------------------------------------------


def write_raw(root: Path, lang: str, source: str, rows: list[dict], meta: dict[str, Any]) -> None:
    """Write one source's candidate pairs and their ``.meta.json`` (with ``"candidates"``, the
    number of rows); the pairs last, as their file marks the step done."""
    write_json(raw_meta_path(root, lang, source), {**meta, "candidates": len(rows)})
    write_jsonl(raw_path(root, lang, source), rows)


def write_pairs(
    root: Path, lang: str, splits: Mapping[str, Sequence[dict]], seed: int
) -> dict[str, dict[str, int]]:
    """Write ``pairs/<lang>/<split>.jsonl`` for every split of ``splits`` (rows ``{"src",
    "en", "source"}``) and ``counts.json``; returns the counts ``{source: {split: n}}``."""
    counts: dict[str, dict[str, int]] = {}
    for split, rows in splits.items():
        write_jsonl(pairs_path(root, lang, split), rows)
        for r in rows:
            c = counts.setdefault(r["source"], dict.fromkeys(SPLITS, 0))
            c[split] += 1
    write_json(counts_path(root, lang), {"seed": seed, "counts": counts})
    return counts


def write_lexicon(
    root: Path, lang: str, entries: Mapping[str, Iterable[str]], meta: dict[str, Any]
) -> None:
    """Write ``lexicons/<lang>.json``: each word's English words sorted, words in the given
    order."""
    data = {"meta": meta, "entries": {k: sorted(v) for k, v in entries.items()}}
    write_json(lexicon_path(root, lang), data)


def write_sections(root: Path, items: Iterable[dict], meta: dict[str, Any]) -> None:
    """Write the classification set: ``items.jsonl``, then ``meta.json`` (a set is complete
    when both exist)."""
    write_jsonl(sections_items_path(root), items)
    write_json(sections_meta_path(root), meta)


# -- reading ------------------------------------------------------------------------------------


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


def offline_pairs(
    lang: str,
    split: str = "train",
    sources: Sequence[str] | None = None,
    cache: str | Path | None = None,
) -> list[tuple[str, str]]:
    """Parallel sentences ``(src, en)`` of ``lang`` in ``split`` (``train``/``dev``/``test``),
    from ``sources`` (default all of :data:`PAIR_SOURCES` that were built)."""
    check_languages([lang], OFFLINE)
    _check_split(split)
    root = corpora_dir(cache)
    path = pairs_path(root, lang, split)
    if not path.exists():
        raise CorpusError(
            f"no parallel corpus for {lang}-en in {root} (missing {path}).\n"
            f"Build it with: {build_command([lang], out=cache)}"
        )
    wanted = set(sources) if sources is not None else None
    if wanted is not None and not wanted <= set(PAIR_SOURCES):
        raise ValueError(f"unknown sources {sorted(wanted - set(PAIR_SOURCES))}")
    how = _rebuild([lang], None, root)
    rows = [
        (r["src"], r["en"])
        for r in read_jsonl(path, how_to_rebuild=how)
        if wanted is None or r["source"] in wanted
    ]
    counts = read_json(counts_path(root, lang), how_to_rebuild=how)["counts"]
    asked = sorted(wanted) if wanted is not None else list(dict.fromkeys([*PAIR_SOURCES, *counts]))
    if not any(sum(counts.get(x, {}).values()) for x in asked):  # not only this split is empty
        unbuilt = [x for x in asked if not raw_path(root, lang, x).exists()]
        if unbuilt:
            raise CorpusError(
                f"{lang}-en has no {split} pairs from {asked} in {root}; {unbuilt} not built: "
                f"build with: {build_command([lang], unbuilt, out=cache)}"
            )
        raise CorpusError(
            f"{lang}-en has no {split} pairs from {asked}: these packages have no {lang} "
            f"text (see {card_path(root, lang, '.md')}); other sources: {list(PAIR_SOURCES)}"
        )
    return rows


def load_lexicon(lang: str, cache: str | Path | None = None) -> dict[str, set[str]]:
    """FreeDict lexicon of ``lang``: lower-case source word -> set of English words."""
    check_languages([lang], OFFLINE)
    root = corpora_dir(cache)
    path = lexicon_path(root, lang)
    if not path.exists():
        if lang not in FREEDICT:
            raise CorpusError(
                f"FreeDict (Debian) has no {lang}-English dictionary; lexicons exist for "
                f"{sorted(FREEDICT)}"
            )
        raise CorpusError(
            f"no lexicon for {lang} in {root} (missing {path}).\n"
            f"Build it with: {build_command([lang], ['lexicon'], out=cache)}"
        )
    data = read_json(path, how_to_rebuild=_rebuild([lang], ["lexicon"], root))
    return {k: set(v) for k, v in data["entries"].items()}


def _sections_meta(cache: str | Path | None) -> dict[str, Any]:
    root = corpora_dir(cache)
    path = sections_meta_path(root)
    if not path.exists() or not sections_items_path(root).exists():
        raise CorpusError(
            f"no package-section classification data in {root}.\n"
            f"Build it with: {build_command(DEFAULT_LANGUAGES, ['sections'], out=cache)}"
        )
    return read_json(path, how_to_rebuild=_rebuild(DEFAULT_LANGUAGES, ["sections"], root))


def section_labels(cache: str | Path | None = None) -> list[str]:
    """The labels of the package-section classification set, sorted."""
    return _sections_meta(cache)["labels"]


def load_sections(lang: str, split: str, cache: str | Path | None = None) -> list[tuple[str, str]]:
    """``(text, label)`` of the classification set: a package description in ``lang`` and the
    coarse group of its Debian section. The zero-shot protocol trains on ``load_sections("en",
    "train")``, selects on ``("en", "dev")`` and tests on ``(lang, "test")``."""
    check_languages([lang], ("en", *OFFLINE))
    _check_split(split)
    meta = _sections_meta(cache)
    root = corpora_dir(cache)
    if lang != "en" and lang not in meta["languages"]:
        raise CorpusError(
            f"the classification set was built for {meta['languages']}, not {lang}; "
            f"add it with: {build_command([lang], ['sections'], out=cache)}"
        )
    how = _rebuild(meta["languages"], ["sections"], root)
    rows = [
        (r["text"][lang], r["label"])
        for r in read_jsonl(sections_items_path(root), how_to_rebuild=how)
        if r["split"] == split and lang in r["text"]
    ]
    if not rows:
        raise CorpusError(f"no {split} descriptions in {lang}: DDTP has (almost) none for {lang}")
    return rows
