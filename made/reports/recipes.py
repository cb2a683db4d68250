"""The evidence behind Figure 2's protocol (the ``recipes`` grid): the authors'
Adagrad against the converging recipe at equal wall time, and what validating
on 8 masks instead of all 32 changes.

The runs are paired by their recorded settings: an Adagrad run (protocol
``paper``) with the Adam run (``adam``) of the same data, width, K, mode,
seed and validation masks, from any of the tables given.  Validation NLL only.
"""

from __future__ import annotations

import pandas as pd

from pathlib import Path

from .curves import equal_time, fewer_masks_check
from .references import reference
from .runs import PAPER_FILE, as_text, read_table, select, span, unique_runs, variant_name
from .statistics import difference, fmt_mean, judgement, mean_se

PAIR_KEYS = ("dataset", "data_variant", "hidden_sizes", "num_masks", "mode", "seed", "valid_masks")


def counterpart(run: pd.Series, pool: pd.DataFrame, protocol: str) -> pd.Series | None:
    """The run of ``pool`` with ``protocol`` and the same settings as ``run`` (PAIR_KEYS)."""
    match = select(pool, protocol=protocol, **{k: run.get(k) for k in PAIR_KEYS})
    return match.iloc[0] if len(match) else None


def equal_time_table(recipes: pd.DataFrame, pool: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Each Adagrad run of ``recipes`` against its Adam counterpart in
    ``pool``, every epoch of both charged the Adagrad run's median epoch
    (same model, so the same work but for the optimizer step)."""
    rows = []
    for _, run in select(recipes, protocol="paper").iterrows():
        other = counterpart(run, pool, "adam")
        if other is None:
            continue
        cmp = equal_time(curves, run["run_id"], other["run_id"])
        curve = curves[curves["run_id"] == run["run_id"]].sort_values("epoch")["valid_nll"].cummin().to_numpy()
        look = min(30, len(curve) - 1)
        rows.append({
            "data": as_text(run.get("data_variant")),
            "K": int(run["num_masks"]), "mode": run["mode"], "validation masks": as_text(run.get("valid_masks")) or "all",
            "seed": int(run["seed"]), "Adagrad epochs": int(run["epochs"]),
            "Adagrad capped": not bool(run["stopped_early"]),
            "Adagrad best": cmp["reference_best"], f"its gain in its last {look} epochs": curve[-look - 1] - curve[-1],
            "Adam matched it at epoch": round(cmp["challenger_seconds_to_match"] / cmp["seconds_per_epoch"]),
            "Adam's best in the same time": cmp["challenger_best_in_time"],
            "Adam kept epoch": int(other["best_epoch"]), "Adam last epoch": int(other["epochs"]),
            "Adam stopped early": bool(other["stopped_early"]),
        })
    return pd.DataFrame(rows)


def equal_time_values(recipes: pd.DataFrame, pool: pd.DataFrame, curves: pd.DataFrame) -> dict | None:
    """:func:`equal_time_table` and the numbers its paragraph names; None without a pair yet."""
    table = equal_time_table(recipes, pool, curves)
    if not len(table):
        return None
    gain = [c for c in table.columns if c.startswith("its gain")][0]
    capped = table[table["Adagrad capped"]]
    return {"table": table.drop(columns="Adagrad capped"), "runs": len(table), "capped": len(capped),
            # on which data, named as a sentence names it, and how many pairs on each
            "data": [{"name": variant_name(v), "runs": int(n)}
                     for v, n in table["data"].value_counts(sort=False).items()],
            "cap": int(capped["Adagrad epochs"].max()) if len(capped) else None,
            "gain": span(capped[gain], 2) if len(capped) else None,
            "matched": span(table["Adam matched it at epoch"], 0),
            "ahead": span(table["Adagrad best"] - table["Adam's best in the same time"], 2)}


def fewer_masks_values(recipes: pd.DataFrame, pool: pd.DataFrame, curves: pd.DataFrame) -> dict | None:
    """The K = 32 run validated on all its masks: where the rule would have stopped on its
    first 1, 2, ... 16 (the table), and the Figure 2 run of the same seed validated on 8."""
    full = select(recipes, protocol="adam", valid_masks=None)
    full = full[full["num_masks"].astype(int) > 8]
    if not len(full):
        return None
    run = full.iloc[0]
    k = int(run["num_masks"])
    history = curves[curves["run_id"] == run["run_id"]].sort_values("epoch")
    check = fewer_masks_check(history, run.get("look_ahead"), float(run["min_delta"]))
    shown = check.rename(columns={"masks": "validated on", "best_epoch": "kept epoch", "stop_epoch": "stop epoch",
                                  "full_valid_nll_at_best": f"{k}-mask validation NLL at the kept epoch"})
    shown["validated on"] = [f"first {m}" if m != "all" else f"all {k}" for m in shown["validated on"]]
    shown["stop epoch"] = [("after the run's end" if pd.isna(v) else str(int(v))) for v in shown["stop epoch"]]
    at = check.set_index("masks")
    twins = select(pool, protocol="adam", valid_masks=8, **{c: run.get(c) for c in PAIR_KEYS if c != "valid_masks"})
    out = {"table": shown, "K": k, "mode": run["mode"], "seed": int(run["seed"]),
           "data": variant_name(run.get("data_variant")), "eight": None, "twin": None}
    if 8 in at.index:
        e8, eall = at.loc[8], at.loc["all"]
        out["eight"] = {"kept": int(e8["best_epoch"]), "kept_all": int(eall["best_epoch"]),
                        "gap": f"{e8['full_valid_nll_at_best'] - eall['full_valid_nll_at_best']:+.3f}"}
    if len(twins):
        twin = twins.iloc[0]
        out["twin"] = {"kept": int(twin["best_epoch"]), "epochs": int(twin["epochs"]),
                       "data": variant_name(twin.get("data_variant")),
                       **{f"{who}_{c}": f"{r[f'test_nll_{c}']:.2f}" for who, r in (("twin", twin), ("run", run))
                          for c in ("ensemble", "single_mask")}}
    return out


def first_point_values(recipes: pd.DataFrame, pool: pd.DataFrame) -> dict | None:
    """The paper's first point, K = 1 at 1x500 under the authors' Adagrad 0.01 on the paper's
    file, run to its stopping rule, against the converging recipe's K = 1 runs; None before it ends."""
    uncapped = recipes[recipes["max_epochs"].isna()] if "max_epochs" in recipes else recipes.iloc[:0]
    runs = select(uncapped, protocol="paper", data_variant=PAPER_FILE, hidden_sizes=500, num_masks=1)
    if not len(runs):
        return None
    run = runs.iloc[0]
    adam = select(pool, protocol="adam", data_variant=PAPER_FILE, hidden_sizes=500, num_masks=1)
    test, valid = adam["test_nll_single_mask"].astype(float), adam["valid_nll"].astype(float)
    d = difference(runs["test_nll_single_mask"].astype(float), test)
    seed = float(reference(table="seed", masks="1")["test_nll"])
    return {"seed": int(run["seed"]), "stopped": bool(run["stopped_early"]), "epochs": int(run["epochs"]),
            "kept": int(run["best_epoch"]), "valid": f"{run['valid_nll']:.2f}",
            "test": f"{run['test_nll_single_mask']:.2f}", "adam_runs": len(adam),
            "adam_test": fmt_mean(*mean_se(test)[:2]), "adam_valid": fmt_mean(*mean_se(valid)[:2]),
            "difference_value": d.estimate(), "judgement": judgement(d) or "not judged",
            "seed_quote": f"{seed:.1f}", "from_seed": f"{run['valid_nll'] - seed:+.2f}"}


def context(results: Path) -> dict:
    """recipes.md's context.  The Adam counterparts are found in any table of the grids that may
    hold them (the recipes' own, the rebuild's and Figure 2's), with their curves."""
    names = [n for n in ("recipes", "rebuild", "figure2") if (results / f"{n}.csv").exists()]
    tables = [read_table(results, f"{n}.csv") for n in names]
    curves = pd.concat([read_table(results, f"{n}_curves.csv") for n in names],
                       ignore_index=True).drop_duplicates(["run_id", "epoch"])
    recipes = tables[0] if names[0] == "recipes" else tables[0].iloc[:0]
    pool = unique_runs(pd.concat(tables, ignore_index=True))
    return {"equal_time": equal_time_values(recipes, pool, curves),
            "fewer_masks": fewer_masks_values(recipes, pool, curves), "first_point": first_point_values(recipes, pool)}
