"""The evidence behind Figure 2's protocol (the ``recipes`` grid): the authors'
Adagrad against the converging recipe at equal wall time, and what validating
on 8 masks instead of all 32 changes.

The runs are paired by their recorded settings: an Adagrad run (protocol
``paper``) with the Adam run (``adam``) of the same data, width, K, mode,
seed and validation masks, from any of the tables given.  Validation NLL only.
"""

from __future__ import annotations

import pandas as pd

from .curves import equal_time, fewer_masks_check, median_epoch_seconds
from .references import reference
from .runs import as_text, markdown, select, unique_runs
from .sections import section
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
        spe = median_epoch_seconds(curves, run["run_id"])
        cmp = equal_time(curves, run["run_id"], other["run_id"], seconds_per_epoch=spe).iloc[0]
        curve = curves[curves["run_id"] == run["run_id"]].sort_values("epoch")["valid_nll"].cummin().to_numpy()
        look = min(30, len(curve) - 1)
        rows.append({
            "K": int(run["num_masks"]), "mode": run["mode"], "validation masks": as_text(run.get("valid_masks")) or "all",
            "seed": int(run["seed"]), "Adagrad epochs": int(run["epochs"]),
            "Adagrad capped": not bool(run["stopped_early"]),
            "Adagrad best": cmp["reference_best"], f"its gain in its last {look} epochs": curve[-look - 1] - curve[-1],
            "Adam matched it at epoch": round(cmp["challenger_seconds_to_match"] / spe),
            "Adam's best in the same time": cmp["challenger_best_in_time"],
            "Adam kept epoch": int(other["best_epoch"]), "Adam last epoch": int(other["epochs"]),
            "Adam stopped early": bool(other["stopped_early"]),
        })
    return pd.DataFrame(rows)


def equal_time_markdown(recipes: pd.DataFrame, pool: pd.DataFrame, curves: pd.DataFrame) -> str:
    table = equal_time_table(recipes, pool, curves)
    if not len(table):
        return "No Adagrad run of the `recipes` grid has an Adam counterpart yet.\n"
    gain = [c for c in table.columns if c.startswith("its gain")][0]
    capped = table[table["Adagrad capped"]]
    lines = [f"{len(table)} Adagrad 0.01 runs (the authors' optimizer), each against the Adam run of the same "
             "settings and seed; every epoch of both charged the Adagrad run's median seconds an epoch."]
    if len(capped):
        lines.append(f"{len(capped)} of them ran to their {int(capped['Adagrad epochs'].max())}-epoch cap, "
                     f"still gaining {capped[gain].min():.2f}–{capped[gain].max():.2f} nats in their last epochs.")
    ahead = table["Adagrad best"] - table["Adam's best in the same time"]
    lines.append(f"Adam matched Adagrad's best by epoch {table['Adam matched it at epoch'].min():.0f}–"
                 f"{table['Adam matched it at epoch'].max():.0f} and was {ahead.min():.2f}–{ahead.max():.2f} nats "
                 "below it within the same time.")
    return " ".join(lines) + "\n\n" + markdown(table.drop(columns="Adagrad capped"))


def fewer_masks_markdown(recipes: pd.DataFrame, pool: pd.DataFrame, curves: pd.DataFrame) -> str:
    """The K = 32 run validated on all its masks: where the rule would have
    stopped on its first 1, 2, ... 16, and the Figure 2 run of the same seed
    validated on 8."""
    full = select(recipes, protocol="adam", valid_masks=None)
    full = full[full["num_masks"].astype(int) > 8]
    if not len(full):
        return "The run validated on all its masks is not done yet (`python run_all.py --grid recipes`).\n"
    run = full.iloc[0]
    k = int(run["num_masks"])
    history = curves[curves["run_id"] == run["run_id"]].sort_values("epoch")
    check = fewer_masks_check(history, int(run.get("look_ahead", 30) if not pd.isna(run.get("look_ahead", 30)) else 30),
                              float(run["min_delta"]))
    shown = check.rename(columns={"masks": "validated on", "best_epoch": "kept epoch", "stop_epoch": "stop epoch",
                                  "full_valid_nll_at_best": f"{k}-mask validation NLL at the kept epoch"})
    shown["validated on"] = [f"first {m}" if m != "all" else f"all {k}" for m in shown["validated on"]]
    shown["stop epoch"] = [("after the run's end" if pd.isna(v) else str(int(v))) for v in shown["stop epoch"]]
    at = check.set_index("masks")
    text = [f"K = {k} {run['mode']}-agnostic, seed {int(run['seed'])}, validated on all {k} masks, recording at every "
            "epoch the ensembles of its first masks, so that the stopping rule can be replayed on each."]
    if 8 in at.index:
        e8, eall = at.loc[8], at.loc["all"]
        text.append(f"On 8 masks the rule keeps epoch {int(e8['best_epoch'])} instead of {int(eall['best_epoch'])}; "
                    f"on the full {k}-mask ensemble that epoch is {e8['full_valid_nll_at_best'] - eall['full_valid_nll_at_best']:+.3f} "
                    "nats from the kept one.")
    twins = select(pool, protocol="adam", valid_masks=8,
                   **{c: run.get(c) for c in PAIR_KEYS if c != "valid_masks"})
    twin = twins.iloc[0] if len(twins) else None
    if twin is not None:
        text.append(f"The Figure 2 run of the same settings validated on 8 masks kept epoch {int(twin['best_epoch'])} "
                    f"and stopped at {int(twin['epochs'])}: test ensemble NLL {twin['test_nll_ensemble']:.2f} against "
                    f"this run's {run['test_nll_ensemble']:.2f} (mask 0: {twin['test_nll_single_mask']:.2f} and "
                    f"{run['test_nll_single_mask']:.2f}).")
    return " ".join(text) + "\n\n" + markdown(shown, digits=3)


