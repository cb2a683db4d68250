"""Experiment grids as data, and readable run ids.

A grid is a dict: ``base`` settings shared by every point, ``axes`` whose
cartesian product gives the points, and ``seeds``: how many seeds each point
gets (an int, or a dict keyed by ``num_masks`` with a ``"default"``).  The
training ``mode`` axis names the paper's two kinds of mask resampling:

* ``order``: order-agnostic training, orderings and connectivity resampled;
* ``connectivity``: connectivity-agnostic, one fixed ordering, connectivity resampled.

With one mask there is nothing to resample, so K = 1 is run once, as mode
``single``.

>>> [p.run_id for p in expand(GRIDS["figure2"])][:3]  # doctest: +NORMALIZE_WHITESPACE
['binarized_mnist_h500_K1_single_seed0_adam', 'binarized_mnist_h500_K1_single_seed1_adam',
 'binarized_mnist_h500_K2_order_seed0_adam']
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

from .experiment import ExperimentConfig

MODES = {
    "order": dict(order_agnostic=True, connectivity_agnostic=True),
    "connectivity": dict(order_agnostic=False, connectivity_agnostic=True),
}
MODES["single"] = MODES["order"]  # one mask: nothing is resampled, the flags only name it

# The authors' architecture, from their MNIST and DNA commands (mgermain/MADE
# README: "... hinge Orthogonal" with direct input-connect "Output"): ReLU
# units, direct input-to-output connections, orthogonal initialization,
# minibatches of 100, early stopping with a look-ahead of 30 epochs, no cap.
AUTHORS_ARCHITECTURE = dict(direct_connections=True, init="orthogonal", activation="relu",
                            batch_size=100, look_ahead=30, max_epochs=None)

# Training recipes by name; a grid refers to one with its "protocol" key, and
# `run_all.py --protocol NAME` swaps it.  Every setting of a recipe can still
# be overridden by a grid's base or axes.
PROTOCOLS: dict[str, dict] = {
    # The authors' MNIST command at 1x500: Adagrad 0.01 until early stopping.
    # On binarized MNIST it needs well over 1,000 epochs: for a GPU.
    "paper": dict(**AUTHORS_ARCHITECTURE, optimizer="adagrad", lr=0.01),
    # The same model with a recipe that converges in ~100-200 epochs on CPU,
    # chosen on validation NLL (results/README.md): Adam 1e-3, weight decay
    # 1e-4, the rate divided by 10 every 45 epochs; a new best must gain more
    # than 0.02 nats to reset the look-ahead, so the run ends once the decayed
    # rate leaves only gains far below the test NLL's standard error (~0.3).
    "adam": dict(**AUTHORS_ARCHITECTURE, optimizer="adam", lr=1e-3, weight_decay=1e-4,
                 lr_step_epochs=45, lr_step_gamma=0.1, min_delta=0.02),
    # The optimizer of the authors' DNA command ("dna 1e-5 0.95 ... adadelta"):
    # Adadelta with eps 1e-5 (their learning-rate slot) and rho 0.95 (their
    # decrease-constant slot), until early stopping.
    "adadelta": dict(**AUTHORS_ARCHITECTURE, optimizer="adadelta", lr=1.0, eps=1e-5, rho=0.95),
    # The authors' adult command ("adult 0.01 0 -1 0 ? ... None ... tanh Orthogonal"):
    # plain SGD at a constant 0.01 (update rule None, decrease constant 0) and
    # tanh hidden units, with their architecture; one fixed mask.
    "sgd_tanh": {**AUTHORS_ARCHITECTURE, "activation": "tanh", "optimizer": "sgd", "lr": 0.01, "decrease_constant": 0.0},
}

# The UCI datasets of the paper's Table; only those whose files are at hand run
# without internet (the loader downloads the others, verified).
UCI_DATASETS = ["adult", "connect4", "dna", "mushrooms", "nips", "ocr_letters", "rcv1", "web"]
# Mask sampling as the original code ran it: a fresh mask every minibatch, a
# 300-mask validation ensemble (test: 1000 masks, the default).  What is
# resampled is the mode: "order" resamples ordering and connectivity (their
# shuffling_type Full), "connectivity" the connectivity under one ordering
# (their shuffling_type Connectivity).
MASK_SAMPLING = dict(num_masks=None, valid_masks=300)
# UCI rows whose recipe is the authors' published command, run as published:
# (dataset, K) -> its recipe.  The row reports that command; the grid's other
# runs of the row stand beside it and are not searched over.
AS_PUBLISHED = {("dna", "sampling"): dict(protocol="adadelta", mode="order")}

# The previous default protocol (Adagrad 0.01, no direct connections, PyTorch
# init), which the UCI grid still uses; run ids of its runs omit these values.
PAPER_MNIST = dict(dataset="binarized_mnist", hidden_sizes=[500], optimizer="adagrad", lr=0.01,
                   batch_size=100, look_ahead=30)
MNIST_1x500 = dict(dataset="binarized_mnist", hidden_sizes=[500])
# The second binarization: MNIST rebuilt from the raw digits (made.data), on
# which the protocol was chosen; its runs name the variant in their ids.
REBUILD = dict(data_variant="static-seed0")
REBUILD_1x500 = {**MNIST_1x500, **REBUILD}

GRIDS: dict[str, dict] = {
    # Figure 2: test NLL against the number of training masks, both modes, the
    # authors' architecture, every run to early stopping (no cap).  Ensembles
    # of more than 8 masks are validated on their first 8 (see results/README.md).
    "figure2": dict(
        protocol="adam",
        base={**MNIST_1x500, "valid_masks": 8},
        axes=dict(num_masks=[1, 2, 4, 8, 16, 32], mode=["order", "connectivity"]),
        # 5 seeds where the ensemble's gains over K = 1 are small (K <= 4), 2 elsewhere
        seeds={1: 5, 2: 5, 4: 5, "default": 2},
        csv="figure2.csv", reports=("figure2", "compare", "binarizations"),
    ),
    # Figure 2's question at the paper's width: one hidden layer of 500, 2000
    # and 8000 units, K = 1 against K = 32 in both modes, Figure 2's protocol,
    # one seed.  Its 500-unit points have Figure 2's run ids, so they are
    # Figure 2's runs, not retrained.
    "widths": dict(
        protocol="adam",
        base={"dataset": "binarized_mnist", "valid_masks": 8},
        axes=dict(hidden_sizes=[[500], [2000], [8000]], num_masks=[1, 32], mode=["order", "connectivity"]),
        seeds=1,
        # compare: comparison.md sets the 1x8000 runs beside the paper's rows
        csv="widths.csv", reports=("widths", "compare", "binarizations"),
    ),
    # The evidence behind Figure 2's protocol (results/README.md), as two parts:
    # * the authors' Adagrad recipe at K = 1 and 32 for 150 epochs, against the
    #   converging recipe's Figure 2 runs at equal wall time (same model, same
    #   cost per epoch), compared on validation NLL;
    # * a K = 32 run validated on all 32 masks, whose per-epoch 8-mask prefix
    #   shows which epoch validating on 8 masks would have stopped at.
    "recipes": dict(
        parts=[
            dict(protocol="paper", base={**REBUILD_1x500, "valid_masks": 8, "max_epochs": 150},
                 axes=dict(num_masks=[1, 32], mode=["order"]), seeds=1),
            dict(protocol="adam", base=REBUILD_1x500, axes=dict(num_masks=[32], mode=["order"]), seeds=1),
        ],
        csv="recipes.csv", reports=("recipes",),
    ),
    # Figure 2 and the widths on the second binarization, MNIST rebuilt from
    # the raw digits: the runs that chose the protocol, set beside the paper's
    # file's (made.reports: binarizations).
    "rebuild": dict(
        parts=[
            dict(protocol="adam", base={**REBUILD_1x500, "valid_masks": 8},
                 axes=dict(num_masks=[1, 2, 4, 8, 16, 32], mode=["order", "connectivity"]), seeds=2),
            dict(protocol="adam", base={"dataset": "binarized_mnist", **REBUILD, "valid_masks": 8},
                 axes=dict(hidden_sizes=[[500], [2000], [8000]], num_masks=[1, 32],
                           mode=["order", "connectivity"]), seeds=1),
        ],
        csv="rebuild.csv", reports=("binarizations", "recipes"),
    ),
    # The whole pipeline in about a minute: a small subset, a few epochs, K in {1, 2}.
    "smoke": dict(
        protocol="adam",
        base={**MNIST_1x500, "train_subset": 1000, "max_epochs": 3},
        axes=dict(num_masks=[1, 2], mode=["order", "connectivity"]),
        seeds=1,
        csv="figure2.csv", reports=("figure2", "compare"), subdir="smoke",
    ),
    # The paper's UCI table at 1x500, one mask and mask sampling, every run to
    # early stopping.  Where the authors published a command it is run as
    # published: dna under mask sampling (AS_PUBLISHED: it stands as the row,
    # with dna resampling the connectivity only reported beside it), and adult
    # with one mask (sgd_tanh, which joins that row's search).  Elsewhere the
    # recipe is searched, and chosen per row on validation NLL only, mean over
    # seeds (made.reports.uci.select_on_validation): the optimizer
    # {adagrad 0.01 (paper), adadelta 1e-5/0.95} and, under mask sampling, the
    # resampling mode {order, connectivity}.  Two seeds for the mask-sampling
    # rows of mushrooms and nips (400 training examples) in both optimizers with
    # full resampling; for the other rows a second seed of the recipe their
    # validation chose (adult: adadelta/order, and once the connectivity-only
    # arm had run, adadelta/connectivity on adult and mushrooms; Adagrad under
    # mask sampling takes thousands of epochs).
    "uci": dict(
        parts=[
            dict(protocol="adadelta", base={"dataset": "dna", **MASK_SAMPLING},
                 axes=dict(mode=["order", "connectivity"]), seeds=2),
            dict(base={**MASK_SAMPLING}, seeds={"mushrooms": 2, "nips": 2, "default": 1},
                 axes=dict(dataset=[d for d in UCI_DATASETS if d != "dna"], protocol=["paper", "adadelta"],
                           mode=["order"])),
            dict(base={**MASK_SAMPLING}, seeds=1,
                 axes=dict(dataset=[d for d in UCI_DATASETS if d != "dna"], protocol=["paper", "adadelta"],
                           mode=["connectivity"])),
            dict(protocol="adadelta", base={"dataset": "adult", **MASK_SAMPLING}, axes=dict(mode=["order"]),
                 seeds=2),
            dict(protocol="adadelta", base={**MASK_SAMPLING}, axes=dict(dataset=["adult", "mushrooms"],
                                                                         mode=["connectivity"]), seeds=2),
            dict(base={"num_masks": 1}, seeds=1,
                 axes=dict(dataset=UCI_DATASETS, protocol=["paper", "adadelta"])),
            dict(protocol="sgd_tanh", base={"dataset": "adult", "num_masks": 1}, axes={}, seeds=1),
        ],
        csv="uci.csv", reports=("uci", "compare"),
    ),
    # The paper's large MNIST models: far beyond 2 CPU cores; for a GPU.
    "large": dict(
        protocol="paper",
        base={"dataset": "binarized_mnist", "device": "cuda"},
        axes=dict(hidden_sizes=[[8000], [8000, 8000]], num_masks=[1, 32], mode=["order"]),
        seeds=1,
        csv="large.csv", reports=(),
    ),
}

# Fields that do not change what is computed, so they stay out of run ids.
# max_epochs is one of them on purpose: raising the cap extends the same run.
_NOT_IN_ID = {"data_dir", "device", "progress", "max_epochs", "protocol"}
_IN_NAME = {"dataset", "data_variant", "hidden_sizes", "num_masks", "order_agnostic", "connectivity_agnostic", "seed"}


def grid_outputs(name: str) -> tuple[str, tuple[str, ...], str]:
    """(CSV name, report notebooks, subfolder of the results directory) of grid
    ``name``: the smoke grid writes under ``<results>/smoke/``, so it never
    touches the real tables and figures."""
    grid = GRIDS[name]
    return grid["csv"], tuple(grid.get("reports", ())), grid.get("subdir", "")


@dataclass(frozen=True)
class RunPoint:
    run_id: str
    mode: str
    params: dict  # the run's settings, by name (ExperimentConfig.from_dict)

    def config(self, **overrides) -> ExperimentConfig:
        return ExperimentConfig.from_dict({**self.params, **overrides})


def _seeds_for(seeds, values: dict) -> int:
    """Seeds of one point: an int, or a dict keyed by the point's K (num_masks)
    or dataset, with a "default"."""
    if isinstance(seeds, int):
        return seeds
    for key in (values.get("num_masks"), values.get("dataset")):
        if key in seeds:
            return seeds[key]
    return seeds["default"]


def run_id(params: dict, mode: str) -> str:
    """``<dataset>[_<variant>]_h<hidden>_K<masks>_<mode>_seed<seed>[_<protocol>]``, plus any
    setting that differs from the protocol's (or, without one, from the defaults)."""
    cfg = ExperimentConfig.from_dict(params)
    k = "sampling" if cfg.num_masks is None else cfg.num_masks
    # Data other than the dataset's reference file names its variant, right
    # after the dataset: runs on two binarizations never share an id.
    data = cfg.dataset + (f"_{cfg.data_variant}" if cfg.data_variant else "")
    parts = [data, f"h{cfg.hidden_label}", f"K{k}", mode, f"seed{cfg.seed}"]
    default = ExperimentConfig().settings()
    if cfg.protocol:
        parts.append(cfg.protocol)
    for name, value in cfg.settings().items():  # in ExperimentConfig.names() order
        if name in _NOT_IN_ID | _IN_NAME or name in MODES[mode]:
            continue
        if cfg.protocol:
            usual = {PROTOCOLS[cfg.protocol].get(name, default[name])}
        else:  # ids from before protocols: a default or the old MNIST setting is omitted
            usual = {default[name], PAPER_MNIST.get(name, default[name])}
        if value not in usual:
            parts.append(f"{name}{value}")
    return "_".join(str(p) for p in parts).replace(" ", "")


