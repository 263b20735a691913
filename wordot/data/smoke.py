"""The smoke data: small hand-written corpora shipped with the package, and a toy corpora cache.

For the smoke profile and CI only, never for results:

* :func:`smoke_corpus`: 40 plain ``lang``-English sentence pairs per language of
  :data:`SMOKE_LANGUAGES` (``wordot/assets/parallel/{lang}-en.tsv``), including the paper's
  context example ("Your shoes don't match your clothes." / "Did you see the cricket match?");
* :data:`SMOKE_LEXICON`: hand-written word lists for those pairs (the other profiles read
  FreeDict through :mod:`wordot.corpora`);
* :func:`write_smoke_cache`: a corpora cache made of the two, in the on-disk layout that
  :mod:`wordot.corpora` reads, so the evaluation code runs in CI without building the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from .. import paths
from .corpus import ParallelCorpus, read_tsv

__all__ = ["SMOKE_LANGUAGES", "SMOKE_LEXICON", "smoke_corpus", "write_smoke_cache"]

#: languages of the hand-written corpora shipped in ``wordot/assets/parallel``
SMOKE_LANGUAGES: tuple[str, ...] = ("de", "es", "fr")


def smoke_corpus(lang: str) -> ParallelCorpus:
    """The small hand-written ``lang``-English corpus shipped with the package (smoke profile).

    A few dozen plain sentences, including the paper's context example ("Your shoes don't
    match your clothes." / "Did you see the cricket match?"). Not for results.
    """
    if lang not in SMOKE_LANGUAGES:
        raise ValueError(
            f"no smoke corpus for language {lang!r}; available: {', '.join(SMOKE_LANGUAGES)}"
        )
    res = resources.files("wordot") / "assets" / "parallel" / f"{lang}-en.tsv"
    with resources.as_file(res) as path:
        corpus = read_tsv(path, lang)
    corpus.source = f"wordot smoke corpus ({lang}-en.tsv)"
    return corpus


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


#: labels of the toy classification set (arbitrary: sentence index mod 3)
SMOKE_SECTION_LABELS = ("home", "town", "work")


def write_smoke_cache(cache: str | Path, languages: Sequence[str] = ("de", "fr", "es")) -> Path:
    """Write a toy corpora cache at ``cache`` in the on-disk format that :mod:`wordot.corpora`
    builds and reads, made from :func:`smoke_corpus`; returns ``cache``.

    Every split holds all the pairs (test pairs are training pairs), the lexicons are
    :data:`SMOKE_LEXICON`, and the classification set's labels are arbitrary (sentence index
    mod 3). For CI runs of the evaluation code only; nothing measured on it is a result.
    Layout: ``pairs/<lang>/{train,dev,test}.jsonl`` and ``counts.json``,
    ``lexicons/<lang>.json``, ``sections/items.jsonl`` and ``meta.json``.
    """
    root = Path(cache).expanduser()
    items = []
    for lang in languages:
        pairs = list(smoke_corpus(lang))
        _write_smoke_pairs(root / "pairs" / lang, pairs)
        paths.write_json(
            root / "lexicons" / f"{lang}.json",
            {
                "meta": {"source": "smoke"},
                "entries": {k: sorted(v) for k, v in SMOKE_LEXICON.get(lang, {}).items()},
            },
        )
        items += _smoke_section_items(lang, pairs)
    paths.write_jsonl(root / "sections" / "items.jsonl", items)
    paths.write_json(
        root / "sections" / "meta.json",
        {"languages": list(languages), "labels": list(SMOKE_SECTION_LABELS), "seed": 0},
    )
    return root


def _write_smoke_pairs(directory: Path, pairs: list[tuple[str, str]]) -> None:
    """The three splits of one language (train and test: all pairs; dev: the first 8)."""
    splits = {"train": pairs, "dev": pairs[:8], "test": pairs}
    for split, rows in splits.items():
        paths.write_jsonl(
            directory / f"{split}.jsonl", ({"src": s, "en": e, "source": "smoke"} for s, e in rows)
        )
    counts = {"smoke": {k: len(v) for k, v in splits.items()}}
    paths.write_json(directory / "counts.json", {"seed": 0, "counts": counts})


def _smoke_section_items(lang: str, pairs: list[tuple[str, str]]) -> list[dict]:
    """Classification items of one language: pairs 0-23 train, 24-31 dev, the rest test."""
    items = []
    for i, (s, e) in enumerate(pairs):
        split = "train" if i < 24 else ("dev" if i < 32 else "test")
        items.append(
            {
                "id": f"{lang}{i}",
                "label": SMOKE_SECTION_LABELS[i % 3],
                "split": split,
                "text": {"en": e, lang: s},
            }
        )
    return items
