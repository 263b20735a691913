"""The fine-tuning loop, as named steps: :func:`setup`, :func:`restore`, :func:`train_step`,
:func:`log_update`, :func:`checkpoint`, :func:`finish`; :func:`train` runs them in order
(:func:`run_steps` is the loop over the steps).

A *step* makes one forward and backward pass per language group (every language alone, or all
together with ``LossConfig.pooled``) on this process's :func:`shard` of the global batch; an
*update* is an Adam step after ``grad_accum`` steps, or after the last step of the run.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from .. import models
from ..data import Batch, ParallelCorpus, language_batches, steps_per_epoch
from ..embed import EmbedConfig, WordEmbeddings, embed_words
from ..loss import LossParts, wordot_loss
from . import files
from .settings import TrainConfig


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or inf; the message names the step, language and batch."""


def shard(batch: Batch, rank: int, world: int) -> Batch:
    """Process ``rank``'s part of a global batch: pairs ``rank, rank + world, ...`` of every
    language (``{lang: (src, en)}``), so the ``world`` shards are disjoint and cover it."""
    return {lang: (src[rank::world], en[rank::world]) for lang, (src, en) in batch.items()}


def total_steps(cfg: TrainConfig, corpora: dict[str, ParallelCorpus]) -> int:
    """Steps a run of ``cfg`` makes on ``corpora``: its epochs, cut at ``max_steps``."""
    total = steps_per_epoch(corpora, cfg.batch_size) * cfg.epochs
    return min(total, cfg.max_steps) if cfg.max_steps is not None else total


def freeze_unreachable(model, tokenizer, sentence: str, cfg: EmbedConfig) -> list[str]:
    """Freeze the trainable parameters that no gradient of the loss can reach; their names.

    The loss only sees the hidden states of layer ``cfg.layer``: a pooler (BERT's, which the
    encoder runs but the loss never reads) and, for ``layer != -1``, the layers above get no
    gradient. Under several processes DDP waits for a gradient of *every* parameter it wraps and
    fails at the next step when one never comes. ``find_unused_parameters=True`` would also
    work, at the price of a traversal of the autograd graph after every forward call (two or
    more per backward here) on every step; freezing costs nothing per step, changes no weight
    (they get no gradient either way) and keeps them in the saved model (XNLI fine-tuning later
    uses the pooler). They are frozen in single-process runs too, so that a checkpoint's
    optimiser state does not depend on the number of processes.

    Which parameters these are is found by a probe, not by name: the word vectors of one
    sentence (in eval mode, so no random numbers are drawn) and the parameters autograd reaches
    from them.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        return []
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            emb = embed_words(model, tokenizer, [sentence], "en", cfg)
            grads = torch.autograd.grad(emb.vectors.sum(), [p for _, p in named], allow_unused=True)
    finally:
        model.train(was_training)
    frozen = []
    for (name, p), g in zip(named, grads, strict=True):
        if g is None:
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


@dataclass
class Run:
    """What the steps of one run share, made by :func:`setup`."""

    cfg: TrainConfig
    out_dir: Path
    acc: Accelerator
    model: Any  # prepared by accelerate (DDP-wrapped under several processes)
    init_model: Any | None  # frozen copy of the initial model (None without a regulariser)
    tokenizer: Any
    opt: torch.optim.Optimizer
    total_steps: int
    groups: list[list[str]]  # one loss and one backward per group and step


@dataclass
class LoopState:
    """Where the loop is: the last step made, its losses, and the log of the pending update."""

    start_step: int
    step: int
    t0: float
    first_loss: float | None = None
    last_loss: float | None = None
    pending: dict[str, float] = field(default_factory=dict)  # this update's values / n_acc

    def add(self, values: dict[str, float], n_acc: int) -> float:
        """Count the values of one step of an update of ``n_acc`` steps; the step's loss."""
        loss = sum(v for k, v in values.items() if k.startswith("loss/"))
        for k, v in values.items():
            if k != "loss":
                self.pending[k] = self.pending.get(k, 0.0) + v / n_acc
        if self.first_loss is None:
            self.first_loss = loss
        self.last_loss = loss
        return loss


# -- setup and restore -------------------------------------------------------------------------


def _accelerator(cfg: TrainConfig, out_dir: Path) -> Accelerator:
    """The accelerator of a run, refusing launches that would train the same batches twice
    and global batches that do not divide among the processes."""
    mixed = cfg.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    # gradient accumulation is done here, not by Accelerator.accumulate: an update needs the
    # gradients of several backward calls per step (see train_step), and the last, partial
    # accumulation of a run makes an update too
    acc = Accelerator(mixed_precision=mixed, cpu=cfg.cpu)
    world = acc.num_processes
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 and launched > 1:
        raise RuntimeError(
            f"launched as {launched} processes, but accelerate runs each one alone (without a "
            f"GPU it needs cpu=True): they would all train the same batches into {out_dir}"
        )
    if cfg.batch_size % world:
        raise ValueError(
            f"batch_size {cfg.batch_size} does not divide among {world} processes: every "
            f"process takes batch_size / {world} pairs of each language's global batch"
        )
    return acc


