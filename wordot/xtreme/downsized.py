"""The downsized zero-shot protocol: XNLI and XQuAD from the evaluation files alone.

English MultiNLI and SQuAD, XTREME's training sets, are not available offline; the evaluation
files are (:mod:`wordot.datasets`: ``xnli/<lang>/{dev,test}.tsv``, ``xquad/xquad.<lang>.json``,
from ``$WORDOT_DATA``, the cache or a checked download). The downsized protocol trains on
English parts of them and tests zero-shot on parts never trained on, in every language:

* **XNLI**: fine-tune on the English XNLI dev set (2490 items) minus ``dev_items`` held out,
  whole premises at a time (each premise has three hypotheses), to choose the checkpoint (as
  XTREME chooses on English dev); test on the XNLI test set of every language, or on a
  subsample of ``test_items``, the same line numbers in every language and for every encoder.
* **XQuAD**: split the 48 articles, never the questions, into training and ``test_articles``
  held-out ones; fine-tune on the English questions of the training articles; test on the
  held-out articles in English and every other language (SQuAD F1/EM).

Every choice is fixed by :class:`~wordot.xtreme.pipelines.DownsizedSplit` alone (its ``seed``,
not a run's): items are ranked by the sha256 of ``"<seed>:<key>"`` (an article's title, a
question's id, an XNLI line number, a premise), which no library version can change, and the
lowest ranks are taken. ``results.json`` records the split, the sizes and digests of the chosen items.

The pipelines reuse :class:`~wordot.xtreme.pipelines.XNLIPipeline` and
:class:`~wordot.xtreme.pipelines.XQuADPipeline` (inputs, test, scores); only the data differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from .. import datasets as eval_sets
from ..languages import XNLI, XQUAD
from ..paths import read_json
from .data import SQUAD_HUB, XNLI_HUB, hub_features, nli_label_id
from .pipelines import DataRequest, DownsizedSplit, XNLIPipeline, XQuADPipeline
from .presets import TaskPreset
from .tasks import resolve_path

#: ``data`` meaning "wherever :func:`wordot.datasets.path` finds the files"
EVAL_DATA = "eval-data"
#: the XNLI splits on file
XNLI_SPLITS = ("dev", "test")
#: the languages of the XQuAD files (XTREME's 11 and Romanian)
XQUAD_FILES = XQUAD + ("ro",)

_QA_COLUMNS = ("id", "title", "context", "question", "answers")


# ---------------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------------


def data_dir(source: str | Path | None) -> Path | None:
    """The ``data_dir`` of :func:`wordot.datasets.path` for a run's ``data``: None for
    ``None`` or ``"eval-data"`` (its own search), else the directory (laid out like
    ``eval-data``); ``"hub"`` and ``"fixtures"`` are the xtreme protocol's, an error here."""
    if source is None or str(source) == EVAL_DATA:
        return None
    if str(source) in ("hub", "fixtures"):
        raise ValueError(
            f"data={str(source)!r} is for protocol 'xtreme'; the downsized protocol reads the "
            f"evaluation files: data=None or {EVAL_DATA!r} (wordot.datasets: $WORDOT_DATA, the "
            "cache or a download) or a directory laid out like ../shared/eval-data"
        )
    return resolve_path(source)


def xnli_file(lang: str, split: str, data_dir: str | Path | None = None) -> Path:
    """The path of ``xnli/<lang>/<split>.tsv`` (:func:`wordot.datasets.path`)."""
    if lang not in XNLI:
        raise ValueError(f"no XNLI files for {lang!r}; languages: {', '.join(XNLI)}")
    if split not in XNLI_SPLITS:
        raise ValueError(f"XNLI split {split!r} is not one of {XNLI_SPLITS}")
    name = f"{lang}/{split}.tsv"
    return eval_sets.path("xnli", data_dir=data_dir, files=[name]) / name


def xquad_file(lang: str, data_dir: str | Path | None = None) -> Path:
    """The path of ``xquad/xquad.<lang>.json`` (:func:`wordot.datasets.path`)."""
    if lang not in XQUAD_FILES:
        raise ValueError(f"no XQuAD file for {lang!r}; languages: {', '.join(XQUAD_FILES)}")
    name = f"xquad.{lang}.json"
    return eval_sets.path("xquad", data_dir=data_dir, files=[name]) / name


def load_xnli_file(lang: str, split: str, data_dir: str | Path | None = None) -> datasets.Dataset:
    """XNLI ``split`` (``"dev"``, ``"test"``) of ``lang`` from the evaluation files, as
    premise/hypothesis/label with the label ids of :func:`~wordot.xtreme.data.load_nli`
    (a ``ClassLabel``: 0 entailment, 1 neutral, 2 contradiction), in file order."""
    return read_xnli_tsv(xnli_file(lang, split, data_dir))


