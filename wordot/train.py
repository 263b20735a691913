"""Fine-tuning an encoder with the WordOT loss (Section 4.3 and 5.2 of the paper).

One *step* sees one equal-sized batch per language (Section 5.2); each language's loss is
back-propagated as soon as it is computed (the gradient of the sum, with one language's graph in
memory at a time), and the optimiser updates after ``grad_accum`` steps. ``accelerate`` handles
devices, multi-GPU (``accelerate launch``) and bf16. Runs are never lost: ``config.json`` is
written first, every update appends a line to ``log.jsonl``, ``checkpoints/step-K`` holds model,
optimiser, RNG and data position every ``checkpoint_every`` updates, and ``resume=True`` continues
from the last one to the same weights an uninterrupted run reaches.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .embed import embed_words
from .loss import LossConfig, wordot_loss


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
    profile's own settings, ``<name>-<8 hex of the settings' hash>`` for any other, so runs
    with different settings never share a directory. A relative ``runs_dir`` is relative to the
    project root."""
    from .config import resolve
    from .runner import ROOT

    settings = _as_json(config_from_profile(p).to_dict())
    if settings != _as_json(config_from_profile(resolve(p.name)).to_dict()):
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
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
    passed to skip :func:`wordot.models.load_encoder`.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from .data import language_batches, steps_per_epoch

    out_dir = Path(out_dir)
    missing = [k for k in cfg.languages if k not in corpora]
    if missing:
        raise ValueError(f"no parallel data for language(s) {missing}; have {sorted(corpora)}")
    corpora = {k: corpora[k] for k in cfg.languages}
    last = _latest_checkpoint(out_dir) if resume else None
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        raise FileExistsError(f"{out_dir} is not empty; pass resume=True or choose another dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", {"wordot_version": __version__, **cfg.to_dict()})

    mixed = cfg.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    acc = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum, mixed_precision=mixed, cpu=cfg.cpu
    )
    set_seed(cfg.seed)
    if model is None or tokenizer is None:
        from .models import load_encoder

        model, tokenizer = load_encoder(cfg.encoder)
    init_model = copy.deepcopy(model).eval().requires_grad_(False) if cfg.loss.lam else None
    if cfg.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    model.train(cfg.dropout)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    model, opt = acc.prepare(model, opt)
    if init_model is not None:
        init_model = init_model.to(acc.device)

    total_steps = steps_per_epoch(corpora, cfg.batch_size) * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)

    start_step = 0
    if last is not None:
        acc.load_state(str(last))
        start_step = json.loads((last / "state.json").read_text())["step"]
    log_path = out_dir / "log.jsonl"
    if start_step == 0 and log_path.exists():
        log_path.unlink()
    elif start_step and log_path.exists():  # drop lines logged after the checkpoint
        lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
        keep = [ln for ln in lines if json.loads(ln)["step"] <= start_step]
        log_path.write_text("".join(ln + "\n" for ln in keep))

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
    t0 = time.perf_counter()
    step, first_loss, last_loss = start_step, None, None
    pending: dict[str, float] = {}
    for batch in batches:
        if step >= total_steps:
            break
        step += 1
        with acc.accumulate(model):
            parts_log: dict[str, float] = {}
            groups = [list(cfg.languages)] if cfg.loss.pooled else [[k] for k in cfg.languages]
            for group in groups:
                src, en = batch[group[0]]
                where = (
                    f"at step {step} (language {'+'.join(group)}); first pair of the batch: "
                    f"{src[0]!r} / {en[0]!r}; last checkpoint: {_latest_checkpoint(out_dir)}"
                )
                try:
                    parts = _group_loss(model, init_model, tokenizer, batch, group, cfg)
                except NonFiniteLoss as err:
                    raise NonFiniteLoss(f"{err} {where}") from None
                value = parts.total.item()
                if not math.isfinite(value):
                    raise NonFiniteLoss(f"loss is {value} {where}; parts {parts.as_floats()}")
                acc.backward(parts.total)
                parts_log.update(parts.as_floats() | {f"loss/{'+'.join(group)}": value})
            opt.step()
            opt.zero_grad()
        loss_value = sum(v for k, v in parts_log.items() if k.startswith("loss/"))
        for k, v in parts_log.items():
            if k != "loss":
                pending[k] = pending.get(k, 0.0) + v / cfg.grad_accum
        first_loss = loss_value if first_loss is None else first_loss
        last_loss = loss_value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if acc.sync_gradients or step == total_steps:
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
                and acc.sync_gradients
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
    return summary


def _group_loss(model, init_model, tokenizer, batch: dict, langs: list[str], cfg: TrainConfig):
    """WordOT loss of one or (pooled) several languages' batches."""
    kw = {"pooling": cfg.pooling, "layer": cfg.layer, "max_length": cfg.max_length}
    src, en, en0 = {}, {}, None
    for lang in langs:
        s, e = batch[lang]
        src[lang] = embed_words(model, tokenizer, s, lang, **kw)
        en[lang] = embed_words(model, tokenizer, e, "en", **kw)
        for side, emb in ((lang, src[lang]), ("en", en[lang])):
            if not torch.isfinite(emb.vectors).all():
                raise NonFiniteLoss(f"the encoder produced NaN/inf word vectors ({side} side)")
    if init_model is not None:
        with torch.no_grad():
            en0 = {
                lang: embed_words(init_model, tokenizer, batch[lang][1], "en", **kw)
                for lang in langs
            }
    return wordot_loss(src, en, en0, cfg.loss)


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
