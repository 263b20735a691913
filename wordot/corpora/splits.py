"""Train/dev/test splits over the whole cache, with no held-out sentence leaking into training.

Splits are fixed by ``seed``: Debian text is split by source package (translations of one
package never straddle splits; the classification set uses the same assignment), everything
else by its English sentence. :func:`finalize` then makes sure that no English sentence, and
per language no source sentence, of a test (dev) pair occurs in a train (train or dev) pair.
"""

from __future__ import annotations

from pathlib import Path

from .sources import PAIR_SOURCES
from .store import raw_path, read_raw, read_reserved, rebuild_hint, reserved_path, write_pairs
from .text import SPLIT_SEED, SPLITS, bucket, norm

_HELD = ("test", "dev")


def _read_raw(root: Path, seed: int) -> dict[str, list[dict]]:
    """Every language's candidate rows, each with ``source``, ``en_key`` and its first
    ``split``, sources in the order of :data:`PAIR_SOURCES`."""
    raw: dict[str, list[dict]] = {}
    for lang_dir in sorted((root / "raw").glob("*/")):
        rows = []
        for source in PAIR_SOURCES:
            path = raw_path(root, lang_dir.name, source)
            if not path.exists():
                continue
            for r in read_raw(root, lang_dir.name, source):
                r["source"], r["en_key"] = source, norm(r["en"])
                r["split"] = bucket(r["group"] or "en:" + r["en_key"], seed)
                rows.append(r)
        if rows:
            raw[lang_dir.name] = rows
    return raw


def _held_out(root: Path, seed: int, raw: dict[str, list[dict]]) -> dict[str, set[str]]:
    """The normalised English sentences held out in test and dev: those of held-out Debian
    packages and of every pair (any language) that falls in test or dev."""
    reserved_file = reserved_path(root, seed)
    held: dict[str, set[str]] = {"test": set(), "dev": set()}
    if reserved_file.exists():
        held = read_reserved(root, seed, rebuild_hint(sorted(raw), ["ddtp"], root))
    for rows in raw.values():
        for r in rows:
            if r["split"] != "train":
                held[r["split"]].add(r["en_key"])
    return held


def _split_language(rows: list[dict], held: dict[str, set[str]]) -> dict[str, list[dict]]:
    """One language's rows ``{"src", "en", "source"}`` per split: moved or dropped by
    ``held``, then without source sentences of a later split and without duplicates."""
    for r in rows:
        for s in _HELD:
            if r["split"] == s:
                break
            if r["en_key"] in held[s]:
                r["split"] = None if r["group"] else s
                break
    rows = [r for r in rows if r["split"]]
    src_held = {s: {norm(r["src"]) for r in rows if r["split"] == s} for s in _HELD}
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
    return out


def finalize(root: Path, seed: int = SPLIT_SEED) -> dict[str, dict[str, dict[str, int]]]:
    """Split every language's candidate pairs in the cache and write ``pairs/<lang>/*.jsonl``.

    DDTP pairs take the split of their source package, all others that of their English
    sentence. Then, over the whole cache: a pair whose English sentence is a test sentence
    anywhere (or any sentence of a held-out Debian package) moves to test (a DDTP pair is
    dropped instead, so packages do not straddle splits); likewise for dev; per language, a
    train/dev pair whose source sentence is in test (train: or dev) is dropped; duplicates
    within a split are dropped (first source of :data:`PAIR_SOURCES` wins).
    Returns counts {lang: {source: {split: n}}}."""
    raw = _read_raw(root, seed)
    held = _held_out(root, seed, raw)
    return {
        lang: write_pairs(root, lang, _split_language(rows, held), seed)
        for lang, rows in raw.items()
    }
