"""All evaluations of one model in one flat record, and comparing records over seeds.

:func:`evaluate_all` runs word alignment (:mod:`~wordot.evaluation.links`), retrieval
(:mod:`~wordot.evaluation.retrieval`) and zero-shot classification
(:mod:`~wordot.evaluation.classification`) into one JSON-serialisable record (fractions in
[0, 1]; ``None`` where a metric is undefined). :func:`summarise` gives mean, std and n per metric
over records (e.g. one per seed); :func:`compare` pairs before/after records by seed and says
whether each mean difference is "supported" (:func:`supported`: ``|mean| > 2`` standard errors).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import corpora
from ..align.benchmark import (
    BenchmarkConfig,
    SourceMaps,
    gold_rows,
    layer_name,
    tatoeba_rows,
    unmapped,
)
from ..embed import EmbedConfig
from ..loss import LossConfig
from .classification import zero_shot_classification
from .common import EvalSizes, check_language, sample_pairs
from .features import FeatureCache, make_feature_cache
from .links import alignment_precision
from .retrieval import retrieval

__all__ = ["CORPUS_TASKS", "TASKS", "compare", "evaluate_all", "summarise", "supported"]

#: the evaluations of :func:`evaluate_all`: on held-out pairs of the offline corpora
#: (``align`` against a lexicon, ``retrieval``, ``cls``), and on the standard sets (``gold``
#: word alignments, ``tatoeba`` retrieval; :mod:`wordot.align.benchmark`)
TASKS: tuple[str, ...] = ("align", "retrieval", "cls", "gold", "tatoeba")
#: what :func:`evaluate_all` runs unless told: the evaluations on the offline corpora
CORPUS_TASKS: tuple[str, ...] = ("align", "retrieval", "cls")


@dataclass(frozen=True)
class _Setup:
    """What every part of one :func:`evaluate_all` call reads."""

    model: Any
    tokenizer: Any
    plan: LossConfig
    embed: EmbedConfig
    sizes: EvalSizes
    seed: int
    prefix: str
    feature_cache: FeatureCache | None
    corpora_dir: str | Path | None
    progress: bool
    benchmarks: BenchmarkConfig
    data_dir: str | Path | None
    source_maps: SourceMaps | None = None

    def text_options(self) -> dict[str, Any]:
        """Keyword arguments of retrieval and classification: how texts become features."""
        return {
            "prefix": self.prefix,
            "feature_cache": self.feature_cache,
            "progress": self.progress,
        }

    def standard_options(self) -> dict[str, Any]:
        """Keyword arguments of the standard sets' rows (feature maps on the source side)."""
        return {
            "data_dir": self.data_dir,
            "progress": self.progress,
            "source_maps": self.source_maps,
        }


def _retrieval_part(s: _Setup, pool: list[tuple[str, str]], lang: str) -> dict[str, Any]:
    r = retrieval(
        s.model,
        s.tokenizer,
        pool,
        lang,
        max_length=s.embed.max_length,
        batch_size=s.sizes.batch_size,
        **s.text_options(),
    )
    return {f"retrieval/{lang}/{k}": v for k, v in r.items()}


def _align_part(s: _Setup, pool: list[tuple[str, str]], lang: str, lexicon) -> dict[str, Any]:
    n = s.sizes.align_pairs
    a = alignment_precision(
        s.model,
        s.tokenizer,
        pool[:n] if n is not None else pool,
        lang,
        s.plan,
        s.embed,
        lexicon=lexicon,
        batch_size=s.sizes.batch_size,
        progress=s.progress,
    )
    return {f"align/{lang}/{k}": v for k, v in a.items()}


def layer_key(layer: int) -> str:
    """How a record key names a layer: ``"8"``, or ``"last"`` for -1."""
    return "last" if layer == -1 else str(layer)


