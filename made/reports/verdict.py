"""The verdict: for each item of the paper, our number and a word, from the results tables.

The README's verdict table and the results' README are templates
(``docs/templates/``, :mod:`made.reports.render`) whose sentences a person
wrote; :func:`values` gives every number they show, and every word that
follows from a number.  The numbers are the report modules' own (Figure 2's
and the widths' summaries and judged differences from their contexts, the UCI
rows and their words from ``uci_comparison.csv``, the first point from
:mod:`.recipes`): nothing is computed here twice.  The word for a number is
:mod:`.statistics`' (the one rule of every table); only the claim's word is this module's.

The words, each by one stated rule:

* **a number** (the paper's, or the seed project's) against our mean over at
  least 3 seeds: :func:`made.reports.statistics.number_word`, the one rule of
  every table too;
* **a claim** that more masks help (K = 32 against K = 1, Welch over every
  seed, :func:`made.reports.statistics.difference`): *reproduced* where K = 32
  is better (clear), *not reproduced* where it is worse (clear), *not settled*
  otherwise; *not judged* with fewer than 3 seeds a side;
* *not run* where no run exists, and why.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .comparison import seed_row
from .figure2 import figure2_context, logit_averages
from .recipes import first_point_values
from .references import paper_nll, reference
from .runs import MODE_LABEL, PAPER_FILE, TRAINING_MODES, at, read_table, run_seconds, select
from .samples import best_run
from .statistics import CLEAR, MIN_SEEDS, SUGGESTIVE, TOLERANCE, fmt_mean, number_word
from .widths import widths_context

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


def _text(mean: float, se: float, n: int) -> str:
    """``91.43 ± 0.21 (3 seeds)``, or ``not run yet``."""
    return f"{fmt_mean(mean, se)} ({n} seed{'s' if n != 1 else ''})" if n else "not run yet"


def _ks(ks: list[int]) -> str:
    """``K = 2, 4``, or ``no K``."""
    return f"K = {', '.join(str(k) for k in ks)}" if ks else "no K"


def _figure2(report: dict) -> dict:
    """Figure 2's curves from its report's context: per mode, K = 32 against K = 1,
    the claim's word, and at which K the ensemble helps or hurts."""
    points, diffs = report["points"], report["judged"]
    out = {"k1": _text(*at(points, training="order", evaluation="mask 0", num_masks=1))}
    for mode in TRAINING_MODES:
        judged = {(r.comparison, int(r.K)): r.judged for r in diffs[diffs["mode"] == mode].itertuples()}
        ensemble = {k: d for (c, k), d in judged.items() if c == "ensemble vs K = 1"}
        mask0 = judged.get(("mask 0 vs K = 1", 32))
        out[mode] = {"label": MODE_LABEL[mode], "word": claim_word(ensemble.get(32)),
                     "k32": _text(*at(points, training=mode, evaluation="ensemble", num_masks=32)),
                     "d32": ensemble[32].short() if 32 in ensemble else "not run",
                     "helps": _ks([k for k, d in ensemble.items() if d.verdict == "clear" and d.delta < 0]),
                     "hurts": _ks([k for k, d in ensemble.items() if d.verdict == "clear" and d.delta > 0]),
                     "unjudged": _ks([k for k, d in ensemble.items() if d.verdict == "not judged"]),
                     "mask0_k32": _text(*at(points, training=mode, evaluation="mask 0", num_masks=32)),
                     "mask0_d32": mask0.short() if mask0 is not None else "not available"}
    return out


def _widths(report: dict, width: int = 8000) -> dict:
    """At 8000 units, from the widths report's context (each arm under its recipe chosen on
    validation): K = 1, K = 32 order-agnostic, the claim's word, and the paper's two rows; and
    K = 32 connectivity-agnostic with its claim's word (the paper's rows have no such arm)."""
    points, diffs, chosen = report["points"], report["judged"], report["chosen"]
    p1, p32 = paper_nll(1), paper_nll(32)  # each a read of the reference table
    k1 = at(points, width=width, training="order", evaluation="mask 0", num_masks=1)

    def ensemble(mode):  # K = 32's ensemble in ``mode``, and K = 32 minus K = 1 judged
        d = diffs[(diffs["width"] == width) & (diffs["mode"] == mode) & (diffs["evaluation"] == "ensemble")
                  & (diffs["K"] == 32)]["judged"]
        return at(points, width=width, training=mode, evaluation="ensemble", num_masks=32), \
            d.iloc[0] if len(d) else None

    k32, d = ensemble("order")
    conn, conn_d = ensemble("connectivity")
    return {"k1": _text(*k1), "k32": _text(*k32), "d": d.short() if d is not None else "not available",
            # the same difference without its seeds, for a sentence whose word names them
            "d_value": d.estimate() if d is not None else "not available",
            "word": claim_word(d), "k1_recipe": chosen.get((width, 1, "single"), "none yet"),
            "k32_recipe": chosen.get((width, 32, "order"), "none yet"),
            "paper_k1": f"{p1:.2f}", "paper_k32": f"{p32:.2f}",
            # the paper's two rows as ours is given: K = 32 minus K = 1 (negative: K = 32 lower)
            "paper_d": f"{p32 - p1:+.2f}",
            "k1_word": number_word(*k1, p1), "k32_word": number_word(*k32, p32),
            # each arm's mean against its row, and whether ours is the wider gain, where both gain
            "k1_off": f"{k1[0] - p1:+.2f}", "k32_off": f"{k32[0] - p32:+.2f}", "gap": _gap(d, p32 - p1),
            # the connectivity-agnostic arm, which the paper's rows do not have: its claim only
            "connectivity": {"k32": _text(*conn), "d": conn_d.short() if conn_d is not None else "not available",
                             "d_value": conn_d.estimate() if conn_d is not None else "not available",
                             "word": claim_word(conn_d), "recipe": chosen.get((width, 32, "connectivity"), "none yet")}}