def read_xnli_tsv(file: str | Path) -> datasets.Dataset:
    """``premise TAB hypothesis TAB label`` lines (no header) as a dataset; a line with another
    number of fields or an unknown label raises a ValueError naming the file and line."""
    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{file}: not UTF-8 ({err})") from err
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ValueError(f"{file} is empty; expected premise TAB hypothesis TAB label lines")
    cols: dict[str, list[Any]] = {"premise": [], "hypothesis": [], "label": []}
    for i, line in enumerate(lines, 1):
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 3:
            raise ValueError(
                f"{file}:{i}: {len(fields)} tab-separated field(s), expected 3 "
                "(premise, hypothesis, label)"
            )
        try:
            label = nli_label_id(fields[2])
        except ValueError:
            raise ValueError(
                f"{file}:{i}: label {fields[2]!r} is not entailment, neutral or contradiction"
            ) from None
        cols["premise"].append(fields[0])
        cols["hypothesis"].append(fields[1])
        cols["label"].append(label)
    return datasets.Dataset.from_dict(cols, features=hub_features(XNLI_HUB))


def load_xquad_file(lang: str, data_dir: str | Path | None = None) -> datasets.Dataset:
    """XQuAD ``lang`` from the evaluation files, one row per question in file order:
    id/title/context/question/answers (``answers = {"text": [...], "answer_start": [...]}``)."""
    return read_squad_json(xquad_file(lang, data_dir))


def read_squad_json(file: str | Path) -> datasets.Dataset:
    """A SQuAD v1.1 JSON file flattened to one row per question; a missing field, a question
    without answers or a repeated id raises a ValueError naming the file and the place."""
    file = Path(file)
    doc = read_json(file, how_to_rebuild="Replace it with the original file.")
    articles = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(articles, list) or not articles:
        raise ValueError(f"{file}: no 'data' list of articles (SQuAD v1.1 JSON expected)")
    cols: dict[str, list[Any]] = {k: [] for k in _QA_COLUMNS}
    for a, article in enumerate(articles):
        title = _field(article, "title", f"{file}: article {a}")
        for p, para in enumerate(_field(article, "paragraphs", f"{file}: article {a}")):
            where = f"{file}: article {a} ({title}), paragraph {p}"
            context = _field(para, "context", where)
            for q, qa in enumerate(_field(para, "qas", where)):
                here = f"{where}, question {q}"
                answers = _field(qa, "answers", here)
                if not answers:
                    raise ValueError(f"{here}: no answers")
                cols["id"].append(str(_field(qa, "id", here)))
                cols["title"].append(title)
                cols["context"].append(context)
                cols["question"].append(_field(qa, "question", here))
                cols["answers"].append(
                    {
                        "text": [_field(x, "text", here) for x in answers],
                        "answer_start": [int(_field(x, "answer_start", here)) for x in answers],
                    }
                )
    seen: set[str] = set()
    for qid in cols["id"]:
        if qid in seen:
            raise ValueError(f"{file}: question id {qid!r} occurs twice")
        seen.add(qid)
    # SQuAD's columns: id, title, context, question, answers
    return datasets.Dataset.from_dict(cols, features=hub_features(SQUAD_HUB))


def _field(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"{where}: no {key!r} field")
    return obj[key]


# ---------------------------------------------------------------------------------------------
# fixed splits
# ---------------------------------------------------------------------------------------------


def _rank(keys: Iterable[str], seed: int) -> list[int]:
    """Positions of ``keys`` ordered by ``sha256("<seed>:<key>")`` (ties: position)."""
    digests = [hashlib.sha256(f"{seed}:{k}".encode()).hexdigest() for k in keys]
    return sorted(range(len(digests)), key=lambda i: (digests[i], i))


def digest(items: Iterable[str]) -> str:
    """sha256 of the items joined by newlines: names a chosen set in ``results.json``."""
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


def xquad_article_split(
    titles: Sequence[str], test_articles: int = 12, seed: int = 0
) -> tuple[list[str], list[str]]:
    """``(training titles, held-out titles)``, each in order of first appearance in ``titles``
    (one per question is fine: repeats are merged). The ``test_articles`` titles with the
    lowest ``sha256("<seed>:<title>")`` are held out: the same split on every call, whatever the
    order of ``titles``."""
    unique = list(dict.fromkeys(titles))
    if not 1 <= test_articles < len(unique):
        raise ValueError(
            f"test_articles={test_articles}: need 1 .. {len(unique) - 1} of {len(unique)} articles"
        )
    held = {unique[i] for i in _rank(unique, seed)[:test_articles]}
    return [t for t in unique if t not in held], [t for t in unique if t in held]


