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
The readers check what they read: every line parses, is UTF-8 and has the keys of its file
(:data:`RAW_KEYS`, :data:`PAIR_KEYS`, :data:`SECTION_KEYS`), and a file holds as many rows as
its companion file recorded when both were written (``.meta.json`` ``candidates``,
``counts.json``, the classification set's ``split_counts``), so a file cut at a line boundary
is caught too. Anything else raises :class:`~wordot.paths.CorruptFileError` naming the file
and the command that rebuilds it; the builder builds a corrupt step's files again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..hub import NotAvailableError
from ..languages import OFFLINE, check_languages
from ..paths import CorruptFileError, cache_root, read_json, read_jsonl, write_json, write_jsonl
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


def rebuild_hint(langs: Iterable[str], steps: Iterable[str] | None, out: Path) -> str:
    """``"Rebuild it with: <command>"``: the end of the message about a corrupt file."""
    return f"Rebuild it with: {build_command(langs, steps, force=True, out=out)}"


#: the keys of every row of a raw, a pairs and the classification set's items file
RAW_KEYS = ("src", "en", "group")
PAIR_KEYS = ("src", "en", "source")
SECTION_KEYS = ("label", "split", "text")


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


def read_rows(path: Path, keys: Sequence[str], how_to_rebuild: str) -> list[dict]:
    """The rows of the JSON-lines file ``path``, each an object with ``keys``.

    Raises:
        CorruptFileError: a line does not parse, the file is not UTF-8 or a row lacks a key;
            the message names the file, the line or row and ends with ``how_to_rebuild``.
    """
    try:
        rows = list(read_jsonl(path, how_to_rebuild=how_to_rebuild))
    except UnicodeDecodeError as err:
        raise CorruptFileError(
            f"corrupt file {path}: not UTF-8 text ({err.reason}). {how_to_rebuild}"
        ) from err
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(k in row for k in keys):
            raise CorruptFileError(
                f"corrupt file {path}, row {i}: {str(row)[:60]!r} is not an object with keys "
                f"{list(keys)}. {how_to_rebuild}"
            )
    return rows


def read_object(path: Path, keys: Sequence[str], how_to_rebuild: str) -> dict[str, Any]:
    """The JSON object in ``path``, which must have ``keys``; else :class:`CorruptFileError`
    naming the file and ending with ``how_to_rebuild``."""
    data = read_json(path, how_to_rebuild=how_to_rebuild)
    if not isinstance(data, dict) or not all(k in data for k in keys):
        raise CorruptFileError(
            f"corrupt file {path}: not a JSON object with keys {list(keys)}. {how_to_rebuild}"
        )
    return data


def _check_rows(path: Path, n: int, expected: int | None, record: Path, how: str) -> None:
    """:class:`CorruptFileError` when ``path`` has ``n`` rows where ``record`` says ``expected``
    (a file cut at a line boundary still parses); nothing when nothing was recorded."""
    if expected is not None and n != expected:
        raise CorruptFileError(
            f"corrupt file {path}: {n} rows where {record} records {expected} (cut short or "
            f"written by an interrupted copy). {how}"
        )


def read_raw(root: Path, lang: str, source: str, how_to_rebuild: str | None = None) -> list[dict]:
    """The candidate rows of ``source`` for ``lang`` (:func:`raw_path`), checked against the
    number of rows their ``.meta.json`` recorded (when it exists)."""
    how = how_to_rebuild or rebuild_hint([lang], [source], root)
    path, meta_file = raw_path(root, lang, source), raw_meta_path(root, lang, source)
    meta = read_object(meta_file, (), how) if meta_file.exists() else {}
    rows = read_rows(path, RAW_KEYS, how)
    _check_rows(path, len(rows), meta.get("candidates"), meta_file, how)
    return rows


def read_reserved(root: Path, seed: int, how_to_rebuild: str) -> dict[str, set[str]]:
    """The held-out English sentences of :func:`reserved_path`, ``{"test": ..., "dev": ...}``."""
    data = read_object(reserved_path(root, seed), ("test", "dev"), how_to_rebuild)
    return {k: set(v) for k, v in data.items()}


def read_sections(root: Path, how_to_rebuild: str) -> tuple[dict[str, Any], list[dict]]:
    """The classification set's ``(meta, items)``, the items checked against the number of
    English descriptions the meta recorded (when it did)."""
    meta = read_object(sections_meta_path(root), ("languages", "labels"), how_to_rebuild)
    path = sections_items_path(root)
    items = read_rows(path, SECTION_KEYS, how_to_rebuild)
    en = meta.get("split_counts", {}).get("en")
    n_en = sum(1 for r in items if "en" in r["text"])
    expected = sum(en.values()) if en is not None else None
    _check_rows(path, n_en, expected, sections_meta_path(root), how_to_rebuild)
    return meta, items


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
    how = rebuild_hint([lang], None, root)
    all_rows = read_rows(path, PAIR_KEYS, how)
    counts = read_object(counts_path(root, lang), ("counts",), how)["counts"]
    expected = sum(c.get(split, 0) for c in counts.values())
    _check_rows(path, len(all_rows), expected, counts_path(root, lang), how)
    rows = [(r["src"], r["en"]) for r in all_rows if wanted is None or r["source"] in wanted]
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
    data = read_object(path, ("entries",), rebuild_hint([lang], ["lexicon"], root))
    return {k: set(v) for k, v in data["entries"].items()}


def _sections_meta(cache: str | Path | None) -> dict[str, Any]:
    root = corpora_dir(cache)
    path = sections_meta_path(root)
    if not path.exists() or not sections_items_path(root).exists():
        raise CorpusError(
            f"no package-section classification data in {root}.\n"
            f"Build it with: {build_command(DEFAULT_LANGUAGES, ['sections'], out=cache)}"
        )
    how = rebuild_hint(DEFAULT_LANGUAGES, ["sections"], root)
    return read_object(path, ("languages", "labels"), how)


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
    _, items = read_sections(root, rebuild_hint(meta["languages"], ["sections"], root))
    rows = [
        (r["text"][lang], r["label"]) for r in items if r["split"] == split and lang in r["text"]
    ]
    if not rows:
        raise CorpusError(f"no {split} descriptions in {lang}: DDTP has (almost) none for {lang}")
    return rows
