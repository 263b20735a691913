"""Fine-tuning a task model as XTREME's ``run_classify.py`` / ``run_squad.py`` do, and inference.

:func:`fine_tune` is a plain loop on ``accelerate`` in named steps: set up (seed, loader,
AdamW without decay on biases and LayerNorm weights, linear warmup/decay), step (forward and
backward of one batch; an update every ``grad_accum`` batches, gradients clipped), log (one
JSON line per update), checkpoint (English dev accuracy every ``eval_every`` updates for XNLI,
the best weights kept in memory) and restore (the best weights at the end).

Why a plain loop and not ``transformers.Trainer``: both tasks need their own evaluation (XNLI on
English dev every 100 updates, keeping the best weights; XQuAD's span post-processing), the
best XNLI weights are kept in memory instead of ~600 checkpoint saves, and the loop is short.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from ..precision import resolve_mixed_precision
from .features import QAFeatures
from .presets import TaskPreset

#: parameters trained without weight decay (as in XTREME)
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight")

#: the start/end logit of padding positions cut off by :func:`qa_logits`
PAD_LOGIT = -1e4

Batch = dict[str, torch.Tensor]
Log = Callable[[dict[str, Any]], None]
Autocast = Callable[[], contextlib.AbstractContextManager]


class ArrayDataset:
    """A torch-style dataset over equal-length arrays: item ``i`` is ``{name: array[i]}``."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return {k: v[i] for k, v in self.arrays.items()}


def collate_arrays(batch: list[dict]) -> Batch:
    """Stack the items of :class:`ArrayDataset` into int64 tensors ``(B, ...)``, the token
    columns cut after the batch's longest item (windows are right-padded to ``max_length``;
    cutting padding that the attention mask hides changes no token's output, only the work)."""
    out = {k: np.stack([b[k] for b in batch]) for k in batch[0]}
    if "attention_mask" in out:
        width = max(int(out["attention_mask"].sum(1).max()), 1)
        out = {k: v[:, :width] if v.ndim == 2 else v for k, v in out.items()}
    return {k: torch.as_tensor(v).long() for k, v in out.items()}


class LengthGroupedBatches:
    """Training batches of similar lengths (less padding), as ``transformers``' ``group_by_length``:
    every epoch the items are shuffled, cut into groups of ``group`` batches, each group is
    sorted by length and cut into batches, and the batches are shuffled. Deterministic given
    ``generator``."""

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        generator: torch.Generator,
        group: int = 50,
    ):
        self.lengths, self.batch_size = list(lengths), batch_size
        self.generator, self.group = generator, group

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n, size = len(self.lengths), self.batch_size * self.group
        perm = torch.randperm(n, generator=self.generator).tolist()
        batches = []
        for start in range(0, n, size):
            chunk = sorted(perm[start : start + size], key=lambda i: -self.lengths[i])
            batches += [
                chunk[k : k + self.batch_size] for k in range(0, len(chunk), self.batch_size)
            ]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


def item_lengths(train_set: Any) -> list[int]:
    """Tokens of every item: the attention mask's sum (:class:`ArrayDataset`) or the length of
    ``input_ids`` (NLI rows)."""
    if isinstance(train_set, ArrayDataset) and "attention_mask" in train_set.arrays:
        return train_set.arrays["attention_mask"].sum(1).tolist()
    return [len(train_set[i]["input_ids"]) for i in range(len(train_set))]


def nli_collator(tokenizer: Any, multiple: int | None = None) -> Callable[[list[dict]], Batch]:
    """Pad :func:`~wordot.xtreme.features.encode_nli` rows to the batch's longest pair."""

    def collate(batch: list[dict]) -> Batch:
        return tokenizer.pad(batch, return_tensors="pt", pad_to_multiple_of=multiple)

    return collate


def make_accelerator(mixed_precision: str = "auto", cpu: bool = False) -> Accelerator:
    """The ``accelerate`` state of a run: GPU when present (unless ``cpu``), bf16 when
    ``mixed_precision="auto"`` and the hardware multiplies it natively
    (:func:`wordot.precision.resolve_mixed_precision`); several processes under
    ``accelerate launch``."""
    return Accelerator(mixed_precision=resolve_mixed_precision(mixed_precision, cpu), cpu=cpu)


def run_autocast(preset: TaskPreset, accelerator: Accelerator) -> Autocast:
    """The autocast of a run's forward passes (training, dev, test).

    ``accelerator``'s own when it runs mixed precision (it also wraps the prepared model);
    otherwise the preset's ``mixed_precision="bf16"``: ``torch.autocast`` to bfloat16 on the
    accelerator's device, applied by the loop, CPUs included (an ``Accelerator`` cannot change
    precision within a process, the loop's autocast can); otherwise none.
    """
    if accelerator.mixed_precision != "no" or preset.mixed_precision in (None, "no"):
        return accelerator.autocast
    device = torch.device(accelerator.device).type

    def bf16() -> contextlib.AbstractContextManager:
        return torch.autocast(device_type=device, dtype=torch.bfloat16)

    return bf16