def item_subsample(
    n: int, items: int | None, seed: int = 0, keys: Sequence[str] | None = None
) -> np.ndarray:
    """Sorted positions of ``items`` of ``n`` items: those with the lowest
    ``sha256("<seed>:<key>")``, the key of item ``i`` being ``keys[i]`` (e.g. a question id)
    or else ``i`` (e.g. a line number); None or ``items >= n``: all."""
    if keys is not None and len(keys) != n:
        raise ValueError(f"{len(keys)} keys for {n} items")
    if items is None or items >= n:
        return np.arange(n)
    if items < 1:
        raise ValueError(f"items={items}: need at least 1")
    ranked = _rank(map(str, range(n)) if keys is None else keys, seed)
    return np.sort(np.asarray(ranked[:items], dtype=np.int64))


def xnli_dev_split(
    premises: Sequence[str], dev_items: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(training indices, held-out indices)`` of an XNLI dev set, held out by whole premises
    (ranked by ``sha256("<seed>:<premise>")``) until at least ``dev_items`` items are held out,
    so no premise is both trained on and used to choose the checkpoint. Both sorted."""
    if not 1 <= dev_items < len(premises):
        raise ValueError(f"dev_items={dev_items}: need 1 .. {len(premises) - 1}")
    groups = list(dict.fromkeys(premises))
    size = {p: 0 for p in groups}
    for p in premises:
        size[p] += 1
    held: set[str] = set()
    count = 0
    for i in _rank(groups, seed):
        if count >= dev_items:
            break
        held.add(groups[i])
        count += size[groups[i]]
    dev = np.asarray([i for i, p in enumerate(premises) if p in held], dtype=np.int64)
    train = np.asarray([i for i, p in enumerate(premises) if p not in held], dtype=np.int64)
    if len(train) == 0:
        raise ValueError(f"dev_items={dev_items} holds out every premise")
    return train, dev


# ---------------------------------------------------------------------------------------------
# parallel test sets
# ---------------------------------------------------------------------------------------------


def xnli_test_sets(
    languages: Sequence[str], data_dir: str | Path | None = None
) -> dict[str, datasets.Dataset]:
    """Every language's XNLI test set, checked to be parallel with English's (the same number
    of lines and the same label on every line); raises a ValueError naming the file."""
    en = load_xnli_file("en", "test", data_dir)
    labels = np.asarray(list(en["label"]))
    out = {}
    for lg in languages:
        ds = en if lg == "en" else load_xnli_file(lg, "test", data_dir)
        if lg != "en":
            file = xnli_file(lg, "test", data_dir)
            if len(ds) != len(en):
                raise ValueError(
                    f"{file} has {len(ds)} items, English {len(en)}: XNLI test files must be "
                    "parallel line by line"
                )
            differ = np.flatnonzero(np.asarray(list(ds["label"])) != labels)
            if len(differ):
                raise ValueError(
                    f"{file}:{differ[0] + 1}: label differs from English ({len(differ)} lines): "
                    "XNLI test files must be parallel line by line"
                )
        out[lg] = ds
    return out


def xquad_test_sets(
    languages: Sequence[str], data_dir: str | Path | None = None
) -> dict[str, datasets.Dataset]:
    """Every language's XQuAD, checked to have English's question ids and titles in English's
    order; raises a ValueError naming the file and the first difference."""
    en = load_xquad_file("en", data_dir)
    out = {}
    for lg in languages:
        ds = en if lg == "en" else load_xquad_file(lg, data_dir)
        for key in ("id", "title"):
            ours, theirs = list(ds[key]), list(en[key])
            if ours != theirs:
                i = next(
                    (k for k, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
                    min(len(ours), len(theirs)),
                )
                got = ours[i] if i < len(ours) else "(end)"
                want = theirs[i] if i < len(theirs) else "(end)"
                raise ValueError(
                    f"{xquad_file(lg, data_dir)}: question {key}s differ from English "
                    f"({len(ours)} vs {len(theirs)} questions; first at question {i}: "
                    f"{got!r} vs {want!r}); XQuAD files must be parallel"
                )
        out[lg] = ds
    return out


# ---------------------------------------------------------------------------------------------
# the pipelines
# ---------------------------------------------------------------------------------------------


def _first(ds: datasets.Dataset, limit: int | None) -> datasets.Dataset:
    return ds.select(range(min(limit, len(ds)))) if limit else ds


class DownsizedXNLIPipeline(XNLIPipeline):
    """English XNLI dev minus a held-out part for training, the held-out part for choosing the
    checkpoint, accuracy on (a fixed subsample of) every language's XNLI test set."""

    def __init__(self, preset: TaskPreset, request: DataRequest):
        self.preset = preset
        self.split = request.split or DownsizedSplit()
        where = data_dir(request.source)
        dev = load_xnli_file("en", "dev", where)
        premises = list(dev["premise"])
        train_idx, dev_idx = xnli_dev_split(premises, self.split.dev_items, self.split.seed)
        self.dev_size = len(dev)
        lines = [str(i) for i in train_idx]  # dev line numbers (0-based)
        train_idx = train_idx[
            item_subsample(len(lines), self.split.train_items, self.split.seed, keys=lines)
        ]
        train_idx = train_idx[: request.train_limit or None]
        self.train, self.train_index = dev.select(train_idx), train_idx
        self.dev = dev.select(dev_idx)
        self.dev_index = dev_idx
        self.dev_premises = len({premises[i] for i in dev_idx})
        tests = xnli_test_sets(request.languages, where)
        self.test_size = len(next(iter(tests.values())))
        self.test_index = item_subsample(self.test_size, self.split.test_items, self.split.seed)
        self.tests = {lg: ds.select(self.test_index) for lg, ds in tests.items()}
        ids = [str(i) for i in self.test_index]
        self.test_ids = {lg: ids for lg in self.tests}

    def selection(self) -> dict[str, str]:
        """Digests of the items chosen for training, the checkpoint and testing (line
        numbers): a finished run is reused only if they are the same."""
        return {
            "train": digest(map(str, self.train_index)),
            "dev": digest(map(str, self.dev_index)),
            "test": digest(next(iter(self.test_ids.values()))),
        }

    def data_record(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ids = next(iter(self.test_ids.values()))
        return {
            "train": {
                "dataset": "xnli",
                "file": "en/dev.tsv",
                "part": "training (dev minus the held-out premises)",
                "examples": len(self.train),
                "of": self.dev_size - len(self.dev),
            },
            "dev": {
                "dataset": "xnli",
                "file": "en/dev.tsv",
                "part": "held out to choose the checkpoint",
                "examples": len(self.dev),
                "premises": self.dev_premises,
                "sha256": digest(map(str, self.dev_index)),
            },
            "test": {
                lg: {"dataset": "xnli", "file": f"{lg}/test.tsv", "examples": len(ds)}
                for lg, ds in self.tests.items()
            },
            "test_items": {"count": len(ids), "of": self.test_size, "sha256": digest(ids)},
        }


class DownsizedXQuADPipeline(XQuADPipeline):
    """English questions of the training articles for training, F1/EM on (a fixed subsample of)
    the held-out articles' questions in every language."""

    def __init__(self, preset: TaskPreset, request: DataRequest):
        self.preset = preset
        self.split = request.split or DownsizedSplit()
        tests = xquad_test_sets(("en", *request.languages), data_dir(request.source))
        en, titles = tests["en"], list(tests["en"]["title"])
        self.train_titles, self.test_titles = xquad_article_split(
            titles, self.split.test_articles, self.split.seed
        )
        train = set(self.train_titles)
        ids = list(en["id"])
        rows = np.asarray([i for i, t in enumerate(titles) if t in train])
        self.train_questions = len(rows)
        keys = [ids[i] for i in rows]
        rows = rows[item_subsample(len(rows), self.split.train_items, self.split.seed, keys=keys)]
        self.train = _first(en.select(rows), request.train_limit)
        self.train_articles = len(set(self.train["title"]))
        held = np.asarray([i for i, t in enumerate(titles) if t not in train])
        self.held_out_questions = len(held)
        keys = [ids[i] for i in held]
        chosen = held[item_subsample(len(held), self.split.test_items, self.split.seed, keys=keys)]
        self.tests = {lg: tests[lg].select(chosen) for lg in request.languages}
        self.test_ids = {lg: list(ds["id"]) for lg, ds in self.tests.items()}

    def selection(self) -> dict[str, str]:
        """Digests of the question ids chosen for training and testing: a finished run is
        reused only if they are the same."""
        return {
            "train": digest(self.train["id"]),
            "test": digest(next(iter(self.test_ids.values()))),
        }

    def data_record(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ids = next(iter(self.test_ids.values()))
        return {
            "train": {
                "dataset": "xquad",
                "file": "xquad.en.json",
                "part": "English questions of the training articles",
                "articles": self.train_articles,
                "examples": len(self.train),
                "of": self.train_questions,
                "windows": self.train_windows,
                "skipped_examples": self.skipped,
                "windowless_examples": self.windowless,
            },
            "test": {
                lg: {
                    "dataset": "xquad",
                    "file": f"xquad.{lg}.json",
                    "examples": len(ds),
                    "windows": metrics[lg]["windows"],
                }
                for lg, ds in self.tests.items()
            },
            "held_out_articles": {
                "count": len(self.test_titles),
                "titles": self.test_titles,
                "sha256": digest(self.test_titles),
                "questions": self.held_out_questions,
            },
            "test_items": {
                "count": len(ids),
                "of": self.held_out_questions,
                "sha256": digest(ids),
            },
        }