def _standard_part(s: _Setup, task: str) -> tuple[dict[str, Any], list[str]]:
    """``gold/<set>/<metric>@<layer>`` or ``tatoeba/<lang>/<metric>@<layer>`` entries (and
    ``.../n``, the sentence pairs behind them) of the standard sets, and the ``"<language>
    <layer>"`` its rows read without a feature map although ``source_maps`` were given."""
    if task == "gold":
        if not s.benchmarks.gold_sets:
            return {}, []
        rows = gold_rows(s.model, s.tokenizer, s.benchmarks, **s.standard_options())
        cfg_layers = s.benchmarks.align_layers
    else:
        if not s.benchmarks.tatoeba_languages:
            return {}, []
        rows = tatoeba_rows(s.model, s.tokenizer, s.benchmarks, **s.standard_options())
        cfg_layers = s.benchmarks.tatoeba_layers
    names = {layer_name(x): layer_key(x) for x in cfg_layers}
    out: dict[str, Any] = {}
    for r in rows:
        where = r["set"] if task == "gold" else r["language"]
        out[f"{task}/{where}/{r['metric']}@{names[r['layer']]}"] = r["value"]
        out[f"{task}/{where}/n"] = r["n"]
    if s.source_maps is None:
        return out, []
    missing = unmapped(pd.DataFrame(rows, columns=["language", "layer"]), s.source_maps)
    return out, [f"{lang} {layer}" for lang, layer in missing]


def _has_sections(lang: str, corpora_dir: str | Path | None) -> bool:
    try:
        corpora.load_sections(lang, "test", cache=corpora_dir)
    except corpora.CorpusError:
        return False
    return True