def run_precision(preset: TaskPreset, accelerator: Accelerator) -> str:
    """The mixed precision :func:`run_autocast` applies: ``"no"``, ``"bf16"`` or ``"fp16"``."""
    if accelerator.mixed_precision != "no":
        return str(accelerator.mixed_precision)
    return preset.mixed_precision or "no"


def accumulation_steps(preset: TaskPreset, num_processes: int) -> int:
    """Batches each process accumulates per update so that an update sees the preset's
    effective batch (``batch_size x grad_accum``): ``grad_accum / num_processes``.

    Raises a ValueError naming both numbers when ``grad_accum`` does not divide by
    ``num_processes`` (rounding would silently change the effective batch).
    """
    if num_processes < 1 or preset.grad_accum % num_processes:
        raise ValueError(
            f"preset {preset.name!r}: grad_accum {preset.grad_accum} does not divide among "
            f"{num_processes} processes; every process accumulates grad_accum / "
            f"{num_processes} batches of {preset.batch_size} so that an update sees the "
            f"preset's effective batch of {preset.effective_batch}. Launch a number of "
            f"processes that divides {preset.grad_accum}."
        )
    return preset.grad_accum // num_processes


@dataclass(frozen=True)
class FineTuneSummary:
    """What :func:`fine_tune` did (JSON-able through :meth:`to_dict`)."""

    updates: int
    t_total: int
    grad_accum: int  # per process
    effective_batch: int
    num_processes: int
    device: str
    mixed_precision: str  # what the forward passes ran in (run_precision)
    seconds: float
    train_examples_per_second: float
    epoch_loss: list[float]  # mean training loss of each epoch
    dev_curve: list[tuple[int, float]]  # (update, dev score)
    best_update: int | None  # with preset.select_best: the update whose weights were kept
    best_dev: float | None
    trainable_parameters: int = 0
    frozen_parameters: int = 0  # e.g. the word embeddings (preset.freeze_word_embeddings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fine_tune(
    model: Any,
    train_set: Any,
    collate: Callable[[list[dict]], Batch],
    preset: TaskPreset,
    *,
    seed: int = 0,
    evaluate: Callable[[Any], float] | None = None,
    log_path: str | Path | None = None,
    progress: bool = True,
    accelerator: Accelerator | None = None,
) -> FineTuneSummary:
    """Fine-tune ``model`` on ``train_set`` as XTREME's ``run_classify.py``/``run_squad.py`` do.

    AdamW (``adam_epsilon``; ``weight_decay`` on all weights but biases and LayerNorm weights),
    linear warmup over ``warmup_steps`` then linear decay to 0 over
    ``t_total = len(batches) // grad_accum * epochs`` updates, an update every ``grad_accum``
    batches of ``batch_size`` (counted within each epoch, as XTREME does), gradients clipped to
    ``max_grad_norm``. With ``evaluate`` and ``preset.eval_every``, ``evaluate(model)`` (English
    dev accuracy) runs every ``eval_every`` updates and after the last one, and with
    ``preset.select_best`` the weights of the best score are restored at the end.
    ``preset.freeze_word_embeddings`` leaves the input embedding matrix untrained (and out of
    the optimiser), ``preset.frozen_layers`` the embeddings and the lowest layers;
    ``preset.group_by_length`` makes batches of similar lengths (:class:`LengthGroupedBatches`);
    forward passes run under :func:`run_autocast`.

    ``accelerator`` (default :func:`make_accelerator`) places the model; the caller keeps it
    for inference (its ``device``, ``autocast``, ``is_main_process``). Under several processes
    each accumulates ``grad_accum / num_processes`` batches (:func:`accumulation_steps`, which
    raises if that is not a whole number). ``log_path`` gets one JSON line per update (loss,
    learning rate) and per evaluation. The model is left in eval mode.
    """
    acc = accelerator if accelerator is not None else make_accelerator()
    loop = _setup(model, train_set, collate, preset, seed, acc)
    best = _Best(keep_weights=preset.select_best)
    evaluating = evaluate is not None and preset.eval_every > 0
    bar = tqdm(
        total=loop.t_total,
        desc=f"{preset.task} fine-tuning",
        unit="update",
        disable=not progress or not acc.is_local_main_process,
    )
    with _json_lines(log_path if acc.is_main_process else None) as log:
        t0 = time.perf_counter()
        loop.model.train()
        loop.optimizer.zero_grad()
        epoch_loss = []
        for _ in range(preset.epochs):
            epoch_loss.append(_epoch(loop, evaluate if evaluating else None, best, log, bar))
        bar.close()
        if evaluate is not None and evaluating and loop.last_eval != loop.update:
            _checkpoint(loop, evaluate, best, log)
        seconds = time.perf_counter() - t0
        _restore(loop, best)
    return _summary(loop, seconds, epoch_loss, best)


