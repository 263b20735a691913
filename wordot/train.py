"""Fine-tuning an encoder with the WordOT loss (Section 4.3 and 5.2 of the paper).

One *step* sees one equal-sized batch per language (Section 5.2); each language's loss is
back-propagated as soon as it is computed (the gradient of the sum, with one language's graph in
memory at a time), and the optimiser updates after ``grad_accum`` steps. ``accelerate`` handles
devices and bf16. Runs are never lost: ``config.json`` is written first, every update appends a
line to ``log.jsonl``, ``checkpoints/step-K`` holds model, optimiser, RNG and data position every
``checkpoint_every`` updates, and ``resume=True`` continues from the last one to the same weights
an uninterrupted run reaches (and returns a finished run's summary without training again).

Several GPUs (``accelerate launch`` or ``torchrun``) split every batch: all processes draw the
same global batches, each computes the loss of its shard (``batch_size / processes`` pairs of
every language) and DDP averages the gradients once per update, so a run takes the same steps
on any number of GPUs and the global batch stays ``batch_size`` (the paper's 24).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .embed import embed_words
from .loss import LossConfig, LossParts, wordot_loss


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or inf; the message names the step, language and batch."""


@dataclass
class TrainConfig:
    """Everything a WordOT fine-tuning run depends on (written to ``config.json``)."""

    encoder: str = "tiny"
    languages: tuple[str, ...] = ("de", "fr")
    batch_size: int = 24
    grad_accum: int = 2
    lr: float = 5e-5
    epochs: int = 1
    max_steps: int | None = None  # stop after this many steps (batches per language)
    max_length: int = 128
    pooling: str = "last"
    layer: int = -1
    loss: LossConfig = field(default_factory=LossConfig)
    freeze_word_embeddings: bool = False
    dropout: bool = False  # dropout noise would count as drift in the regulariser
    seed: int = 0
    checkpoint_every: int = 50  # optimiser updates between checkpoints (0: never)
    keep_checkpoints: int = 2
    mixed_precision: str = "auto"  # auto: bf16 on a GPU that supports it, else no
    cpu: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["languages"] = list(self.languages)
        return d


def config_from_profile(p) -> TrainConfig:
    """The fine-tuning settings of a run profile (:class:`wordot.config.Profile`)."""
    loss = LossConfig(
        eps=p.loss_eps,
        cost=p.loss_cost,
        lam=p.lam,
        reach=p.reach or None,
        solver={"tol": p.loss_tol},
    )
    return TrainConfig(
        encoder=p.encoder,
        languages=tuple(p.languages),
        batch_size=p.batch_size,
        grad_accum=p.grad_accum,
        lr=p.lr,
        epochs=p.epochs,
        max_steps=p.max_steps or None,
        max_length=p.max_length,
        pooling=p.pooling,
        layer=p.layer,
        loss=loss,
        freeze_word_embeddings=p.freeze_word_embeddings,
        seed=p.seed,
        checkpoint_every=p.checkpoint_every,
        cpu=p.device == "cpu",
    )