def papers_first_point_markdown(recipes: pd.DataFrame, pool: pd.DataFrame) -> str:
    """The paper's first point, K = 1 at 1x500 under the authors' Adagrad 0.01
    on the paper's file, run to its stopping rule: where it stopped, against
    the converging recipe's K = 1 runs and the seed project's 94.5."""
    uncapped = recipes[recipes["max_epochs"].isna()] if "max_epochs" in recipes else recipes.iloc[:0]
    runs = select(uncapped, protocol="paper", data_variant="larochelle", hidden_sizes=500, num_masks=1)
    if not len(runs):
        return ("The run is not complete yet: it trains for thousands of epochs on a CPU core and resumes from "
                "its checkpoint (`python run_all.py --grid recipes`).\n")
    run = runs.iloc[0]
    adam = select(pool, protocol="adam", data_variant="larochelle", hidden_sizes=500, num_masks=1)
    test, valid = adam["test_nll_single_mask"].astype(float), adam["valid_nll"].astype(float)
    d = difference(runs["test_nll_single_mask"].astype(float), test)
    lines = [f"Adagrad 0.01 (the authors' optimizer), K = 1, 1x500, on the paper's file, seed {int(run['seed'])}: "
             f"{'stopped early' if run['stopped_early'] else 'did not stop early'} after {int(run['epochs'])} epochs, "
             f"keeping epoch {int(run['best_epoch'])}, with validation NLL {run['valid_nll']:.2f} and test NLL "
             f"{run['test_nll_single_mask']:.2f}."]
    if len(adam):
        lines.append(f"The converging recipe's K = 1 runs give {fmt_mean(*mean_se(test)[:2])} on test "
                     f"({len(adam)} seeds) and {fmt_mean(*mean_se(valid)[:2])} on validation: Adagrad minus them is "
                     f"{d.short()} on test, {judgement(d) or 'not judged'}.")
    seed = reference(table="seed", masks="1")
    if seed is not None:
        lines.append(f"The seed project quotes {float(seed['test_nll']):.1f} for one mask, a validation NLL: "
                     f"this run is {run['valid_nll'] - float(seed['test_nll']):+.2f} from it on validation "
                     "(one seed: shown, not judged).")
    return " ".join(lines) + "\n"


def recipes_markdown(recipes: pd.DataFrame, pool: pd.DataFrame, curves: pd.DataFrame) -> str:
    """recipes.md: both checks, each a named section.  ``pool``: every table
    that may hold the Adam counterparts (the recipes' own and Figure 2's);
    ``curves``: the curves of all of them."""
    pool = unique_runs(pd.concat([recipes, pool], ignore_index=True))
    return "\n".join([
        "# Choosing the recipe\n",
        "## Against the authors' Adagrad at equal wall time\n",
        section("recipes-equal-time", equal_time_markdown(recipes, pool, curves)),
        "## Validating on 8 masks instead of 32\n",
        section("recipes-fewer-masks", fewer_masks_markdown(recipes, pool, curves)),
        "## The paper's first point under the authors' optimizer\n",
        section("recipes-first-point", papers_first_point_markdown(recipes, pool)),
    ])