def _gap(d, paper: float) -> str | None:
    """``wider`` or ``narrower``: our K = 32 minus K = 1 against the paper's, where both are
    gains and ours is judged clear; None otherwise (no sentence to say)."""
    if d is None or d.verdict != "clear" or d.delta >= 0 or paper >= 0:
        return None
    return "wider" if d.delta < paper else "narrower"


def uci_verdicts(table: pd.DataFrame) -> list[dict]:
    """One row per row of the uci report's table (:func:`made.reports.uci.uci_table`: per
    dataset and setting the recipe chosen, or the authors' command), in its order, with its
    word (the table's ``judgement``)."""
    rows = []
    for r in table.itertuples():
        if pd.isna(r.test_nll):
            papers = [reference(table="uci", dataset=r.dataset, masks=m) for m in ("1", "sampling")]
            rows.append({"dataset": r.dataset, "setting": "", "ours": "", "word": "not run",
                         "paper": " and ".join(f"{float(p['test_nll']):.2f}" for p in papers if p is not None),
                         "why": "no copy of its data here"})
            continue
        setting = r.setting.split(" (")[0] + (f", {r.resampling}" if isinstance(r.resampling, str) and r.resampling else "")
        word = "ablation, not judged" if str(r.judgement).startswith("ablation") else r.judgement
        rows.append({"dataset": r.dataset, "setting": setting, "paper": f"{r.paper:.2f}",
                     "ours": _text(r.test_nll, float(r.stderr_over_seeds), int(r.seeds)), "word": word, "why": r.role})
    return rows


def _seed(plain: pd.DataFrame | None, figure2: pd.DataFrame) -> dict:
    """The seed project's two numbers: its 94.5 (validation, one mask) against
    its own model's validation NLL here (comparison.md's row of it,
    :func:`made.reports.comparison.seed_row`), and its 79.3 (a logit average)."""
    row = seed_row(plain)
    one, mean, se, n = row["reference"], row["this_project"], row["stderr_over_seeds"], int(row["seeds"])
    averages = logit_averages(figure2)["test_nll_logit_average"]
    return {"valid": f"{one:.1f}", "ours_valid": _text(mean, se, n), "word": number_word(mean, se, n, one),
            "logit": f"{float(reference(table='seed', masks='10')['test_nll']):.1f}",
            "logit_low": f"{averages.min():.2f}" if len(averages) else "not run yet",
            "logit_high": f"{averages.max():.2f}" if len(averages) else "not run yet"}


# The columns the values read: a grid without a table yet reads as one without runs.
COLUMNS = ["run_id", "dataset", "data_variant", "hidden_sizes", "num_masks", "mode", "seed", "protocol", "valid_nll",
           "test_nll_single_mask", "test_nll_ensemble", "test_nll_logit_average", "train_seconds", "valid_seconds",
           "eval_seconds", "dim", "lr_step_epochs", "best_epoch", "epochs"]


def values(results: str | Path) -> dict:
    """Every value the templates name, from the tables in ``results`` and the
    report modules' contexts (each number computed once, there)."""
    def table(name):
        found = read_table(results, name)
        return found if found is not None else pd.DataFrame(columns=COLUMNS)

    figure2, widths = select(table("figure2.csv"), data_variant=PAPER_FILE), table("widths.csv")
    plain, uci, recipes = read_table(results, "plain.csv"), read_table(results, "uci_comparison.csv"), \
        read_table(results, "recipes.csv")
    uci_runs = read_table(results, "uci.csv")
    at_8000, seed = _widths(widths_context(select(widths, data_variant=PAPER_FILE))), _seed(plain, figure2)
    uci_rows = uci_verdicts(uci) if uci is not None else []
    uci_words = [r["word"] for r in uci_rows if not r["word"].startswith("ablation")]
    sample_run = best_run(widths, Path(results) / "runs")
    def time(runs):  # a grid's committed runs and their own hours of a CPU core (any device's run of it)
        runs = runs if runs is not None else pd.DataFrame(columns=COLUMNS)
        hours = run_seconds(runs).sum() / 3600
        return {"runs": len(runs), "core_hours": f"{hours:.0f}", "wall_hours": f"{hours / 2:.0f}"}
    large = {f"paper_k{k}": f"{float(reference(table='mnist', model='MADE 2 hidden layers', masks=k)['test_nll']):.2f}"
             for k in (1, 32)}
    return {
        "figure2": _figure2(figure2_context(figure2)),
        "plain": _figure2(figure2_context(plain)) if plain is not None and len(plain) else None,
        "widths": at_8000, "large": large, "uci": uci_rows, "seed": seed,
        # the paper's own rows only: the seed project's 94.5 has a row of its own, not a count here
        "counts": _counts([at_8000["k1_word"], at_8000["k32_word"], *uci_words]),
        "uci_counts": _counts(uci_words),
        "first_point": first_point_values(recipes, recipes) if recipes is not None else None,
        "samples": None if sample_run is None else {"run": sample_run["run_id"]},
        "time": {"figure2": time(figure2), "plain": time(plain), "widths": time(select(widths, data_variant=PAPER_FILE)),
                 "uci": time(uci_runs)},
        "rule": {"tolerance": f"{TOLERANCE:.0f}", "min_seeds": MIN_SEEDS, "confidence": f"{CLEAR:.0%}",
                 "suggestive": f"{SUGGESTIVE:.0%}"},
    }