def setup(
    cfg: TrainConfig,
    corpora: dict[str, ParallelCorpus],
    out_dir: Path,
    model=None,
    tokenizer=None,
) -> Run:
    """Accelerator, ``config.json``, seed, model (and its frozen initial copy), optimiser."""
    acc = _accelerator(cfg, out_dir)
    acc.wait_for_everyone()  # every process has looked at out_dir before the main one writes
    if acc.is_main_process:
        files.write_config(out_dir, cfg.to_dict())
    set_seed(cfg.seed)
    if model is None or tokenizer is None:
        model, tokenizer = models.load_encoder(cfg.encoder)
    init_model = copy.deepcopy(model).eval().requires_grad_(False) if cfg.loss.lam else None
    if cfg.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    freeze_unreachable(model, tokenizer, corpora[cfg.languages[0]].en[0], cfg.embed)
    model.train(cfg.dropout)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    model, opt = acc.prepare(model, opt)
    if init_model is not None:
        init_model = init_model.to(acc.device)
    groups = [list(cfg.languages)] if cfg.loss.pooled else [[k] for k in cfg.languages]
    return Run(
        cfg, out_dir, acc, model, init_model, tokenizer, opt, total_steps(cfg, corpora), groups
    )


def restore(run: Run, last: Path | None) -> int:
    """Load checkpoint ``last`` (None: a fresh start) and cut the log to it; the step to
    continue after."""
    start_step = 0
    if last is not None:
        run.acc.load_state(str(last))
        start_step = files.checkpoint_step(last)
    if run.acc.is_main_process:
        files.trim_log(run.out_dir, start_step)
    run.acc.wait_for_everyone()
    return start_step


# -- one step ----------------------------------------------------------------------------------


def _embed_group(model, tokenizer, batch: Batch, langs: list[str], cfg: EmbedConfig):
    """Word vectors of both sides of every language of the group, with gradients."""
    src, en = {}, {}
    for lang in langs:  # every forward call first: under DDP, all processes make the same ones
        s, e = batch[lang]
        src[lang] = embed_words(model, tokenizer, s, lang, cfg)
        en[lang] = embed_words(model, tokenizer, e, "en", cfg)
    return src, en


def _loss_or_problem(
    init_model,
    tokenizer,
    batch: Batch,
    langs: list[str],
    cfg: TrainConfig,
    src: dict[str, WordEmbeddings],
    en: dict[str, WordEmbeddings],
) -> tuple[LossParts | None, str | None, str]:
    """The group's loss, or what is not finite about it: ``(parts, problem, detail)``."""
    bad = [
        side
        for lang in langs
        for side, emb in ((lang, src[lang]), ("en", en[lang]))
        if not torch.isfinite(emb.vectors).all()
    ]
    if bad:
        return None, f"the encoder produced NaN/inf word vectors ({bad[0]} side)", ""
    en0 = None
    if init_model is not None:
        with torch.no_grad():
            en0 = {
                lang: embed_words(init_model, tokenizer, batch[lang][1], "en", cfg.embed)
                for lang in langs
            }
    parts = wordot_loss(src, en, en0, cfg.loss)
    value = parts.total.item()
    if not math.isfinite(value):
        return parts, f"loss is {value}", f"; parts {parts.as_floats()}"
    return parts, None, ""


def _agree(
    acc, problem: str | None, parts: LossParts | None, en: dict[str, WordEmbeddings], cfg
) -> tuple[LossParts | None, str | None]:
    """One all-reduce among the processes, before anyone back-propagates: whether any of them
    saw a non-finite value, and the English words of every shard, by which each shard's drift
    terms are reweighted to its share of the global batch's words."""
    world, langs = acc.num_processes, list(en)
    shared = torch.zeros(world + len(langs), dtype=torch.float64)
    shared[acc.process_index] = problem is not None
    shared[world:] = torch.tensor([float(en[k].mask.sum()) for k in langs])
    shared = acc.reduce(shared.to(acc.device), "sum").cpu()
    failed = shared[:world].nonzero().flatten().tolist()
    if failed and problem is None:
        problem = f"non-finite word vectors or loss on process(es) {failed} (see their error)"
    if problem is None and parts is not None and parts.reg:
        n_global = dict(zip(langs, shared[world:].tolist(), strict=True))
        scale = {
            k: world * float(en[k].mask.sum()) / n_global[k]
            if cfg.reduction == "mean"
            else float(world)
            for k in parts.reg
        }
        parts = parts.reweighted(scale, cfg.lam)
    return parts, problem


