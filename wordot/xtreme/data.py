"""The tasks' data: the hub datasets, a local directory laid out like the hub, or the fixtures.

:func:`load_nli` / :func:`load_qa` read ``facebook/xnli``, ``rajpurkar/squad`` and
``google/xquad`` with ``datasets.load_dataset``. ``data`` says where from:

* ``"hub"``: the hub or its cache. Offline (``HF_HUB_OFFLINE=1``) or with the hub unreachable
  (:func:`wordot.hub.offline_reason`), only the cache is tried, so a missing dataset fails in
  seconds with :class:`~wordot.data.DatasetNotAvailableError` saying how to get it
  (:func:`how_to_get`).
* a directory ``DIR`` laid out like the hub repositories, ``DIR/<repo>/<config>/<split>*``
  (parquet, JSON lines, CSV/TSV), relative to the working directory;
* ``"fixtures"``: the small hand-written copies in ``wordot/assets/xtreme/hub``
  (:data:`FIXTURES`), read through the same code.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from .. import hub
from ..data import DatasetNotAvailableError
from .tasks import ASSETS, resolve_path

#: the hand-written offline copies of the hub datasets (``data="fixtures"``)
FIXTURES = ASSETS / "hub"

#: the hub's label ids (facebook/xnli, nyu-mll/multi_nli): 0 entailment, 1 neutral, 2 contradiction
NLI_LABELS = ("entailment", "neutral", "contradiction")
#: label names -> ids; XNLI-MT's text files (which XTREME reads) say "contradictory"
LABEL_IDS = {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}

XNLI_HUB = "facebook/xnli"  # per-language configs; "en" train = XNLI-MT's multinli.train.en
SQUAD_HUB = "rajpurkar/squad"  # config "plain_text", SQuAD v1.1
XQUAD_HUB = "google/xquad"  # configs "xquad.<lang>", one split: "validation"

_LOCAL_FORMATS = {
    ".parquet": "parquet",
    ".jsonl": "json",
    ".json": "json",
    ".tsv": "csv",
    ".csv": "csv",
}
DataFiles = str | Path | Sequence[str | Path]


def nli_label_id(label: str | int) -> int:
    """The hub's id (0 entailment, 1 neutral, 2 contradiction) of a label name or id.

    >>> nli_label_id("contradictory"), nli_label_id("entailment"), nli_label_id(1)
    (2, 0, 1)
    """
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        if int(label) not in (0, 1, 2):
            raise ValueError(f"NLI label id {label} is not 0, 1 or 2")
        return int(label)
    name = str(label).strip().lower()
    if name not in LABEL_IDS:
        raise ValueError(f"unknown NLI label {label!r}; expected one of {sorted(LABEL_IDS)}")
    return LABEL_IDS[name]


def hub_features(repo: str) -> datasets.Features:
    """The column types of the hub dataset ``repo`` (from its dataset card)."""
    if repo == XNLI_HUB:
        return datasets.Features(
            premise=datasets.Value("string"),
            hypothesis=datasets.Value("string"),
            label=datasets.ClassLabel(names=list(NLI_LABELS)),
        )
    answers = datasets.Sequence(
        {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
    )
    qa = {
        "id": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": answers,
    }
    if repo == SQUAD_HUB:
        qa = {
            "id": qa["id"],
            "title": datasets.Value("string"),
            **{k: qa[k] for k in qa if k != "id"},
        }
    return datasets.Features(qa)


def how_to_get(repo: str, config: str, split: str) -> str:
    """Instructions for making a hub dataset available on a machine without internet."""
    return (
        "To get it:\n"
        f'  - on a machine with internet: python -c "import datasets; '
        f"datasets.load_dataset('{repo}', '{config}', split='{split}')\"\n"
        "    then copy its Hugging Face cache (~/.cache/huggingface, or $HF_HOME) here and set "
        "HF_HUB_OFFLINE=1;\n"
        f"  - or: hf download {repo} --repo-type dataset --include '{config}/*' "
        f"--local-dir DIR/{repo}\n"
        "    copy DIR here and run with task_data=DIR (python -m wordot run ... -p task_data DIR, "
        "or data='DIR' in wordot.xtreme)."
    )


def load_split(
    repo: str,
    config: str,
    split: str,
    data: str | Path = "hub",
    data_files: DataFiles | None = None,
) -> datasets.Dataset:
    """One split of a hub dataset as a ``datasets.Dataset``, from wherever ``data`` says.

    ``data``: ``"hub"`` (the hub or its cache), ``"fixtures"`` (:data:`FIXTURES`) or a directory
    laid out like the hub repositories (``DIR/<repo>/<config>/<split>*.{parquet,jsonl,...}``).
    ``data_files`` (files in any of those formats, e.g. XNLI-MT's ``multinli.train.en.tsv``)
    overrides ``data``. Local files with the hub's columns are cast to the hub's features.
    """
    with _quiet_datasets():
        if data_files is None and str(data) == "hub":
            return _load_hub(repo, config, split)
        if data_files is None:
            root = FIXTURES if str(data) == "fixtures" else resolve_path(data)
            files = _local_files(root, repo, config, split)
        else:
            files = _given_files(repo, data_files)
        return _read_local(repo, files)


def load_nli(
    lang: str,
    split: str,
    data: str | Path = "hub",
    *,
    data_files: DataFiles | None = None,
    limit: int | None = None,
) -> datasets.Dataset:
    """XNLI ``split`` of ``lang`` (``train`` = MultiNLI English) as premise/hypothesis/label.

    Labels become the hub's ids (0 entailment, 1 neutral, 2 contradiction) whatever the source
    says: the hub's integers pass unchanged, names (XNLI-MT's ``contradictory`` included) are
    mapped by :func:`nli_label_id`. Rows without a gold label (-1) are dropped. ``limit``: keep
    the first ``limit`` rows (None or 0 = all).
    """
    with _quiet_datasets():
        ds = load_split(XNLI_HUB, lang, split, data, data_files)
        return _first(_standard_nli(ds, lang, split), limit)


def load_qa(
    task: str,
    lang: str = "en",
    data: str | Path = "hub",
    *,
    data_files: DataFiles | None = None,
    limit: int | None = None,
) -> datasets.Dataset:
    """SQuAD v1.1 train (``task="squad"``) or XQuAD ``lang`` (``task="xquad"``) as
    id/context/question/answers (``answers = {"text": [...], "answer_start": [...]}``).
    ``limit``: keep the first ``limit`` rows (None or 0 = all)."""
    if task == "squad":
        ds = load_split(SQUAD_HUB, "plain_text", "train", data, data_files)
    elif task == "xquad":
        ds = load_split(XQUAD_HUB, f"xquad.{lang}", "validation", data, data_files)
    else:
        raise ValueError(f"load_qa reads 'squad' or 'xquad', not {task!r}")
    missing = {"id", "context", "question", "answers"} - set(ds.column_names)
    if missing:
        raise ValueError(
            f"{task} {lang}: columns {sorted(missing)} missing; found {ds.column_names}"
        )
    return _first(ds.select_columns(["id", "context", "question", "answers"]), limit)


# ---------------------------------------------------------------------------------------------
# reading: the hub, local files
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No ``datasets`` progress bars while reading (small splits print several bars each)."""
    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _load_hub(repo: str, config: str, split: str) -> datasets.Dataset:
    """``datasets.load_dataset`` from the hub or its cache; fails at once when neither works."""
    if datasets.config.HF_HUB_OFFLINE:  # datasets' own switch (read when it was imported)
        reason: str | None = "offline mode is on (HF_HUB_OFFLINE=1)"
    else:
        reason = hub.offline_reason()
    try:
        with hub.offline_mode() if reason else contextlib.nullcontext():
            return datasets.load_dataset(repo, config, split=split)
    except (OSError, ValueError) as err:  # ConnectionError, DatasetNotFoundError, bad config
        detail = reason or f"{type(err).__name__}: {err}"
        raise DatasetNotAvailableError(
            f"dataset {repo} (config {config!r}, split {split!r}) cannot be loaded: {detail}; "
            f"it is not in the local cache ({datasets.config.HF_DATASETS_CACHE}).\n"
            + how_to_get(repo, config, split)
        ) from err


