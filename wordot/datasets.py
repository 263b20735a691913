"""External evaluation sets: a registry of names, files, pinned origins and checksums.

Like d2l's ``DATA_HUB``, every file the project reads from an external benchmark is named here
with the public repository and commit it comes from, its sha256, the licence and the citation.
The project commits none of these files (XL-WA is non-commercial, XQuAD share-alike): it reads
them from a directory, found by :func:`path` in this order

1. ``data_dir`` when the caller passes one (it must hold the files);
2. ``$WORDOT_DATA`` (read at call time; the Makefile variable of the same name sets it to
   ``../shared/eval-data`` when that folder exists);
3. the cache, ``wordot.paths.cache_root() / "datasets"``;
4. a download from the pinned origin when the site is reachable: raw files from
   ``raw.githubusercontent.com/<repo>/<commit>/<path>``, each checked against its sha256 and
   written through a temporary file that is renamed into place, so the cache never holds a
   half-written or unchecked file;
5. else :class:`EvalDataNotAvailableError`, naming the origin URL and the variable.

Every such directory is laid out like ``../shared/eval-data``: a data set lives in its
``subdir`` (``wordalign/awesome_align``, ``xnli``, ...) with the files named as there.

Two files are not plain copies of one origin file, and the registry says how they are made:
the Bicici set is inside a zip archive (``Origin.member``), and XNLI 1.0 test files are
XTREME's label-less test files with the gold label column joined by line number from myXNLI
(``DataFile.labels``; the join reproduces the shared copy byte for byte, checked by sha256).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from . import hub, paths

__all__ = [
    "ENV_VAR",
    "RAW_BASE",
    "Origin",
    "DataFile",
    "Dataset",
    "REGISTRY",
    "EvalDataNotAvailableError",
    "DownloadError",
    "ChecksumError",
    "names",
    "get",
    "cache_dir",
    "path",
    "download",
    "verify",
    "sha256_file",
]

#: the environment variable (and Makefile variable) naming a local copy of the data
ENV_VAR = "WORDOT_DATA"
#: where raw files of a public GitHub repository at a commit are served
RAW_BASE = "https://raw.githubusercontent.com"
#: seconds a download waits for the server before giving up
TIMEOUT = 60.0
_CHUNK = 1 << 16


class EvalDataNotAvailableError(hub.NotAvailableError):
    """An evaluation set is not on this machine and cannot be downloaded now."""


class DownloadError(EvalDataNotAvailableError):
    """A download was tried and failed (HTTP error, connection dropped); nothing was kept."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the registry's: a different or damaged copy."""


@dataclass(frozen=True)
class Origin:
    """A file in a public GitHub repository at a pinned commit (``member``: a file inside the
    zip archive at ``path``)."""

    repo: str
    commit: str
    path: str
    member: str | None = None

    def url(self, base: str = RAW_BASE) -> str:
        """The raw download URL (``base`` replaces raw.githubusercontent.com, e.g. a mirror)."""
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{self.path}"

    @property
    def page(self) -> str:
        """The file's page on GitHub at the pinned commit, for people."""
        return f"https://github.com/{self.repo}/blob/{self.commit}/{self.path}"


@dataclass(frozen=True)
class DataFile:
    """One file of a data set: ``name`` relative to the data set's directory, its sha256, where
    it comes from, and for derived files the origin of a label column joined by line number."""

    name: str
    sha256: str
    origin: Origin
    labels: Origin | None = None


@dataclass(frozen=True)
class Dataset:
    """A registered evaluation set: where its files live locally (``subdir`` of a data root laid
    out like ``../shared/eval-data``), the files, licence and citation."""

    name: str
    subdir: str
    files: tuple[DataFile, ...]
    description: str
    licence: str
    citation: str

    def file(self, name: str) -> DataFile:
        """The registered file ``name``; a ValueError lists a few known names if unknown."""
        for f in self.files:
            if f.name == name:
                return f
        known = ", ".join(f.name for f in self.files[:8])
        more = f" (and {len(self.files) - 8} more)" if len(self.files) > 8 else ""
        raise ValueError(f"data set {self.name!r} has no file {name!r}; it has {known}{more}")

    def select(self, files: Iterable[str] | None = None) -> tuple[DataFile, ...]:
        """The registered files named in ``files`` (all when None)."""
        if files is None:
            return self.files
        if isinstance(files, str):
            raise TypeError(f"files must be a list of names, got the string {files!r}")
        return tuple(self.file(name) for name in files)

    @property
    def repositories(self) -> tuple[str, ...]:
        """``https://github.com/<repo>/tree/<commit>`` of every origin, for messages."""
        origins = [f.origin for f in self.files] + [f.labels for f in self.files if f.labels]
        return tuple(sorted({f"https://github.com/{o.repo}/tree/{o.commit}" for o in origins}))


