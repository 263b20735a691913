"""Real-NVP density matching (Zhao & Eger, supervised "Real-NVP"): a feature map fitted on pairs.

Each language gets its own Real-NVP flow onto one shared latent space ``Z ~ N(0, I)`` (Section
3.1: "we let Z share a common vector space with X and Y"); the map is the composition through
the latent (Section 3.2: "f_{X->Y} is the composition of f_{X->Z} and f_{Z->Y}")::

    T_src, T_en : R^d -> R^d          data -> latent, exact inverse, exact log-det
    map(x)      = T_en^{-1}(T_src(x))  source -> English          (m, d) -> (m, d)
    map_back(y) = T_src^{-1}(T_en(y))  English -> source (the dual direction)

Objective (Eq. 1 with the entropy term of Eq. 2, in its dual form), on a batch of ``B`` aligned
pairs ``x: (B, d)`` (source) and ``y: (B, d)`` (English, row ``i`` translates row ``i``)::

    L = mean_i |map(x_i) - y_i|^2                                      (match, Eq. 1)
      + w_rev * mean_i |map_back(y_i) - x_i|^2                         (dual direction)
      + w_mle * mean_i [ -log p_src(x_i) - log p_en(y_i) ]             (density modelling, Eq. 2)

    log p_l(v) = log N(T_l(v); 0, I) + log |det dT_l/dv (v)|           (change of variables)

Model selection (Section 4.2): the *semantic criterion* of Lample et al. (2018), the mean cosine
similarity between mapped source vectors and their English translations, computed after every
epoch; the state of the best epoch is kept. ``criterion="structural"`` is the paper's other
criterion, a gap between the ordered singular values of the two sides (lower is better).

Departures from the paper, each named:

* Model selection runs on a held-out split of the given pairs (``val_fraction``); the paper
  induces "the 30k most confident word translations from monolingual data with CSLS" instead.
  With gold pairs at hand, held-out gold pairs are the cleaner choice.
* The paper writes ``- E[log P_Y]`` into the KL of Eq. 1, which, minimised, would *lower* the
  likelihood; its text says the term "aims to maximize the data log-likelihood" and the appendix
  calls ``1e-4`` "the coefficient for maximum likelihood estimation", so we add ``w_mle`` times
  the negative log-likelihood.
* "A dual form of density matching based on JS divergence" is not defined ("We omit the
  definition"); we read it as the symmetric objective: the match term in both directions and the
  likelihood of both languages (``w_rev = 1``; ``w_rev = 0`` is Eq. 1 alone, likelihood of both).
* ``|.|^2`` is averaged over the pairs of a batch (Eq. 1's matrix norm sums them), so that the
  weights do not depend on the batch size.
* The structural criterion is "the difference between two ordered lists of singular values"; we
  use Dubossarsky et al.'s (2020) singular-value gap, ``sum_k (log s_k(map(X)) - log s_k(Y))^2``.
* ``standardize``: both languages are shifted and scaled by one shared mean and one scalar scale
  (pooled over the training rows of both languages) before the flows and back after; the paper
  says nothing about it. Being the same affine change of coordinates for both languages it aligns
  nothing by itself (unlike per-language centering, :mod:`.center`), and it keeps the flows'
  inputs O(1) whatever the encoder's scale. Losses are reported in these units.

Architecture (Appendix A.1: "the Real-NVP component is stacked with two FCNN networks with a
dimension size of 512 for each. We optimize them with RMSprop and 32 batch size, learning rate
1e-4 [...] The coefficient for maximum likelihood estimation is set to 1e-4"): ``couplings=2``
affine coupling layers per language with alternating halves, each conditioned by a fully
connected network of width 512 with two hidden layers (the three fully connected layers of the
paper's FCNN, Section 4.1; ReLU, zuko's default, where their FCNN uses tanh). Epochs: 20, the
span over which the paper scores its criteria (Figure 4, Table 2).

The flows are zuko's (``zuko.flows.RealNVP``, zuko 1.6.0). Of the three maintained-or-once-
maintained PyTorch flow packages, zuko is the one still released (1.6.0, 2026; normflows 1.7.3
dates from 2023, nflows 0.14 from 2020), ships a wheel that needs only torch and numpy (normflows
and nflows are source-only; nflows also pulls tensorboard, matplotlib and tqdm), and its Real-NVP
is exactly the coupling stack needed here: affine couplings (``exp(a) x + b`` with a soft bound
on ``a``, so the scale never overflows) whose transforms expose an exact ``inv`` and a fused
``call_and_ladj`` (value and ``log |det J|`` in one pass), usable outside its distribution wrapper.

Shapes: ``fit(src (n, d), en (n, d))`` on aligned rows, ``map(x (m, d)) -> (m, d)``. A fitted
model keeps its training curve in :attr:`DensityMatching.fitted` (:class:`RealNVPFit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import zuko
from torch import Tensor, nn

__all__ = [
    "DensityMatching",
    "RealNVPConfig",
    "RealNVPFit",
    "TrainingDiverged",
    "build_flow",
    "encode",
    "semantic_criterion",
    "structural_criterion",
]

Criterion = Literal["semantic", "structural"]

#: fewest pairs on either side of the validation split
MIN_PAIRS = 10


class TrainingDiverged(FloatingPointError):
    """Training produced a NaN or inf (loss or validation criterion); names where it happened."""

    def __init__(self, message: str, *, epoch: int, step: int | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


@dataclass(frozen=True)
class RealNVPConfig:
    """Options of :class:`DensityMatching`. Paper values (Appendix A.1) where it gives them.

    * ``couplings`` (ours, a reading of "stacked with two FCNN networks"): affine coupling
      layers per language; ``hidden`` (paper: 512; two hidden layers, ours): the conditioner's
      hidden widths.
    * ``lr`` (paper, RMSprop), ``batch_size`` (paper), ``epochs`` (paper: criteria over 20).
    * ``w_mle`` (paper: "coefficient for maximum likelihood estimation" 1e-4), ``w_rev`` (ours:
      the dual direction of the match term, see the module docstring).
    * ``criterion`` (paper: semantic), ``val_fraction`` (ours: held-out pairs for it).
    * ``standardize`` (ours), ``seed`` (initialisation, split and batch order).
    """

    couplings: int = 2
    hidden: tuple[int, ...] = (512, 512)
    lr: float = 1e-4
    epochs: int = 20
    batch_size: int = 32
    w_mle: float = 1e-4
    w_rev: float = 1.0
    criterion: Criterion = "semantic"
    val_fraction: float = 0.1
    standardize: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        def integer(name: str, value: object, low: int) -> None:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"RealNVPConfig.{name} must be an integer >= {low}, got {value!r}")

        def real(name: str, value: object, *, zero_ok: bool) -> None:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and (value >= 0 if zero_ok else value > 0)
            if not ok:
                kind = "a finite number >= 0" if zero_ok else "a finite number > 0"
                raise ValueError(f"RealNVPConfig.{name} must be {kind}, got {value!r}")

        integer("couplings", self.couplings, 1)
        integer("epochs", self.epochs, 1)
        integer("batch_size", self.batch_size, 1)
        integer("seed", self.seed, 0)
        if not isinstance(self.hidden, tuple) or not self.hidden:
            raise ValueError(f"RealNVPConfig.hidden must be a non-empty tuple, got {self.hidden!r}")
        for width in self.hidden:
            integer("hidden", width, 1)
        real("lr", self.lr, zero_ok=False)
        real("w_mle", self.w_mle, zero_ok=True)
        real("w_rev", self.w_rev, zero_ok=True)
        real("val_fraction", self.val_fraction, zero_ok=False)
        if self.val_fraction >= 1:
            raise ValueError(f"RealNVPConfig.val_fraction must be < 1, got {self.val_fraction!r}")
        if self.criterion not in ("semantic", "structural"):
            raise ValueError(
                f"RealNVPConfig: unknown criterion {self.criterion!r}; "
                "choose one of ('semantic', 'structural')"
            )


@dataclass
class RealNVPFit:
    """What :meth:`DensityMatching.fit` leaves behind, for plots and reports.

    ``step_loss[s]``: total loss of optimiser step ``s``; ``epoch_loss[e]`` and ``epoch_terms[e]``
    (``"match"``, ``"rev"``, ``"nll"``): their means over epoch ``e + 1``; ``val[e]``: the
    criterion after epoch ``e`` (``val[0]`` at initialisation, for reference: never selected);
    ``best_epoch`` (1-based) and ``best_val``: the selected state; ``val_rows``: the rows of
    ``src``/``en`` held out for the criterion (the others trained).
    """

    criterion: Criterion
    higher_is_better: bool
    n_train: int
    n_val: int
    val_rows: list[int] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_terms: list[dict[str, float]] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val: float = math.nan


# --------------------------------------------------------------------------------------------
# flows and criteria
# --------------------------------------------------------------------------------------------


def build_flow(features: int, cfg: RealNVPConfig) -> zuko.flows.RealNVP:
    """One language's Real-NVP: ``cfg.couplings`` affine couplings on alternating halves, each
    conditioned by an MLP of widths ``cfg.hidden``, over a standard normal base ``N(0, I_d)``.
    ``flow().transform`` maps data to latent, ``.inv`` back."""
    return zuko.flows.RealNVP(features, transforms=cfg.couplings, hidden_features=cfg.hidden)


def encode(flow: zuko.flows.RealNVP, v: Tensor) -> tuple[Tensor, Tensor]:
    """Latent codes ``z = T(v): (n, d)`` and log-densities ``log p(v): (n,)`` of rows ``v: (n, d)``,
    ``log p(v) = log N(z; 0, I) + log |det dT/dv|`` (change of variables)."""
    return _encode(flow(), v)


def _encode(dist: zuko.distributions.NormalizingFlow, v: Tensor) -> tuple[Tensor, Tensor]:
    z, ladj = dist.transform.call_and_ladj(v)
    return z, dist.base.log_prob(z) + ladj


def semantic_criterion(mapped: Tensor, en: Tensor) -> float:
    """Mean cosine similarity between rows ``mapped: (n, d)`` and their partners ``en: (n, d)``
    (Lample et al. 2018; higher is better)."""
    return float(torch.nn.functional.cosine_similarity(mapped, en, dim=-1).mean())


def structural_criterion(mapped: Tensor, en: Tensor) -> float:
    """Singular-value gap (Dubossarsky et al. 2020) between ``mapped: (n, d)`` and ``en: (n, d)``:
    ``sum_k (log s_k(mapped) - log s_k(en))^2`` over the ordered singular values (lower is
    better). Values below ``1e-12`` times the largest are floored there (rank deficiency)."""
    s = [torch.linalg.svdvals(m.double()) for m in (mapped, en)]
    s = [v.clamp_min(1e-12 * float(v.max().clamp_min(1e-300))).log() for v in s]
    return float(((s[0] - s[1]) ** 2).sum())


CRITERIA = {"semantic": (semantic_criterion, True), "structural": (structural_criterion, False)}


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _check_matrix(name: str, x: object, d: int | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{name} has {x.shape[1]} features but the map was fitted on d={d}")
    if not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).any(-1).nonzero().flatten()
        rows = bad[:5].tolist()
        more = "..." if bad.numel() > 5 else ""
        raise ValueError(f"{name} contains NaN or inf (rows {rows}{more})")
    return x


# --------------------------------------------------------------------------------------------
# the feature map
# --------------------------------------------------------------------------------------------


class DensityMatching:
    """Real-NVP density matching (Zhao & Eger, supervised), a :class:`~.FeatureMap`.

    ``DensityMatching(cfg).fit(src, en)`` trains on aligned rows (``fit(src, en, cfg)`` replaces
    the constructor's options); ``map(x)`` sends source vectors into the English space,
    ``map_back(y)`` English vectors into the source space. After ``fit``: ``flows`` (a
    ``ModuleDict`` with ``"src"`` and ``"en"``, in the best epoch's state), ``fitted``
    (:class:`RealNVPFit`), ``shift: (d,)`` and ``scale`` (the shared standardisation).
    """

    def __init__(self, cfg: RealNVPConfig | None = None) -> None:
        self.cfg = cfg if cfg is not None else RealNVPConfig()
        if not isinstance(self.cfg, RealNVPConfig):
            raise ValueError(f"cfg must be a RealNVPConfig, got {type(self.cfg).__name__}")
        self.flows: nn.ModuleDict | None = None
        self.fitted: RealNVPFit | None = None
        self.shift: Tensor | None = None
        self.scale: float = 1.0

    # -- the maps ------------------------------------------------------------------------------

    def _through(self, v: Tensor, into: str, out_of: str) -> Tensor:
        """``T_into^{-1}(T_out_of(v))`` in standardised units."""
        z = self.flows[out_of]().transform(v)
        return self.flows[into]().transform.inv(z)

    def _apply(self, x: Tensor, name: str, into: str, out_of: str) -> Tensor:
        if self.flows is None:
            raise ValueError("DensityMatching is not fitted: call fit(src, en) first")
        d = self.shift.shape[0]
        x = _check_matrix(name, x, d)
        if x.shape[0] == 0:
            return x.clone()
        p = next(self.flows.parameters())
        self.flows.eval()
        with torch.no_grad():
            v = (x.to(p) - self.shift) / self.scale
            out = self._through(v, into, out_of) * self.scale + self.shift
        if not bool(torch.isfinite(out).all()):
            rows = (~torch.isfinite(out)).any(-1).nonzero().flatten()[:5].tolist()
            raise FloatingPointError(
                f"the fitted flows produced NaN or inf on rows {rows} of {name} "
                "(inputs far outside the training data?)"
            )
        return out.to(x.dtype)

    def map(self, x: Tensor) -> Tensor:
        """Source-language vectors ``(m, d)`` -> the English space ``(m, d)``."""
        return self._apply(x, "x", into="en", out_of="src")

    def map_back(self, y: Tensor) -> Tensor:
        """English vectors ``(m, d)`` -> the source-language space ``(m, d)`` (the inverse map)."""
        return self._apply(y, "y", into="src", out_of="en")

    # -- training ------------------------------------------------------------------------------

    def _losses(self, x: Tensor, y: Tensor, cfg: RealNVPConfig) -> dict[str, Tensor]:
        """The three terms and their weighted total on a batch (standardised units)."""
        p_src, p_en = self.flows["src"](), self.flows["en"]()
        z_x, logp_x = _encode(p_src, x)
        z_y, logp_y = _encode(p_en, y)
        match = ((p_en.transform.inv(z_x) - y) ** 2).sum(-1).mean()
        terms = {"match": match, "nll": -(logp_x.mean() + logp_y.mean())}
        rev = ((p_src.transform.inv(z_y) - x) ** 2).sum(-1).mean() if cfg.w_rev else match * 0
        terms["rev"] = rev
        terms["total"] = match + cfg.w_rev * terms["rev"] + cfg.w_mle * terms["nll"]
        return terms

    def _criterion(self, x: Tensor, y: Tensor, cfg: RealNVPConfig, epoch: int) -> float:
        score, _ = CRITERIA[cfg.criterion]
        self.flows.eval()
        with torch.no_grad():
            mapped = self._through(x, "en", "src") * self.scale + self.shift
            value = score(mapped, y * self.scale + self.shift)
        self.flows.train()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"Real-NVP training diverged: the {cfg.criterion} validation criterion is "
                f"{value} after epoch {epoch}; lower RealNVPConfig.lr (now {cfg.lr})",
                epoch=epoch,
            )
        return value

    def fit(self, src: Tensor, en: Tensor, cfg: RealNVPConfig | None = None) -> DensityMatching:
        """Train on aligned rows ``src: (n, d)``, ``en: (n, d)``; keep the best epoch's flows by
        the validation criterion on a held-out ``cfg.val_fraction`` of the pairs. Returns self.

        Raises ``ValueError`` on bad input and :class:`TrainingDiverged` (a
        ``FloatingPointError``) if a loss or the criterion turns NaN or inf, naming the step.
        """
        if cfg is not None:
            if not isinstance(cfg, RealNVPConfig):
                raise ValueError(f"cfg must be a RealNVPConfig, got {type(cfg).__name__}")
            self.cfg = cfg
        cfg = self.cfg
        src, en = _check_matrix("src", src), _check_matrix("en", en)
        if src.shape != en.shape:
            raise ValueError(
                f"src {tuple(src.shape)} and en {tuple(en.shape)} must have the same shape "
                "(row i of src translates row i of en)"
            )
        n, d = src.shape
        if d < 2:
            raise ValueError(f"Real-NVP couplings need d >= 2 features, got d={d}")
        n_val = math.ceil(cfg.val_fraction * n)
        if n_val < MIN_PAIRS or n - n_val < MIN_PAIRS:
            raise ValueError(
                f"too few pairs for the validation split: n={n} with val_fraction="
                f"{cfg.val_fraction} gives {n - n_val} training and {n_val} validation pairs; "
                f"each side needs at least {MIN_PAIRS}"
            )
        dtype = torch.promote_types(src.dtype, en.dtype)
        src, en = src.to(dtype), en.to(device=src.device, dtype=dtype)

        gen = torch.Generator().manual_seed(cfg.seed)
        perm = torch.randperm(n, generator=gen).to(src.device)
        val, train = perm[:n_val], perm[n_val:]
        x_tr, y_tr, x_val, y_val = src[train], en[train], src[val], en[val]

        if cfg.standardize:
            pooled = torch.cat([x_tr, y_tr]).double()
            shift = pooled.mean(0)
            scale = float(((pooled - shift) ** 2).sum(-1).mean().div(d).sqrt())
            if not math.isfinite(scale) or scale <= 0 or not bool(torch.isfinite(shift).all()):
                raise ValueError(
                    f"cannot standardise the training rows (scale {scale}): they are constant "
                    "or too large for their dtype; rescale src and en"
                )
            self.shift, self.scale = shift.to(dtype), scale
        else:
            self.shift, self.scale = torch.zeros(d, dtype=dtype, device=src.device), 1.0
        x_tr, y_tr, x_val, y_val = (
            (v - self.shift) / self.scale for v in (x_tr, y_tr, x_val, y_val)
        )

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            flows = nn.ModuleDict({"src": build_flow(d, cfg), "en": build_flow(d, cfg)})
        self.flows = flows.to(device=src.device, dtype=dtype)
        try:
            self.fitted = self._train(x_tr, y_tr, x_val, y_val, cfg, gen)
            self.fitted.val_rows = val.tolist()
        except BaseException:
            self.flows, self.fitted = None, None  # never leave a half-trained map behind
            raise
        return self

    def _train(
        self, x_tr: Tensor, y_tr: Tensor, x_val: Tensor, y_val: Tensor, cfg: RealNVPConfig, gen
    ) -> RealNVPFit:
        """RMSprop over ``cfg.epochs`` epochs; loads the best epoch's state, returns the curve."""
        opt = torch.optim.RMSprop(self.flows.parameters(), lr=cfg.lr)
        _, higher = CRITERIA[cfg.criterion]
        fit = RealNVPFit(cfg.criterion, higher, n_train=len(x_tr), n_val=len(x_val))
        fit.val.append(self._criterion(x_val, y_val, cfg, epoch=0))
        best_state = None
        step = 0
        self.flows.train()
        for epoch in range(1, cfg.epochs + 1):
            order = torch.randperm(len(x_tr), generator=gen).to(x_tr.device)
            sums = {"total": 0.0, "match": 0.0, "rev": 0.0, "nll": 0.0}
            batches = order.split(cfg.batch_size)
            for batch in batches:
                terms = self._losses(x_tr[batch], y_tr[batch], cfg)
                values = {k: v.item() for k, v in terms.items()}
                if not all(math.isfinite(v) for v in values.values()):
                    shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                    raise TrainingDiverged(
                        f"Real-NVP training diverged at step {step} (epoch {epoch}): "
                        f"loss terms {shown}; lower RealNVPConfig.lr (now {cfg.lr})",
                        epoch=epoch,
                        step=step,
                    )
                opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                opt.step()
                fit.step_loss.append(values["total"])
                for k in sums:
                    sums[k] += values[k]
                step += 1
            fit.epoch_loss.append(sums["total"] / len(batches))
            fit.epoch_terms.append({k: sums[k] / len(batches) for k in ("match", "rev", "nll")})
            value = self._criterion(x_val, y_val, cfg, epoch=epoch)
            fit.val.append(value)
            if best_state is None or (value > fit.best_val if higher else value < fit.best_val):
                fit.best_epoch, fit.best_val = epoch, value
                best_state = {k: v.detach().clone() for k, v in self.flows.state_dict().items()}

        self.flows.load_state_dict(best_state)
        self.flows.eval()
        return fit
