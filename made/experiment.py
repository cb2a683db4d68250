"""One experiment: config -> trained model -> metrics.json + history.csv + model.pt.

>>> cfg = ExperimentConfig(dataset="dna", hidden_sizes=[500], num_masks=1)
>>> cfg.hidden_label
'500'
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from . import __version__
from .device import flush_denormals, resolve_device
from .evaluate import DEFAULT_TEST_MASKS, evaluate
from .io import save_torch, write_csv, write_json
from .model import MADE
from .train import TrainConfig, fit, settings_diff

METRICS = "metrics.json"
HISTORY = "history.csv"
BEST_MODEL = "model.pt"
CHECKPOINT = "checkpoint.pt"
# Settings that do not change what a run computes: they may differ between the
# calls that train one run directory (max_epochs is how a run is extended;
# test_masks only changes the final evaluation, which is redone every call).
NOT_COMPUTATION = frozenset({"data_dir", "device", "progress", "max_epochs", "test_masks"})


@dataclass
class ExperimentConfig:
    """Everything that defines a run.  Defaults: the paper's MNIST protocol, 1x500."""

    dataset: str = "binarized_mnist"
    data_dir: str | None = None  # None: $MADE_DATA_DIR, else the user cache
    hidden_sizes: list[int] = field(default_factory=lambda: [500])
    num_masks: int | None = 1  # None: mask sampling
    order_agnostic: bool = True
    connectivity_agnostic: bool = True
    natural_ordering: bool = False
    direct_connections: bool = False
    condition_on_mask: bool = False
    activation: str = "relu"
    init: str = "default"  # or "orthogonal", the authors' (see made.init)
    protocol: str | None = None  # the named recipe (made.grid.PROTOCOLS) the settings came from
    optimizer: str = "adagrad"
    lr: float | None = None  # None: the optimizer's default (see TrainConfig)
    weight_decay: float | None = None
    lr_step_epochs: int | None = None
    lr_step_gamma: float = 0.1
    rho: float = 0.95
    eps: float = 1e-6
    decrease_constant: float = 0.0
    min_delta: float = 0.0
    batch_size: int = 100
    look_ahead: int = 30
    max_epochs: int | None = None
    mask_every: int = 1
    valid_masks: int | None = None  # None: all K training masks (see evaluate.DEFAULT_VALID_MASKS)
    test_masks: int | None = None  # None: all K training masks (see evaluate.DEFAULT_TEST_MASKS)
    train_subset: int | None = None  # first N training examples, for quick runs
    binarize_seed: int = 0  # which static binarization of MNIST, when rebuilt
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self):
        if isinstance(self.hidden_sizes, (int, str)):
            self.hidden_sizes = parse_hidden(self.hidden_sizes)
        self.hidden_sizes = [int(h) for h in self.hidden_sizes]
        if self.train_subset is not None and self.train_subset < 1:
            raise ValueError(f"train_subset must be a positive integer or None, got {self.train_subset!r}")

    @classmethod
    def from_params(cls, params: dict) -> "ExperimentConfig":
        """From notebook parameters (see :meth:`to_params`); other keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in params.items() if k in names}
        if kwargs.get("num_masks") == "sampling":
            kwargs["num_masks"] = None
        elif kwargs.get("num_masks") is not None:
            kwargs["num_masks"] = int(kwargs["num_masks"])
        return cls(**kwargs)

    def to_params(self) -> dict:
        """Every field as a plain JSON value, for papermill: K as an integer or
        ``"sampling"``, hidden sizes as ``"500x500"``."""
        out = dataclasses.asdict(self)
        out["hidden_sizes"] = self.hidden_label if self.hidden_sizes else ""
        out["num_masks"] = "sampling" if self.num_masks is None else self.num_masks
        return out

    @property
    def hidden_label(self) -> str:
        return "x".join(str(h) for h in self.hidden_sizes) or "none"

    def computation(self) -> dict:
        """The settings that decide what is trained: every field but NOT_COMPUTATION."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in NOT_COMPUTATION}

    def train_config(self) -> TrainConfig:
        """The training part of this config: every TrainConfig field it shares by name."""
        mine = {f.name for f in dataclasses.fields(self)}
        return TrainConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainConfig)
                              if f.name in mine})


def parse_hidden(value: int | str) -> list[int]:
    """``500`` -> [500]; ``"8000x8000"`` -> [8000, 8000]; ``""`` -> []."""
    if isinstance(value, int):
        return [value]
    return [int(v) for v in str(value).replace(",", "x").split("x") if v.strip()]