def _sums(text: str) -> dict[str, str]:
    """``{path relative to the data root: sha256}`` from ``sha256sum`` output."""
    out = {}
    for line in text.splitlines():
        digest, name = line.split("  ", 1)
        out[name] = digest
    return out


def _tatoeba_sums(text: str) -> dict[str, str]:
    """The Tatoeba table as ``{tatoeba/<file>: sha256}``."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        code, own, eng = line.split()
        out[f"tatoeba/tatoeba.{code}-eng.{code}"] = own
        out[f"tatoeba/tatoeba.{code}-eng.eng"] = eng
    return out


#: checksums of every registered file (``sha256sum`` format, and a compact table for Tatoeba's
#: 112 languages: ``code sha256(tatoeba.code-eng.code) sha256(tatoeba.code-eng.eng)``)
_SUMS_DIR = Path(__file__).parent / "assets" / "datasets"
_SHA256 = _sums((_SUMS_DIR / "sha256sums.txt").read_text()) | _tatoeba_sums(
    (_SUMS_DIR / "tatoeba.sha256").read_text()
)

_AWESOME = ("neulab/awesome-align", "5f150d45bbe51e167daf0a84abebaeb07c3323d1")
_XL_WA = ("SapienzaNLP/XL-WA", "f5c9ea26daa4e53e5f3fa133a45e1bede1db816d")
_BICICI = ("bicici/SMTData", "eb81ef33c1d77412eee2b5a0ab8dd97936d23cb0")
_XQUAD = ("google-deepmind/xquad", "7d30520c717524000f0d9d2f9c10a069acd9d285")
_MESH = ("GautamGupta17/MESH", "68f82e29e71a4e425069ff398a61387c24c0f30d")
_MYXNLI = ("akhtet/myXNLI", "397fce4c163213dc132966ee5692b245b80886d3")
_LASER = ("facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821")

_DOU_NEUBIG = (
    "Zi-Yi Dou and Graham Neubig. 2021. Word Alignment by Fine-tuning Embeddings on Parallel "
    "Corpora. EACL (awesome-align, whose examples/ distribute the file)"
)
_AWESOME_LICENCE = "the awesome-align repository is BSD-3-Clause (LICENSE.awesome-align); "


def _file(subdir: str, name: str, origin: Origin, labels: Origin | None = None) -> DataFile:
    return DataFile(name, _SHA256[f"{subdir}/{name}"], origin, labels)


def _awesome(pair: str, description: str, licence: str, citation: str) -> Dataset:
    subdir = "wordalign/awesome_align"
    files = tuple(
        _file(subdir, f"{pair}.{ext}", Origin(*_AWESOME, f"examples/{pair}.{ext}"))
        for ext in ("src-tgt", "gold")
    ) + (_file(subdir, "LICENSE.awesome-align", Origin(*_AWESOME, "LICENSE")),)
    return Dataset(pair, subdir, files, description, _AWESOME_LICENCE + licence, citation)


def _xl_wa(lang: str, language: str) -> Dataset:
    subdir = "wordalign/xl_wa"
    files = tuple(
        _file(subdir, f"{lang}/{split}.tsv", Origin(*_XL_WA, f"data/{lang}/{split}.tsv"))
        for split in ("dev", "test")
    ) + tuple(_file(subdir, n, Origin(*_XL_WA, n)) for n in ("LICENSE.txt", "README.md"))
    return Dataset(
        f"xl-wa-{lang}",
        subdir,
        files,
        f"XL-WA English-{language} gold word alignments: dev.tsv (105 sentences, for choosing "
        "settings) and test.tsv (245); english TAB other TAB links, links 0-indexed "
        "english-other, sure only",
        "CC BY-NC-SA 4.0 (LICENSE.txt)",
        "Federico Martelli et al. 2023. XL-WA: a Gold Evaluation Benchmark for Word Alignment in "
        "14 Language Pairs. CLiC-it 2023",
    )


def _bicici() -> Dataset:
    subdir, archive = "wordalign/bicici_deen", "German-English_WordAlignment.zip"
    names_ = ("test.de", "test.en", "de-en.wa", "de-en.ref.wa", "README")
    files = tuple(
        _file(subdir, n, Origin(*_BICICI, archive, f"German-English_WordAlignment/{n}"))
        for n in names_
    )
    return Dataset(
        "bicici-deen",
        subdir,
        files,
        "100 Europarl German-English sentences, hand-aligned, lower-cased: test.de/test.en and "
        "de-en.wa (Pharaoh german-english, 0-indexed)",
        "none stated; its README: 'can be used for training and testing word alignment systems'",
        "Ergun Biçici. 2011. The Regression Model of Machine Translation. PhD thesis, Koç "
        "University",
    )


def _xquad() -> Dataset:
    langs = "ar de el en es hi ro ru th tr vi zh".split()
    names_ = [f"xquad.{lang}.json" for lang in langs] + ["README.md", "CC-BY-SA4.0.txt"]
    return Dataset(
        "xquad",
        "xquad",
        tuple(_file("xquad", n, Origin(*_XQUAD, n)) for n in names_),
        "XQuAD: 240 SQuAD v1.1 paragraphs, 1190 questions, parallel in 12 languages",
        "CC BY-SA 4.0",
        "Mikel Artetxe, Sebastian Ruder and Dani Yogatama. 2020. On the Cross-lingual "
        "Transferability of Monolingual Representations. ACL",
    )


def _xnli() -> Dataset:
    labels = Origin(*_MYXNLI, "output/my/my.genre.test.tsv")
    files = []
    for lang in "ar bg de el en es fr hi ru sw th tr ur vi zh".split():
        files.append(_file("xnli", f"{lang}/dev.tsv", Origin(*_MESH, f"data/xnli/dev-{lang}.tsv")))
        test = Origin(*_MESH, f"data/xnli/test-{lang}.tsv")
        files.append(_file("xnli", f"{lang}/test.tsv", test, labels))
    return Dataset(
        "xnli",
        "xnli",
        tuple(files),
        "XNLI 1.0 dev (2490) and test (5010) per language, premise TAB hypothesis TAB label, "
        "parallel line by line (XTREME's files; test labels joined from myXNLI by line number)",
        "CC BY-NC 4.0",
        "Alexis Conneau et al. 2018. XNLI: Evaluating Cross-lingual Sentence Representations. "
        "EMNLP; files as processed by XTREME (Junjie Hu et al. 2020, ICML)",
    )


def _tatoeba() -> Dataset:
    names_ = sorted(k.split("/", 1)[1] for k in _SHA256 if k.startswith("tatoeba/"))
    return Dataset(
        "tatoeba",
        "tatoeba",
        tuple(_file("tatoeba", n, Origin(*_LASER, f"data/tatoeba/v1/{n}")) for n in names_),
        "Tatoeba retrieval test set of LASER/XTREME: up to 1000 sentence pairs with English for each "
        "of 112 languages, tatoeba.xxx-eng.{xxx,eng} (ISO 639-3 codes)",
        "Tatoeba terms of use: CC BY 2.0 FR",
        "Mikel Artetxe and Holger Schwenk. 2019. Massively Multilingual Sentence Embeddings for "
        "Zero-Shot Cross-Lingual Transfer and Beyond. TACL",
    )


def _registry() -> dict[str, Dataset]:
    sets = [
        _awesome(
            "enfr",
            "English-French Hansards gold alignments (447 sentences), English ||| French, "
            "1-indexed, sure i-j and possible ipj",
            "the gold set is as distributed for the NAACL 2003 shared task (no licence stated)",
            "Franz Josef Och and Hermann Ney. 2000. Improved Statistical Alignment Models. ACL; "
            + _DOU_NEUBIG,
        ),
        _awesome(
            "roen",
            "Romanian-English gold alignments (248 sentences), Romanian ||| English, 1-indexed, "
            "sure only",
            "the gold set is as distributed for the NAACL 2003 shared task (no licence stated)",
            "Rada Mihalcea and Ted Pedersen. 2003. An Evaluation Exercise for Word Alignment. "
            "HLT-NAACL 2003 Workshop on Building and Using Parallel Texts; " + _DOU_NEUBIG,
        ),
        _awesome(
            "zhen",
            "Chinese-English gold alignments (450 sentences, TsinghuaAligner), Chinese ||| "
            "English, 1-indexed, possible links marked p",
            "the TsinghuaAligner gold set states no licence",
            "Yang Liu and Maosong Sun. 2015. Contrastive Unsupervised Word Alignment with "
            "Non-Local Features. AAAI; " + _DOU_NEUBIG,
        ),
        _awesome(
            "jaen",
            "Japanese-English gold alignments (582 sentences, KFTT), Japanese ||| English, "
            "1-indexed, sure only",
            "KFTT: CC BY-SA 3.0",
            "Graham Neubig. 2011. The Kyoto Free Translation Task, http://www.phontron.com/kftt; "
            + _DOU_NEUBIG,
        ),
        _xl_wa("bg", "Bulgarian"),
        _xl_wa("es", "Spanish"),
        _bicici(),
        _xquad(),
        _xnli(),
        _tatoeba(),
    ]
    return {d.name: d for d in sets}


#: every registered evaluation set, by name
REGISTRY: dict[str, Dataset] = _registry()


def names() -> tuple[str, ...]:
    """The registered data set names."""
    return tuple(REGISTRY)


def get(name: str) -> Dataset:
    """The registered data set ``name``; a ValueError names the known ones if unknown."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown evaluation data set {name!r}; registered: {', '.join(REGISTRY)}"
        ) from None


