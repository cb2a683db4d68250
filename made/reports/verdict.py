"""The verdict: for each item of the paper, our number and a word, from the results tables.

The README's verdict table and the results' README are templates
(``docs/templates/``, :mod:`made.reports.render`) whose sentences a person
wrote; :func:`values` gives every number they show, and every word that
follows from a number, read from the grids' tables in the results folder.

The words, each by one stated rule:

* **a number** (the paper's, or the seed project's) against our mean over at
  least 3 seeds: *reproduced* where the 95 % one-sample interval of ours minus
  theirs lies within :data:`TOLERANCE` nats of 0, *not reproduced* where it lies
  wholly beyond, *not settled* otherwise; *not judged* with fewer than 3 seeds;
* **a claim** that more masks help (K = 32 against K = 1, Welch over every
  seed, :func:`made.reports.statistics.difference`): *reproduced* where K = 32
  is better (clear), *not reproduced* where it is worse (clear), *not settled*
  otherwise; *not judged* with fewer than 3 seeds a side;
* *not run* where no run exists, and why.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .figure2 import figure2_differences
from .references import paper_nll, reference
from .runs import MODE_LABEL, TRAINING_MODES, by_seed, rows_of_mode, select
from .samples import best_run
from .statistics import CLEAR, MIN_SEEDS, SUGGESTIVE, difference, fmt_mean, mean_se, t_quantile
from .widths import chosen_recipes, widths_runs, with_chosen_recipes

# Within this many nats of a reference number, a mean reproduces it (the UCI
# report's "within 1 nat of the paper").
TOLERANCE = 1.0
PAPER_FILE = "larochelle"


def number_word(mean: float, se: float, n: int, reference_value: float) -> str:
    """The word for our mean over ``n`` seeds against one reference number.

    >>> number_word(88.5, 0.05, 3, 88.4), number_word(91.5, 0.05, 3, 88.4), number_word(89.0, 0.3, 3, 88.4)
    ('reproduced', 'not reproduced', 'not settled')
    >>> number_word(88.5, 0.05, 2, 88.4)
    'not judged (2 seeds)'
    """
    if not n:
        return "not run"
    if n < MIN_SEEDS:
        return f"not judged ({n} seed{'s' if n > 1 else ''})"
    half = t_quantile(CLEAR, n - 1) * se
    low, high = mean - reference_value - half, mean - reference_value + half
    if -TOLERANCE <= low and high <= TOLERANCE:
        return "reproduced"
    if low > TOLERANCE or high < -TOLERANCE:
        return "not reproduced"
    return "not settled"


def claim_word(d) -> str:
    """The word for the claim that more masks help, from K = 32 minus K = 1."""
    if d is None or d.verdict == "missing":
        return "not run"
    if d.verdict == "not judged":
        return f"not judged ({d.seeds})"
    if d.verdict == "clear":
        return "reproduced" if d.delta < 0 else "not reproduced"
    return "not settled"


def _counts(words: list[str]) -> dict:
    """How many of the paper's numbers each word got."""
    def n(prefix):
        return sum(w.startswith(prefix) for w in words)
    return {"total": len(words), "reproduced": n("reproduced"), "not_reproduced": n("not reproduced"),
            "not_settled": n("not settled"), "not_judged": n("not judged"), "not_run": n("not run")}


def _mean(values) -> dict:
    mean, se, n = mean_se(values)
    return {"text": f"{fmt_mean(mean, se)} ({n} seed{'s' if n != 1 else ''})" if n else "not run yet",
            "mean": mean, "se": se, "n": n}


# The columns the values read: a grid without a table yet reads as one without runs.
COLUMNS = ["run_id", "dataset", "data_variant", "hidden_sizes", "num_masks", "mode", "seed", "protocol", "valid_nll",
           "test_nll_single_mask", "test_nll_ensemble", "test_nll_logit_average", "train_seconds", "valid_seconds",
           "eval_seconds", "dim", "lr_step_epochs", "best_epoch", "epochs"]


def _read(results: Path, name: str) -> pd.DataFrame | None:
    path = results / name
    return pd.read_csv(path) if path.exists() else None


def _table(results: Path, name: str) -> pd.DataFrame:
    """A grid's table, or one without runs."""
    table = _read(results, name)
    return table if table is not None else pd.DataFrame(columns=COLUMNS)


