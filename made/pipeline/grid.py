"""Experiment grids as data, and readable run ids.

A grid is a dict: ``base`` settings shared by every point, ``axes`` whose
cartesian product gives the points, and ``seeds``: how many seeds each point
gets (an int, or a dict keyed by ``num_masks``, ``dataset``, mode or
protocol, with a ``"default"``), and ``csv`` and ``reports``: the table it
writes and the report notebooks (``notebooks/<name>.ipynb``) run on it.  The training
``mode`` axis names the paper's two kinds of mask resampling
(made.pipeline.experiment.MODES):

* ``order``: order-agnostic training, orderings and connectivity resampled;
* ``connectivity``: connectivity-agnostic, one fixed ordering, connectivity resampled.

With one mask there is nothing to resample, so K = 1 is run once, as mode
``single``.

>>> [p.run_id for p in expand(GRIDS["figure2"])][:2]
['binarized_mnist_h500_K1_single_seed0_adam', 'binarized_mnist_h500_K1_single_seed1_adam']
>>> expand(GRIDS["figure2"])[-1].run_id, expand(GRIDS["figure2"])[-1].mode
('binarized_mnist_h500_K32_connectivity_seed2_adam_valid_masks8', 'connectivity')
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

from ..train import TrainConfig
from .experiment import MODES, ExperimentConfig, run_mode
from .protocols import K1_CANDIDATES, PROTOCOLS

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
# Recipes taken out of a UCI row's search, each with why (the UCI report
# prints it): (dataset, K, protocol, mode) -> why.
LEFT_OUT_OF_SEARCH = {
    **{(dataset, "sampling", "paper", "connectivity"): (
        "under mask sampling Adagrad 0.01 ran thousands of epochs on this dataset before it stopped early, and "
        "resampling ordering and connectivity it validated behind Adadelta; its connectivity-only arm, hours of a "
        "CPU core, is left to a GPU.")
       for dataset in ("adult", "mushrooms")},
    **{("connect4", "sampling", "paper", mode): (
        "Adagrad 0.01 ran thousands of epochs on connect4 with one mask before it stopped early (its run below), "
        "and under mask sampling an epoch there costs seconds of a CPU core, nearly all of it the 300-mask "
        "validation ensemble: hours of a core per arm, left to a GPU.")
       for mode in ("order", "connectivity")},
}

# Each UCI row's recipe, (dataset, K) -> (protocol, mode): the authors' command
# where published (AS_PUBLISHED), else the one validation chose among the
# row's searched recipes (tests/test_grid.py checks each against the committed
# runs).  Each gets 3 seeds, as does dna's connectivity-only arm beside its
# published command: a row is judged against the paper only with 3.
UCI_CHOSEN = {
    ("adult", 1): ("sgd_tanh", "single"), ("adult", "sampling"): ("adadelta", "connectivity"),
    ("connect4", 1): ("paper", "single"), ("connect4", "sampling"): ("adadelta", "connectivity"),
    ("dna", 1): ("paper", "single"), ("dna", "sampling"): ("adadelta", "order"),
    ("mushrooms", 1): ("paper", "single"), ("mushrooms", "sampling"): ("adadelta", "connectivity"),
    ("nips", 1): ("paper", "single"), ("nips", "sampling"): ("paper", "order"),
}

MNIST_1x500 = dict(dataset="binarized_mnist", hidden_sizes=[500])
# The second binarization: MNIST rebuilt from the raw digits (made.data), on
# which the protocol was chosen; its runs name the variant in their ids.
REBUILD = dict(data_variant="static-seed0")
REBUILD_1x500 = {**MNIST_1x500, **REBUILD}

# The 8000-unit comparison gives every arm (K, mode) the same chance: each runs
# one seed of every recipe it is offered, and the recipe its validation NLL
# chooses gets 3 seeds.  K = 1 is offered the three changes against early
# overfitting (K1_CANDIDATES); K = 32, in each mode, Figure 2's recipe and the
# one K = 1 chose.  tests/test_grid.py checks each choice against the committed runs.
RECIPES_AT_8000 = {(32, "order"): ("adam", "adam_step10"), (32, "connectivity"): ("adam", "adam_step10"),
                   (1, "single"): tuple(K1_CANDIDATES)}
CHOSEN_AT_8000 = {(32, "order"): "adam", (32, "connectivity"): "adam_step10", (1, "single"): "adam_step10"}
# Each arm's other recipes keep the seeds they ran: one, but 2 for the connectivity-agnostic
# arm's adam, which ran them before that arm had a search.
OTHER_SEEDS_AT_8000 = {(32, "order"): 1, (32, "connectivity"): 2, (1, "single"): 1}

GRIDS: dict[str, dict] = {
    # Figure 2: test NLL against the number of training masks, both modes, the
    # authors' architecture, every run to early stopping (no cap).  Ensembles
    # of more than 8 masks are validated on their first 8 (see results/README.md).
    "figure2": dict(
        protocol="adam",
        base={**MNIST_1x500, "valid_masks": 8},
        axes=dict(num_masks=[1, 2, 4, 8, 16, 32], mode=["order", "connectivity"]),
        # 5 seeds where the ensemble's gains over K = 1 are small (K <= 4), 3
        # elsewhere: a difference is judged only with 3 seeds a side
        seeds={1: 5, 2: 5, 4: 5, "default": 3},
        csv="figure2.csv", reports=("figure2", "compare", "binarizations"),
    ),
    # Figure 2's question at the paper's width: one hidden layer of 500, 2000
    # and 8000 units, K = 32 in both modes against K = 1, each arm under its
    # recipe chosen on validation among those it ran (at 8000 units
    # RECIPES_AT_8000).  Its 500-unit points have Figure 2's run ids, so they
    # are Figure 2's runs, not retrained.
    "widths": dict(
        parts=[
            dict(protocol="adam", base={**MNIST_1x500, "valid_masks": 8},  # Figure 2's runs, all its seeds
                 axes=dict(num_masks=[1, 32], mode=["order", "connectivity"]), seeds={1: 5, "default": 3}),
            dict(protocol="adam", base={"dataset": "binarized_mnist", "hidden_sizes": [2000], "valid_masks": 8},
                 axes=dict(num_masks=[1, 32], mode=["order", "connectivity"]), seeds=1),
            dict(base={"dataset": "binarized_mnist", "hidden_sizes": [2000], "num_masks": 1},
                 axes=dict(protocol=list(K1_CANDIDATES)), seeds=1),
            # each arm at 8000 units: every recipe it is offered, 3 seeds of the one chosen
            *(dict(base={"dataset": "binarized_mnist", "hidden_sizes": [8000], "num_masks": k,
                         **({"valid_masks": 8} if k > 1 else {})},
                   axes=dict(protocol=list(recipes), mode=[mode]),
                   seeds={CHOSEN_AT_8000[(k, mode)]: 3, "default": OTHER_SEEDS_AT_8000[(k, mode)]})
              for (k, mode), recipes in RECIPES_AT_8000.items()),
        ],
        # compare: comparison.md sets the 1x8000 runs beside the paper's rows
        csv="widths.csv", reports=("widths", "compare", "binarizations", "samples"),
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
            # the paper's first point under the paper's own recipe, on the paper's
            # file, to its stopping rule (no cap): thousands of epochs on a CPU core
            dict(protocol="paper", base={**MNIST_1x500, "num_masks": 1}, axes={}, seeds=1),
        ],
        csv="recipes.csv", reports=("recipes",),
    ),
    # Figure 2 on the seed project's own model: karpathy's pytorch-made
    # MADE(784, [500], 784), with no direct input-to-output connections and
    # PyTorch's default initialization, under its own Adam recipe ("adam" is
    # that recipe, plus early stopping), on the paper's file.
    "plain": dict(
        protocol="adam",
        base={**MNIST_1x500, "valid_masks": 8, "direct_connections": False, "init": "default"},
        axes=dict(num_masks=[1, 4, 32], mode=["order", "connectivity"]),
        seeds=3,
        # compare: comparison.md judges the seed's 94.5 against this model's K = 1 runs
        csv="plain.csv", reports=("figure2", "compare"),
    ),
    # Figure 2 and the widths on the second binarization, MNIST rebuilt from
    # the raw digits: the runs that chose the protocol, set beside the paper's
    # file's (made.reports: binarizations).
    "rebuild": dict(
        parts=[
            dict(protocol="adam", base={**REBUILD_1x500, "valid_masks": 8},
                 axes=dict(num_masks=[1, 2, 4, 8, 16, 32], mode=["order", "connectivity"]), seeds=3),
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
    # seeds (made.reports.uci._select): the optimizer
    # {adagrad 0.01 (paper), adadelta 1e-5/0.95} and, under mask sampling, the
    # resampling mode {order, connectivity}.  Two seeds for the mask-sampling
    # rows of mushrooms and nips (400 training examples) in both optimizers with
    # full resampling, and for the recipes that validation chose: adadelta, full
    # resampling on adult and the connectivity only on adult, mushrooms and
    # connect4, and connect4's with one mask; Adagrad under mask sampling takes
    # thousands of epochs, and its arms left out of a search are LEFT_OUT_OF_SEARCH.
    "uci": dict(
        parts=[
            dict(protocol="adadelta", base={"dataset": "dna", **MASK_SAMPLING},
                 axes=dict(mode=["order", "connectivity"]), seeds=2),
            *(dict(base={"dataset": d, **MASK_SAMPLING}, seeds=2 if (m, d) in {("order", "mushrooms"), ("order", "nips")}
                   else 1, axes=dict(protocol=[o for o in ("paper", "adadelta")
                                               if (d, "sampling", o, m) not in LEFT_OUT_OF_SEARCH], mode=[m]))
              for m in ("order", "connectivity") for d in UCI_DATASETS if d != "dna"),
            dict(protocol="adadelta", base={"dataset": "adult", **MASK_SAMPLING}, axes=dict(mode=["order"]),
                 seeds=2),
            dict(protocol="adadelta", base={**MASK_SAMPLING}, axes=dict(dataset=["adult", "mushrooms", "connect4"],
                                                                         mode=["connectivity"]), seeds=2),
            dict(base={"num_masks": 1}, seeds=1,
                 axes=dict(dataset=UCI_DATASETS, protocol=["paper", "adadelta"])),
            dict(protocol="sgd_tanh", base={"dataset": "adult", "num_masks": 1}, axes={}, seeds=1),
            # connect4 with one mask: the second seed of the recipe that validation chose
            dict(protocol="paper", base={"dataset": "connect4", "num_masks": 1}, axes={}, seeds=2),
            # 3 seeds of every row's recipe, and of dna's connectivity-only arm
            *(dict(protocol=protocol, base={"dataset": dataset, **(MASK_SAMPLING if k == "sampling" else {"num_masks": 1})},
                   axes=dict(mode=[mode]), seeds=3)
              for (dataset, k), (protocol, mode) in [*UCI_CHOSEN.items(), (("dna", "sampling"), ("adadelta", "connectivity"))]),
        ],
        csv="uci.csv", reports=("uci",),
        # what its reports need beyond the points (made.pipeline.results.write_grid)
        facts=dict(published=[dict(dataset=d, k=k, **recipe) for (d, k), recipe in AS_PUBLISHED.items()],
                   left_out=[dict(dataset=d, k=k, protocol=p, mode=m, why=why)
                             for (d, k, p, m), why in LEFT_OUT_OF_SEARCH.items()]),
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

# The tables a report notebook reads besides its grid's own: a grid's reports
# run once the grid has complete runs, each once these tables exist too.  A
# report that needs nothing else (a new figure's, say) needs no entry.
REPORT_INPUTS: dict[str, tuple[str, ...]] = {"figure2": ("figure2.csv",), "compare": ("figure2.csv",)}


def grid_outputs(name: str) -> tuple[str, tuple[str, ...], str]:
    """(CSV name, report notebooks, subfolder of the results directory) of grid
    ``name``: the smoke grid writes under ``<results>/smoke/``, so it never
    touches the real tables and figures."""
    grid = GRIDS[name]
    return grid["csv"], tuple(grid.get("reports", ())), grid.get("subdir", "")


@dataclass(frozen=True)
class RunPoint:
    run_id: str
    params: dict  # the run's settings, by name (ExperimentConfig.from_dict)

    @property
    def mode(self) -> str:
        return run_mode(self.params)

    def config(self, **overrides) -> ExperimentConfig:
        return ExperimentConfig.from_dict({**self.params, **overrides})


def _seeds_for(seeds, values: dict, mode: str, protocol: str | None = None) -> int:
    """Seeds of one point: an int, or a dict keyed by the point's K (num_masks),
    dataset, mode or protocol, with a "default"."""
    if isinstance(seeds, int):
        return seeds
    for key in (values.get("num_masks"), values.get("dataset"), mode, protocol):
        if key in seeds:
            return seeds[key]
    return seeds["default"]


def run_id(params: dict) -> str:
    """``<dataset>[_<variant>]_h<hidden>_K<masks>_<mode>_seed<seed>[_<protocol>]``
    (the settings of fact ``id="name"``), then ``<name><value>`` for each
    setting of fact ``id="value"`` that differs from the protocol's (or,
    without one, from its default, as the default training resolves it:
    Adagrad's lr 0.01)."""
    cfg = ExperimentConfig.from_dict(params)
    k = "sampling" if cfg.model.num_masks is None else cfg.model.num_masks
    # Data other than the dataset's reference file names its variant, right
    # after the dataset: runs on two binarizations never share an id.
    data = cfg.dataset + (f"_{cfg.data_variant}" if cfg.data_variant else "")
    parts = [data, f"h{cfg.hidden_label}", f"K{k}", cfg.mode, f"seed{cfg.seed}"]
    default = ExperimentConfig.defaults()
    resolved = TrainConfig().resolved()
    if cfg.protocol:
        parts.append(cfg.protocol)
    settings = cfg.settings()
    for name in ExperimentConfig.names(id="value"):
        if cfg.protocol:
            usual = {PROTOCOLS[cfg.protocol].get(name, default[name])}
        else:
            usual = {default[name], resolved.get(name, default[name])}
        if settings[name] not in usual:
            parts.append(f"{name}{settings[name]}")
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
        # an unknown name: run_id's ExperimentConfig refuses it (a SettingsError, a ValueError)
        recipe = {**PROTOCOLS.get(name, {}), "protocol": name} if name else {}
        if values.get("num_masks", grid["base"].get("num_masks", 1)) == 1:
            mode = "single"
        n_seeds = seeds if seeds is not None else _seeds_for(grid["seeds"], values, mode, name)
        for seed in range(n_seeds):
            params = {**recipe, **grid["base"], **values, **MODES[mode], "seed": seed, **overrides}
            if params.get("valid_masks") and params.get("num_masks") and params["valid_masks"] >= params["num_masks"]:
                params["valid_masks"] = None  # all K masks: the same thing, one id
            rid = run_id(params)
            if rid not in seen:
                seen.add(rid)
                points.append(RunPoint(rid, params))
    return points