def _local_files(root: Path, repo: str, config: str, split: str) -> list[Path]:
    folder = root / repo / config
    files = sorted(
        p
        for p in folder.glob(f"{split}*")
        if p.suffix in _LOCAL_FORMATS and p.name[len(split) : len(split) + 1] in (".", "-", "_")
    )
    if not files:
        raise DatasetNotAvailableError(
            f"dataset {repo} (config {config!r}, split {split!r}): no file {split}* "
            f"({', '.join(sorted(_LOCAL_FORMATS))}) in {folder}. A local copy is laid out like "
            f"the hub repository, e.g. {folder}/{split}-00000-of-00001.parquet.\n"
            + how_to_get(repo, config, split)
        )
    return files


def _given_files(repo: str, data_files: DataFiles) -> list[Path]:
    items = [data_files] if isinstance(data_files, (str, Path)) else list(data_files)
    files = [resolve_path(f) for f in items]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetNotAvailableError(f"dataset {repo}: data_files not found: {missing}")
    return files


def _read_local(repo: str, files: list[Path]) -> datasets.Dataset:
    """``files`` (one format) as a dataset; plain columns named as the hub's get its types."""
    kinds = {_LOCAL_FORMATS.get(f.suffix) for f in files}
    if len(kinds) != 1 or None in kinds:
        raise ValueError(f"cannot read {files}: use one of {sorted(_LOCAL_FORMATS)}, one kind")
    builder = kinds.pop()
    kwargs: dict[str, Any] = {}
    if builder == "csv" and any(f.suffix == ".tsv" for f in files):
        kwargs.update(delimiter="\t", quoting=csv.QUOTE_NONE)  # like XTREME's csv reader
    ds = datasets.load_dataset(builder, data_files=[str(f) for f in files], split="train", **kwargs)
    hub_types = hub_features(repo)
    if set(ds.column_names) == set(hub_types):  # a ClassLabel keeps its own names
        target = ds.features.copy()  # (load_nli maps them by name)
        for name, feature in hub_types.items():
            if not isinstance(target[name], datasets.ClassLabel):
                target[name] = feature
        ds = ds.cast(target)
    return ds