def _group_loss(
    model, init_model, tokenizer, batch: Batch, langs: list[str], cfg: TrainConfig, acc=None
) -> LossParts:
    """WordOT loss of one or (pooled) several languages' batches, here this process's shards.

    NaN/inf word vectors or a non-finite loss raise NonFiniteLoss(what, details). Under several
    processes (``acc.num_processes > 1``) the processes first agree, in one all-reduce before
    anyone back-propagates: if one of them saw a non-finite value, all raise together (one that
    raised alone would leave the others waiting in the next collective call for ever). The same
    all-reduce counts the English words of every shard, so that each shard's drift penalty can
    be reweighted by its share of the global batch's words: the mean over processes of the
    shards' losses (which is what averaging their gradients minimises) is then the loss of the
    global batch, as in one process. This holds for sentence-scope OT, a mean over equal-sized
    shards of pairs; with ``scope="batch"`` each shard solves one problem over its own words.
    """
    src, en = _embed_group(model, tokenizer, batch, langs, cfg.embed)
    parts, problem, detail = _loss_or_problem(init_model, tokenizer, batch, langs, cfg, src, en)
    if acc is not None and acc.num_processes > 1:
        parts, problem = _agree(acc, problem, parts, en, cfg.loss)
    if problem is not None:
        raise NonFiniteLoss(problem, detail)
    return parts


def _located(
    err: NonFiniteLoss, run: Run, step: int, group: list[str], batch: Batch
) -> NonFiniteLoss:
    """``err`` with the step, the language, the batch's first pair and the last checkpoint."""
    head, *detail = err.args
    src, en = batch[group[0]]
    where = (
        f"at step {step} (language {'+'.join(group)}); first pair of the batch: "
        f"{src[0]!r} / {en[0]!r}; last checkpoint: {files.latest_checkpoint(run.out_dir)}"
    )
    return NonFiniteLoss(f"{head} {where}{''.join(detail)}")


def train_step(run: Run, batch: Batch, step: int, n_acc: int, sync: bool) -> dict[str, float]:
    """One step on global ``batch``: a loss and a backward per group (gradients scaled by
    ``1 / n_acc``), then the update if ``sync``; returns the global batch's loss values
    (``loss/<group>``, ``ot/<k>``, ``reg/<k>``)."""
    acc, model = run.acc, run.model
    local = shard(batch, acc.process_index, acc.num_processes)
    values: dict[str, float] = {}
    for i, group in enumerate(run.groups):
        # DDP all-reduces the gradients in a backward whose forward calls ran outside no_sync,
        # and what it reduces is the gradient accumulated so far: so exactly the last backward
        # before an update syncs (once per update, whatever the number of groups, steps per
        # update and forward calls per backward); the others accumulate locally. (no_sync is a
        # no-op in a single process.)
        last_backward = sync and i == len(run.groups) - 1
        with contextlib.nullcontext() if last_backward else acc.no_sync(model):
            try:
                parts = _group_loss(
                    model, run.init_model, run.tokenizer, local, group, run.cfg, acc
                )
            except NonFiniteLoss as err:
                raise _located(err, run, step, group, local) from None
            acc.backward(parts.total / n_acc)
        floats = parts.as_floats()
        values.update(floats | {f"loss/{'+'.join(group)}": floats["loss"]})
    if sync:
        run.opt.step()
        run.opt.zero_grad()
    if acc.num_processes > 1:  # the global batch's values: the mean over the processes' shards
        keys = sorted(values)
        local_values = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        mean = acc.reduce(local_values.to(acc.device), "mean").tolist()
        values = dict(zip(keys, mean, strict=True))
    return values


# -- log, checkpoint, finish -------------------------------------------------------------------


def log_update(run: Run, state: LoopState) -> dict[str, Any]:
    """Append the record of the update that ends at ``state.step`` to ``log.jsonl`` (the main
    process) and start the next; the record: step, update, lr, the mean of every loss value
    over the update's steps, and seconds since the session started."""
    pending, step = state.pending, state.step
    record: dict[str, Any] = {"step": step, "update": math.ceil(step / run.cfg.grad_accum)}
    record["lr"] = run.cfg.lr
    record |= {k: round(v, 6) for k, v in pending.items()}
    record["loss"] = round(sum(v for k, v in pending.items() if k.startswith("loss/")), 6)
    record["seconds"] = round(time.perf_counter() - state.t0, 2)
    state.pending = {}
    if run.acc.is_main_process:
        files.append_log(run.out_dir, record)
    return record