def cache_dir(cache: str | Path | None = None) -> Path:
    """Where downloaded sets are kept: ``cache_root(cache) / "datasets"`` (nothing created)."""
    return paths.cache_root(cache) / "datasets"


def sha256_file(file: str | Path) -> str:
    """The sha256 of a file, hex."""
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, directory: str | Path, files: Iterable[str] | None = None) -> None:
    """Check the sha256 of data set ``name``'s files (all, or ``files``) in ``directory`` (the
    data set's own directory, as :func:`path` returns). Raises :class:`ChecksumError` naming the
    first file that differs, FileNotFoundError for a missing one."""
    ds = get(name)
    for f in ds.select(files):
        file = Path(directory) / f.name
        if not file.is_file():
            raise FileNotFoundError(f"{name}: {file} is missing")
        got = sha256_file(file)
        if got != f.sha256:
            raise ChecksumError(
                f"{name}: {file} has sha256 {got}, expected {f.sha256} (the file at "
                f"{f.origin.page}); it is a different or damaged copy"
            )


def _missing(directory: Path, files: tuple[DataFile, ...]) -> list[str]:
    return [f.name for f in files if not (directory / f.name).is_file()]


def path(
    name: str,
    *,
    data_dir: str | Path | None = None,
    files: Iterable[str] | None = None,
    verify: bool = False,
    cache: str | Path | None = None,
    base_url: str = RAW_BASE,
    progress: bool = True,
) -> Path:
    """The local directory of data set ``name`` holding its files (all, or ``files``).

    Looked for in ``data_dir`` (if given, it must hold them), else ``$WORDOT_DATA``, else the
    cache (:func:`cache_dir`), else downloaded into the cache from ``base_url`` (see the module
    docstring). ``verify`` checks the sha256 of files found locally (downloads are always
    checked). Raises :class:`EvalDataNotAvailableError` (or its :class:`DownloadError`) when the
    files are nowhere and cannot be downloaded, :class:`ChecksumError` for a wrong file.
    """
    ds = get(name)
    wanted = ds.select(files)
    chosen = [f.name for f in wanted]
    if data_dir is not None:
        directory = Path(data_dir).expanduser() / ds.subdir
        missing = _missing(directory, wanted)
        if missing:
            raise EvalDataNotAvailableError(
                f"{name}: data_dir {data_dir} lacks {_listed(missing)} (expected under "
                f"{directory}; data_dir must be laid out like ../shared/eval-data)"
            )
        return _checked(name, directory, chosen, verify)
    note = ""
    env = os.environ.get(ENV_VAR)
    if env:
        directory = Path(env).expanduser() / ds.subdir
        missing = _missing(directory, wanted)
        if not missing:
            return _checked(name, directory, chosen, verify)
        note = f"${ENV_VAR}={env} lacks {_listed(missing)}; "
    directory = cache_dir(cache) / ds.subdir
    missing = _missing(directory, wanted)
    if not missing:
        return _checked(name, directory, chosen, verify)
    ok, why = hub.reachable(base_url)
    if not ok:
        first = ds.file(missing[0])
        raise EvalDataNotAvailableError(
            f"{name}: {_listed(missing)} not found ({note}not in the cache {directory}) and "
            f"{base_url} is unreachable ({why}). Get the files from {first.origin.url(base_url)} "
            f"(repositories: {', '.join(ds.repositories)}) or set {ENV_VAR} (environment or "
            f"Makefile variable) to a directory laid out like ../shared/eval-data."
        )
    download(name, cache_dir(cache), files=missing, base_url=base_url, progress=progress)
    return directory