def _figure2(runs: pd.DataFrame) -> dict:
    """Figure 2's curves: per mode, K = 1 and K = 32, the claim's word, and at
    which K the ensemble helps or hurts (the Figure 2 report's own differences)."""
    diffs = figure2_differences(runs) if len(runs) else pd.DataFrame(columns=["comparison", "mode", "K", "judged"])
    out = {"k1": _mean(by_seed(runs[runs["num_masks"] == 1], "test_nll_single_mask"))["text"]}
    for mode in TRAINING_MODES:
        part = rows_of_mode(runs, mode)
        judged = {(r.comparison, int(r.K)): r.judged for r in diffs[diffs["mode"] == mode].itertuples()}
        ensemble = {k: d for (c, k), d in judged.items() if c == "ensemble vs K = 1"}
        mask0 = judged.get(("mask 0 vs K = 1", 32))
        out[mode] = {"label": MODE_LABEL[mode], "word": claim_word(ensemble.get(32)),
                     "k32": _mean(by_seed(part[part["num_masks"] == 32], "test_nll_ensemble"))["text"],
                     "d32": ensemble[32].short() if 32 in ensemble else "not run",
                     "helps": _ks([k for k, d in ensemble.items() if d.verdict == "clear" and d.delta < 0]),
                     "hurts": _ks([k for k, d in ensemble.items() if d.verdict == "clear" and d.delta > 0]),
                     "unjudged": _ks([k for k, d in ensemble.items() if d.verdict == "not judged"]),
                     "mask0_k32": _mean(by_seed(part[part["num_masks"] == 32], "test_nll_single_mask"))["text"],
                     "mask0_d32": mask0.short() if mask0 is not None else "not available"}
    return out


def _ks(ks: list[int]) -> str:
    """``K = 2, 4``, or ``no K``."""
    return f"K = {', '.join(str(k) for k in ks)}" if ks else "no K"


def _widths(runs: pd.DataFrame) -> dict:
    """At 8000 units, each arm under its recipe chosen on validation: K = 1,
    K = 32 order-agnostic, the claim's word, and the paper's two rows."""
    runs = widths_runs(select(runs, data_variant=PAPER_FILE))
    chosen = chosen_recipes(runs)
    kept = with_chosen_recipes(runs)
    at = kept[kept["width"] == 8000]
    k1 = by_seed(at[at["num_masks"] == 1], "test_nll_single_mask")
    k32 = by_seed(rows_of_mode(at[at["num_masks"] == 32], "order"), "test_nll_ensemble")
    d = difference(k32, k1)
    m1, m32 = _mean(k1), _mean(k32)
    return {"k1": m1["text"], "k32": m32["text"], "d": d.short(), "word": claim_word(d),
            "k1_recipe": chosen.get((8000, 1, "single"), "none yet"),
            "k32_recipe": chosen.get((8000, 32, "order"), "none yet"),
            "paper_k1": f"{paper_nll(1):.2f}", "paper_k32": f"{paper_nll(32):.2f}",
            "paper_gain": f"{paper_nll(1) - paper_nll(32):.2f}",
            "k1_word": number_word(m1["mean"], m1["se"], m1["n"], paper_nll(1)),
            "k32_word": number_word(m32["mean"], m32["se"], m32["n"], paper_nll(32))}


def _uci(table: pd.DataFrame) -> list[dict]:
    """One row per UCI dataset and setting of the uci report's table (the recipe chosen, or the authors' command)."""
    rows = []
    for r in table.itertuples():
        if pd.isna(r.test_nll):
            papers = [reference(table="uci", dataset=r.dataset, masks=m) for m in ("1", "sampling")]
            rows.append({"dataset": r.dataset, "setting": "", "ours": "", "word": "not run",
                         "paper": " and ".join(f"{float(p['test_nll']):.2f}" for p in papers if p is not None),
                         "why": "no copy of its data here"})
            continue
        ablation = str(r.judgement).startswith("ablation")
        setting = r.setting.split(" (")[0] + (f", {r.resampling}" if isinstance(r.resampling, str) and r.resampling else "")
        n = int(r.seeds)
        se = float(r.stderr_over_seeds) if not pd.isna(r.stderr_over_seeds) else math.nan
        rows.append({"dataset": r.dataset, "setting": setting, "paper": f"{r.paper:.2f}",
                     "ours": f"{fmt_mean(r.test_nll, se)} ({n} seed{'s' if n != 1 else ''})",
                     "word": "ablation, not judged" if ablation else number_word(r.test_nll, se, n, r.paper),
                     "why": r.role})
    return rows


