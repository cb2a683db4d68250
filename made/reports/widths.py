"""Figure 2's question across widths: does training with many masks help once
the one hidden layer is as wide as the paper's?

The runs are the ``widths`` grid's table (K = 1 and K = 32 in both modes at
each width), chosen by their recorded settings; each width's K = 32 points
are judged against its K = 1 by :func:`made.reports.statistics.difference`.

Each arm (width, K, mode) gets its own recipe: among the recipes (their
``protocol``) that the arm's runs trained under, the one of lowest mean
validation NLL over its seeds (:func:`chosen_recipes`; test NLL is never read
for it).  At 8000 units both K = 1 and K = 32 order-agnostic ran more than one.
"""

from __future__ import annotations

import math

import pandas as pd

from .references import PAPER_WIDTH, paper_nll
from pathlib import Path

from .runs import (EVALUATIONS, MODE_LABEL, TRAINING_MODES, as_text, describe, point, read_grid, run_seconds,
                   summary, table_row)
from .statistics import difference, fmt_mean, judgement, mean_se


def widths_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The runs of one hidden layer, with their width as a number (``width``)."""
    # a boolean Series, not a list: an empty list would select columns, not rows
    one_layer = table[pd.Series([str(h).isdigit() for h in table["hidden_sizes"]], index=table.index, dtype=bool)]
    return one_layer.assign(width=[int(str(h)) for h in one_layer["hidden_sizes"]])


def many_masks(runs: pd.DataFrame) -> int:
    """The K the widths set against K = 1: the largest K of the runs (32 in the grid)."""
    ks = runs["num_masks"].astype(int)
    return int(ks.max()) if len(ks) else 32


def chosen_recipes(runs: pd.DataFrame) -> dict[tuple[int, int, str], str]:
    """(width, K, mode) -> that arm's recipe: the protocol of lowest mean
    validation NLL over its seeds, among the arm's runs (validation only)."""
    means = runs.groupby(["width", runs["num_masks"].astype(int), "mode", runs["protocol"].astype(str)])["valid_nll"].mean()
    return {(int(w), int(k), str(m)): p for w, k, m, p in means.groupby(level=[0, 1, 2]).idxmin()}


def k1_expected(points: list[dict]) -> pd.DataFrame:
    """The grid's K = 1 points (as ``widths_grid.json`` lists them,
    :func:`..runs.read_grid`) as rows (width, protocol): the recipes each
    width's search is among, finished or not."""
    rows = [dict(width=int(p["hidden_sizes"][0]), protocol=str(p.get("protocol")))
            for p in points if p.get("num_masks") == 1 and len(p["hidden_sizes"]) == 1]
    return pd.DataFrame(rows, columns=["width", "protocol"]).drop_duplicates()


def k1_unfinished(runs: pd.DataFrame, expected: pd.DataFrame | None) -> dict[int, list[str]]:
    """Width -> the K = 1 recipes of the grid's search there with no finished
    run yet (only widths with a K = 1 run): their choice is not yet validation's."""
    if expected is None or not len(expected):
        return {}
    one = runs[runs["num_masks"].astype(int) == 1]
    have = {(int(w), str(p)) for w, p in zip(one["width"], one["protocol"])}
    searched = {w for w, _ in have}
    missing = {}
    for w, p in sorted(zip(expected["width"].astype(int), expected["protocol"].astype(str))):
        if w in searched and (w, p) not in have:
            missing.setdefault(w, []).append(p)
    return missing