def _listed(items: list[str], n: int = 4) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _checked(name: str, directory: Path, files: list[str], check: bool) -> Path:
    if check:
        verify(name, directory, files)
    return directory


def download(
    name: str,
    root: str | Path,
    *,
    files: Iterable[str] | None = None,
    base_url: str = RAW_BASE,
    progress: bool = True,
) -> Path:
    """Download data set ``name``'s files (all, or ``files``) into ``root / subdir``.

    Each file is fetched from its pinned origin under ``base_url``, built (zip member, joined
    label column), checked against its sha256 and only then written, through a temporary file
    renamed into place: on any error nothing of that file is left. Returns the data set's
    directory. Raises :class:`DownloadError` or :class:`ChecksumError`.
    """
    ds = get(name)
    directory = Path(root) / ds.subdir
    fetched: dict[str, bytes] = {}  # one download per URL (XNLI's label file serves 15 files)

    def fetch(origin: Origin) -> bytes:
        url = origin.url(base_url)
        if url not in fetched:
            fetched[url] = _fetch(url, progress, desc=f"{name}: {Path(origin.path).name}")
        return fetched[url]

    for f in ds.select(files):
        data = fetch(f.origin)
        if f.origin.member is not None:
            data = _member(data, f.origin.member, f.origin.url(base_url))
        if f.labels is not None:
            data = join_labels(data, fetch(f.labels), f.labels.url(base_url))
        got = hashlib.sha256(data).hexdigest()
        if got != f.sha256:
            raise ChecksumError(
                f"{name}: {f.name} downloaded from {f.origin.url(base_url)} has sha256 {got}, "
                f"expected {f.sha256}; nothing was written"
            )
        with paths.atomic_file(directory / f.name, "wb") as fh:
            fh.write(data)
    return directory


