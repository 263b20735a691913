"""Language codes, defined once: the paper's training languages and the benchmarks' languages.

English is the fixed target language of every pair (Section 5.1 of the paper); source languages
are ISO 639-1 codes.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "MAIN",
    "LARGE",
    "OFFLINE",
    "XNLI",
    "XQUAD",
    "TATOEBA",
    "GOLD_ALIGNMENT",
    "NO_SPACE",
    "NAMES",
    "check_languages",
]

#: the paper's main model (Section 5.1, as Cao et al. 2020)
MAIN: tuple[str, ...] = ("bg", "de", "el", "es", "fr")
#: LargeWordOT: the main five plus nine more (Section 5.1)
LARGE: tuple[str, ...] = MAIN + ("ru", "ar", "zh", "hi", "th", "tr", "ur", "sw", "vi")
#: languages the offline corpora (``python -m wordot corpora``) can build
OFFLINE: tuple[str, ...] = tuple("bg de el es fr ar ru zh hi th tr vi ur sw".split())
#: XNLI's 15 languages, in the order of the paper's Table 2
XNLI: tuple[str, ...] = tuple("en bg de el es fr ar hi ru sw th tr ur vi zh".split())
#: XQuAD's languages in the paper's Table 2 (the dataset also has ro)
XQUAD: tuple[str, ...] = ("en", "de", "el", "es", "ar", "hi", "ru", "th", "tr", "vi", "zh")
#: Tatoeba languages of the evaluation suite: XNLI's fourteen besides English (the training
#: languages among them) and the other sources of the gold alignment sets
TATOEBA: tuple[str, ...] = tuple(x for x in XNLI if x != "en") + ("ro", "ja")
#: the gold word-alignment sets and their non-English language (wordot.align.gold reads them)
GOLD_ALIGNMENT: dict[str, str] = {
    "enfr": "fr",
    "roen": "ro",
    "zhen": "zh",
    "jaen": "ja",
    "xl-wa-bg": "bg",
    "xl-wa-es": "es",
    "bicici-deen": "de",
}
#: languages written without spaces between words (word splitting needs care)
NO_SPACE: frozenset[str] = frozenset({"zh", "th", "ja", "lo", "km", "my"})

NAMES: dict[str, str] = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "ja": "Japanese",
    "ro": "Romanian",
    "ru": "Russian",
    "sw": "Swahili",
    "th": "Thai",
    "tr": "Turkish",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


def check_languages(langs: Iterable[str], known: Iterable[str], what: str = "language") -> None:
    """Raise a ValueError naming every code of ``langs`` not in ``known`` (and the known ones)."""
    if isinstance(langs, str):
        raise TypeError(f"expected a list of {what} codes, got the string {langs!r}")
    known = tuple(known)
    unknown = [x for x in langs if x not in known]
    if unknown:
        raise ValueError(f"unknown {what} code(s) {unknown}; known: {', '.join(sorted(known))}")
