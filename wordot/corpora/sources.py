"""What the offline corpora are made of: every package, version and licence, in one table.

Parallel sentences come from three sources (:data:`PAIR_SOURCES`); lexicons from FreeDict; the
classification set from Debian's ``Section`` field. Debian packages are fetched with apt
(:mod:`wordot.corpora.apt`), PyPI wheels with pip, each pinned here.
"""

from __future__ import annotations

#: all sources of parallel sentences, in the order their pairs win ties in deduplication
PAIR_SOURCES: tuple[str, ...] = ("ddtp", "bible", "gettext")
#: every step :func:`wordot.corpora.build` knows
STEPS: tuple[str, ...] = (*PAIR_SOURCES, "lexicon", "sections")
#: what ``python -m wordot corpora`` builds when no ``--languages`` are given
DEFAULT_LANGUAGES: tuple[str, ...] = ("de", "fr", "es", "ru", "zh")

#: DDTP's name of a language in ``Translation-<code>``
DDTP_CODES = {"zh": "zh_CN"}
#: Django's ``locale/<dir>``
DJANGO_DIRS = {"zh": "zh_Hans"}
#: the Django wheel whose ``.po`` catalogues are read: (name, version, sha256)
DJANGO_WHEEL = (
    "Django",
    "5.2.19",
    "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
)
#: JupyterLab language packs on PyPI (``jupyterlab-language-pack-<locale>``): all that exist
JUPYTERLAB_PACKS: dict[str, tuple[str, str, str]] = {
    lang: (f"jupyterlab-language-pack-{loc}", "4.5.post3", sha)
    for lang, loc, sha in [
        ("de", "de-DE", "b716b56f7e0c884f42152d5e36c253ea0f32ca41f99097d842d3934f4a4bc7fb"),
        ("fr", "fr-FR", "9f6ce9d4e64b367ff084a2313af29d6ad8a02d1d08000f3e6c53e2856fa9a11f"),
        ("es", "es-ES", "8b315de006bc48d5798988cff6141f00694e411265011ea21570b4f459070381"),
        ("el", "el-GR", "da37c852e69e2fef00d574ec1193e32dd068ee05e3ae030a7e5b96c7913d6f98"),
        ("ru", "ru-RU", "d294daf163b0df9bdd14012b574ff311f1f4a166524b38469e90e26eb2c380f6"),
        ("ar", "ar-SA", "5e7af54431cad3f42d67476b0e6dd44ee968a6f723dad37f3847604fcb882bfa"),
        ("zh", "zh-CN", "47cdb0c41c6b066e795c867786c9c29fde527e2bf15aa6b3e9b2bab9929304b5"),
        ("tr", "tr-TR", "28542891791e8f369c75a8adf944b1bdb24e5aee5c9a80f085e659d5998a9b84"),
        ("vi", "vi-VN", "bda91ec033a3075c7dc2934b349301aae40f3c743542bfaa49e4ccb53f05e021"),
    ]
}
#: FreeDict dictionaries in Debian: language -> (dictionary, True if it is English -> language
#: and is read backwards). There is none for zh, th, vi, ur.
FREEDICT = {
    "de": ("deu-eng", False),
    "fr": ("fra-eng", False),
    "es": ("spa-eng", False),
    "el": ("ell-eng", False),
    "ru": ("eng-rus", True),
    "bg": ("eng-bul", True),
    "ar": ("ara-eng", False),
    "hi": ("eng-hin", True),
    "tr": ("tur-eng", False),
    "sw": ("swh-eng", False),
}
#: Bibles in Debian, as (package, SWORD module); English is always the World English Bible
BIBLES = {"es": ("sword-text-sparv", "spaRV1909eb")}
ENGLISH_BIBLE = ("sword-text-web", "engWEB2015eb")

LICENCES = {
    "ddtp": "each description is under its package's licence (Debian main: DFSG-free); "
    "translations by the Debian Description Translation Project (DDTP/DDTSS)",
    "bible": "public domain (World English Bible; Reina-Valera 1909)",
    "django": "BSD-3-Clause (Django and its translations)",
    "jupyterlab": "BSD-3-Clause (JupyterLab language packs)",
}