def _seed(plain: pd.DataFrame | None, figure2: pd.DataFrame) -> dict:
    """The seed project's two numbers: its 94.5 (validation, one mask) against
    its own model's validation NLL here, and its 79.3 (a logit average)."""
    one = reference(table="seed", masks="1")
    logit = reference(table="seed", masks="10")
    valid = by_seed(plain[plain["num_masks"] == 1], "valid_nll") if plain is not None else pd.Series(dtype=float)
    m = _mean(valid)
    order = rows_of_mode(figure2, "order")
    averages = order[order["num_masks"] > 1].groupby("num_masks")["test_nll_logit_average"].mean()
    return {"valid": f"{float(one['test_nll']):.1f}", "ours_valid": m["text"],
            "word": number_word(m["mean"], m["se"], m["n"], float(one["test_nll"])),
            "logit": f"{float(logit['test_nll']):.1f}",
            "logit_low": f"{averages.min():.2f}" if len(averages) else "not run yet",
            "logit_high": f"{averages.max():.2f}" if len(averages) else "not run yet"}


def _binarizations(table: pd.DataFrame | None) -> dict:
    """How many of the paper's file minus the rebuild's differences are judged, and how."""
    table = table if table is not None else pd.DataFrame(columns=["verdict", "width", "K", "mode"])
    judged = table[table["verdict"].isin(["clear", "suggestive", "within the spread"])]
    return {"settings": len(table.drop_duplicates(["width", "K", "mode"])), "differences": len(table),
            "judged": len(judged), "clear_ones": int((judged["verdict"] == "clear").sum())}


def _first_point(recipes: pd.DataFrame | None) -> dict | None:
    """The paper's first point under Adagrad on the paper's file, uncapped, when complete."""
    if recipes is None or "max_epochs" not in recipes:
        return None
    run = select(recipes[recipes["max_epochs"].isna()], protocol="paper", data_variant=PAPER_FILE, num_masks=1)
    if not len(run):
        return None
    run = run.iloc[0]
    return {"epochs": int(run["epochs"]), "kept": int(run["best_epoch"]), "valid": f"{run['valid_nll']:.2f}",
            "test": f"{run['test_nll_single_mask']:.2f}"}


def _time(runs: pd.DataFrame) -> dict:
    """What a grid's runs took here, from their own records."""
    seconds = sum(runs[c].fillna(0).astype(float) for c in ("train_seconds", "valid_seconds", "eval_seconds")
                  if c in runs)
    return {"runs": len(runs), "core_hours": f"{seconds.sum() / 3600:.0f}",
            "wall_hours": f"{seconds.sum() / 3600 / 2:.0f}"}


def values(results: str | Path) -> dict:
    """Every value the templates name, from the tables in ``results``."""
    results = Path(results)
    figure2 = select(_table(results, "figure2.csv"), data_variant=PAPER_FILE)
    plain = _read(results, "plain.csv")
    widths = _table(results, "widths.csv")
    uci = _read(results, "uci_comparison.csv")
    sample_run = best_run(widths, results / "runs")
    at_8000, uci_rows, seed = _widths(widths), _uci(uci) if uci is not None else [], _seed(plain, figure2)
    numbers = [at_8000["k1_word"], at_8000["k32_word"], seed["word"]]
    numbers += [r["word"] for r in uci_rows if not r["word"].startswith("ablation")]
    return {
        "figure2": _figure2(figure2),
        "plain": _figure2(plain) if plain is not None and len(plain) else None,
        "widths": at_8000,
        "large": {"paper_k1": f"{float(reference(table='mnist', model='MADE 2 hidden layers', masks='1')['test_nll']):.2f}",
                  "paper_k32": f"{float(reference(table='mnist', model='MADE 2 hidden layers', masks='32')['test_nll']):.2f}"},
        "uci": uci_rows,
        "seed": seed,
        "counts": _counts(numbers),
        "uci_counts": _counts([r["word"] for r in uci_rows if not r["word"].startswith("ablation")]),
        "binarizations": _binarizations(_read(results, "binarizations.csv")),
        "first_point": _first_point(_read(results, "recipes.csv")),
        "samples": None if sample_run is None else {"run": sample_run["run_id"]},
        "time": {"figure2": _time(figure2)},
        "rule": {"tolerance": f"{TOLERANCE:.0f}", "min_seeds": MIN_SEEDS, "confidence": f"{CLEAR:.0%}",
                 "suggestive": f"{SUGGESTIVE:.0%}"},
    }
