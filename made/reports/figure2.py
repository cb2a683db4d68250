"""Figure 2: test NLL against the number of training masks, and what it shows.

The runs are a grid's table (``figure2.csv``; ``rebuild.csv`` for the second
binarization), chosen by their recorded settings: one hidden layer of 500
units, one data variant and one training recipe.  Every comparison is judged
by :func:`made.reports.statistics.difference` (Welch, every seed).
"""

from __future__ import annotations

import pandas as pd

from pathlib import Path

from .curves import convergence_table, fewer_masks_check
from .runs import (EVALUATIONS, MODE_LABEL, TRAINING_MODES, at, describe, point, run_seconds, select,
                   seeds_text, span, summary, table_row)
from .statistics import Difference, difference, fmt_mean, judgement

WIDTH = 500


def figure2_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The Figure 2 runs of a grid's table: one hidden layer of 500 units.
    They must share one data variant and one recipe; a table that mixes
    them is refused, naming what it mixes."""
    runs = select(table, hidden_sizes=WIDTH)
    for column in ("data_variant", "protocol"):
        if "/" in describe(runs, column):
            raise ValueError(f"Figure 2's runs mix {column} values ({describe(runs, column)}): "
                             f"select one ({column}=...) first")
    return runs


def what_was_run(runs: pd.DataFrame) -> str:
    """``binarized MNIST (larochelle), 1x500, protocol adam, 2-5 seeds``: for titles and captions."""
    seeds = runs.groupby(["num_masks", "mode"])["seed"].nunique() if len(runs) else pd.Series(dtype=int)
    return (f"binarized MNIST ({describe(runs, 'data_variant') or 'variant not recorded'}), 1x{WIDTH}, "
            f"protocol {describe(runs, 'protocol') or 'not recorded'}, {seeds_text(seeds) or 0} seeds")


def figure2_table(runs: pd.DataFrame, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per K: test NLL (mean ± standard error over seeds; no ±: one
    seed) of mask 0 and of the ensemble in both modes (:func:`..runs.summary`),
    and the seeds.  The seed project's logit average is no likelihood: it is
    not here but in comparison.md, beside the seed's 79.3 it explains."""
    points = summary(runs) if points is None else points
    return pd.DataFrame([{"K": int(k), **table_row(points, {f"{MODE_LABEL[m]}, {e}": (k, m, e) for m in TRAINING_MODES
                                                          for e in EVALUATIONS.values()})}
                         for k in sorted(runs["num_masks"].astype(int).unique())])


def figure2_differences(runs: pd.DataFrame) -> pd.DataFrame:
    """Every comparison of Figure 2, judged: each K against K = 1 (ensemble;
    mask 0) in each mode, and connectivity- minus order-agnostic at each K.
    One row per comparison, mode and K: the difference, its 95 % interval,
    the seeds, the method and the verdict."""
    ks = sorted(k for k in runs["num_masks"].astype(int).unique() if k != 1)
    base = point(runs, "order", 1, "test_nll_single_mask")
    compared = [(name, mode, k, point(runs, mode, k, column), base)
                for column, name in (("test_nll_ensemble", "ensemble vs K = 1"), ("test_nll_single_mask", "mask 0 vs K = 1"))
                for mode in TRAINING_MODES for k in ks]
    compared += [(f"connectivity vs order, {evaluation}", "", k, point(runs, "connectivity", k, column),
                  point(runs, "order", k, column)) for column, evaluation in EVALUATIONS.items() for k in ks]
    rows = []
    for comparison, mode, k, a, b in compared:
        d = difference(a, b)
        rows.append(dict(comparison=comparison, mode=mode, K=k, difference=d.delta, low95=d.interval()[0],
                         high95=d.interval()[1], seeds=d.seeds, method=d.method, verdict=d.verdict, judged=d))
    return pd.DataFrame(rows, columns=["comparison", "mode", "K", "difference", "low95", "high95", "seeds",
                                       "method", "verdict", "judged"])


# What "lower" and "higher" mean in each comparison, for its verdict column.
WORDS = {"ensemble vs K = 1": ("better", "worse"), "mask 0 vs K = 1": ("better", "worse"),
         "connectivity vs order, ensemble": ("connectivity-agnostic better", "order-agnostic better"),
         "connectivity vs order, mask 0": ("connectivity-agnostic better", "order-agnostic better")}


# --- convergence: every run flattened before it stopped ------------------------------------------