def with_chosen_recipes(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs, with each arm's runs of other recipes than its chosen one left out."""
    chosen = chosen_recipes(runs)
    keys = zip(runs["width"].astype(int), runs["num_masks"].astype(int), runs["mode"].astype(str))
    kept = [chosen.get(key) == p for key, p in zip(keys, runs["protocol"].astype(str))]
    return runs[pd.Series(kept, index=runs.index, dtype=bool)]


# What a K = 1 candidate changes, as the columns that tell the recipes apart.
RECIPE_COLUMNS = {"optimizer": "optimizer", "lr": "learning rate", "weight_decay": "weight decay",
                  "lr_step_epochs": "rate ÷10 every (epochs)"}


def _validated(part: pd.DataFrame) -> dict:
    """One recipe's runs as a search table shows them: validation NLL (mean ±
    standard error over seeds), seeds and kept epochs."""
    mean, se, n = mean_se(part["valid_nll"])
    return {"validation NLL": fmt_mean(mean, se), "seeds": n,
            "kept epochs": ", ".join(str(int(e)) for e in part["best_epoch"])}


def k1_search(table: pd.DataFrame, expected: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Each width's K = 1 recipes: what each sets, its validation NLL (mean ±
    standard error over seeds), its kept epochs, and which one is chosen;
    with the grid's points as ``expected`` (:func:`k1_expected`), the recipes
    not finished yet, and a choice among the finished ones says it is not final.  None: no K = 1 run yet."""
    runs = widths_runs(table)
    one = runs[runs["num_masks"].astype(int) == 1]
    if one.empty:
        return None
    chosen = {w: r for (w, k, _), r in chosen_recipes(runs).items() if k == 1}  # width -> K = 1's recipe
    unfinished = k1_unfinished(runs, expected)
    rows = []
    for (width, recipe), part in one.groupby(["width", one["protocol"].astype(str)]):
        row = {"hidden units": int(width), "recipe": recipe}
        row.update({label: as_text(part[c].iloc[0]) for c, label in RECIPE_COLUMNS.items() if c in part})
        row.update({**_validated(part),
                    "chosen": ("" if chosen[int(width)] != recipe else
                               "so far (search incomplete)" if int(width) in unfinished else "yes")})
        rows.append(row)
    for width, recipes in unfinished.items():
        rows += [{"hidden units": width, "recipe": r, "validation NLL": "not finished", "seeds": 0} for r in recipes]
    rows.sort(key=lambda r: r["hidden units"])
    return pd.DataFrame(rows).fillna("")


def masks_search(table: pd.DataFrame) -> pd.DataFrame | None:
    """The K > 1 arms that ran more than one recipe: each recipe's validation NLL
    (mean ± standard error over seeds), its seeds and kept epochs, and which one
    the arm keeps (:func:`chosen_recipes`); None where no arm ran two."""
    runs = widths_runs(table)
    many = runs[runs["num_masks"].astype(int) > 1]
    chosen, rows = chosen_recipes(runs), []
    for (width, k, mode), arm in many.groupby(["width", many["num_masks"].astype(int), "mode"]):
        if arm["protocol"].astype(str).nunique() < 2:
            continue
        for recipe, part in arm.groupby(arm["protocol"].astype(str)):
            rows.append({"hidden units": int(width), "K": int(k), "mode": MODE_LABEL[mode], "recipe": recipe,
                         **_validated(part),
                         "chosen": "yes" if chosen[(int(width), int(k), str(mode))] == recipe else ""})
    return pd.DataFrame(rows) if rows else None


def widths_table(table: pd.DataFrame, widths: list[int] | None = None, k: int | None = None,
                 points: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per width (those of ``widths`` without runs say "not run yet"):
    test NLL at K = 1 and, at K = ``k``, of mask 0 and of the ensemble in both
    modes, each arm under its recipe chosen on validation; then the paper's recalled rows."""
    runs = widths_runs(table)
    k = k or many_masks(runs)
    points = summary(with_chosen_recipes(runs), by=("width",)) if points is None else points
    columns = {"K = 1 (its recipe)": (1, "order", "mask 0")}
    columns.update({f"K = {k}, {MODE_LABEL[m]}, {e}": (k, m, e) for m in TRAINING_MODES for e in EVALUATIONS.values()})
    rows = [{"hidden units": str(width), **table_row(points, columns, "not run yet", width=width)}
            for width in sorted(set(widths or []) | set(runs["width"]))]
    paper = {name: "" for name in columns}
    paper["K = 1 (its recipe)"] = f"{paper_nll(1):.2f}"
    if not math.isnan(paper_nll(k)):
        paper[f"K = {k}, {MODE_LABEL['order']}, ensemble"] = f"{paper_nll(k):.2f}"
    rows.append({"hidden units": f"paper ({PAPER_WIDTH}, most likely; recalled)", **paper, "seeds": ""})
    return pd.DataFrame(rows)


def widths_differences(table: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """At each width, K = ``k`` minus K = 1, per mode and evaluation, judged
    (with fewer than 3 seeds a side: the difference, not judged)."""
    runs = widths_runs(table)
    k = k or many_masks(runs)
    rows, kept = [], with_chosen_recipes(runs)
    for width in sorted(runs["width"].unique()):
        at_width = kept[kept["width"] == width]
        base = point(at_width, "order", 1, "test_nll_single_mask")
        for mode in TRAINING_MODES:
            for column, evaluation in EVALUATIONS.items():
                d = difference(point(at_width, mode, k, column), base)
                rows.append(dict(width=int(width), mode=mode, evaluation=evaluation, K=k, difference=d.delta,
                                 low95=d.interval()[0], high95=d.interval()[1], seeds=d.seeds, verdict=d.verdict,
                                 judged=d))
    return pd.DataFrame(rows, columns=["width", "mode", "evaluation", "K", "difference", "low95", "high95",
                                       "seeds", "verdict", "judged"])


def early_stops(table: pd.DataFrame) -> pd.DataFrame:
    """The runs whose kept epoch came before the learning rate first stepped
    down: they stopped in their first epochs (overfitting early)."""
    runs = table if "width" in table else widths_runs(table)
    if "lr_step_epochs" not in runs:
        return runs.iloc[:0]
    return runs[runs["best_epoch"].astype(float) <= runs["lr_step_epochs"].astype(float)]


def _device(runs: pd.DataFrame) -> pd.Series:
    """Where each run trained: its device and, on an accelerator, its name
    (on a CPU the name is the machine's architecture, which says little)."""
    device = runs["device"].fillna("") if "device" in runs else pd.Series("", index=runs.index)
    if "device_name" not in runs:
        return device
    name = runs["device_name"].fillna("")
    return device.where((device == "cpu") | (name == ""), device + " (" + name + ")")


def runs_shown(table: pd.DataFrame) -> pd.DataFrame:
    """Every run of the widths: its recipe, kept and last epoch, validation and
    test NLL, run time and where it ran (the recipe tells apart the K = 1
    candidates of one seed)."""
    runs = widths_runs(table).sort_values(["width", "num_masks", "mode", "protocol", "seed"])
    seconds = run_seconds(runs)
    return pd.DataFrame({
        "hidden units": runs["width"], "K": runs["num_masks"], "mode": runs["mode"], "recipe": runs["protocol"],
        "seed": runs["seed"],
        "kept epoch": runs["best_epoch"], "last epoch": runs["epochs"], "validation NLL": runs["valid_nll"],
        "test NLL, mask 0": runs["test_nll_single_mask"], "test NLL, ensemble": runs["test_nll_ensemble"],
        "run time (h)": seconds / 3600,
        "threads": runs["torch_threads"] if "torch_threads" in runs else "",
        "device": _device(runs),
    })


def widths_context(table: pd.DataFrame, widths: list[int] | None = None, expected: pd.DataFrame | None = None,
                   width: int = PAPER_WIDTH) -> dict:
    """A widths report's tables and numbers (widths.md; the rebuild's in binarizations.md): each
    difference judged, with K = ``k`` ahead of K = 1 ("helps") or behind it ("hurts"), and at
    ``width`` the K-mask runs kept before the first rate step (a gap where they trail K = 1
    may measure their recipe as much as the masks)."""
    runs = widths_runs(table)
    k, unfinished = many_masks(runs), k1_unfinished(runs, expected)
    diffs = widths_differences(table, k)
    shown = diffs.assign(mode=diffs["mode"].map(MODE_LABEL), difference=[d.short() for d in diffs["judged"]],
                         verdict=[judgement(d, "helps", "hurts") for d in diffs["judged"]])
    kept, chosen = with_chosen_recipes(runs), chosen_recipes(runs)
    early = early_stops(kept)
    at = early[(early["width"].astype(int) == width) & (early["num_masks"].astype(int) == k)]
    points = summary(kept, by=("width",))
    return {"k": k, "width": width, "data_variant": describe(runs, "data_variant"), "judged": diffs,
            "points": points, "chosen": chosen,
            "k1_recipes": [{"width": w, "recipe": r, "incomplete": w in unfinished}
                           for w, r in sorted({w: r for (w, n, _), r in chosen.items() if n == 1}.items())],
            "table": widths_table(table, widths, k, points), "k1_search": k1_search(table, expected),
            "masks_search": masks_search(table),
            "differences": shown[["width", "mode", "evaluation", "K", "difference", "verdict"]],
            "early_at_width": [{"mode": MODE_LABEL[r.mode], "seed": r.seed, "kept": int(r.best_epoch),
                                "epochs": int(r.epochs)} for r in at.itertuples()],
            "early": [{"width": r.width, "K": r.num_masks, "mode": r.mode, "recipe": r.protocol, "seed": r.seed,
                       "kept": int(r.best_epoch)} for r in early_stops(table).itertuples()],
            "runs": runs_shown(table)}


def context(results: Path) -> dict:
    """widths.md's context, from widths.csv and the grid's points (widths_grid.json)."""
    points = read_grid(results, "widths")["points"]
    return widths_context(pd.read_csv(results / "widths.csv"), sorted({p["hidden_sizes"][0] for p in points}),
                          k1_expected(points))
