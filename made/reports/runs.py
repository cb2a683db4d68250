"""Runs chosen by their recorded settings, summarized over seeds, and tables as markdown.

A grid's CSV has one row per run, with the settings the run recorded
(``data_variant``, ``protocol``, ``hidden_sizes``, ``num_masks``, ``mode``,
``valid_masks``, ...).  The reports pick runs by those columns, never by how a
run id is spelled.  :func:`select` is home-made, not ``DataFrame.query``,
because a setting is compared as text (:func:`as_text`): a CSV reads 500 as
an int in one table and "500" or 500.0 in another, and None, NaN and "" are
all "not set".  Tables are written by pandas (``to_markdown``, tabulate).

A training mode's runs are its own and the K = 1 runs (mode ``single``),
which start both modes' curves, as in the paper's Figure 2: ``select(runs,
mode=[mode, "single"])``.

>>> runs = pd.DataFrame(dict(hidden_sizes=["500", "8000"], num_masks=[1, 32], valid_masks=[None, 8.0]))
>>> len(select(runs, hidden_sizes=500)), len(select(runs, valid_masks=None)), len(select(runs, num_masks=[1, 32]))
(1, 1, 2)
"""

from __future__ import annotations

import math

import pandas as pd

from .statistics import fmt_mean, mean_se

PAPER_FILE = "larochelle"  # the paper's binarized MNIST file (a data_variant)
REBUILD = "static-seed0"  # binarized MNIST rebuilt from the raw digits (a data_variant)
VARIANT_NAME = {PAPER_FILE: "the paper's file", REBUILD: "the rebuild"}
MODE_LABEL = {"order": "order-agnostic", "connectivity": "connectivity-agnostic"}
EVALUATIONS = {"test_nll_single_mask": "mask 0", "test_nll_ensemble": "ensemble"}
TRAINING_MODES = tuple(MODE_LABEL)
SECONDS = ("train_seconds", "valid_seconds", "eval_seconds")  # a run's time, in its three parts


def read_grid(results, stem: str) -> dict:
    """What the pipeline wrote of grid ``stem`` beside its table (``<stem>_grid.json``):
    ``points`` (each run's id, mode and settings, finished or not), and for the UCI
    grid ``published`` ((dataset, K) -> the authors' recipe) and ``left_out``
    ((dataset, K, protocol, mode) -> why); empty where the grid never ran."""
    import json
    from pathlib import Path

    path = Path(results) / f"{stem}_grid.json"
    grid = json.loads(path.read_text()) if path.exists() else {}
    return {"points": grid.get("points", []),
            "published": {(r["dataset"], r["k"]): {k: r[k] for k in ("protocol", "mode")}
                          for r in grid.get("published", [])},
            "left_out": {(r["dataset"], r["k"], r["protocol"], r["mode"]): r["why"] for r in grid.get("left_out", [])}}


def unique_runs(table: pd.DataFrame) -> pd.DataFrame:
    """One row per run: rows that agree on every column but the run id are
    one run (its metrics.json, read into two tables, or under two ids).  No
    list of settings is kept here: two runs that differ in any setting, or
    in any result, stay two rows."""
    rest = [c for c in table.columns if c != "run_id"]
    return table.loc[~table[rest].map(as_text).duplicated()] if rest else table


def as_text(value) -> str:
    """A setting as text, so that 500, 500.0 and "500" are one value and
    None, NaN and "" are "no value"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def select(runs: pd.DataFrame, **settings) -> pd.DataFrame:
    """The runs whose recorded settings equal ``settings`` (a list: any of its
    values; None: not set).  A column the table lacks counts as not set."""
    keep = pd.Series(True, index=runs.index)
    for column, wanted in settings.items():
        wanted = [as_text(v) for v in (wanted if isinstance(wanted, (list, tuple, set)) else [wanted])]
        have = runs[column].map(as_text) if column in runs else pd.Series("", index=runs.index)
        keep &= have.isin(wanted)
    return runs[keep]


def describe(runs: pd.DataFrame, column: str) -> str:
    """``static-seed0`` or ``adam/paper``: the distinct values a set of runs recorded for a setting, sorted."""
    return "/".join(sorted({as_text(v) for v in runs[column]} - {""})) if column in runs else ""


def variant_name(variant) -> str:
    """A data variant as a sentence names it, with its recorded value.

    >>> variant_name("static-seed0"), variant_name("larochelle"), variant_name("other")
    ('the rebuild (static-seed0)', "the paper's file (larochelle)", 'other')
    """
    text = as_text(variant)
    return f"{VARIANT_NAME[text]} ({text})" if text in VARIANT_NAME else text


def computation_settings() -> list[str]:
    """The recorded settings that change what a run computes, its seed aside:
    each field of the model's and the training's configs whose facts say so
    (made.settings), so that a new one counts with no other edit, and the
    run's own data settings."""
    import dataclasses

    from ..model import ModelConfig
    from ..settings import facts
    from ..train import TrainConfig

    names = [f.name for config in (ModelConfig, TrainConfig) for f in dataclasses.fields(config)
             if facts(f)["setting"] and facts(f)["computation"] and f.name != "seed"]
    return ["dataset", "data_variant", "train_subset", *names]