def _cls_part(s: _Setup, langs: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Classification entries ``cls/<lang>/<metric>`` and the languages skipped (no data)."""
    cls_langs = [x for x in langs if _has_sections(x, s.corpora_dir)]
    skipped = [f"cls/{x}: no translated descriptions" for x in langs if x not in cls_langs]
    if not cls_langs:
        return {}, skipped
    c = zero_shot_classification(
        s.model,
        s.tokenizer,
        cls_langs,
        sizes=s.sizes,
        seed=s.seed,
        corpora_dir=s.corpora_dir,
        **s.text_options(),
    )
    out: dict[str, Any] = {}
    for k, v in c.items():
        if "/" in k:
            metric, lang = k.split("/")
            out[f"cls/{lang}/{metric}"] = v
        else:
            out[f"cls/{k}"] = v
    return out, skipped


def _checked_request(langs: Sequence[str], tasks: Sequence[str]) -> list[str]:
    if not langs:
        raise ValueError("no language given")
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f"unknown or no tasks {unknown or list(tasks)}; choose from {TASKS}")
    langs = list(dict.fromkeys(langs))
    for lang in langs:
        check_language(lang)
    return langs


def evaluate_all(
    model,
    tokenizer,
    langs: Sequence[str],
    *,
    plan: LossConfig,
    embed: EmbedConfig = EmbedConfig(),
    sizes: EvalSizes = EvalSizes(),
    seed: int = 0,
    prefix: str = "",
    tasks: Sequence[str] = CORPUS_TASKS,
    feature_cache: str | Path | FeatureCache | None = None,
    corpora_dir: str | Path | None = None,
    benchmarks: BenchmarkConfig = BenchmarkConfig(),
    data_dir: str | Path | None = None,
    progress: bool = True,
    source_maps: SourceMaps | None = None,
) -> dict[str, Any]:
    """The evaluations ``tasks`` of one model (default: the three on the offline corpora) in one
    flat, JSON-serialisable record.

    Keys are ``<task>/<lang>/<metric>`` (and ``<task>/avg/<metric>``, the mean over the
    languages that have the metric): ``align/de/precision``, ``align/de/precision_mutual``,
    ``align/de/coverage``, ``align/de/scored``, ``retrieval/de/p1_xx_en``,
    ``retrieval/de/p1_en_xx``, ``retrieval/de/random``, ``retrieval/de/ngram_xx_en``,
    ``cls/en/acc``, ``cls/de/acc``, ``cls/de/gap``, ...; ``time/<task>`` in seconds; ``seed``
    and the settings. Values are fractions in [0, 1], counts, or None (undefined).

    Held-out data: :func:`wordot.corpora.offline_pairs` ``(lang, "test")`` of ``corpora_dir``
    (default: the corpora cache), deduplicated and shuffled by ``seed``
    (:func:`~wordot.evaluation.sample_pairs`); the first ``sizes.retrieval_pairs`` form the
    retrieval pool and the first ``sizes.align_pairs`` of them are aligned. Languages without a
    FreeDict lexicon (zh, ...) get no alignment and languages without translated descriptions
    no classification; both are listed under ``skipped``. Give before and after fine-tuning the
    same ``seed`` to compare them on the same items (:func:`compare` pairs records by seed).

    ``plan`` (cost, eps, reach, tol) and ``embed`` (pooling, layer, max_length) are those of
    the training profile, for the plans; retrieval cuts sentences at ``embed.max_length``.
    ``prefix`` goes before sentences and descriptions (e5: ``"query: "``; default none, as in
    training). Classification: see :func:`~wordot.evaluation.zero_shot_classification`.
    ``feature_cache``: a directory (or :class:`~wordot.evaluation.features.FeatureCache`) for
    sentence features of retrieval and classification.

    The standard sets (tasks ``gold`` and ``tatoeba``) are measured as ``benchmarks`` says
    (:class:`~wordot.align.benchmark.BenchmarkConfig`: sets, split, method, layers, Tatoeba
    languages), from ``data_dir`` (default: :func:`wordot.datasets.path` finds them): keys
    ``gold/<set>/<metric>@<layer>`` (``aer``, ``precision``, ``recall``; layer ``8`` or
    ``last``) and ``tatoeba/<lang>/<metric>@<layer>`` (``xx_to_en``, ``en_to_xx``), with
    ``.../n`` the sentence pairs behind them, and ``gold_split``; ``langs`` do not apply to
    them. ``source_maps`` (``{language: {layer: feature map}}``, :mod:`wordot.neighbours`) are
    applied to the source side of the standard sets only; the record then lists under
    ``unmapped`` the ``"<language> <layer>"`` read without a map.

    Defaults are sized for time: with multilingual-e5-small on one CPU thread, one record for
    de fr es ru zh takes about 3 CPU-minutes (classification ~45%, retrieval ~30%, alignment
    ~20%, loading data and Moses the rest), 4-6 minutes of wall time on the two cores it was
    measured on while other jobs shared them. The retrieval pool is 300 pairs, not Tatoeba's
    1000, and e5 is near the ceiling on it (P@1 0.92-1.0). A ``feature_cache`` halves the cost
    of a repeated record of the same weights (alignment is not cached).
    """
    langs = _checked_request(langs, tasks)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    fc = make_feature_cache(model, feature_cache)
    s = _Setup(
        model,
        tokenizer,
        plan,
        embed,
        sizes,
        seed,
        prefix,
        fc,
        corpora_dir,
        progress,
        benchmarks,
        data_dir,
        source_maps,
    )
    rec: dict[str, Any] = {
        "seed": seed,
        "eps": plan.eps,
        "cost": plan.cost,
        "reach": plan.reach,
        "pooling": embed.pooling,
        "layer": embed.layer,
        "prefix": prefix,
        "langs": " ".join(langs),
        "tasks": " ".join(t for t in TASKS if t in tasks),
    }
    skipped: list[str] = []
    t_align = t_retr = 0.0
    for lang in langs if {"align", "retrieval"} & set(tasks) else []:
        test = corpora.offline_pairs(lang, "test", cache=corpora_dir)
        pool = sample_pairs(test, sizes.retrieval_pairs, seed, lang)
        t0 = time.perf_counter()
        if "retrieval" in tasks:
            rec.update(_retrieval_part(s, pool, lang))
        t_retr += time.perf_counter() - t0
        if "align" not in tasks:
            continue
        try:
            lexicon = corpora.load_lexicon(lang, cache=corpora_dir)
        except corpora.CorpusError:
            skipped.append(f"align/{lang}: no lexicon")
            continue
        t0 = time.perf_counter()
        rec.update(_align_part(s, pool, lang, lexicon))
        t_align += time.perf_counter() - t0
    t0 = time.perf_counter()
    if "cls" in tasks:
        cls, cls_skipped = _cls_part(s, langs)
        rec.update(cls)
        skipped += cls_skipped
    t_cls = time.perf_counter() - t0
    standard_times, not_mapped = {}, []
    for task in ("gold", "tatoeba"):
        if task in tasks:
            t0 = time.perf_counter()
            part, missing = _standard_part(s, task)
            rec.update(part)
            not_mapped += missing
            standard_times[f"time/{task}"] = time.perf_counter() - t0
    if source_maps is not None:  # the rows read without a map (a language with no pairs)
        rec["unmapped"] = sorted(set(not_mapped))
    if "gold" in tasks:
        rec["gold_split"] = benchmarks.split
    _add_averages(rec)
    rec["skipped"] = skipped
    rec.update(
        {
            "time/retrieval": t_retr,
            "time/align": t_align,
            "time/cls": t_cls,
            **standard_times,
            "time/total": time.perf_counter() - t_start,
            "time/cpu": time.process_time() - cpu_start,
        }
    )
    return rec


_AVERAGED = {
    "align": ("precision", "precision_mutual", "coverage"),
    "retrieval": ("p1_xx_en", "p1_en_xx", "ngram_xx_en", "ngram_en_xx"),
    "cls": ("acc", "gap"),
}


def _add_averages(rec: dict[str, Any]) -> None:
    """``<task>/avg/<metric>``: unweighted mean over the non-English languages (``gold``: the
    sets) that have the metric."""
    metrics = dict(_AVERAGED)
    for task in ("gold", "tatoeba"):  # every metric@layer measured
        metrics[task] = tuple(
            dict.fromkeys(k.split("/")[-1] for k in rec if k.startswith(task + "/") and "@" in k)
        )
    for task, names in metrics.items():
        for metric in names:
            vals = [
                v
                for key, v in rec.items()
                if (parts := key.split("/"))[0] == task
                and parts[-1] == metric
                and parts[1] not in ("en", "avg")
                and v is not None
            ]
            if vals:
                rec[f"{task}/avg/{metric}"] = sum(vals) / len(vals)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """Per numeric metric over ``records`` (e.g. one per seed): ``mean``, ``std`` (sample
    standard deviation, n - 1; None for n < 2) and ``n`` (records where it is defined).
    ``seed`` and non-numeric values are skipped."""
    if not records:
        raise ValueError("no records to summarise")
    keys = list(dict.fromkeys(k for r in records for k in r))
    out: dict[str, dict[str, float | int | None]] = {}
    for k in keys:
        if k == "seed":
            continue
        vals = [float(r[k]) for r in records if _is_number(r.get(k))]
        if not vals:
            continue
        n = len(vals)
        mean = sum(vals) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
        out[k] = {"mean": mean, "std": std, "n": n}
    return out


def supported(differences: Sequence[float], k: float = 2.0) -> dict[str, float | int | bool | None]:
    """Is a mean paired difference supported by its spread? ``mean``, ``se`` (standard error:
    sample std / sqrt(n)), ``n`` and ``supported`` = ``|mean| > k * se`` with n >= 2 (with
    n = 1 there is no spread to judge by, so never; nor for a mean below rounding noise, 1e-9
    relative). A rough rule (about a 95% interval for a normal mean), not a test corrected for
    the number of metrics compared."""
    d = [float(x) for x in differences]
    n = len(d)
    if n == 0:
        raise ValueError("no differences given")
    mean = sum(d) / n
    if n < 2:
        return {"mean": mean, "se": None, "n": n, "supported": False}
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
    # a metric that cannot change (se = 0) is not supported by rounding noise in its mean
    real = abs(mean) > 1e-9 * max(1.0, max(abs(x) for x in d))
    return {"mean": mean, "se": se, "n": n, "supported": real and abs(mean) > k * se}


#: record keys that are settings, counts or timings, not metrics to compare
_NOT_METRICS = re.compile(
    r"^(seed|eps|reach|layer|time/.*"  # settings, timings
    r"|.*/(n|pairs|scored|correct|links|identical|train_n|weight_decay)(_mutual)?"  # counts
    r"|.*/(random|majority|ngram_xx_en|ngram_en_xx))$"  # model-free baselines
)


def _is_metric(key: str) -> bool:
    return _NOT_METRICS.match(key) is None


def compare(
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    keys: Sequence[str] | None = None,
    k: float = 2.0,
) -> dict[str, dict[str, float | int | bool | None]]:
    """Paired after - before differences per metric, records matched by their ``seed``;
    :func:`supported` on each. ``keys`` default: every numeric metric both sides have, except
    ``time/*``, counts and settings."""
    if not before or not after:
        raise ValueError("both before and after need at least one record")
    b_by = {r.get("seed"): r for r in before}
    a_by = {r.get("seed"): r for r in after}
    if len(b_by) != len(before) or len(a_by) != len(after):
        raise ValueError("records on one side share a seed; pair them by distinct seeds")
    seeds = [s for s in a_by if s in b_by]
    if not seeds:
        raise ValueError(f"no common seed: before {sorted(b_by)} vs after {sorted(a_by)}")
    if keys is None:
        keys = [k for k in dict.fromkeys(k for s in seeds for k in a_by[s]) if _is_metric(k)]
    out = {}
    for key in keys:
        d = [
            float(a_by[s][key]) - float(b_by[s][key])
            for s in seeds
            if _is_number(a_by[s].get(key)) and _is_number(b_by[s].get(key))
        ]
        if d:
            out[key] = supported(d, k)
    return out