def convergence_values(runs: pd.DataFrame, curves: pd.DataFrame, look_ahead: int = 30) -> dict:
    """How every run stopped (:func:`..curves.convergence_table`, with how many learning-rate
    steps came before the kept epoch): the table and the numbers its paragraph names.
    A run "rose" where its validation NLL at the stop is more than ``min_delta`` above the kept best."""
    table = convergence_table(runs.assign(look_ahead=runs.get("look_ahead", 30)), curves)
    step = runs.set_index("run_id")["lr_step_epochs"] if "lr_step_epochs" in runs else None
    table["rate_steps_before_kept"] = [(int(b) - 1) // int(step[r]) if step is not None and not pd.isna(step[r]) else 0
                                       for r, b in zip(table["run_id"], table["best_epoch"])]
    table = table.sort_values(["num_masks", "mode", "seed"])
    min_delta = float(runs["min_delta"].max()) if "min_delta" in runs else 0.0
    early = table["stopped_early"] & (table["epochs"] == table["best_epoch"] + look_ahead)
    rose = table[table["rise_at_stop"] > min_delta]
    shown = table[["num_masks", "mode", "seed", "best_epoch", "epochs", "valid_nll", "gain_before_best",
                   "gain_after_best", "rise_at_stop", "rate_steps_before_kept"]].rename(columns={
        "num_masks": "K", "best_epoch": "kept epoch", "epochs": "last epoch", "valid_nll": "validation NLL",
        "gain_before_best": f"gain in the {look_ahead} epochs before the kept one",
        "gain_after_best": "best later gain", "rise_at_stop": "rise at the stop",
        "rate_steps_before_kept": "rate steps before the kept epoch"})
    steps = [{"steps": int(n), "runs": len(sub), **span(sub["best_epoch"])}
             for n, sub in table.groupby("rate_steps_before_kept")]
    return {"table": shown, "runs": len(table), "early": int(early.sum()), "look_ahead": look_ahead,
            "min_delta": f"{min_delta:g}", "steps": steps, "rose": len(rose),
            "rise": span(rose["rise_at_stop"], 3) if len(rose) else None,
            "gain": span(table["gain_before_best"], 3), "later": f"{table['gain_after_best'].max():.3f}"}