def build_model(config: ExperimentConfig, dim: int) -> MADE:
    """The config's MADE: every keyword argument of MADE that the config names."""
    torch.manual_seed(config.seed)  # parameter initialisation
    params = inspect.signature(MADE.__init__).parameters
    kwargs = {name: getattr(config, name) for name in params if hasattr(config, name)}
    return MADE(dim, nout=dim, **kwargs)


def _versions(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "made_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device_name": name,
        "torch_threads": torch.get_num_threads(),
    }


def run_experiment(config: ExperimentConfig, out_dir: str | Path) -> dict:
    """Train, evaluate on test, and write the run's files into ``out_dir``.

    Writes (each atomically): ``checkpoint.pt`` after every epoch (so an
    interrupted run resumes, and a finished one can be extended with a larger
    ``max_epochs``), ``history.csv``, ``model.pt`` (best-validation parameters)
    and last ``metrics.json``, one flat row that is also returned.

    A directory records exactly what was trained there: the checkpoint keeps
    the settings that trained it, and a directory whose checkpoint or
    ``metrics.json`` comes from other settings (other than NOT_COMPUTATION) is
    refused with a ValueError before anything is trained or written.
    """
    out_dir = Path(out_dir)
    check_same_run(out_dir, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .data import load_dataset  # keeps `import made.experiment` light

    device = resolve_device(config.device)
    data = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.binarize_seed)
    train, valid, test = data.as_tensors(device)
    if config.train_subset:
        train = train[: config.train_subset]

    model = build_model(config, data.dim).to(device)
    result = fit(model, train, valid, config.train_config(), checkpoint=out_dir / CHECKPOINT,
                 meta=config.computation())
    write_csv(out_dir / HISTORY, pd.DataFrame(result.history))
    save_torch({"model_config": model.config, "state_dict": model.state_dict(), "mask_index": 0,
                "experiment": dataclasses.asdict(config)}, out_dir / BEST_MODEL)

    test_masks = config.test_masks or (DEFAULT_TEST_MASKS if model.sampling else model.num_masks)
    t0 = time.perf_counter()
    with flush_denormals():
        scores = evaluate(model, test, n_masks=test_masks)
    row = {
        **dataclasses.asdict(config),
        "hidden_sizes": config.hidden_label,
        "num_masks": "sampling" if config.num_masks is None else config.num_masks,
        "data_variant": data.variant,
        "dim": data.dim,
        "n_train": int(train.shape[0]),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "train_seconds": round(result.train_seconds, 2),
        "valid_seconds": round(result.valid_seconds, 2),
        "valid_nll": result.best_valid_nll,
        "test_nll_single_mask": scores["nll_single_mask"],
        "test_nll_single_mask_stderr": scores["nll_single_mask_stderr"],
        "test_nll_ensemble": scores["nll_ensemble"],
        "test_nll_ensemble_stderr": scores["nll_ensemble_stderr"],
        "ensemble_masks": scores["ensemble_masks"],
        "test_nll_logit_average": scores["nll_logit_average"],
        "eval_seconds": round(time.perf_counter() - t0, 2),
        "device": str(device),
        **_versions(device),
    }
    row.pop("progress")
    write_json(out_dir / METRICS, row)
    return row


def check_same_run(out_dir: Path, config: ExperimentConfig) -> None:
    """ValueError if ``out_dir`` holds the metrics of a run trained with other
    settings: training there would label the new run's numbers with old files
    or the old numbers with new settings.  (The checkpoint, which also stores
    them, is checked by ``fit`` when it resumes.)"""
    try:
        row = json.loads((Path(out_dir) / METRICS).read_text())
        before = ExperimentConfig.from_params(row).computation()
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError):
        return  # damaged: it describes nothing, and this run rewrites it
    now = config.computation()
    if before != now:
        raise ValueError(
            f"{out_dir} holds a run trained with other settings ({settings_diff(before, now)}, "
            f"from its {METRICS}); use another run directory, or delete this one to train afresh "
            "(only max_epochs, device, data_dir and test_masks may change between calls)")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> MADE:
    """Rebuild a saved model (``model.pt``): architecture, masks and parameters."""
    state = torch.load(path, map_location=device, weights_only=False)
    model = MADE(**state["model_config"]).to(device)
    model.load_state_dict(state["state_dict"])
    model.set_mask(state.get("mask_index", 0))
    return model.eval()
