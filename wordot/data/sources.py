"""Where the paper's parallel corpora live (Table 6) and how to read them, online or not.

:data:`PAPER_CORPORA` is Table 6: one :class:`LanguageSpec` per language, each with its
:class:`CorpusSource` entries (the arguments of ``datasets.load_dataset``, and for the corpora
whose hub copy is a legacy loading script that ``datasets>=4`` no longer runs, the OPUS Moses
archive that script downloaded).

:func:`load_pairs` reads one language from the hub, from OPUS, or from local files with the hub
schema (``data_files=``); :func:`load_corpora` reads several from any origin (hub, the shipped
smoke corpora, the offline corpora of :mod:`wordot.corpora`, a directory of TSV files).
Before the network is tried, :mod:`wordot.hub` decides whether it may be: an unreachable,
uncached corpus fails at once with :class:`DatasetNotAvailableError`, whose message
(:func:`how_to_get`) says how to get it onto this machine.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice, zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .. import corpora as offline_corpora
from .. import hub, paths
from ..languages import OFFLINE, check_languages
from .corpus import ParallelCorpus, corpus_from_pairs, read_tsv
from .smoke import SMOKE_LANGUAGES, smoke_corpus

__all__ = [
    "DatasetNotAvailableError",
    "CorpusSource",
    "LanguageSpec",
    "PAPER_CORPORA",
    "language_spec",
    "how_to_get",
    "default_opus_dir",
    "load_pairs",
    "load_corpora",
]

log = logging.getLogger(__name__)


class DatasetNotAvailableError(hub.NotAvailableError, OSError):
    """A corpus could not be read: the hub or OPUS is unreachable and no local copy exists.

    The message says how to get it (:func:`how_to_get`)."""


# --------------------------------------------------------------------------------------------
# the corpora of Table 6
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusSource:
    """Where one language's pairs live and how a record maps to ``(src, en)``.

    ``hub_id``/``config``/``split``/``revision`` are the arguments of ``datasets.load_dataset``.
    A record is ``{field: {src_key: ..., en_key: ...}}`` (``field=None``: top-level columns).
    ``script_based`` marks hub datasets that are only a loading script (``config_kwargs`` are
    that script's ``lang1``/``lang2``): ``datasets>=4`` refuses to run them and the hub has no
    parquet conversion for these pairs, so :func:`load_pairs` reads ``opus_url`` instead, the
    OPUS Moses archive (two line-aligned text files) the script itself downloaded.
    """

    corpus: str
    hub_id: str
    src_key: str
    config: str | None = None
    config_kwargs: tuple[tuple[str, str], ...] = ()
    split: str = "train"
    revision: str | None = None
    field: str | None = "translation"
    en_key: str = "en"
    script_based: bool = False
    opus_url: str | None = None

    def describe(self) -> str:
        """``corpus (hub id, config, split)`` for messages and the ``source`` of a corpus."""
        cfg = self.config or ", ".join(f"{k}={v}" for k, v in self.config_kwargs) or "default"
        rev = f", revision {self.revision}" if self.revision else ""
        return f"{self.corpus} ({self.hub_id}, config {cfg}, split {self.split}{rev})"

    @property
    def opus_members(self) -> tuple[str, str]:
        """Names of the (src, en) files inside the OPUS Moses zip, e.g. ``Tanzil.en-sw.sw``."""
        if not self.opus_url:
            raise ValueError(f"{self.describe()} has no OPUS archive")
        parts = urlparse(self.opus_url).path.strip("/").split("/")
        corpus = parts[0].removeprefix("OPUS-")
        pair = parts[-1].removesuffix(".txt.zip")
        return f"{corpus}.{pair}.{self.src_key}", f"{corpus}.{pair}.{self.en_key}"

    @property
    def opus_filename(self) -> str:
        """Local file name of the OPUS archive (unique across corpora, unlike ``en-sw.txt.zip``)."""
        if not self.opus_url:
            raise ValueError(f"{self.describe()} has no OPUS archive")
        parts = urlparse(self.opus_url).path.strip("/").split("/")
        return f"{parts[0]}_{parts[1]}_{parts[-1]}"


@dataclass(frozen=True)
class LanguageSpec:
    """One row of Table 6: a language, its corpora and the pair count the paper reports."""

    lang: str
    name: str
    sources: tuple[CorpusSource, ...]
    paper_pairs: int
    note: str = ""


def _europarl(src: str, config: str) -> CorpusSource:
    return CorpusSource("Europarl", "Helsinki-NLP/europarl", src, config=config)


def _multiun(src: str, config: str) -> CorpusSource:
    return CorpusSource("MultiUN", "Helsinki-NLP/multiun", src, config=config)


def _opus(corpus: str, hub_id: str, opus_dir: str, version: str, src: str) -> CorpusSource:
    pair = "-".join(sorted((src, "en")))
    a, b = pair.split("-")
    return CorpusSource(
        corpus,
        hub_id,
        src,
        config_kwargs=(("lang1", a), ("lang2", b)),
        script_based=True,
        opus_url=f"https://object.pouta.csc.fi/{opus_dir}/{version}/moses/{pair}.txt.zip",
    )


def _subtitles(src: str) -> CorpusSource:
    return _opus(
        "OpenSubtitles2018", "Helsinki-NLP/open_subtitles", "OPUS-OpenSubtitles", "v2018", src
    )


def _tanzil(src: str) -> CorpusSource:
    return _opus("Tanzil", "Helsinki-NLP/tanzil", "OPUS-Tanzil", "v1", src)


_TH_NOTE = (
    "Table 6 prints th-en on the row under 'IIT Bombay hi-en' with no corpus name; IIT Bombay "
    "is English-Hindi only, and the 'OpenSubtitles' label is centred on the th/tr/vi block "
    "(XLM, which the paper follows, also takes Thai from OpenSubtitles 2018)."
)
_SW_NOTE = (
    "Table 6 prints 'Tanzil sw-en 128K' followed by 'Global-Voices' with no language of its own: "
    "read as Swahili from Tanzil plus GlobalVoices, concatenated (as in XLM)."
)

#: Table 6, one entry per language of the paper (``paper_pairs``: the count printed there)
PAPER_CORPORA: dict[str, LanguageSpec] = {
    "bg": LanguageSpec("bg", "Bulgarian", (_europarl("bg", "bg-en"),), 371_000),
    "de": LanguageSpec("de", "German", (_europarl("de", "de-en"),), 1_000_000),
    "el": LanguageSpec("el", "Greek", (_europarl("el", "el-en"),), 157_000),
    "es": LanguageSpec("es", "Spanish", (_europarl("es", "en-es"),), 990_000),
    "fr": LanguageSpec("fr", "French", (_europarl("fr", "en-fr"),), 1_000_000),
    "ar": LanguageSpec("ar", "Arabic", (_multiun("ar", "ar-en"),), 2_000_000),
    "ru": LanguageSpec("ru", "Russian", (_multiun("ru", "en-ru"),), 9_000_000),
    "zh": LanguageSpec("zh", "Chinese", (_multiun("zh", "en-zh"),), 3_000_000),
    "hi": LanguageSpec(
        "hi", "Hindi", (CorpusSource("IIT Bombay", "cfilt/iitb-english-hindi", "hi"),), 618_000
    ),
    "th": LanguageSpec("th", "Thai", (_subtitles("th"),), 278_000, _TH_NOTE),
    "tr": LanguageSpec("tr", "Turkish", (_subtitles("tr"),), 9_000_000),
    "vi": LanguageSpec("vi", "Vietnamese", (_subtitles("vi"),), 608_000),
    "ur": LanguageSpec("ur", "Urdu", (_tanzil("ur"),), 422_000),
    "sw": LanguageSpec(
        "sw",
        "Swahili",
        (
            _tanzil("sw"),
            _opus(
                "GlobalVoices", "Helsinki-NLP/global_voices", "OPUS-GlobalVoices", "v2018q4", "sw"
            ),
        ),
        128_000,
        _SW_NOTE,
    ),
}


def language_spec(lang: str) -> LanguageSpec:
    """The Table 6 entry of ``lang``; ValueError listing the known codes otherwise."""
    try:
        return PAPER_CORPORA[lang]
    except KeyError:
        raise ValueError(
            f"unknown language {lang!r}; the paper's languages are {', '.join(PAPER_CORPORA)}"
        ) from None


# --------------------------------------------------------------------------------------------
# how to get a corpus onto a machine without internet
# --------------------------------------------------------------------------------------------


def default_opus_dir() -> Path:
    """Where OPUS archives are cached: ``$WORDOT_OPUS_DIR``, else ``cache_root() / "opus"``
    (:func:`wordot.paths.cache_root`, ``~/.cache/wordot/opus`` by default)."""
    env = os.environ.get("WORDOT_OPUS_DIR")
    return Path(env).expanduser() if env else paths.cache_root() / "opus"


def how_to_get(lang: str, source: CorpusSource) -> str:
    """Instructions for making ``source`` available on a machine without internet."""
    pair = f"{lang}-en"
    local = (
        f"  - or convert the pairs to a TSV file (src<TAB>en per line, e.g. with "
        f"wordot.data.write_tsv on a networked machine) and use "
        f"wordot.data.read_tsv('{pair}.tsv', '{lang}')."
    )
    if source.script_based:
        return "\n".join(
            [
                f"The hub copy {source.hub_id} ({', '.join(f'{k}={v}' for k, v in source.config_kwargs)})"
                " is a legacy loading script that datasets>=4 no longer runs; wordot reads the "
                "OPUS archive that script downloaded:",
                f"  - on a machine with internet: curl -LO {source.opus_url}",
                f"    and copy it here as <opus_dir>/{source.opus_filename} (opus_dir defaults to "
                f"{default_opus_dir()}, or set WORDOT_OPUS_DIR / pass opus_dir=);",
                local,
            ]
        )
    args = [repr(source.hub_id)] + ([repr(source.config)] if source.config else [])
    args.append(f"split={source.split!r}")
    if source.revision:
        args.append(f"revision={source.revision!r}")
    include = f" --include '{source.config}/*'" if source.config else ""
    files = f"{source.config}/{source.split}-*.parquet" if source.config else "data/train-*.parquet"
    return "\n".join(
        [
            "To get it:",
            f'  - on a machine with internet: python -c "import datasets; '
            f'datasets.load_dataset({", ".join(args)})"',
            "    then copy its Hugging Face cache directory here, point HF_HOME at it and set "
            "HF_HUB_OFFLINE=1;",
            f"  - or: hf download {source.hub_id} --repo-type dataset{include} --local-dir DIR, "
            f"copy DIR here and pass the parquet files: "
            f"wordot.data.load_pairs('{lang}', data_files='DIR/{files}');",
            local,
        ]
    )


# --------------------------------------------------------------------------------------------
# records of the hub schema -> (src, en)
# --------------------------------------------------------------------------------------------


def _records_to_pairs(
    records: Iterable[Mapping[str, Any]], source: CorpusSource
) -> Iterator[tuple[Any, Any]]:
    for rec in records:
        row = rec[source.field] if source.field else rec
        if row is None:
            yield None, None
            continue
        try:
            yield row[source.src_key], row[source.en_key]
        except KeyError as err:
            raise ValueError(
                f"{source.describe()}: record has no {err.args[0]!r} "
                f"(fields: {sorted(row)}); expected {source.src_key!r} and {source.en_key!r}"
            ) from None


def _iter_records(dataset: Any) -> Iterator[Mapping[str, Any]]:
    """Rows of a ``datasets.Dataset`` (fast, in batches), ``IterableDataset`` or list of dicts."""
    if hasattr(dataset, "iter") and hasattr(dataset, "num_rows"):
        for chunk in dataset.iter(batch_size=10_000):
            keys = list(chunk)
            for values in zip(*(chunk[k] for k in keys), strict=True):
                yield dict(zip(keys, values, strict=True))
    else:
        yield from dataset


def _builder_for(path: str) -> str:
    """The ``datasets`` builder that reads ``path``, from its suffix."""
    name = path.lower()
    for suffixes, builder in (
        ((".jsonl", ".json", ".jsonl.gz", ".json.gz"), "json"),
        ((".parquet",), "parquet"),
        ((".csv", ".csv.gz"), "csv"),
        ((".arrow",), "arrow"),
    ):
        if name.endswith(suffixes):
            return builder
    raise ValueError(
        f"cannot tell the format of {path!r} (json/jsonl/parquet/csv/arrow); "
        "for src<TAB>en text use read_tsv"
    )


# --------------------------------------------------------------------------------------------
# the hub, and OPUS for the legacy-script datasets
# --------------------------------------------------------------------------------------------


def _load_dataset(source: CorpusSource, lang: str, **kwargs: Any) -> Any:
    """``datasets.load_dataset`` for a hub source, failing fast when offline and uncached."""
    import datasets  # heavy (pyarrow): imported when a corpus is read

    timeout = kwargs.pop("timeout")
    args = [source.hub_id] + ([source.config] if source.config else [])
    offline_mode_on = hub.hf_offline()
    offline = offline_mode_on or not hub.reachable(hub.hf_endpoint(), timeout)[0]
    reason = "offline mode (HF_HUB_OFFLINE=1)" if offline_mode_on else "the hub is unreachable"
    try:
        with hub.offline_mode() if offline else contextlib.nullcontext():
            return datasets.load_dataset(
                *args, split=source.split, revision=source.revision, **kwargs
            )
    except (ConnectionError, FileNotFoundError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and "script" not in str(err):
            raise
        detail = reason if offline else f"{type(err).__name__}: {err}"
        cache = kwargs.get("cache_dir") or datasets.config.HF_DATASETS_CACHE
        raise DatasetNotAvailableError(
            f"{lang}-en: cannot load {source.describe()}: {detail}, and it is not in the "
            f"local cache ({cache}).\n{how_to_get(lang, source)}"
        ) from err


def _read_opus(
    source: CorpusSource, lang: str, opus_dir: Path, timeout: float
) -> Iterator[tuple[str, str]]:
    """Line-aligned (src, en) pairs streamed from the OPUS Moses zip (downloaded if needed)."""
    path = opus_dir / source.opus_filename
    if source.opus_url is None:
        raise ValueError(f"{source.describe()} has no OPUS archive")
    if not path.exists():
        offline_mode_on = hub.hf_offline()
        if offline_mode_on or not hub.reachable(source.opus_url, timeout)[0]:
            why = "offline mode (HF_HUB_OFFLINE=1)" if offline_mode_on else "OPUS is unreachable"
            raise DatasetNotAvailableError(
                f"{lang}-en: cannot load {source.describe()}: {why}, and {path} does not exist."
                f"\n{how_to_get(lang, source)}"
            )
        log.info("downloading %s to %s", source.opus_url, path)
        with (
            urllib.request.urlopen(source.opus_url, timeout=60) as resp,
            paths.atomic_file(path, "wb") as fh,
        ):
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
    src_name, en_name = source.opus_members
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    missing = [n for n in (src_name, en_name) if n not in names]
    if missing:
        raise ValueError(f"{path}: no {missing} in the archive (it has {sorted(names)})")
    return _zip_lines(path, src_name, en_name)


def _zip_lines(path: Path, src_name: str, en_name: str) -> Iterator[tuple[str, str]]:
    with (
        zipfile.ZipFile(path) as zf,
        io.TextIOWrapper(zf.open(src_name), encoding="utf-8", newline="\n") as fs,
        io.TextIOWrapper(zf.open(en_name), encoding="utf-8", newline="\n") as fe,
    ):
        for lineno, (s, e) in enumerate(zip_longest(fs, fe), start=1):
            if s is None or e is None:
                short = src_name if s is None else en_name
                raise ValueError(
                    f"{path}: {short} ends at line {lineno - 1} but the other file goes on; "
                    "the archive is not line-aligned"
                )
            yield s.rstrip("\n"), e.rstrip("\n")


# --------------------------------------------------------------------------------------------
# one language, several languages
# --------------------------------------------------------------------------------------------


def _local_stream(
    source: CorpusSource,
    data_files: str | Path | Sequence[str | Path] | None,
    dataset: Any,
    streaming: bool,
    kwargs: dict[str, Any],
) -> tuple[Iterable[tuple[Any, Any]], str]:
    """``(pairs, label)`` of local files or a dataset object with ``source``'s record schema."""
    if dataset is not None:
        return _records_to_pairs(_iter_records(dataset), source), (
            f"{source.corpus} schema, {type(dataset).__name__}"
        )
    import datasets  # heavy (pyarrow): imported when a corpus is read

    files = [data_files] if isinstance(data_files, str | Path) else list(data_files or ())
    files = [str(f) for f in files]
    dataset = datasets.load_dataset(
        _builder_for(files[0]), data_files=files, split="train", streaming=streaming, **kwargs
    )
    label = f"{source.corpus} schema, local files {', '.join(files)}"
    return _records_to_pairs(_iter_records(dataset), source), label


def _source_stream(
    source: CorpusSource,
    lang: str,
    opus_dir: str | Path | None,
    streaming: bool,
    timeout: float,
    kwargs: dict[str, Any],
) -> tuple[Iterable[tuple[Any, Any]], str]:
    """``(pairs, label)`` of one source of Table 6, from OPUS or the hub."""
    if source.script_based:
        where = Path(opus_dir) if opus_dir else default_opus_dir()
        return _read_opus(source, lang, where, timeout), f"{source.corpus} (OPUS {source.opus_url})"
    ds = _load_dataset(source, lang, streaming=streaming, timeout=timeout, **kwargs)
    return _records_to_pairs(_iter_records(ds), source), source.describe()


def load_pairs(
    lang: str,
    *,
    data_files: str | Path | Sequence[str | Path] | None = None,
    dataset: Any = None,
    sources: Sequence[CorpusSource] | None = None,
    sample: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    streaming: bool = False,
    cache_dir: str | Path | None = None,
    opus_dir: str | Path | None = None,
    timeout: float = 3.0,
) -> ParallelCorpus:
    """All ``lang``-English pairs of the paper's corpus (Table 6) as a :class:`ParallelCorpus`.

    By default each source of ``PAPER_CORPORA[lang]`` is read with ``datasets.load_dataset``
    (hub id, config, split, revision), or from its OPUS archive for legacy-script datasets; the
    pairs of several sources are concatenated. Overrides, mapped with the same record schema:

    * ``data_files``: local JSON/JSONL/parquet/CSV file(s) with the hub schema, read with
      ``datasets.load_dataset(<format>, data_files=...)``;
    * ``dataset``: a ``datasets.Dataset``/``IterableDataset`` or a list of records;
    * ``sources``: other :class:`CorpusSource` entries (e.g. another ``revision``).

    Pairs with an empty side are dropped (counted in ``dropped``). ``sample=N`` keeps a uniform
    random sample of N pairs (seeded reservoir sampling: the corpus is read once and only N
    pairs are held in memory; OpenSubtitles en-tr alone has tens of millions). ``limit`` keeps
    only the first rows of each source (with ``streaming=True`` only those are downloaded;
    they are in chronological order, so prefer ``sample`` for real runs). If the hub (checked
    with a ``timeout``-second connection) or OPUS cannot be reached and nothing is cached,
    raises :class:`DatasetNotAvailableError` at once, with instructions.
    """
    spec = language_spec(lang)
    srcs = tuple(sources) if sources is not None else spec.sources
    if not srcs:
        raise ValueError(f"{lang}: no sources given")
    if data_files is not None and dataset is not None:
        raise ValueError("pass data_files or dataset, not both")
    kwargs: dict[str, Any] = {}
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    if data_files is not None or dataset is not None:
        read = [_local_stream(srcs[0], data_files, dataset, streaming, kwargs)]
    else:
        read = [_source_stream(s, lang, opus_dir, streaming, timeout, kwargs) for s in srcs]
    streams = [stream for stream, _ in read]
    if limit is not None:
        streams = [islice(st, limit) for st in streams]
    label = " + ".join(label for _, label in read)
    return corpus_from_pairs(lang, chain.from_iterable(streams), label, sample, seed)


def _known_languages(origin: str | Path) -> tuple[str, ...]:
    """The languages ``origin`` (see :func:`load_corpora`) has."""
    known = {"hub": tuple(PAPER_CORPORA), "smoke": SMOKE_LANGUAGES, "offline": OFFLINE}
    if isinstance(origin, str) and origin in known:
        return known[origin]
    if not Path(origin).is_dir():
        raise FileNotFoundError(
            f"unknown corpus origin {str(origin)!r}: expected 'hub', 'smoke', 'offline' or a "
            "directory of {lang}-en.tsv files (no such directory)"
        )
    return tuple(sorted(p.name.removesuffix("-en.tsv") for p in Path(origin).glob("*-en.tsv")))


def load_corpora(
    languages: Iterable[str], origin: str | Path = "hub", **kwargs: Any
) -> dict[str, ParallelCorpus]:
    """``{lang: corpus}`` from ``origin``: ``"hub"`` (:func:`load_pairs`, ``kwargs`` passed on),
    ``"smoke"`` (:func:`~wordot.data.smoke.smoke_corpus`), ``"offline"`` (the ``split``, default
    train, that ``python -m wordot corpora`` builds from Debian and PyPI under ``cache``:
    :func:`wordot.corpora.offline_pairs`) or a directory of ``{lang}-en.tsv`` files
    (:func:`~wordot.data.corpus.read_tsv`, ``kwargs`` passed on). A language ``origin`` does
    not have fails before anything is read, with the ones it has."""
    languages = languages if isinstance(languages, str) else list(languages)
    check_languages(languages, _known_languages(origin), f"{origin} corpus language")
    out = {}
    for lang in languages:
        if origin == "hub":
            out[lang] = load_pairs(lang, **kwargs)
        elif origin == "smoke":
            out[lang] = smoke_corpus(lang)
        elif origin == "offline":
            pairs = offline_corpora.offline_pairs(
                lang, kwargs.get("split", "train"), cache=kwargs.get("cache")
            )
            out[lang] = ParallelCorpus(
                lang, [s for s, _ in pairs], [e for _, e in pairs], source="offline corpora"
            )
        else:
            out[lang] = read_tsv(Path(origin) / f"{lang}-en.tsv", lang, **kwargs)
    return out
