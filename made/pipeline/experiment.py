"""One experiment: config -> trained model -> metrics.json + history.csv + model.pt.

>>> cfg = ExperimentConfig.from_dict({"dataset": "dna", "hidden_sizes": [500, 500], "lr": 0.05})
>>> cfg.settings()["hidden_sizes"], cfg.settings()["lr"], cfg.hidden_label, cfg.mode
([500, 500], 0.05, '500x500', 'single')
>>> ExperimentConfig.from_dict({"protocol": "adam", "lr": 3e-3}).train.optimizer  # the recipe, lr overridden
'adam'
>>> ExperimentConfig.from_dict({"max_epoch": 10})
Traceback (most recent call last):
made.pipeline.experiment.SettingsError: unknown setting 'max_epoch' (did you mean 'max_epochs'?); a run's settings are ExperimentConfig.names()
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd
import torch

from .. import __version__
from ..device import flush_denormals, resolve_device
from ..evaluate import DEFAULT_TEST_MASKS, evaluate
from ..io import save_torch, write_csv, write_json
from ..model import MADE, ModelConfig
from ..samples import N_SAMPLES, draw, write_samples
from ..settings import DETAIL, EXECUTION, facts, setting
from ..train import TrainConfig, fit, settings_diff
from .protocols import PROTOCOLS

METRICS = "metrics.json"
HISTORY = "history.csv"
BEST_MODEL = "model.pt"
CHECKPOINT = "checkpoint.pt"
SAMPLES = "samples.txt"
# metrics.json and the checkpoint record the SHA-256 of the data's content
# (made.data.Dataset.content_sha256): a run resumes, or is reused, only on the
# data it was trained on.
DATA_SHA256 = "data_sha256"
# The parts of a run's settings: ExperimentConfig's fields that hold another config.
PARTS = {"model": ModelConfig, "train": TrainConfig}
# A run's mode, the paper's two kinds of mask resampling, as the model's flags:
# ``order`` resamples orderings and connectivity, ``connectivity`` the
# connectivity under one fixed ordering; with one mask nothing is resampled
# (``single``, whose flags only name it).  run_mode gives a run's back.
MODES = {
    "order": dict(order_agnostic=True, connectivity_agnostic=True),
    "connectivity": dict(order_agnostic=False, connectivity_agnostic=True),
}
MODES["single"] = MODES["order"]


class SettingsError(ValueError):
    """Settings that do not make a run: an unknown name (the message names it,
    with the closest known one) or a value its config refuses.  In a notebook
    it shows as its one line, not as a traceback into this package."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an exception is shown
        return [f"{type(self).__name__}: {self}"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines a run: the run's own settings (data, seed,
    device, evaluation), the model's (:class:`made.model.ModelConfig`) and the
    training's (:class:`made.train.TrainConfig`).  Defaults: each part's own
    (the paper's MNIST protocol, 1x500).

    A run's settings are read one way: :meth:`settings`, one flat dict with
    each setting under its own name and of its own type (hidden sizes a list,
    K None under mask sampling), as a grid point, the training notebook's
    ``config`` and metrics.json hold them; :meth:`from_dict` reads one and
    refuses an unknown name.  The parts are what the library takes
    (``build_model``, ``fit``).  :meth:`from_metrics` also reads the string
    forms that runs recorded before (the migration).  Every field carries its
    facts (:mod:`made.settings`): :meth:`facts`.
    """

    dataset: str = setting("binarized_mnist", id="name", column=10)
    data_dir: str | None = setting(None, **EXECUTION)  # None: $MADE_DATA_DIR, else the user cache
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # The named recipe (made.pipeline.protocols.PROTOCOLS) the settings came from:
    # from_dict applies it, the settings given beside it override it.
    protocol: str | None = setting(None, id="name", column=80, curve=False)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    # None: all K training masks (see evaluate.DEFAULT_TEST_MASKS).  Only the
    # final evaluation, which every call does again: not what training computes.
    test_masks: int | None = setting(None, computation=False, **DETAIL)
    train_subset: int | None = setting(None, **DETAIL)  # first N training examples, for quick runs
    # Which data: None, the dataset's reference file (made.data.DatasetSpec.
    # reference_variant; binarized MNIST: the paper's, verified by content),
    # or a variant by name, e.g. "static-seed0": MNIST rebuilt from the raw
    # digits with seed 0.  Naming the reference variant is the same as None.
    data_variant: str | None = setting(None, id="name", column=20, curve=False)
    # The run's one seed, which both parts take: the masks and initialization,
    # and the minibatch order.
    seed: int = setting(TrainConfig.seed, id="name", column=70)
    device: str = setting("auto", **EXECUTION)

    def __post_init__(self):
        from ..data import DATASETS  # light: numpy only

        spec = DATASETS.get(self.dataset)
        if spec is not None and self.data_variant == spec.reference_variant:
            object.__setattr__(self, "data_variant", None)  # one name for one dataset, so one run id
        if self.train_subset is not None and self.train_subset < 1:
            raise ValueError(f"train_subset must be a positive integer or None, got {self.train_subset!r}")
        if self.protocol is not None and self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)} or None, got {self.protocol!r}")
        for name, kind in PARTS.items():
            part = getattr(self, name)
            for f in dataclasses.fields(part):
                if not facts(f)["setting"] and getattr(part, f.name) != f.default:
                    raise ValueError(f"{f.name} is not a setting of a run (metrics.json does not record it); "
                                     "leave it at its default")
            if part.seed == self.seed:
                continue
            if part.seed != kind.seed:  # set on the part: which one would the run use?
                raise ValueError(f"{name}.seed={part.seed} differs from the run's seed={self.seed}; "
                                 "a run has one seed: set it once, as seed")
            object.__setattr__(self, name, dataclasses.replace(part, seed=self.seed))

    @classmethod
    def fields(cls) -> dict[str, dataclasses.Field]:
        """Every setting's field, by name, in :meth:`names` order: the run's
        own fields, each part's fields in the part's place."""
        own = {f.name for f in dataclasses.fields(cls)} - PARTS.keys()
        out = {}
        for f in dataclasses.fields(cls):
            fields = dataclasses.fields(PARTS[f.name]) if f.name in PARTS else [f]
            for field in fields:
                if f.name in PARTS and field.name in own:
                    continue  # the run's own field of that name holds it (seed)
                if facts(field)["setting"]:
                    out[field.name] = field
        return out

    @classmethod
    def facts(cls) -> dict[str, dict]:
        """Every setting's facts (:mod:`made.settings`), by name, in :meth:`names` order."""
        return {name: facts(field) for name, field in cls.fields().items()}

    @classmethod
    def names(cls, **where) -> list[str]:
        """Every setting's name in the flat view (the columns of metrics.json),
        or those whose facts are ``where``'s: ``names(computation=False)``."""
        return [name for name, fact in cls.facts().items() if all(fact[k] == v for k, v in where.items())]

    @classmethod
    def from_dict(cls, values: Mapping, *, recipe: bool = True) -> "ExperimentConfig":
        """From a flat dict of settings (see :meth:`names`); an unknown name or
        a refused value is a SettingsError that names it.  A ``protocol``
        applies its recipe (made.pipeline.protocols.PROTOCOLS) under the
        settings given (``recipe=False``: not, for a dict that holds every
        setting, as metrics.json does); any left out keep their defaults."""
        names = cls.names()
        unknown = [k for k in values if k not in names]
        if unknown:
            raise SettingsError(unknown_settings(unknown, names))
        if recipe:  # an unknown protocol is refused by __post_init__, as any refused value
            values = {**PROTOCOLS.get(values.get("protocol"), {}), **values}
        try:
            own = {f.name for f in dataclasses.fields(cls)} - PARTS.keys()
            parts = {name: kind(**{k: v for k, v in values.items() if k not in own and k in kind.__dataclass_fields__})
                     for name, kind in PARTS.items()}
            return cls(**{k: v for k, v in values.items() if k in own}, **parts)
        except (TypeError, ValueError) as exc:
            raise SettingsError(str(exc)) from None

    @classmethod
    def from_metrics(cls, row: Mapping) -> "ExperimentConfig":
        """The settings a run's metrics.json records (its other keys are
        results), in either form (:func:`typed`); a setting it does not
        record, added since, takes its default."""
        names = cls.names()
        return cls.from_dict(typed({k: v for k, v in row.items() if k in names}), recipe=False)

    @classmethod
    def defaults(cls) -> dict:
        """Every setting at its default, by name."""
        return cls.from_dict({}).settings()

    def settings(self) -> dict:
        """Every setting by name, in :meth:`names` order, as Python values
        (hidden sizes a list, K None under mask sampling)."""
        nested = dataclasses.asdict(self)
        flat = {**nested["model"], **nested["train"], **nested}
        return {name: flat[name] for name in self.names()}

    def replace(self, **changes) -> "ExperimentConfig":
        """This config with some settings changed, by their flat names; a recipe is
        chosen by :meth:`from_dict`'s ``protocol``, not swapped here."""
        if "protocol" in changes:
            raise SettingsError("replace() keeps the recipe: build a config with another protocol with from_dict")
        return self.from_dict({**self.settings(), **changes}, recipe=False)

    @property
    def hidden_label(self) -> str:
        return hidden_label(self.model.hidden_sizes)

    @property
    def mode(self) -> str:
        """``single``, ``order`` or ``connectivity``: see :func:`run_mode`."""
        return run_mode(self.settings())

    def computation(self) -> dict:
        """The settings that decide what is trained (fact ``computation``)."""
        settings = self.settings()
        return {k: settings[k] for k in self.names(computation=True)}


def run_mode(settings: Mapping) -> str:
    """A run's mode from its settings (a config's, a grid point's, a row of
    metrics.json or of a table): ``single`` with one mask, else ``order`` when
    each mask has its own ordering, else ``connectivity`` (see MODES).

    >>> run_mode({"num_masks": "sampling", "order_agnostic": False}), run_mode({"num_masks": 1})
    ('connectivity', 'single')
    """
    k = settings.get("num_masks", ModelConfig.num_masks)
    if k is not None and str(k) == "1":
        return "single"
    return "order" if bool(settings.get("order_agnostic", ModelConfig.order_agnostic)) else "connectivity"


def unknown_settings(unknown: list[str], names: list[str]) -> str:
    """``unknown setting 'lrr' (did you mean 'lr'?)``, for each name."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, names, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(parts)}; "
            "a run's settings are ExperimentConfig.names()")


def hidden_label(sizes) -> str:
    """Hidden sizes as run ids and tables spell them: ``500x500``, ``none`` without a hidden layer."""
    return "x".join(str(h) for h in sizes) or "none"


def typed(values: Mapping) -> dict:
    """Settings in their own types, from the text forms that metrics.json held
    until the settings kept their types (and that a command line gives):
    hidden sizes ``"500x500"`` or ``500`` -> [500, 500], K ``"sampling"`` ->
    None, ``"32"`` -> 32.  The reader of committed runs: nothing rewrites them.

    >>> typed({"hidden_sizes": "8000x8000", "num_masks": "sampling"}), typed({"hidden_sizes": "none"})
    ({'hidden_sizes': [8000, 8000], 'num_masks': None}, {'hidden_sizes': []})
    """
    out = dict(values)
    hidden = out.get("hidden_sizes")
    if isinstance(hidden, int):
        out["hidden_sizes"] = [hidden]
    elif isinstance(hidden, str):
        out["hidden_sizes"] = [] if hidden.strip() == "none" else [int(v) for v in hidden.split("x") if v.strip()]
    if out.get("num_masks") == "sampling":
        out["num_masks"] = None
    elif isinstance(out.get("num_masks"), str):
        out["num_masks"] = int(out["num_masks"])
    return out


def build_model(config: ExperimentConfig, dim: int, init_weights: bool = True) -> MADE:
    """The config's MADE for ``dim`` inputs, initialized from the run's seed
    (``init_weights=False``: weights about to be loaded skip the init)."""
    torch.manual_seed(config.seed)  # PyTorch's default initialization draws from the global RNG
    return MADE.from_config(dim, config.model, init_weights=init_weights)


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
    ``max_epochs``), ``history.csv``, ``model.pt`` (best-validation parameters),
    ``samples.txt`` (:mod:`made.samples`) and last ``metrics.json``, one flat row that is also returned.

    A directory records exactly what was trained there: the checkpoint keeps
    the settings that trained it, and a directory whose checkpoint or
    ``metrics.json`` comes from other settings (fact ``computation``) is
    refused with a ValueError before anything is trained or written.
    """
    out_dir = Path(out_dir)
    check_same_run(out_dir, config)  # settings first: no data is loaded (or downloaded) for a refusal
    from ..data import load_dataset  # keeps `import made.pipeline.experiment` light

    device = resolve_device(config.device)
    data = load_dataset(config.dataset, data_dir=config.data_dir, variant=config.data_variant)
    check_same_run(out_dir, config, data.content_sha256)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, valid, test = data.as_tensors(device)
    if config.train_subset:
        train = train[: config.train_subset]

    # A checkpoint is loaded by fit (or refused, loudly), so its weights replace
    # the init: skipping it saves a resumed wide run minutes of SVD.
    resuming = (out_dir / CHECKPOINT).exists()
    model = build_model(config, data.dim, init_weights=not resuming).to(device)
    # A checkpoint from before a setting existed was trained at its default.
    result = fit(model, train, valid, config.train, checkpoint=out_dir / CHECKPOINT,
                 meta={**config.computation(), DATA_SHA256: data.content_sha256},
                 meta_defaults=ExperimentConfig.from_dict({}).computation())
    write_csv(out_dir / HISTORY, pd.DataFrame(result.history))
    save_torch({"model_config": model.config, "state_dict": model.state_dict(), "mask_index": 0,
                "experiment": config.settings()}, out_dir / BEST_MODEL)

    test_masks = config.test_masks or (DEFAULT_TEST_MASKS if model.sampling else model.num_masks)
    t0 = time.perf_counter()
    with flush_denormals():
        scores = evaluate(model, test, n_masks=test_masks)
    row = {
        **config.settings(),
        "data_variant": data.variant,
        DATA_SHA256: data.content_sha256,
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
    # Drawn after the test numbers, from a generator of their own: they change none of them.
    with flush_denormals():
        write_samples(out_dir / SAMPLES, *draw(model, N_SAMPLES, n_masks=test_masks, seed=config.seed),
                      train=train.cpu().numpy())
    write_json(out_dir / METRICS, row)
    return row


def check_same_run(out_dir: Path, config: ExperimentConfig, data_sha256: str | None = None) -> None:
    """ValueError if ``out_dir`` holds the metrics of a run trained with other
    settings or (given ``data_sha256``) on other data: training there would
    label the new run's numbers with old files or the old numbers with new
    settings.  (The checkpoint, which also stores both, is checked by ``fit``
    when it resumes.)"""
    try:
        diff = recorded_difference(json.loads((Path(out_dir) / METRICS).read_text()), config,
                                   data_sha256=data_sha256)
    except (OSError, ValueError, TypeError):
        return  # missing, or damaged: it describes nothing, and this run rewrites it
    if diff:
        may_change = ", ".join(n for n in ExperimentConfig.names(computation=False) if n != "progress")
        raise ValueError(
            f"{out_dir} holds a run trained with other settings or data ({diff}, "
            f"from its {METRICS}); use another run directory, or delete this one to train afresh "
            f"(only {may_change} may change between calls)")


def recorded_difference(row: Mapping, config: ExperimentConfig, variant: str | None = None,
                        data_sha256: str | None = None) -> str:
    """What differs between a run's ``metrics.json`` row and the run ``config``
    asks for, as "name: recorded -> now, ..."; "" when nothing does.  Given
    ``variant`` (the data variant it would train on now) or ``data_sha256``
    (the content hash of the data it would train on), the row's are compared
    too.  Settings a row does not record take their defaults: a setting added
    since keeps the behaviour the run was trained with."""
    before = ExperimentConfig.from_metrics(row).computation()
    now = config.computation()
    if variant is not None:
        before["data_variant (loaded)"], now["data_variant (loaded)"] = row.get("data_variant"), variant
    if data_sha256 is not None and row.get(DATA_SHA256) is not None:
        before[DATA_SHA256], now[DATA_SHA256] = row[DATA_SHA256], data_sha256
    return settings_diff(before, now) if before != now else ""


def load_model(path: str | Path, device: str | torch.device = "cpu") -> MADE:
    """Rebuild a saved model (``model.pt``): architecture, masks and parameters."""
    state = torch.load(path, map_location=device, weights_only=False)
    # init_weights=False: the saved weights replace them, and the orthogonal
    # init of a wide layer is an SVD that takes minutes.
    model = MADE(**state["model_config"], init_weights=False).to(device)
    model.load_state_dict(state["state_dict"])
    model.set_mask(state.get("mask_index", 0))
    return model.eval()
