"""Zero-shot cross-lingual transfer with XTREME's settings: XNLI and XQuAD (chapters 10-11).

The paper evaluates every encoder the same way (Section 5.3, Appendix B): put a fresh task head
on it, fine-tune on **English** training data only, and test on every language of XNLI
(accuracy, 15 languages) and XQuAD (SQuAD v1.1 F1/EM, 11 languages) with the settings of the
XTREME scripts (Hu et al. 2020). This package is that pipeline, one module per step, for any
encoder :func:`wordot.models.load_encoder` understands:

* :mod:`~wordot.xtreme.tasks` -- the two tasks, their languages and "seen" languages;
* :mod:`~wordot.xtreme.data` -- the hub datasets, a local copy laid out like the hub, or the
  shipped fixtures (``data="fixtures"``), with one label set for NLI;
* :mod:`~wordot.xtreme.presets` -- XTREME's settings (:data:`PRESETS`, :data:`DEFAULT_PRESET`);
* :mod:`~wordot.xtreme.features` -- NLI pairs and QA's doc-stride windows;
  :mod:`~wordot.xtreme.postprocess` -- the answer-span search;
* :mod:`~wordot.xtreme.heads` -- an encoder with a new task head;
* :mod:`~wordot.xtreme.finetune` -- the fine-tuning loop (``accelerate``) and inference;
* :mod:`~wordot.xtreme.metrics` -- accuracy, the official SQuAD v1.1 metric, language averages;
* :mod:`~wordot.xtreme.pipelines` and :mod:`~wordot.xtreme.runs` -- one run per (task,
  encoder, seed) through one orchestration, ``results.json`` files, grids;
* :mod:`~wordot.xtreme.downsized` -- the ``"downsized"`` protocol: training on English parts
  of the XNLI / XQuAD evaluation files (fixed splits), testing zero-shot on the rest;
* :mod:`~wordot.xtreme.compare` -- two encoders on the same items: paired bootstrap;
* :mod:`~wordot.xtreme.tables`, :mod:`~wordot.xtreme.figures` -- ours beside the paper's
  Table 2; :mod:`~wordot.xtreme.estimate` -- GPU hours; :mod:`~wordot.xtreme.cli` --
  ``python -m wordot.xtreme``.

The names below are loaded from their module when first used, so that ``from wordot.xtreme
import squad_metrics`` costs numpy only, not torch, datasets and accelerate.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, tuple[str, ...]] = {
    "tasks": ("ASSETS", "SEEN", "TASKS", "check_task", "resolve_path", "task_languages"),
    "data": (
        "FIXTURES",
        "LABEL_IDS",
        "NLI_LABELS",
        "SQUAD_HUB",
        "XNLI_HUB",
        "XQUAD_HUB",
        "DatasetNotAvailableError",
        "how_to_get",
        "hub_features",
        "load_nli",
        "load_qa",
        "load_split",
        "nli_label_id",
    ),
    "presets": (
        "DEFAULT_PRESET",
        "MIXED_PRECISION",
        "PRESETS",
        "XTREME_2020_MBERT",
        "TaskPreset",
        "get_preset",
        "preset_table",
    ),
    "metrics": (
        "accuracy",
        "language_averages",
        "normalize_answer",
        "squad_em",
        "squad_f1",
        "squad_metrics",
        "squad_scores",
    ),
    "features": ("QAFeatures", "encode_nli", "prepare_qa", "set_lowercase", "wants_token_types"),
    "postprocess": ("postprocess_qa",),
    "heads": ("check_encoders", "float32_head", "load_task_model"),
    "finetune": (
        "PAD_LOGIT",
        "ArrayDataset",
        "LengthGroupedBatches",
        "FineTuneSummary",
        "accumulation_steps",
        "collate_arrays",
        "fine_tune",
        "item_lengths",
        "make_accelerator",
        "nli_collator",
        "predict_nli",
        "qa_logits",
        "run_autocast",
        "run_precision",
    ),
    "pipelines": (
        "PROTOCOLS",
        "DataRequest",
        "DownsizedSplit",
        "Inference",
        "TrainInputs",
        "XNLIPipeline",
        "XQuADPipeline",
        "write_item_scores",
    ),
    "downsized": (
        "EVAL_DATA",
        "XQUAD_FILES",
        "DownsizedXNLIPipeline",
        "DownsizedXQuADPipeline",
        "item_subsample",
        "load_xnli_file",
        "load_xquad_file",
        "read_squad_json",
        "read_xnli_tsv",
        "xnli_dev_split",
        "xnli_test_sets",
        "xquad_article_split",
        "xquad_test_sets",
    ),
    "compare": ("item_scores", "paired_bootstrap", "paired_differences"),
    "runs": (
        "PIPELINES",
        "RESULTS_FILE",
        "load_results",
        "run_grid",
        "run_task",
        "run_xnli",
        "run_xquad",
        "task_run_dir",
        "versions",
    ),
    "tables": (
        "PAPER_DIR",
        "comparison_table",
        "encoder_name",
        "paper_averages",
        "paper_table",
        "results_table",
    ),
    "figures": ("plot_languages", "plot_windows"),
    "estimate": (
        "DATA_SIZES",
        "GPU_THROUGHPUT",
        "QA_WINDOWS_PER_EXAMPLE",
        "estimate_hours",
        "estimate_table",
    ),
    "cli": ("main",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """``wordot.xtreme.X``: import X's module on first use (PEP 562)."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