def expand(grid: dict, seeds: int | None = None, protocol: str | None = None, **overrides) -> list[RunPoint]:
    """All points of ``grid``; ``seeds`` overrides the grid's seed counts and
    ``protocol`` its training recipe (a key of PROTOCOLS)."""
    grid = copy.deepcopy(grid)
    if "parts" in grid:  # a grid made of sub-grids, each with its own protocol and base
        points = [p for part in grid["parts"] for p in expand(part, seeds, protocol, **overrides)]
        return list({p.run_id: p for p in points}.values())
    axes = grid["axes"]
    points, seen = [], set()
    for combo in itertools.product(*axes.values()):
        values = dict(zip(axes, combo))
        mode = values.pop("mode", "order")
        name = protocol or values.pop("protocol", None) or grid.get("protocol")
        values.pop("protocol", None)
        if name is not None and name not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {name!r}")
        recipe = {**PROTOCOLS[name], "protocol": name} if name else {}
        if values.get("num_masks", grid["base"].get("num_masks", 1)) == 1:
            mode = "single"
        n_seeds = seeds if seeds is not None else _seeds_for(grid["seeds"], values)
        for seed in range(n_seeds):
            params = {**recipe, **grid["base"], **values, **MODES[mode], "seed": seed, **overrides}
            if params.get("valid_masks") and params.get("num_masks") and params["valid_masks"] >= params["num_masks"]:
                params["valid_masks"] = None  # all K masks: the same thing, one id
            rid = run_id(params, mode)
            if rid not in seen:
                seen.add(rid)
                points.append(RunPoint(rid, mode, params))
    return points