def _fetch(url: str, progress: bool, desc: str) -> bytes:
    """The body of ``url``, with a progress bar; a short or failed read raises DownloadError."""
    buf = bytearray()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length is not None else None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, leave=False
            ) as bar:
                while chunk := resp.read(_CHUNK):
                    buf += chunk
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise DownloadError(
            f"download of {url} failed after {len(buf)} bytes: {type(err).__name__}: {err}. "
            f"Nothing was kept; retry, or set {ENV_VAR} to a local copy."
        ) from err
    if total is not None and len(buf) != total:
        raise DownloadError(
            f"download of {url} stopped after {len(buf)} of {total} bytes; nothing was kept"
        )
    return bytes(buf)


def _member(archive: bytes, member: str, url: str) -> bytes:
    """File ``member`` of the zip archive ``archive`` (downloaded from ``url``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            return z.read(member)
    except (zipfile.BadZipFile, KeyError) as err:
        raise DownloadError(f"{url}: cannot read {member} from the archive: {err}") from err


def join_labels(text: bytes, labels: bytes, labels_url: str = "the label file") -> bytes:
    """XNLI test with labels: line ``i`` of ``text`` + TAB + the ``label`` column of row ``i``
    of the TSV ``labels`` (a header row naming the columns). Both must have the same number of
    rows; the result is UTF-8 with LF line ends."""
    rows = text.decode("utf-8").split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    table = [line for line in labels.decode("utf-8").split("\n") if line]
    if not table:
        raise ValueError(f"{labels_url} is empty")
    header = table[0].split("\t")
    if "label" not in header:
        raise ValueError(f"{labels_url} has no 'label' column (columns: {header})")
    col = header.index("label")
    values = [line.split("\t")[col] for line in table[1:]]
    if len(values) != len(rows):
        raise ValueError(f"{labels_url} has {len(values)} labels for {len(rows)} lines")
    return "".join(f"{row}\t{value}\n" for row, value in zip(rows, values, strict=True)).encode(
        "utf-8"
    )
