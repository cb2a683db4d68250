"""A grid's tables: one row per complete run, and one per run and epoch.

:func:`aggregate` writes ``<grid>.csv`` (:func:`collect`: every complete run's
``metrics.json``) and ``<grid>_curves.csv`` (:func:`collect_curves`: every
run's ``history.csv``).  Which settings lead the first and key the second
comes from the settings' facts (:mod:`made.settings`): :func:`run_columns`,
:func:`curve_keys`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from ..io import write_csv, write_text
from .experiment import ExperimentConfig, hidden_label, run_mode, typed
from .run import DONE, read_metrics

# What a run gave, after its settings, in this order (the other results follow).
RESULT_COLUMNS = [
    "epochs", "best_epoch", "stopped_early", "valid_nll", "test_nll_single_mask", "test_nll_single_mask_stderr",
    "test_nll_ensemble", "test_nll_ensemble_stderr", "ensemble_masks", "test_nll_logit_average",
    "train_seconds", "valid_seconds", "device",
]


def _leading(fact: str) -> list[str]:
    """The settings of fact ``fact`` (``column`` or ``curve``) in the tables'
    order: those with a column number by it, then the others in
    ExperimentConfig.names() order; the run's mode, derived, right after K."""
    facts = ExperimentConfig.facts()

    def place(name):
        column = facts[name]["column"]
        return (0, column) if type(column) is int else (1, 0)

    names = sorted((n for n, f in facts.items() if f[fact] is not False), key=place)  # stable
    at = names.index("num_masks") + 1 if "num_masks" in names else len(names)
    return names[:at] + ["mode"] + names[at:]


def run_columns() -> list[str]:
    """The leading columns of every grid's table (see collect): the run's id,
    the settings of fact ``column``, then RESULT_COLUMNS."""
    return ["run_id", *_leading("column"), *RESULT_COLUMNS]


def curve_keys() -> list[str]:
    """What keys every row of a grid's curves: the run's id and the settings of fact ``curve``."""
    return ["run_id", *_leading("curve")]


def table_values(settings: dict) -> dict:
    """A row's settings as the tables show them, from metrics.json in either
    form: hidden sizes as ``500x500`` (``none`` without a hidden layer), K as
    an integer or ``sampling``; the others as recorded."""
    out = typed(settings)
    if "hidden_sizes" in out:
        out["hidden_sizes"] = hidden_label(out["hidden_sizes"])
    if "num_masks" in out:
        out["num_masks"] = "sampling" if out["num_masks"] is None else out["num_masks"]
    return out


def collect(results_dir: Path, run_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per complete run (DONE present), in run-id order: the run's
    id, its mode, and every key of its metrics.json, run_columns() first (a
    leading setting that a run does not record at its default)."""
    runs_dir = Path(results_dir) / "runs"
    columns = run_columns()
    # A run recorded before a setting existed was trained at its default.
    defaults = table_values(ExperimentConfig.defaults())
    leading = [c for c in columns if c in defaults]
    rows = []
    for run_dir in sorted(runs_dir.glob("*/")) if runs_dir.exists() else []:
        if run_ids is not None and run_dir.name not in run_ids:
            continue
        row = read_metrics(run_dir) if (run_dir / DONE).exists() else None
        if row is not None:  # a damaged metrics.json is named by read_metrics and left out
            rows.append({"run_id": run_dir.name, **{c: defaults[c] for c in leading if c not in row},
                         **table_values(row)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["mode"] = [run_mode(row) for row in rows]
    first = [c for c in columns if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def round_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """NLL columns to 5 decimals, seconds to 2, learning rates to 6 significant
    digits in the committed *_curves.csv, not float64's 17 (the runs' own
    history.csv keep them all): what a learning curve needs, and for NLLs one
    more, so that the reports' gains, shown to 3 decimals, come out as from the
    full values."""
    out = curves.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        if "nll" in col:
            out[col] = out[col].round(5)
        elif "seconds" in col:
            out[col] = out[col].round(2)
        elif col == "lr":
            out[col] = [float(f"{v:.6g}") for v in out[col]]
    return out


def collect_curves(results_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Every epoch of every run in ``runs``: its ``history.csv`` rows, keyed by
    curve_keys() (long format; by default the run's id, dataset, K, mode and
    seed).  A run whose history cannot be read is named on stderr and left out."""
    runs_dir = Path(results_dir) / "runs"
    keys = curve_keys()
    defaults = ExperimentConfig.defaults()
    parts = []
    for run in runs.to_dict("records"):
        path = runs_dir / run["run_id"] / "history.csv"
        try:
            history = pd.read_csv(path)
        except (OSError, ValueError) as exc:  # missing, empty or garbled
            print(f"run {run['run_id']}: {path} cannot be read ({type(exc).__name__}: {exc}); "
                  "its curve is left out", file=sys.stderr)
            continue
        # A run recorded before a setting existed was trained at its default.
        values = {k: run[k] if k in run and not _missing(run[k]) else defaults.get(k) for k in keys}
        parts.append(history.assign(**values)[keys + list(history.columns)])
    if not parts:
        return pd.DataFrame(columns=keys + ["epoch", "train_nll", "valid_nll"])
    return pd.concat(parts, ignore_index=True)


def write_grid(results_dir: Path, csv_name: str, points, facts: dict | None = None) -> Path:
    """``<stem>_grid.json`` beside the grid's table: its points (each run's id,
    mode and settings, finished or not) and the grid's facts that its reports
    need (the UCI rows run as published, the recipes left out of a search).
    The reports read it, and import nothing from the pipeline."""
    path = Path(results_dir) / f"{Path(csv_name).stem}_grid.json"
    # not where the data lie or how a run is watched: the file is the same on every machine
    execution = {n for n, f in ExperimentConfig.facts().items() if f["id"] is None and f["column"] is False}
    grid = {"points": [{"run_id": p.run_id, "mode": p.mode, **{k: v for k, v in p.params.items() if k not in execution}}
                       for p in points], **(facts or {})}
    write_text(path, json.dumps(grid, indent=1) + "\n")
    return path


def aggregate(results_dir: Path, csv_name: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Write ``<csv_name>`` (one row per complete run) and, beside it,
    ``<stem>_curves.csv`` (one row per run and epoch, rounded: see
    round_curves); returns the first."""
    frame = collect(results_dir, run_ids)
    csv = Path(results_dir) / csv_name
    write_csv(csv, frame)
    write_csv(csv.with_name(f"{csv.stem}_curves.csv"), round_curves(collect_curves(results_dir, frame)))
    return frame


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)