def _as_json(obj: Any) -> Any:
    """A JSON round trip (tuples become lists), as settings are stored in ``config.json``."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def run_dir(p, name: str = "wordot") -> Path:
    """Where the fine-tuning run of profile ``p`` lives: ``runs_dir/<profile>/<name>`` for the
    profile's own settings, ``<name>-<8 hex of the settings' hash>`` for any other (training
    settings, corpus and pairs per language), so runs with different settings never share a
    directory. A relative ``runs_dir`` is relative to the
    project root."""
    from .config import resolve
    from .runner import ROOT

    def settings(q) -> Any:  # the training settings and the data they train on
        data = {"corpus": q.corpus, "pairs_per_language": q.pairs_per_language}
        return _as_json(config_from_profile(q).to_dict() | {"data": data})

    if settings(p) != settings(resolve(p.name)):
        digest = hashlib.sha1(json.dumps(settings(p), sort_keys=True).encode()).hexdigest()[:8]
        name = f"{name}-{digest}"
    root = Path(p.runs_dir).expanduser()
    return (root if root.is_absolute() else ROOT / root) / p.name / name


def profile_corpora(p) -> dict:
    """Training pairs of a profile: ``pairs_per_language`` per language, prepared as the paper
    (length filter, dedup, shuffle, upsampling); returns ``{lang: ParallelCorpus}``."""
    from .data import load_corpora, prepare_language

    raw = load_corpora(p.languages, p.corpus)
    return {k: prepare_language(c, p.pairs_per_language, p.seed)[0] for k, c in raw.items()}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def _latest_checkpoint(out_dir: Path) -> Path | None:
    ckpts = sorted(
        (p for p in (out_dir / "checkpoints").glob("step-*") if (p / "state.json").exists()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return ckpts[-1] if ckpts else None


def _total_steps(cfg: TrainConfig, corpora: dict) -> int:
    """Steps a run of ``cfg`` makes on ``corpora``: its epochs, cut at ``max_steps``."""
    from .data import steps_per_epoch

    total = steps_per_epoch(corpora, cfg.batch_size) * cfg.epochs
    return min(total, cfg.max_steps) if cfg.max_steps is not None else total


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"loss.eps": ...}``, for naming the ones that differ."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _finished_run(cfg: TrainConfig, out_dir: Path, total_steps: int) -> dict[str, Any] | None:
    """Look at a run directory before resuming into it.

    ValueError naming the differing settings if its ``config.json`` was written for other
    settings; the stored summary (plus ``"reused": True``) if its ``summary.json`` says the run
    has made ``total_steps`` steps already; None otherwise (train, or continue).
    """
    config_file = out_dir / "config.json"
    if config_file.exists():
        stored = _as_json(json.loads(config_file.read_text()))
        stored.pop("wordot_version", None)
        old, new = _flat(stored), _flat(_as_json(cfg.to_dict()))
        missing = object()
        differ = sorted(
            k for k in old.keys() | new.keys() if old.get(k, missing) != new.get(k, missing)
        )
        if differ:
            raise ValueError(
                f"{out_dir} holds a run made with other settings (differing: "
                f"{', '.join(differ)}); delete the directory or choose another one"
            )
    summary_file = out_dir / "summary.json"
    if summary_file.exists():
        summary = json.loads(summary_file.read_text())
        if summary.get("steps", 0) >= total_steps:
            return summary | {"reused": True}
    return None


def _freeze_unreachable(model, tokenizer, sentence: str, cfg: TrainConfig) -> list[str]:
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
            kw = {"pooling": cfg.pooling, "layer": cfg.layer, "max_length": cfg.max_length}
            emb = embed_words(model, tokenizer, [sentence], "en", **kw)
            grads = torch.autograd.grad(emb.vectors.sum(), [p for _, p in named], allow_unused=True)
    finally:
        model.train(was_training)
    frozen = []
    for (name, p), g in zip(named, grads, strict=True):
        if g is None:
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def shard(batch: dict, rank: int, world: int) -> dict:
    """Process ``rank``'s part of a global batch: pairs ``rank, rank + world, ...`` of every
    language (``{lang: (src, en)}``), so the ``world`` shards are disjoint and cover it."""
    return {lang: (src[rank::world], en[rank::world]) for lang, (src, en) in batch.items()}


def train(
    cfg: TrainConfig,
    corpora: dict,
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
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from .data import language_batches

    out_dir = Path(out_dir)
    missing = [k for k in cfg.languages if k not in corpora]
    if missing:
        raise ValueError(f"no parallel data for language(s) {missing}; have {sorted(corpora)}")
    corpora = {k: corpora[k] for k in cfg.languages}
    total_steps = _total_steps(cfg, corpora)
    if resume:
        finished = _finished_run(cfg, out_dir, total_steps)
        if finished is not None:
            return finished
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; pass resume=True or choose another dir")
    last = _latest_checkpoint(out_dir) if resume else None

    mixed = cfg.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    # gradient accumulation is done here, not by Accelerator.accumulate: an update needs the
    # gradients of several backward calls per step (see the loop), and the last, partial
    # accumulation of a run makes an update too
    acc = Accelerator(mixed_precision=mixed, cpu=cfg.cpu)
    world, rank = acc.num_processes, acc.process_index
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
    acc.wait_for_everyone()  # every process has looked at out_dir before the main one writes
    if acc.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json(out_dir / "config.json", {"wordot_version": __version__, **cfg.to_dict()})
    set_seed(cfg.seed)
    if model is None or tokenizer is None:
        from .models import load_encoder

        model, tokenizer = load_encoder(cfg.encoder)
    init_model = copy.deepcopy(model).eval().requires_grad_(False) if cfg.loss.lam else None
    if cfg.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    _freeze_unreachable(model, tokenizer, corpora[cfg.languages[0]].en[0], cfg)
    model.train(cfg.dropout)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    model, opt = acc.prepare(model, opt)
    if init_model is not None:
        init_model = init_model.to(acc.device)

    start_step = 0
    if last is not None:
        acc.load_state(str(last))
        start_step = json.loads((last / "state.json").read_text())["step"]
    log_path = out_dir / "log.jsonl"
    if acc.is_main_process:
        if start_step == 0 and log_path.exists():
            log_path.unlink()
        elif start_step and log_path.exists():  # drop lines logged after the checkpoint
            lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
            keep = [ln for ln in lines if json.loads(ln)["step"] <= start_step]
            log_path.write_text("".join(ln + "\n" for ln in keep))
    acc.wait_for_everyone()

    batches = language_batches(
        corpora, cfg.batch_size, seed=cfg.seed, epochs=cfg.epochs, start_step=start_step
    )
    bar = tqdm(
        total=total_steps,
        initial=start_step,
        desc="WordOT fine-tuning",
        unit="step",
        disable=not progress or not acc.is_local_main_process,
    )
    groups = [list(cfg.languages)] if cfg.loss.pooled else [[k] for k in cfg.languages]
    t0 = time.perf_counter()
    step, first_loss, last_loss = start_step, None, None
    pending: dict[str, float] = {}
    for batch in batches:
        if step >= total_steps:
            break
        step += 1
        # an update every grad_accum steps, and one after the last step of the run: the update
        # of steps (first, first + n_acc], with gradient and log the mean over these steps
        first = (step - 1) // cfg.grad_accum * cfg.grad_accum
        n_acc = min(cfg.grad_accum, total_steps - first)
        sync = step == first + n_acc
        local = shard(batch, rank, world)
        parts_log: dict[str, float] = {}
        for i, group in enumerate(groups):
            # DDP all-reduces the gradients in a backward whose forward calls ran outside
            # no_sync, and what it reduces is the gradient accumulated so far: so exactly the
            # last backward before an update syncs (once per update, whatever the number of
            # groups, steps per update and forward calls per backward); the others accumulate
            # locally. (no_sync is a no-op in a single process.)
            last_backward = sync and i == len(groups) - 1
            with contextlib.nullcontext() if last_backward else acc.no_sync(model):
                try:
                    parts = _group_loss(model, init_model, tokenizer, local, group, cfg, acc)
                except NonFiniteLoss as err:
                    head, *detail = err.args
                    src, en = local[group[0]]
                    where = (
                        f"at step {step} (language {'+'.join(group)}); first pair of the "
                        f"batch: {src[0]!r} / {en[0]!r}; last checkpoint: "
                        f"{_latest_checkpoint(out_dir)}"
                    )
                    raise NonFiniteLoss(f"{head} {where}{''.join(detail)}") from None
                acc.backward(parts.total / n_acc)
            floats = parts.as_floats()
            parts_log.update(floats | {f"loss/{'+'.join(group)}": floats["loss"]})
        if sync:
            opt.step()
            opt.zero_grad()
        if world > 1:  # the global batch's values: the mean over the processes' shards
            keys = sorted(parts_log)
            values = torch.tensor([parts_log[k] for k in keys], dtype=torch.float64)
            values = acc.reduce(values.to(acc.device), "mean").tolist()
            parts_log = dict(zip(keys, values, strict=True))
        loss_value = sum(v for k, v in parts_log.items() if k.startswith("loss/"))
        for k, v in parts_log.items():
            if k != "loss":
                pending[k] = pending.get(k, 0.0) + v / n_acc
        first_loss = loss_value if first_loss is None else first_loss
        last_loss = loss_value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if sync:
            record = {"step": step, "update": math.ceil(step / cfg.grad_accum), "lr": cfg.lr}
            record |= {k: round(v, 6) for k, v in pending.items()}
            record["loss"] = round(sum(v for k, v in pending.items() if k.startswith("loss/")), 6)
            record["seconds"] = round(time.perf_counter() - t0, 2)
            pending = {}
            if acc.is_main_process:
                with log_path.open("a") as fh:
                    fh.write(json.dumps(record) + "\n")
            updates = step // cfg.grad_accum
            if (
                cfg.checkpoint_every
                and step % cfg.grad_accum == 0
                and updates % cfg.checkpoint_every == 0
                and step < total_steps
            ):
                _checkpoint(acc, out_dir, step, cfg.keep_checkpoints)
    bar.close()
    acc.wait_for_everyone()
    summary = {
        "steps": step,
        "updates": math.ceil(step / cfg.grad_accum),
        "resumed_from": start_step,
        "first_loss": first_loss,
        "last_loss": last_loss,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if acc.is_main_process:
        final = out_dir / "model"
        acc.unwrap_model(model).save_pretrained(final)
        tokenizer.save_pretrained(final)
        _write_json(out_dir / "summary.json", summary)
    acc.wait_for_everyone()  # no process returns before the model is saved
    return summary


def _group_loss(
    model, init_model, tokenizer, batch: dict, langs: list[str], cfg: TrainConfig, acc=None
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
    kw = {"pooling": cfg.pooling, "layer": cfg.layer, "max_length": cfg.max_length}
    src, en = {}, {}
    for lang in langs:  # every forward call first: under DDP, all processes make the same ones
        s, e = batch[lang]
        src[lang] = embed_words(model, tokenizer, s, lang, **kw)
        en[lang] = embed_words(model, tokenizer, e, "en", **kw)
    bad = [
        side
        for lang in langs
        for side, emb in ((lang, src[lang]), ("en", en[lang]))
        if not torch.isfinite(emb.vectors).all()
    ]
    problem, detail, parts = None, "", None
    if bad:
        problem = f"the encoder produced NaN/inf word vectors ({bad[0]} side)"
    else:
        en0 = None
        if init_model is not None:
            with torch.no_grad():
                en0 = {
                    lang: embed_words(init_model, tokenizer, batch[lang][1], "en", **kw)
                    for lang in langs
                }
        parts = wordot_loss(src, en, en0, cfg.loss)
        value = parts.total.item()
        if not math.isfinite(value):
            problem, detail = f"loss is {value}", f"; parts {parts.as_floats()}"
    world = acc.num_processes if acc is not None else 1
    if world > 1:
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
                if cfg.loss.reduction == "mean"
                else float(world)
                for k in parts.reg
            }
            reg = {k: v * scale[k] for k, v in parts.reg.items()}
            total = sum(parts.ot.values()) + cfg.loss.lam * sum(reg.values())
            parts = LossParts(total, parts.ot, reg)
    if problem is not None:
        raise NonFiniteLoss(problem, detail)
    return parts


def _checkpoint(acc, out_dir: Path, step: int, keep: int) -> Path:
    path = out_dir / "checkpoints" / f"step-{step}"
    acc.save_state(str(path))
    if acc.is_main_process:
        _write_json(path / "state.json", {"step": step})  # written last: marks it complete
        ckpts = sorted(
            (out_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1])
        )
        for old in ckpts[:-keep] if keep else []:
            shutil.rmtree(old, ignore_errors=True)
    return path


def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The JSONL training log of a run as a list of records."""
    path = Path(out_dir) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
