"""The fine-tuning loop, as named steps: :func:`setup`, :func:`restore`, :func:`train_step`,
:func:`log_update`, :func:`checkpoint`, :func:`finish`; :func:`train` runs them in order
(:func:`run_steps` is the loop over the steps), holding the run directory's lock (:mod:`.lock`).

A *step* makes one forward and backward pass per language group (every language alone, or all
together with ``LossConfig.pooled``) on this process's :func:`shard` of the global batch; an
*update* is an Adam step after ``grad_accum`` steps, or after the last step of the run. Under
several processes every collective call is preceded by a status check (:mod:`.ranks`), so that
an error on one process stops them all.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from .. import models
from ..data import Batch, ParallelCorpus, language_batches, steps_per_epoch
from ..embed import EmbedConfig, WordEmbeddings, embed_words, moses_words, original_indices
from ..loss import LossConfig, LossParts, l2_language_loss, wordot_loss
from ..paths import CorruptFileError
from ..precision import resolve_mixed_precision
from . import files
from .lock import run_lock
from .provenance import provenance
from .ranks import ProcessFailed, Ranks, add_note
from .settings import TrainConfig
from .targets import InitialEnglish


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
    ranks: Ranks  # the processes, and their agreement on failures
    model: Any  # prepared by accelerate (DDP-wrapped under several processes)
    targets: InitialEnglish | None  # the frozen initial model's English (None: no regulariser)
    tokenizer: Any
    opt: torch.optim.Optimizer
    total_steps: int
    groups: list[list[str]]  # one loss and one backward per group and step
    probe: str  # an English sentence: see freeze_unreachable and sync_gradients
    links: WordLinks | None = None  # objective "l2": the word pairs of every training pair
    scheduler: Any = None  # a linear warm-up of the learning rate (cfg.warmup), or None

    @property
    def acc(self) -> Accelerator:
        return self.ranks.acc


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


#: objective "l2": ``{lang: {(source, english): [(source word, English word), ...]}}`` (Moses
#: word indices of one-to-one links, :func:`word_links`)
WordLinks = dict[str, dict[tuple[str, str], list[tuple[int, int]]]]

#: with ``bucket_by_length``, pairs are sorted by length within windows of this many batches
BUCKET_BATCHES = 50

# -- setup and restore -------------------------------------------------------------------------


def _accelerator(cfg: TrainConfig, out_dir: Path) -> Accelerator:
    """The accelerator of a run, refusing launches that would train the same batches twice
    and global batches that do not divide among the processes."""
    mixed = resolve_mixed_precision(cfg.mixed_precision, cfg.cpu)
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


def run_settings(cfg: TrainConfig, corpora: dict[str, ParallelCorpus]) -> dict[str, Any]:
    """What ``config.json`` records and a resume compares: the settings and their provenance
    (training pairs and code, :mod:`.provenance`)."""
    return cfg.to_dict() | {"provenance": provenance(corpora)}


def setup(
    cfg: TrainConfig,
    corpora: dict[str, ParallelCorpus],
    out_dir: Path,
    ranks: Ranks,
    model=None,
    tokenizer=None,
) -> Run:
    """``config.json``, seed, model (and its frozen initial copy), optimiser."""
    acc = ranks.acc
    if acc.is_main_process:
        files.write_config(out_dir, run_settings(cfg, corpora))
    set_seed(cfg.seed)
    if model is None or tokenizer is None:
        model, tokenizer = models.load_encoder(cfg.encoder)
    needs_init = cfg.loss.lam or cfg.objective == "l2"  # L2's targets are the initial English
    init_model = copy.deepcopy(model).eval().requires_grad_(False) if needs_init else None
    if cfg.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    probe = corpora[cfg.languages[0]].en[0]
    freeze_unreachable(model, tokenizer, probe, cfg.embed)
    model.train(cfg.dropout)
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trained, lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps)
    ranks.check()  # DDP's set-up broadcasts the weights
    model, opt = acc.prepare(model, opt)
    total = total_steps(cfg, corpora)
    scheduler = None
    if cfg.warmup:
        scheduler = warmup_schedule(opt, cfg.warmup, math.ceil(total / cfg.grad_accum))
        acc.register_for_checkpointing(scheduler)
    if ranks.world > 1:  # DDP's forward calls may broadcast (buffers; buckets after update 1)
        model.register_forward_pre_hook(lambda module, args: ranks.check())
    targets = None
    if init_model is not None:
        init_model = init_model.to(acc.device)
        targets = InitialEnglish(init_model, tokenizer, cfg.embed, cache=cfg.cache_targets)
    groups = [list(cfg.languages)] if cfg.loss.pooled else [[k] for k in cfg.languages]
    if cfg.objective == "l2" and cfg.loss.pooled:
        raise ValueError("objective 'l2' has no pooled form: set loss pooled=False")
    links = word_links(cfg, corpora) if cfg.objective == "l2" else None
    return Run(
        cfg, out_dir, ranks, model, targets, tokenizer, opt, total, groups, probe, links, scheduler
    )


def warmup_schedule(opt: torch.optim.Optimizer, fraction: float, updates: int) -> Any:
    """The learning rate rises linearly over the first ``fraction`` of ``updates`` (update u
    gets ``(u + 1) / n`` of it, ``n = max(1, round(fraction * updates))``), then stays."""
    n = max(1, round(fraction * updates))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda u: min(1.0, (u + 1) / n))


def word_links(cfg: TrainConfig, corpora: dict[str, ParallelCorpus]) -> WordLinks:
    """``{lang: {(source, english): [(i, j), ...]}}``: the one-to-one links (Moses word
    indices) of every distinct training pair, from ``cfg.aligner`` run on the pairs
    (:func:`wordot.neighbours.pairs.align_corpus`, seed 0 whatever the run's seed, cached)."""
    from ..neighbours.pairs import align_corpus  # the aligner only for this objective

    out = {}
    for lang, corpus in corpora.items():
        pairs = list(dict.fromkeys(zip(corpus.src, corpus.en, strict=True)))
        aligned = align_corpus(pairs, lang, method=cfg.aligner, seed=0)
        out[lang] = dict(zip(pairs, aligned.links, strict=True))
    return out


def restore(run: Run, checkpoints: list[Path]) -> int:
    """Load the newest of ``checkpoints`` (newest first; none: a fresh start) that every
    process can load, and cut the log to it; the step to continue after.

    A checkpoint whose files cannot be loaded (a truncated weights file) gives way to the one
    before it, with a warning naming both; if none can be loaded, CorruptFileError naming them
    and how to restart. A ``state.json`` that does not fit the plan raises ValueError.
    """
    failed: list[str] = []
    start_step, used = 0, None
    for path in checkpoints:
        step = files.checkpoint_step(path, run.total_steps)
        problems = run.ranks.vote(_load_problem(run.acc, path))
        if not problems:
            start_step, used = step, path
            break
        failed += [f"{path} ({p})" for p in dict.fromkeys(problems.values())]
    if failed and used is None:
        raise CorruptFileError(
            f"no checkpoint of {run.out_dir} can be loaded: {'; '.join(failed)}. To restart "
            f"from step 0: delete {run.out_dir / 'checkpoints'} and resume (or delete "
            f"{run.out_dir} and train again)"
        )
    if run.acc.is_main_process:
        if failed:
            warnings.warn(
                f"could not load {'; '.join(failed)}; resuming from {used} instead", stacklevel=2
            )
        files.trim_log(run.out_dir, start_step)
    run.ranks.check()
    return start_step


def _load_problem(acc: Accelerator, path: Path) -> str | None:
    """Load the ``accelerate`` state of checkpoint ``path``; what went wrong, or None."""
    try:
        acc.load_state(str(path))
    except Exception as err:  # every file of an older checkpoint is loaded again over it
        return f"{type(err).__name__}: {err}"
    return None


# -- one step ----------------------------------------------------------------------------------


def _embed_group(model, tokenizer, batch: Batch, langs: list[str], cfg: EmbedConfig):
    """Word vectors of both sides of every language of the group, with gradients."""
    src, en = {}, {}
    for lang in langs:  # every forward call first: under DDP, all processes make the same ones
        s, e = batch[lang]
        src[lang] = embed_words(model, tokenizer, s, lang, cfg)
        en[lang] = embed_words(model, tokenizer, e, "en", cfg)
    return src, en


def l2_loss(
    batch: Batch,
    src: dict[str, WordEmbeddings],
    en: dict[str, WordEmbeddings],
    en0: dict[str, WordEmbeddings],
    links: WordLinks,
    cfg: LossConfig,
) -> LossParts:
    """Cao et al.'s loss of a group: per language, the linked words of each pair of the batch
    (links to a word the tokenizer dropped are left out) through :func:`l2_language_loss`."""
    ot, reg = {}, {}
    for lang in sorted(src):
        sources, english = batch[lang]
        rows = []
        for b, pair in enumerate(zip(sources, english, strict=True)):
            if pair not in links[lang]:
                raise KeyError(f"no word links for the {lang} training pair {pair!r}")
            s_at = dict(
                (w, n)
                for n, w in enumerate(
                    original_indices(moses_words(pair[0], lang), src[lang].words[b])
                )
            )
            e_at = dict(
                (w, n)
                for n, w in enumerate(
                    original_indices(moses_words(pair[1], "en"), en0[lang].words[b])
                )
            )
            rows.append(
                [(s_at[i], e_at[j]) for i, j in links[lang][pair] if i in s_at and j in e_at]
            )
        parts = l2_language_loss(src[lang], en[lang], en0[lang], rows, cfg, lang=lang)
        ot.update(parts.ot)
        reg.update(parts.reg)
    return LossParts.from_terms(ot, reg, cfg.lam)


def _loss_or_problem(
    targets: InitialEnglish | None,
    batch: Batch,
    langs: list[str],
    cfg: TrainConfig,
    src: dict[str, WordEmbeddings],
    en: dict[str, WordEmbeddings],
    links: WordLinks | None = None,
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
    en0 = None if targets is None else {lang: targets(batch[lang][1]) for lang in langs}
    if cfg.objective == "l2":
        parts = l2_loss(batch, src, en, en0, links, cfg.loss)
    else:
        parts = wordot_loss(src, en, en0, cfg.loss)
    value = parts.total.item()
    if not math.isfinite(value):
        return parts, f"loss is {value}", f"; parts {parts.as_floats()}"
    return parts, None, ""


def _reweighted(ranks: Ranks, parts: LossParts, en: dict[str, WordEmbeddings], cfg) -> LossParts:
    """After a status check, one all-reduce of the English words of every shard, by which each
    shard's drift terms are reweighted to its share of the global batch's words."""
    world, langs = ranks.world, list(en)
    counts = torch.tensor([float(en[k].mask.sum()) for k in langs], dtype=torch.float64)
    ranks.check()
    if not parts.reg:
        return parts
    reduced = ranks.acc.reduce(counts.to(ranks.acc.device), "sum").tolist()
    n_global = dict(zip(langs, reduced, strict=True))
    scale = {
        k: world * float(en[k].mask.sum()) / n_global[k]
        if cfg.reduction == "mean"
        else float(world)
        for k in parts.reg
    }
    return parts.reweighted(scale, cfg.lam)


def _group_loss(
    model,
    targets: InitialEnglish | None,
    tokenizer,
    batch: Batch,
    langs: list[str],
    cfg: TrainConfig,
    ranks: Ranks | None = None,
    links: WordLinks | None = None,
) -> LossParts:
    """WordOT loss of one or (pooled) several languages' batches, here this process's shards
    (Cao et al.'s L2 loss with ``cfg.objective == "l2"``, on ``links``).

    NaN/inf word vectors or a non-finite loss raise NonFiniteLoss(what, details). Under several
    processes they then agree, in a status check before anyone back-propagates: if one of them
    failed (a non-finite loss, or any error), all raise together, at the same step and group.
    An all-reduce then counts the English words of every shard, so that each shard's
    drift penalty can be reweighted by its share of the global batch's words: the mean over
    processes of the shards' losses (which is what averaging their gradients minimises) is
    then the loss of the global batch, as in one process. This holds for sentence-scope OT, a
    mean over equal-sized shards of pairs; with ``scope="batch"`` each shard solves one problem
    over its own words.
    """
    src, en = _embed_group(model, tokenizer, batch, langs, cfg.embed)
    parts, problem, detail = _loss_or_problem(targets, batch, langs, cfg, src, en, links)
    if problem is not None:
        raise NonFiniteLoss(problem, detail)
    if ranks is not None and ranks.world > 1:
        parts = _reweighted(ranks, parts, en, cfg.loss)
    return parts


def _where(run: Run, step: int, group: list[str], batch: Batch) -> str:
    """The step, the language, the batch's first pair and the last checkpoint."""
    src, en = batch[group[0]]
    return (
        f"at step {step} (language {'+'.join(group)}); first pair of the batch: "
        f"{src[0]!r} / {en[0]!r}; last checkpoint: {files.latest_checkpoint(run.out_dir)}"
    )


def _group_step(run: Run, local: Batch, group: list[str], step: int, n_acc: int) -> LossParts:
    """Loss and backward of one group on this process's shards, its gradients accumulated
    locally (:func:`sync_gradients` averages them); errors say where they were.

    NonFiniteLoss on a process, or on another one (reported here as ProcessFailed), raises
    NonFiniteLoss with the step and the batch; other errors get that as a note."""
    acc = run.acc
    try:
        with acc.no_sync(run.model):  # a no-op in a single process
            parts = _group_loss(
                run.model, run.targets, run.tokenizer, local, group, run.cfg, run.ranks, run.links
            )
            acc.backward(parts.total / n_acc)
        return parts
    except NonFiniteLoss as err:
        head, *detail = err.args
        where = _where(run, step, group, local)
        raise NonFiniteLoss(f"{head} {where}{''.join(detail)}") from None
    except ProcessFailed as err:
        if err.kinds != {"NonFiniteLoss"}:
            raise
        head = f"non-finite word vectors or loss on process(es) {sorted(err.failures)} ({err})"
        raise NonFiniteLoss(f"{head} {_where(run, step, group, local)}") from None
    except Exception as err:
        add_note(err, f"wordot: {_where(run, step, group, local)}")
        raise


def sync_gradients(run: Run) -> None:
    """Average the gradients of an update over the processes (nothing in a single process).

    DDP all-reduces the gradients accumulated so far in a backward pass whose forward calls ran
    outside ``no_sync``. Every backward of a step runs under ``no_sync``; then one forward and
    backward of a probe sentence (in eval mode, so no random numbers are drawn), weighted by
    zero, adds nothing to the gradients and makes DDP's all-reduce, once per update. So the
    backward passes of the loss, where an out-of-memory error is most likely, make no
    collective call, and an error in them stops every process at the next status check (here
    the forward pre-hook's, :mod:`.ranks`); only the probe's tiny backward remains where a
    failing process cannot be waited for (the others stop when it exits).
    """
    if run.ranks.world == 1:
        return
    model = run.model
    model.eval()
    try:
        with run.ranks.unguarded():
            emb = embed_words(model, run.tokenizer, [run.probe], "en", run.cfg.embed)
            run.acc.backward(emb.vectors.sum() * 0.0)
    finally:
        model.train(run.cfg.dropout)


def train_step(run: Run, batch: Batch, step: int, n_acc: int, sync: bool) -> dict[str, float]:
    """One step on global ``batch``: a loss and a backward per group (gradients scaled by
    ``1 / n_acc``), then the update if ``sync``; returns the global batch's loss values
    (``loss/<group>``, ``ot/<k>``, ``reg/<k>``)."""
    acc = run.acc
    local = shard(batch, acc.process_index, acc.num_processes)
    values: dict[str, float] = {}
    for group in run.groups:
        floats = _group_step(run, local, group, step, n_acc).as_floats()
        values.update(floats | {f"loss/{'+'.join(group)}": floats["loss"]})
    if sync:
        sync_gradients(run)
        run.opt.step()
        run.opt.zero_grad()
    if acc.num_processes > 1:  # the global batch's values: the mean over the processes' shards
        keys = sorted(values)
        local_values = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        run.ranks.check()
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
    # the rate this update used (the warm-up schedule has already moved on to the next one)
    record["lr"] = run.cfg.lr if run.scheduler is None else run.scheduler.get_last_lr()[0]
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


def snapshot(run: Run, step: int) -> Path:
    """Save the model as it is after ``step`` to ``snapshots/step-<step>`` (a point of a
    learning curve; :func:`files.snapshot_dir`), written whole or not at all."""
    out = files.snapshot_dir(run.out_dir, step)
    if run.acc.is_main_process and not out.exists():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(run, tmp)
        tmp.rename(out)
    return out


def save_model(run: Run, directory: Path) -> None:
    """The model being tuned (unwrapped from DDP) and its tokenizer, as ``load_encoder`` reads them."""
    run.acc.unwrap_model(run.model).save_pretrained(directory)
    run.tokenizer.save_pretrained(directory)


def finish(run: Run, state: LoopState) -> dict[str, Any]:
    """Save the tuned model, its tokenizer and ``summary.json``; the summary."""
    run.ranks.check()  # every process made every step
    summary = {
        "steps": state.step,
        "updates": math.ceil(state.step / run.cfg.grad_accum),
        "resumed_from": state.start_step,
        "first_loss": state.first_loss,
        "last_loss": state.last_loss,
        "seconds": round(time.perf_counter() - state.t0, 2),
        # float32 reductions depend on the thread count: reruns are bit-identical only with the
        # same count (the book's runner uses one thread per chapter on a CPU)
        "torch_threads": torch.get_num_threads(),
        "device": str(run.acc.device),
        "mixed_precision": run.acc.mixed_precision,
        "targets_computed": 0 if run.targets is None else run.targets.computed,
    }
    if run.acc.is_main_process:
        save_model(run, run.out_dir / "model")
        files.write_summary(run.out_dir, summary)
    run.ranks.check()  # no process returns before the model is saved
    return summary


# -- the run -----------------------------------------------------------------------------------


def run_steps(run: Run, corpora: dict[str, ParallelCorpus], start_step: int, bar) -> LoopState:
    """Steps ``start_step + 1 ... total_steps``; every update logged, checkpointed when due."""
    cfg, total = run.cfg, run.total_steps
    batches = language_batches(
        corpora,
        cfg.batch_size,
        seed=cfg.seed,
        epochs=cfg.epochs,
        start_step=start_step,
        bucket=BUCKET_BATCHES if cfg.bucket_by_length else 0,
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
            if run.scheduler is not None:
                run.scheduler.step()  # the rate of the next update
            if step in cfg.snapshot_steps and step < total:
                snapshot(run, step)
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
    trained again: its stored summary is returned with ``"reused": True``. A directory that
    another process is training into raises :class:`~.lock.RunLocked` naming it.

    Under ``accelerate launch`` (or ``torchrun``) with several processes, every process draws
    the same global batches (``batch_size`` pairs per language, which must divide by the number
    of processes) and computes the loss of its :func:`shard`; gradients are averaged over the
    processes once per optimiser update, and the logged losses are those of the global batch.
    An error on one process stops every process (the others raise
    :class:`~.ranks.ProcessFailed` naming it).
    """
    out_dir = Path(out_dir)
    missing = [k for k in cfg.languages if k not in corpora]
    if missing:
        raise ValueError(f"no parallel data for language(s) {missing}; have {sorted(corpora)}")
    corpora = {k: corpora[k] for k in cfg.languages}
    if not resume and files.has_run(out_dir):
        raise FileExistsError(f"{out_dir} is not empty; pass resume=True or choose another dir")
    ranks = Ranks(_accelerator(cfg, out_dir))
    with contextlib.ExitStack() as held:
        try:
            ranks.check()  # every process has looked at out_dir before the main one locks it
            if ranks.acc.is_main_process:
                held.enter_context(run_lock(out_dir))
            ranks.check()
            return _train_locked(cfg, corpora, out_dir, ranks, resume, model, tokenizer, progress)
        except BaseException as err:
            ranks.fail(err)  # the other processes stop at their next status check
            raise


def _train_locked(
    cfg: TrainConfig,
    corpora: dict[str, ParallelCorpus],
    out_dir: Path,
    ranks: Ranks,
    resume: bool,
    model,
    tokenizer,
    progress: bool,
) -> dict[str, Any]:
    """:func:`train` once the run directory is locked: reuse, or set up, restore, run, finish."""
    checkpoints = []
    if resume:
        settings = run_settings(cfg, corpora)
        finished = files.finished_run(settings, out_dir, total_steps(cfg, corpora))
        ranks.check()
        if finished is not None:
            return finished
        checkpoints = files.complete_checkpoints(out_dir)
    run = setup(cfg, corpora, out_dir, ranks, model, tokenizer)
    start_step = restore(run, checkpoints)
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