def check_one_setting(runs: pd.DataFrame) -> None:
    """ValueError when ``runs``, about to be averaged over seeds, differ in a
    setting that changes the computation: a mean over them would mix two
    settings (a new one, say, once a grid varies it) under one row."""
    varying = {c: sorted(set(runs[c].map(as_text))) for c in computation_settings()
               if c in runs and runs[c].map(as_text).nunique() > 1}
    if varying:
        shown = "; ".join(f"{c}: {', '.join(v)}" for c, v in varying.items())
        raise ValueError(f"these runs differ in more than their seed ({shown}); a mean over them would mix "
                         "settings: select the runs by that setting first, or make the report key by it")


def by_seed(runs: pd.DataFrame, column: str) -> pd.Series:
    """A column's values indexed by seed (what :func:`..statistics.difference`
    pairs by), from runs that differ in their seed alone (:func:`check_one_setting`)."""
    check_one_setting(runs)
    seeds = runs["seed"].astype(int).to_numpy() if "seed" in runs else range(len(runs))
    return pd.Series(runs[column].astype(float).to_numpy(), index=seeds)


def summary(runs: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean and standard error over seeds per training mode, K and evaluation
    (and per ``by`` column, e.g. the width); K = 1 runs belong to both modes.

    >>> r = pd.DataFrame(dict(num_masks=[1, 1], mode="single", seed=[0, 1], test_nll_single_mask=[90.0, 91.0],
    ...                       test_nll_ensemble=[90.0, 91.0]))
    >>> print(summary(r).head(2).to_string(index=False))
    training evaluation  num_masks  mean  stderr  seeds
       order     mask 0          1  90.5     0.5      2
       order   ensemble          1  90.5     0.5      2
    """
    rows = []
    runs = runs.assign(num_masks=runs["num_masks"].astype(int))
    for mode in TRAINING_MODES:
        for keys, group in select(runs, mode=[mode, "single"]).groupby([*by, "num_masks"]):
            check_one_setting(group)
            for column, evaluation in EVALUATIONS.items():
                mean, se, n = mean_se(group[column])
                rows.append(dict(zip([*by, "num_masks"], keys), training=mode, evaluation=evaluation,
                                 mean=mean, stderr=se, seeds=n))
    return pd.DataFrame(rows, columns=[*by, "training", "evaluation", "num_masks", "mean", "stderr", "seeds"])


def at(points: pd.DataFrame, **keys) -> tuple[float, float, int]:
    """(mean, standard error, seeds) of the one :func:`summary` row whose
    columns equal ``keys``; (NaN, NaN, 0) where there is none."""
    row = points[(points[list(keys)] == pd.Series(keys)).all(axis=1)] if len(points) else points
    return (float(row["mean"].iloc[0]), float(row["stderr"].iloc[0]), int(row["seeds"].iloc[0])) if len(row) \
        else (float("nan"), float("nan"), 0)


def table_row(points: pd.DataFrame, columns: dict, missing: str = "", **keys) -> dict:
    """One row of Figure 2's or the widths' table: each column's point ((K, mode,
    evaluation) of :func:`summary`, at ``keys``) as mean ± standard error
    (``missing`` where it has no run), and how many seeds the points have."""
    found = {name: at(points, num_masks=k, training=m, evaluation=e, **keys) for name, (k, m, e) in columns.items()}
    return {**{name: fmt_mean(m, se) if n else missing for name, (m, se, n) in found.items()},
            "seeds": seeds_text(n for *_, n in found.values()) or "0"}


def point(runs: pd.DataFrame, mode: str, k: int, column: str) -> pd.Series:
    """One point's values by seed (K = 1 belongs to both modes)."""
    part = select(runs, mode=[mode, "single"])
    return by_seed(part[part["num_masks"].astype(int) == k], column)


def run_seconds(runs: pd.DataFrame) -> pd.Series:
    """Each run's training, validation and test seconds, summed."""
    return sum((runs[c].fillna(0).astype(float) for c in SECONDS if c in runs), pd.Series(0.0, index=runs.index))


def span(values, digits: int = 0) -> dict:
    """``{"low": ..., "high": ...}``: the least and greatest of ``values``, as text ("nan": none)."""
    values = pd.Series(values, dtype=float)
    return {"low": f"{values.min():.{digits}f}", "high": f"{values.max():.{digits}f}"}


def read_table(results, name: str) -> pd.DataFrame | None:
    """``results/<name>``, or None where it is not there."""
    from pathlib import Path

    path = Path(results) / name
    return pd.read_csv(path) if path.exists() else None


def seeds_text(counts) -> str:
    """``2`` or ``2-5``: how many seeds the points of a table row have."""
    counts = sorted({int(c) for c in counts if c})
    return "-".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 else "".join(map(str, counts))


def markdown(table: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub markdown table (``DataFrame.to_markdown``): floats to
    ``digits`` decimals, NaN and None empty, text as it is.

    >>> print(markdown(pd.DataFrame(dict(K=[1], nll=[91.234]))), end="")
    | K   | nll   |
    |-----|-------|
    | 1   | 91.23 |
    """
    def cell(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.{digits}f}"
        return "" if v is None else str(v).replace("|", "/")

    text = table.map(cell) if len(table) else table.astype(str)
    return text.to_markdown(index=False, tablefmt="github", disable_numparse=True) + "\n"