def halving_values(runs: pd.DataFrame, curves: pd.DataFrame) -> dict | None:
    """Validating on the first K/2 masks instead of all K, replayed on every run of K >= 4
    validated on all its masks that recorded the half-ensemble's curve (``valid_nll_m<K/2>``):
    kept and stop epochs of both and the full ensemble's validation NLL at each kept epoch (the
    table), and the numbers its paragraph names; None without such runs."""
    rows, full = [], select(runs, valid_masks=None)
    for run in full[full["num_masks"].astype(int) >= 4].itertuples():
        k = int(run.num_masks)
        history = curves[curves["run_id"] == run.run_id].sort_values("epoch")
        column = f"valid_nll_m{k // 2}"
        if column not in history or history[column].isna().all():
            continue
        check = fewer_masks_check(history[["valid_nll", column]], getattr(run, "look_ahead", None),
                                  float(run.min_delta)).set_index("masks")
        half, all_ = check.loc[k // 2], check.loc["all"]
        rows.append({"K": k, "mode": run.mode, "seed": int(run.seed), "kept (all K)": int(all_["best_epoch"]),
                     "kept (K/2)": int(half["best_epoch"]), "stop (all K)": all_["stop_epoch"],
                     "stop (K/2)": half["stop_epoch"], "NLL at kept (all K)": all_["full_valid_nll_at_best"],
                     "NLL at kept (K/2)": half["full_valid_nll_at_best"]})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    table["difference"] = table["NLL at kept (K/2)"] - table["NLL at kept (all K)"]
    # a stop epoch is NaN where the rule would stop only after the run's last epoch
    half_after, all_after = table["stop (K/2)"].isna(), table["stop (all K)"].isna()
    stops = (table["stop (K/2)"] - table["stop (all K)"]).dropna()
    worst = table.loc[table["difference"].abs().idxmax()]
    table["stop (K/2)"] = [("after the run's end" if pd.isna(v) else str(int(v))) for v in table["stop (K/2)"]]
    table["stop (all K)"] = [("" if pd.isna(v) else str(int(v))) for v in table["stop (all K)"]]
    return {"table": table, "runs": len(table),
            # K/2's stop minus all K's, over the runs where both stop within the run: its two ends
            "first": stop_shift(stops.min()) if len(stops) else None,
            "last": stop_shift(stops.max()) if len(stops) else None,
            # runs left out of that span: K/2 would stop only after the run ended (later than all K,
            # which ended it), or K/2 stops within a run that all K did not stop (earlier)
            "after_end": int(half_after.sum()), "within_unstopped": int((~half_after & all_after).sum()),
            "worst": f"{abs(worst['difference']):.4f}",
            "worst_K": int(worst["K"]), "worst_mode": worst["mode"], "worst_seed": int(worst["seed"])}


def stop_shift(epochs: float) -> dict:
    """A stop epoch against another as the report says it: how many epochs, and ``earlier``,
    ``later`` or ``same`` (the same epoch).

    >>> stop_shift(-14.0), stop_shift(0.0), stop_shift(3.0)
    ({'epochs': '14', 'side': 'earlier'}, {'epochs': '0', 'side': 'same'}, {'epochs': '3', 'side': 'later'})
    """
    return {"epochs": f"{abs(epochs):.0f}", "side": "earlier" if epochs < 0 else "later" if epochs > 0 else "same"}


def figure2_context(runs: pd.DataFrame, curves: pd.DataFrame | None = None) -> dict:
    """A Figure 2 report's tables and numbers (figure2.md; the rebuild's in binarizations.md)."""
    runs = figure2_runs(runs)
    cols = [c for c in ("test_nll_single_mask_stderr", "test_nll_ensemble_stderr") if c in runs]
    stderr = pd.concat([runs[c] for c in cols]).dropna().astype(float) if cols else pd.Series([float("nan")])
    seconds = run_seconds(runs)
    diffs, points = figure2_differences(runs), summary(runs)
    base = at(points, training="order", evaluation="mask 0", num_masks=1)
    # the differences as the report shows them: one row per comparison, mode and K, a verdict in words
    shown = pd.DataFrame({"comparison": diffs["comparison"], "mode": [MODE_LABEL.get(m, "") for m in diffs["mode"]],
                          "K": diffs["K"], "difference [95 % interval], seeds": [d.short() for d in diffs["judged"]],
                          "verdict": [judgement(d, *WORDS[c]) for c, d in zip(diffs["comparison"], diffs["judged"])]})
    return {"what": what_was_run(runs), "table": figure2_table(runs, points), "differences": shown,
            "points": points, "judged": diffs, "k1": fmt_mean(*base[:2]), "k1_seeds": base[2], "stderr": span(stderr, 2), "runs": len(runs),
           "hours": f"{seconds.sum() / 3600:.1f}", "minutes": span(seconds / 60),
           "epochs": span(runs["epochs"]), "device": describe(runs, "device") or "not recorded",
           "convergence": convergence_values(runs, curves) if curves is not None else None,
           "halving": halving_values(runs, curves) if curves is not None else None}


def logit_averages(runs: pd.DataFrame) -> pd.DataFrame:
    """Per K > 1, the means over seeds of the order-agnostic runs' logit average (no
    likelihood: what the seed project's 79.3 is) and of their ensemble's test NLL."""
    order = select(figure2_runs(runs), mode=["order", "single"])
    return order[order["num_masks"].astype(int) > 1].groupby(order["num_masks"].astype(int))[
        ["test_nll_logit_average", "test_nll_ensemble"]].mean()


def _reversal(d: Difference) -> str:
    """The reversal on one model, by the rule of :func:`made.reports.verdict.claim_word`: only a
    clear difference calls it (``holds``: K = 32 worse; ``does not hold``: K = 32 better)."""
    return ("holds" if d.delta > 0 else "does not hold") if d.verdict == "clear" else "not settled"


def reversal_word(authors: Difference, plain: Difference) -> str:
    """Does the reversal (K = 32 order-agnostic ensemble worse than K = 1) hold on the seed's
    model as on the authors'?  Only a clear difference says it holds or not (suggestive and
    within the spread: not settled); with fewer than 3 seeds a side, not judged."""
    if {authors.verdict, plain.verdict} - {"clear", "suggestive", "within the spread"}:
        return "cannot be judged yet: a side has fewer than 3 seeds"
    on_plain, on_authors = _reversal(plain), _reversal(authors)
    if on_plain == "does not hold":
        return "does not hold on the seed's model"
    if on_plain == "not settled":
        return "is not settled on the seed's model"
    return {"holds": "holds on both models", "does not hold": "holds on the seed's model but not on the authors'",
            "not settled": "holds on the seed's model and is not settled on the authors'"}[on_authors]


def plain_context(plain: pd.DataFrame, authors: pd.DataFrame) -> dict:
    """Figure 2 on the seed project's model: its tables, and whether the reversal at K = 32 holds on it."""
    plain, authors = figure2_runs(plain), figure2_runs(authors)
    ours, theirs = (difference(point(r, "order", REVERSAL_K, "test_nll_ensemble"),
                               point(r, "order", 1, "test_nll_single_mask")) for r in (authors, plain))
    return {**figure2_context(plain), "reversal_K": REVERSAL_K, "authors": ours.short(), "authors_verdict": ours.verdict,
            "plain": theirs.short(), "plain_verdict": theirs.verdict, "word": reversal_word(ours, theirs)}


# The reversal at 1x500: a K-mask order-agnostic ensemble worse than one mask.
REVERSAL_K = 32


def context(results: Path) -> dict:
    """figure2.md's context, from figure2.csv, its curves and (where it has runs) plain.csv."""
    runs = figure2_runs(pd.read_csv(results / "figure2.csv"))
    plain = results / "plain.csv"
    return {**figure2_context(runs, pd.read_csv(results / "figure2_curves.csv")),
            "plain_model": plain_context(pd.read_csv(plain), runs) if plain.exists() else None}