def _first(ds: datasets.Dataset, limit: int | None) -> datasets.Dataset:
    return ds.select(range(min(limit, len(ds)))) if limit else ds


# ---------------------------------------------------------------------------------------------
# NLI labels: one id set for every source
# ---------------------------------------------------------------------------------------------


def _standard_nli(ds: datasets.Dataset, lang: str, split: str) -> datasets.Dataset:
    if "hypothesis" not in ds.column_names and "hypo" in ds.column_names:  # XNLI-MT text files
        ds = ds.rename_column("hypo", "hypothesis")
    missing = {"premise", "hypothesis", "label"} - set(ds.column_names)
    if missing:
        raise ValueError(
            f"{XNLI_HUB} {lang}/{split}: columns {sorted(missing)} missing; found {ds.column_names}"
        )
    ds = ds.select_columns(["premise", "hypothesis", "label"])
    feature = ds.features["label"]
    if isinstance(feature, datasets.ClassLabel):
        to_ours = [nli_label_id(name) for name in feature.names]
        if to_ours != [0, 1, 2]:
            ds = ds.map(
                lambda b: {"label": [to_ours[y] if y >= 0 else -1 for y in b["label"]]},
                batched=True,
                features=_plain_label(ds),
            )
    else:
        ds = ds.map(
            lambda b: {"label": [_label_or_missing(y) for y in b["label"]]},
            batched=True,
            features=_plain_label(ds),
        )
    ds = ds.filter(lambda b: [y >= 0 for y in b["label"]], batched=True)
    return ds.cast_column("label", datasets.ClassLabel(names=list(NLI_LABELS)))


def _plain_label(ds: datasets.Dataset) -> datasets.Features:
    features = ds.features.copy()
    features["label"] = datasets.Value("int64")
    return features


def _label_or_missing(label: Any) -> int:
    if label is None or (isinstance(label, (int, np.integer)) and int(label) == -1):
        return -1
    if isinstance(label, str) and label.strip() in ("", "-", "-1"):
        return -1
    return nli_label_id(label)
