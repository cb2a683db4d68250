"""fit(): minibatch training with a mask schedule, early stopping and resumable checkpoints.

The paper's protocol (Sec. 6): minibatches of 100, the mask moved on at every
minibatch, early stopping on the validation NLL with a look-ahead of 30
epochs, and the parameters of the best validation epoch kept.

>>> import torch
>>> from made import MADE
>>> x = torch.randint(0, 2, (200, 6)).float()
>>> model = MADE(6, [16], 6, num_masks=2)
>>> result = fit(model, x[:150], x[150:], TrainConfig(max_epochs=3, progress=False))
>>> len(result.history), result.epochs
(3, 3)
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
# Plain tqdm, not tqdm.auto: in a Jupyter kernel without ipywidgets (every
# report and training notebook here) tqdm.auto warns on import; text bars work everywhere.
from tqdm import tqdm

from .device import flush_denormals
from .evaluate import validation_curve, validation_masks
from .io import save_torch
from .model import MADE, ModelConfig
from .settings import DETAIL, EXECUTION, setting

OPTIMIZERS = ("adagrad", "adam", "adadelta", "sgd")


class DecreasingSGD(torch.optim.Optimizer):
    """Plain SGD with the authors' decreasing learning rate ``lr / (1 + c * t)``.

    ``t`` counts the updates made before this one (0 for the first), as in
    ``DecreasingLearningRate`` of the original code; ``c`` is its
    "decrease constant" (0 gives constant-rate SGD).
    """

    def __init__(self, params, lr: float, decrease_constant: float = 0.0, weight_decay: float = 0.0):
        if lr <= 0 or decrease_constant < 0:
            raise ValueError(f"need lr > 0 and decrease_constant >= 0, got {lr}, {decrease_constant}")
        super().__init__(params, dict(lr=lr, decrease_constant=decrease_constant, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            t = group.setdefault("t", 0)
            rate = group["lr"] / (1.0 + group["decrease_constant"] * t)
            for p in group["params"]:
                if p.grad is not None:
                    grad = p.grad if not group["weight_decay"] else p.grad.add(p, alpha=group["weight_decay"])
                    p.add_(grad, alpha=-rate)
            group["t"] = t + 1


@dataclass
class TrainConfig:
    """How to train.  Defaults follow the paper's MNIST protocol (Adagrad 0.01).

    Optimizers, with the original code's names in brackets:

    * ``"adagrad"`` (adagrad): ``lr`` 0.01 by default;
    * ``"adam"``: the seed project's setting, ``lr=1e-3``, ``weight_decay=1e-4``
      and the learning rate divided by 10 every ``lr_step_epochs`` = 45 epochs;
    * ``"adadelta"`` (adadelta): Zeiler's rule with decay ``rho`` and ``eps``;
      ``lr`` multiplies the step and is 1 in the original.  The authors'
      command line puts eps in the learning-rate slot and rho in the
      decrease-constant slot: ``adadelta 1e-5 0.95`` is ``eps=1e-5, rho=0.95``;
    * ``"sgd"`` (sgd): ``lr / (1 + decrease_constant * t)`` at update t
      (:class:`DecreasingSGD`).

    Early stopping: training ends ``look_ahead`` epochs after the last epoch
    that improved the best validation NLL by more than ``min_delta`` nats
    (0, the paper's rule: any improvement), and that epoch's parameters are
    kept.  A positive ``min_delta`` guarantees the rule ends once a decaying
    learning rate leaves only improvements too small to matter.

    Each field also carries its facts for the pipeline (:mod:`made.settings`).
    """

    optimizer: str = setting("adagrad", column=110, curve=False)
    # None: 0.01 adagrad, 1e-3 adam, 1.0 adadelta; required for sgd
    lr: float | None = setting(None, column=120, curve=False)
    weight_decay: float | None = setting(None, **DETAIL)  # None: 0, except 1e-4 for adam
    lr_step_epochs: int | None = setting(None, **DETAIL)  # None: no decay, except 45 for adam
    lr_step_gamma: float = setting(0.1, **DETAIL)
    rho: float = setting(0.95, **DETAIL)  # adadelta's decay
    eps: float = setting(1e-6, **DETAIL)  # adadelta's epsilon
    decrease_constant: float = setting(0.0, **DETAIL)  # sgd's c in lr / (1 + c t)
    min_delta: float = setting(0.0, column=130, curve=False)  # nats a new best must gain to reset the look-ahead
    batch_size: int = setting(100, **DETAIL)
    look_ahead: int = setting(30, **DETAIL)
    # Not part of what is computed: raising the cap extends the same run.
    max_epochs: int | None = setting(None, computation=False, id=None, column=150, curve=False)
    mask_every: int = setting(1, **DETAIL)  # move to the next mask every this many minibatches
    valid_masks: int | None = setting(None, column=140, curve=False)  # None: all K (DEFAULT_VALID_MASKS under mask sampling)
    eval_batch_size: int = setting(1000, setting=False)  # memory: how many validation examples at once
    seed: int = setting(0, id="name", **DETAIL)  # a run's is ExperimentConfig.seed
    progress: bool = setting(True, **EXECUTION)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("batch_size", "look_ahead", "mask_every", "eval_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer or None, got {self.max_epochs!r}")
        if self.optimizer == "sgd" and self.lr is None:
            raise ValueError("optimizer='sgd' needs an explicit lr (the original code had no default)")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0 nats, got {self.min_delta!r}")

    def resolved(self) -> dict:
        """The hyperparameters actually used, defaults filled in."""
        adam = self.optimizer == "adam"
        default_lr = {"adagrad": 0.01, "adam": 1e-3, "adadelta": 1.0}.get(self.optimizer)
        return dict(
            lr=self.lr if self.lr is not None else default_lr,
            weight_decay=self.weight_decay if self.weight_decay is not None else (1e-4 if adam else 0.0),
            lr_step_epochs=self.lr_step_epochs if self.lr_step_epochs is not None else (45 if adam else None),
        )


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one row per epoch
    best_epoch: int = 0  # 1-based; 0 before any epoch
    best_valid_nll: float = math.inf
    epochs: int = 0
    train_seconds: float = 0.0  # training passes only
    valid_seconds: float = 0.0  # the per-epoch validation NLL (an ensemble of K masks)
    stopped_early: bool = False
    steps: int = 0  # minibatches so far (drives the mask schedule across resumes)


def make_optimizer(model: torch.nn.Module, config: TrainConfig):
    hp = config.resolved()
    kwargs = dict(lr=hp["lr"], weight_decay=hp["weight_decay"])
    if config.optimizer == "sgd":
        opt = DecreasingSGD(model.parameters(), decrease_constant=config.decrease_constant, **kwargs)
    elif config.optimizer == "adadelta":
        # torch's Adadelta is the original's rule (eps inside both square roots).
        opt = torch.optim.Adadelta(model.parameters(), rho=config.rho, eps=config.eps, **kwargs)
    else:
        cls = torch.optim.Adagrad if config.optimizer == "adagrad" else torch.optim.Adam
        on_cpu = all(p.device.type == "cpu" for p in model.parameters())
        try:
            # The fused kernels are the same algorithm in one pass over memory, and on
            # CPU a fraction of the for-loop step's cost (benchmarks/RESULTS.md).
            # CPU only: torch has no fused CUDA Adagrad, and refuses it at the first step.
            opt = cls(model.parameters(), fused=on_cpu, **kwargs)
        except (TypeError, RuntimeError):  # older torch
            opt = cls(model.parameters(), **kwargs)
    step = hp["lr_step_epochs"]
    sched = torch.optim.lr_scheduler.StepLR(opt, step, config.lr_step_gamma) if step else None
    return opt, sched


def load_optimizer_state(opt: torch.optim.Optimizer, saved: dict) -> None:
    """``opt.load_state_dict(saved)``, keeping ``opt``'s own ``fused`` flags.

    A checkpoint records whether its optimizer was fused, and torch restores
    that flag with the state; a CPU checkpoint (fused Adagrad) resumed on a GPU,
    which has no fused Adagrad, would then fail at its first step.
    """
    fused = [group.get("fused") for group in opt.param_groups]
    opt.load_state_dict(saved)
    for group, flag in zip(opt.param_groups, fused):
        if "fused" in group:
            group["fused"] = flag


def _state(model, opt, sched, gen, result, best_state, meta) -> dict:
    return {
        "meta": meta,
        "model": model.state_dict(),
        "model_config": model.config,
        "mask_index": model.mask_index,
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict() if sched is not None else None,
        "shuffle_rng": gen.get_state(),
        "result": asdict(result),
        "best_model": best_state,
    }


def _with_defaults(config: dict) -> dict:
    """A saved ``model.config`` with settings added to MADE since filled with their defaults."""
    return {**asdict(ModelConfig()), **config}


def fit(
    model: MADE,
    train: torch.Tensor,
    valid: torch.Tensor,
    config: TrainConfig | None = None,
    *,
    checkpoint: str | os.PathLike | None = None,
    on_epoch_end=None,
    meta: dict | None = None,
    meta_defaults: dict | None = None,
) -> FitResult:
    """Train ``model`` on binary ``train`` with early stopping on ``valid``.

    Both tensors must already be on the model's device.  With ``checkpoint``,
    the full training state is written there atomically after every epoch and
    a later call with the same path resumes from it, reaching the same result
    as an uninterrupted run.  ``on_epoch_end(row)`` is called with each
    history row (a hook for logging, or for tests that interrupt training).
    At the end the parameters of the best validation epoch are restored.

    ``meta`` describes what is being trained (``run_experiment`` passes the
    settings that change the computation); it is saved in the checkpoint, and
    resuming a checkpoint saved with another ``meta`` is refused, as is one
    that already holds more epochs than ``max_epochs``: neither could give a
    result that matches the settings asked for.  ``meta_defaults`` are the
    values of keys that a checkpoint's ``meta`` lacks: a checkpoint written
    before a setting existed was trained at its default, and resumes under it.
    """
    config = config or TrainConfig()
    opt, sched = make_optimizer(model, config)
    gen = torch.Generator().manual_seed(config.seed)  # minibatch order
    result = FitResult()
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=train.device, weights_only=False)
        if _with_defaults(state["model_config"]) != model.config:
            raise ValueError(
                f"checkpoint {checkpoint} was written for a different model "
                f"({state['model_config']}); delete it or use another run directory"
            )
        unknown = sorted(set(state["result"]) - {f.name for f in fields(FitResult)})
        if unknown:  # checked before anything is loaded, so a refusal leaves the model as it was
            raise ValueError(
                f"checkpoint {checkpoint} was written by a newer version of made (it records "
                f"{', '.join(unknown)}); update made, or delete the checkpoint to start the run afresh"
            )
        _check_resume(checkpoint, state, meta, config, meta_defaults)
        model.load_state_dict(state["model"])
        model.set_mask(state["mask_index"])
        load_optimizer_state(opt, state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        gen.set_state(state["shuffle_rng"].cpu())  # map_location moved it with the rest
        result = FitResult(**state["result"])
        best_state = state["best_model"]

    model.train()
    # one mask: the weights hold W * M and forward passes skip the multiply
    with flush_denormals(), tqdm(total=config.max_epochs, initial=result.epochs, disable=not config.progress,
              desc="epochs", unit="epoch", dynamic_ncols=True) as bar, training_context(model):
        while not _finished(result, config):
            t0 = time.perf_counter()
            train_nll = _train_epoch(model, opt, train, gen, config, result)
            if sched is not None:
                sched.step()
            seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            curve = validation_curve(model, valid, validation_masks(model.num_masks, config.valid_masks),
                                     config.eval_batch_size)
            valid_nll = curve[max(curve)]
            valid_seconds = time.perf_counter() - t0
            result.epochs += 1
            result.train_seconds += seconds
            result.valid_seconds += valid_seconds
            row = dict(epoch=result.epochs, train_nll=train_nll, valid_nll=valid_nll,
                       seconds=seconds, valid_seconds=valid_seconds, lr=opt.param_groups[0]["lr"],
                       **{f"valid_nll_m{m}": v for m, v in curve.items() if m < max(curve)})
            result.history.append(row)
            if improves(valid_nll, result.best_valid_nll, config.min_delta):
                result.best_valid_nll, result.best_epoch = valid_nll, result.epochs
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.stopped_early = stops(result.epochs, result.best_epoch, config.look_ahead)
            if checkpoint is not None:
                save_torch(_state(model, opt, sched, gen, result, best_state, meta), checkpoint)
            bar.update(1)
            bar.set_postfix(train=f"{train_nll:.2f}", valid=f"{valid_nll:.2f}",
                            best=result.best_epoch, s_per_epoch=f"{seconds:.1f}")
            if on_epoch_end is not None:
                on_epoch_end(row)
    model.load_state_dict(best_state)
    model.set_mask(0)
    model.eval()
    return result


def improves(valid_nll: float, best: float, min_delta: float) -> bool:
    """Early stopping, part 1: a new best must beat the best so far by more
    than ``min_delta`` nats to count (and to reset the look-ahead)."""
    return valid_nll < best - min_delta


def stops(epoch: int, best_epoch: int, look_ahead: int) -> bool:
    """Early stopping, part 2: training ends ``look_ahead`` epochs after the
    last epoch that counted as a new best."""
    return epoch - best_epoch >= look_ahead


def settings_diff(before: dict, now: dict) -> str:
    """``name: before -> now`` for every key whose value differs."""
    keys = sorted(set(before) | set(now))
    return ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in keys if before.get(k) != now.get(k))


def _check_resume(checkpoint, state: dict, meta: dict | None, config: TrainConfig,
                  meta_defaults: dict | None = None) -> None:
    """ValueError, before anything is loaded, when the checkpoint cannot be
    resumed into what ``meta`` and ``config`` ask for (what the saved meta
    lacks counts as its value in ``meta_defaults``; a key without a default
    that it lacks is a difference)."""
    saved = state.get("meta")
    if saved is not None:
        saved = {**{k: v for k, v in (meta_defaults or {}).items() if k in (meta or {})}, **saved}
    if meta is not None and saved is not None and saved != meta:
        raise ValueError(
            f"checkpoint {checkpoint} was trained with other settings ({settings_diff(saved, meta)}); "
            "use another run directory, or delete this one to train afresh (only the settings that do not "
            "change what is computed may change between calls, such as max_epochs)")
    epochs = state["result"].get("epochs", 0)
    if config.max_epochs is not None and epochs > config.max_epochs:
        raise ValueError(
            f"checkpoint {checkpoint} already holds {epochs} epochs, more than max_epochs={config.max_epochs}; "
            f"use max_epochs >= {epochs} (or None), or another run directory")


def _train_epoch(model: MADE, opt, train: torch.Tensor, gen: torch.Generator,
                 config: TrainConfig, result: FitResult) -> float:
    """One pass over ``train`` in shuffled minibatches; the mean training NLL."""
    n = train.shape[0]
    perm = torch.randperm(n, generator=gen).to(train.device)
    total = torch.zeros((), dtype=torch.float64, device=train.device)
    for i in range(0, n, config.batch_size):
        xb = train[perm[i:i + config.batch_size]]
        result.steps += 1
        loss = train_step(model, opt, xb, next_mask=result.steps % config.mask_every == 0)
        total += loss * xb.shape[0]
    return total.item() / n


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, xb: torch.Tensor, *,
               next_mask: bool = True) -> torch.Tensor:
    """One minibatch: the loss, its gradient, one optimizer step, then (with
    ``next_mask``) the model's next mask.  Returns the detached loss: the mean
    over examples of the summed per-dimension Bernoulli NLL.

    The one training step: :func:`fit` trains with it and the wall-time
    estimate (:mod:`made.pipeline.estimate`) times it.
    """
    loss = F.binary_cross_entropy_with_logits(model(xb), xb, reduction="sum") / xb.shape[0]
    # Zeroed, not freed: backward then adds into the kept gradients, and the
    # masked layers' kept buffers spare a wide step its (out, in) allocations.
    opt.zero_grad(set_to_none=False)
    loss.backward()
    opt.step()
    if next_mask:
        model.update_masks()
    return loss.detach()


def training_context(model) -> contextlib.AbstractContextManager:
    """``model.fixed_mask()`` for a MADE with one mask, else nothing: the same
    arithmetic, without the per-pass mask multiply (see :meth:`MADE.fixed_mask`)."""
    if isinstance(model, MADE) and model.num_masks == 1:
        return model.fixed_mask()
    return contextlib.nullcontext()


def _finished(result: FitResult, config: TrainConfig) -> bool:
    if result.stopped_early:
        return True
    return config.max_epochs is not None and result.epochs >= config.max_epochs