def checkpoint_due(cfg: TrainConfig, step: int, total: int) -> bool:
    """Whether the update at ``step`` is a checkpoint's: every ``checkpoint_every`` full
    updates, never after the last step (the run's end saves the model)."""
    updates = step // cfg.grad_accum
    return bool(
        cfg.checkpoint_every
        and step % cfg.grad_accum == 0
        and updates % cfg.checkpoint_every == 0
        and step < total
    )


def checkpoint(run: Run, step: int) -> Path:
    """Save model, optimiser and RNG state after ``step`` (see :func:`files.save_checkpoint`)."""
    return files.save_checkpoint(run.acc, run.out_dir, step, run.cfg.keep_checkpoints)


def finish(run: Run, state: LoopState) -> dict[str, Any]:
    """Save the tuned model, its tokenizer and ``summary.json``; the summary."""
    run.acc.wait_for_everyone()
    summary = {
        "steps": state.step,
        "updates": math.ceil(state.step / run.cfg.grad_accum),
        "resumed_from": state.start_step,
        "first_loss": state.first_loss,
        "last_loss": state.last_loss,
        "seconds": round(time.perf_counter() - state.t0, 2),
    }
    if run.acc.is_main_process:
        final = run.out_dir / "model"
        run.acc.unwrap_model(run.model).save_pretrained(final)
        run.tokenizer.save_pretrained(final)
        files.write_summary(run.out_dir, summary)
    run.acc.wait_for_everyone()  # no process returns before the model is saved
    return summary


# -- the run -----------------------------------------------------------------------------------


def run_steps(run: Run, corpora: dict[str, ParallelCorpus], start_step: int, bar) -> LoopState:
    """Steps ``start_step + 1 ... total_steps``; every update logged, checkpointed when due."""
    cfg, total = run.cfg, run.total_steps
    batches = language_batches(
        corpora, cfg.batch_size, seed=cfg.seed, epochs=cfg.epochs, start_step=start_step
    )
    state = LoopState(start_step, start_step, time.perf_counter())
    for batch in batches:
        if state.step >= total:
            break
        step = state.step = state.step + 1
        # an update every grad_accum steps, and one after the last step of the run: the update
        # of steps (first, first + n_acc], with gradient and log the mean over these steps
        first = (step - 1) // cfg.grad_accum * cfg.grad_accum
        n_acc = min(cfg.grad_accum, total - first)
        sync = step == first + n_acc
        loss = state.add(train_step(run, batch, step, n_acc, sync), n_acc)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if sync:
            log_update(run, state)
            if checkpoint_due(cfg, step, total):
                checkpoint(run, step)
    return state


def train(
    cfg: TrainConfig,
    corpora: dict[str, ParallelCorpus],
    out_dir: str | Path,
    *,
    resume: bool = False,
    model=None,
    tokenizer=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune ``cfg.encoder`` on ``corpora`` (language -> ParallelCorpus) into ``out_dir``.

    Returns a summary (steps, updates, first/last loss, seconds). ``model``/``tokenizer`` may be
    passed to skip :func:`wordot.models.load_encoder`. With ``resume=True`` a directory that
    holds a run with other settings raises ValueError, and one whose run is finished is not
    trained again: its stored summary is returned with ``"reused": True``.

    Under ``accelerate launch`` (or ``torchrun``) with several processes, every process draws
    the same global batches (``batch_size`` pairs per language, which must divide by the number
    of processes) and computes the loss of its :func:`shard`; gradients are averaged over the
    processes once per optimiser update, and the logged losses are those of the global batch.
    """
    out_dir = Path(out_dir)
    missing = [k for k in cfg.languages if k not in corpora]
    if missing:
        raise ValueError(f"no parallel data for language(s) {missing}; have {sorted(corpora)}")
    corpora = {k: corpora[k] for k in cfg.languages}
    if resume:
        finished = files.finished_run(cfg.to_dict(), out_dir, total_steps(cfg, corpora))
        if finished is not None:
            return finished
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; pass resume=True or choose another dir")
    last = files.latest_checkpoint(out_dir) if resume else None

    run = setup(cfg, corpora, out_dir, model, tokenizer)
    start_step = restore(run, last)
    bar = tqdm(
        total=run.total_steps,
        initial=start_step,
        desc="WordOT fine-tuning",
        unit="step",
        disable=not progress or not run.acc.is_local_main_process,
    )
    done = run_steps(run, corpora, start_step, bar)
    bar.close()
    return finish(run, done)