def predict_nli(
    model: Any,
    rows: Sequence[dict],
    collate: Callable[[list[dict]], Batch],
    *,
    device: Any = "cpu",
    autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Predicted label ids ``(N,)`` of ``rows`` (:func:`~wordot.xtreme.features.encode_nli`
    output), in their order; batches are formed from rows sorted by length (less padding).
    ``autocast``: e.g. the accelerator's, for bf16."""
    order = np.argsort([len(r["input_ids"]) for r in rows], kind="stable")
    out = np.zeros(len(rows), dtype=np.int64)
    ctx = autocast or contextlib.nullcontext
    with torch.no_grad(), ctx():
        for i in range(0, len(rows), batch_size):
            idx = order[i : i + batch_size]
            batch = {k: v.to(device) for k, v in collate([rows[j] for j in idx]).items()}
            batch.pop("labels", None)
            out[idx] = model(**batch).logits.float().argmax(-1).cpu().numpy()
    return out


def qa_logits(
    model: Any,
    features: QAFeatures,
    *,
    device: Any = "cpu",
    autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end logits ``(F, L)`` of every window. Batches are formed from windows sorted
    by length and cut after their longest window; padding positions (never an answer) get
    :data:`PAD_LOGIT`."""
    arrays = features.arrays()
    lengths = features.attention_mask.sum(1)
    order = np.argsort(lengths, kind="stable")
    starts = np.full(features.input_ids.shape, PAD_LOGIT, dtype=np.float32)
    ends = starts.copy()
    ctx = autocast or contextlib.nullcontext
    with torch.no_grad(), ctx():
        for i in range(0, len(features), batch_size):
            idx = order[i : i + batch_size]
            width = max(int(lengths[idx].max()), 1)
            batch = {
                k: torch.as_tensor(v[idx, :width]).long().to(device) for k, v in arrays.items()
            }
            out = model(**batch)
            starts[idx, :width] = out.start_logits.float().cpu().numpy()
            ends[idx, :width] = out.end_logits.float().cpu().numpy()
    return starts, ends


# ---------------------------------------------------------------------------------------------
# the steps of fine_tune
# ---------------------------------------------------------------------------------------------


@dataclass
class _Loop:
    """What the steps share: the prepared objects and the update counter."""

    acc: Accelerator
    preset: TaskPreset
    autocast: Autocast
    model: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loader: DataLoader
    grad_accum: int
    t_total: int
    update: int = 0
    last_eval: int = -1


@dataclass
class _Best:
    """The dev curve and the best score so far, with its weights if they are to be kept."""

    keep_weights: bool
    curve: list[tuple[int, float]] = field(default_factory=list)
    score: float | None = None
    update: int | None = None
    state: dict[str, torch.Tensor] | None = None


def _setup(
    model: Any,
    train_set: Any,
    collate: Callable[[list[dict]], Batch],
    preset: TaskPreset,
    seed: int,
    acc: Accelerator,
) -> _Loop:
    """Seed, loader, optimiser and schedule, placed by ``acc``."""
    grad_accum = accumulation_steps(preset, acc.num_processes)
    if preset.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if preset.frozen_layers:
        _freeze_lower_layers(model, preset.frozen_layers)
    set_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if preset.group_by_length:
        batches = LengthGroupedBatches(item_lengths(train_set), preset.batch_size, generator)
        loader = DataLoader(train_set, batch_sampler=batches, collate_fn=collate)
    else:
        loader = DataLoader(
            train_set,
            batch_size=preset.batch_size,
            shuffle=True,
            collate_fn=collate,
            generator=generator,
        )
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for n, p in named if not n.endswith(NO_DECAY)],
            "weight_decay": preset.weight_decay,
        },
        {"params": [p for n, p in named if n.endswith(NO_DECAY)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=preset.lr, eps=preset.adam_epsilon)
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    t_total = len(loader) // grad_accum * preset.epochs
    if t_total == 0:
        raise ValueError(
            f"{len(train_set)} training examples make {len(loader)} batches of "
            f"{preset.batch_size}: fewer than one update of {grad_accum} batches per epoch"
        )
    scheduler = get_linear_schedule_with_warmup(optimizer, preset.warmup_steps, t_total)
    autocast = run_autocast(preset, acc)
    return _Loop(acc, preset, autocast, model, optimizer, scheduler, loader, grad_accum, t_total)


def _freeze_lower_layers(model: Any, n: int) -> None:
    """Leave the embeddings and the lowest ``n`` encoder layers untrained (BERT-style
    ``base_model.embeddings`` and ``base_model.encoder.layer``)."""
    base = model.base_model
    layers = base.encoder.layer
    if n > len(layers):
        raise ValueError(f"frozen_layers={n}, but the encoder has {len(layers)} layers")
    base.embeddings.requires_grad_(False)
    for layer in layers[:n]:
        layer.requires_grad_(False)


def _epoch(
    loop: _Loop, evaluate: Callable[[Any], float] | None, best: _Best, log: Log, bar: Any
) -> float:
    """One pass over the loader; returns the mean batch loss."""
    losses: list[float] = []
    for i, batch in enumerate(loop.loader):
        loss, updated = _step(loop, batch, sync=(i + 1) % loop.grad_accum == 0)
        losses.append(loss)
        if not updated:
            continue
        loop.update += 1
        _log_update(loop, losses, log, bar)
        if evaluate is not None and loop.update % loop.preset.eval_every == 0:
            _checkpoint(loop, evaluate, best, log)
    return float(np.mean(losses)) if losses else float("nan")


def _step(loop: _Loop, batch: Batch, sync: bool) -> tuple[float, bool]:
    """Forward and backward of one batch; with ``sync``, the optimiser update (gradients
    clipped). Returns the batch's loss and whether an update was made."""
    acc = loop.acc
    with contextlib.nullcontext() if sync else acc.no_sync(loop.model):
        with loop.autocast():
            loss = loop.model(**batch).loss
        acc.backward(loss / loop.grad_accum)
    value = float(loss.detach())
    if sync:
        acc.clip_grad_norm_(loop.model.parameters(), loop.preset.max_grad_norm)
        loop.optimizer.step()
        loop.scheduler.step()
        loop.optimizer.zero_grad()
    return value, sync


def _log_update(loop: _Loop, losses: list[float], log: Log, bar: Any) -> None:
    """Progress bar and log line of an update: the mean loss of its batches, the lr."""
    bar.update(1)
    recent = float(np.mean(losses[-loop.grad_accum :]))
    bar.set_postfix(loss=f"{recent:.4f}")
    log({"update": loop.update, "loss": round(recent, 6), "lr": loop.scheduler.get_last_lr()[0]})


def _checkpoint(loop: _Loop, evaluate: Callable[[Any], float], best: _Best, log: Log) -> None:
    """Score the model on dev (main process) and keep the best weights (a CPU copy)."""
    acc, update = loop.acc, loop.update
    loop.last_eval = update
    if acc.is_main_process:
        inner = acc.unwrap_model(loop.model)
        inner.eval()
        with torch.no_grad(), loop.autocast():
            score = float(evaluate(inner))
        inner.train()
        best.curve.append((update, score))
        log({"update": update, "dev": score})
        if best.score is None or score > best.score:
            best.score, best.update = score, update
            if best.keep_weights:
                state = inner.state_dict()
                best.state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
    acc.wait_for_everyone()


def _restore(loop: _Loop, best: _Best) -> None:
    """Load the kept best weights, if any, and leave the model in eval mode."""
    inner = loop.acc.unwrap_model(loop.model)
    if best.state is not None:
        inner.load_state_dict(best.state)
    inner.eval()


def _summary(loop: _Loop, seconds: float, epoch_loss: list[float], best: _Best) -> FineTuneSummary:
    acc, p = loop.acc, loop.preset
    examples = len(loop.loader) * p.batch_size * p.epochs * acc.num_processes
    params = list(acc.unwrap_model(loop.model).parameters())
    trainable = sum(x.numel() for x in params if x.requires_grad)
    return FineTuneSummary(
        updates=loop.update,
        t_total=loop.t_total,
        grad_accum=loop.grad_accum,
        effective_batch=p.batch_size * loop.grad_accum * acc.num_processes,
        num_processes=acc.num_processes,
        device=str(acc.device),
        mixed_precision=run_precision(p, acc),
        seconds=round(seconds, 2),
        train_examples_per_second=round(examples / max(seconds, 1e-9), 2),
        epoch_loss=epoch_loss,
        dev_curve=best.curve,
        best_update=best.update if p.select_best else None,
        best_dev=best.score,
        trainable_parameters=trainable,
        frozen_parameters=sum(x.numel() for x in params) - trainable,
    )


@contextlib.contextmanager
def _json_lines(path: str | Path | None) -> Iterator[Log]:
    """A writer of one JSON object per line to ``path``, flushed at once (None: no log)."""
    if path is None:
        yield lambda record: None
        return
    with Path(path).open("w", encoding="utf-8") as fh:

        def write(record: dict[str, Any]) -> None:
            fh.write(json.dumps(record) + "\n")
            fh.flush()

        yield write
