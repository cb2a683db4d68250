"""Figure 2: test NLL against the number of training masks, and what it shows.

The runs are a grid's table (``figure2.csv``; ``rebuild.csv`` for the second
binarization), chosen by their recorded settings: one hidden layer of 500
units, one data variant and one training recipe.  Every comparison is judged
by :func:`made.reports.statistics.difference` (Welch, every seed).
"""

from __future__ import annotations

import pandas as pd

from .curves import convergence_table, fewer_masks_check
from .runs import (EVALUATIONS, MODE_LABEL, TRAINING_MODES, by_seed, describe, markdown, rows_of_mode, select,
                   seeds_text)
from .sections import section
from .references import reference
from .statistics import Difference, against_reference, difference, fmt_mean, judgement, mean_se, rule_text

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


def _cell(runs: pd.DataFrame, mode: str, k: int, column: str) -> pd.Series:
    """One point's values by seed (K = 1 belongs to both modes)."""
    part = rows_of_mode(runs, mode)
    return by_seed(part[part["num_masks"].astype(int) == k], column)


def figure2_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per K: test NLL (mean ± standard error over seeds; no ±: one
    seed) of mask 0 and of the ensemble in both modes, and the seeds.  The
    seed project's logit average is no likelihood: it is not here but in
    comparison.md, beside the seed's 79.3 it explains."""
    rows = []
    for k in sorted(runs["num_masks"].astype(int).unique()):
        row, seeds = {"K": int(k)}, []
        for mode in TRAINING_MODES:
            for column, evaluation in EVALUATIONS.items():
                mean, se, n = mean_se(_cell(runs, mode, k, column))
                row[f"{MODE_LABEL[mode]}, {evaluation}"] = fmt_mean(mean, se)
                seeds.append(n)
        row["seeds"] = seeds_text(seeds)
        rows.append(row)
    return pd.DataFrame(rows)


# The comparisons Figure 2 answers, each a conclusion the binarizations report checks on both data files.
COMPARISONS = {
    "ensemble vs K = 1": "Does training with K masks help the ensemble?",
    "mask 0 vs K = 1": "Does it help a single mask (mask 0, one forward pass)?",
    "connectivity vs order, ensemble": "Connectivity- against order-agnostic training, ensemble",
    "connectivity vs order, mask 0": "Connectivity- against order-agnostic training, mask 0",
}


def figure2_differences(runs: pd.DataFrame) -> pd.DataFrame:
    """Every comparison of Figure 2, judged: each K against K = 1 (ensemble;
    mask 0) in each mode, and connectivity- minus order-agnostic at each K.
    One row per comparison, mode and K: the difference, its 95 % interval,
    the seeds, the method and the verdict."""
    ks = sorted(k for k in runs["num_masks"].astype(int).unique() if k != 1)
    rows = []

    def add(comparison, mode, k, d: Difference):
        low, high = d.interval()
        rows.append(dict(comparison=comparison, mode=mode, K=k, difference=d.delta, low95=low, high95=high,
                         seeds=d.seeds, method=d.method, verdict=d.verdict, judged=d))

    for column, name in (("test_nll_ensemble", "ensemble vs K = 1"), ("test_nll_single_mask", "mask 0 vs K = 1")):
        base = _cell(runs, "order", 1, "test_nll_single_mask")
        for mode in TRAINING_MODES:
            for k in ks:
                add(name, mode, k, difference(_cell(runs, mode, k, column), base))
    for column, evaluation in EVALUATIONS.items():
        for k in ks:
            add(f"connectivity vs order, {evaluation}", "", k,
                difference(_cell(runs, "connectivity", k, column), _cell(runs, "order", k, column)))
    return pd.DataFrame(rows, columns=["comparison", "mode", "K", "difference", "low95", "high95", "seeds",
                                       "method", "verdict", "judged"])


def by_verdict(items: list[tuple[str, Difference]], lower: str, higher: str) -> str:
    """``better (clear) at K = 2 (-0.73 [-1.06, -0.40], 5+5 seeds); within the spread at K = 8 (...)``."""
    groups: dict[str, list[str]] = {}
    for label, d in items:
        if d.verdict == "missing":
            continue
        if d.verdict in ("clear", "suggestive"):
            key = f"{lower if d.delta < 0 else higher} ({d.verdict})"
        elif d.verdict == "not judged":
            key = "not judged (fewer than 3 seeds a side)"
        else:
            key = d.verdict
        groups.setdefault(key, []).append(f"{label} ({d.short()})")
    order = [f"{side} ({v})" for v in ("clear", "suggestive") for side in (lower, higher)]
    order += ["within the spread", "not judged (fewer than 3 seeds a side)"]
    return "; ".join(f"{key} at {', '.join(groups[key])}" for key in order if key in groups) or "nothing to compare"


WORDS = {  # what "lower" and "higher" mean in each comparison
    "ensemble vs K = 1": ("better", "worse"),
    "mask 0 vs K = 1": ("better", "worse"),
    "connectivity vs order, ensemble": ("connectivity-agnostic better", "order-agnostic better"),
    "connectivity vs order, mask 0": ("connectivity-agnostic better", "order-agnostic better"),
}


def findings(differences: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Figure 2 in sentences: one bullet per comparison, from :func:`figure2_differences`."""
    base = mean_se(_cell(runs, "order", 1, "test_nll_single_mask"))
    lines = []
    for comparison, question in COMPARISONS.items():
        part = differences[differences["comparison"] == comparison]
        lower, higher = WORDS[comparison]
        if comparison.endswith("K = 1"):
            texts = [f"{MODE_LABEL[m].capitalize()}: " + by_verdict(
                [(f"K = {r.K}", r.judged) for r in part[part["mode"] == m].itertuples()], lower, higher)
                for m in TRAINING_MODES]
            lines.append(f"- **{question}** Against K = 1 ({fmt_mean(*base[:2])}, {base[2]} seeds). "
                         + ". ".join(texts) + ".")
        else:
            lines.append(f"- **{question}:** " + by_verdict([(f"K = {r.K}", r.judged) for r in part.itertuples()],
                                                             lower, higher) + ".")
    return "\n".join(lines) + "\n"


def test_stderr_text(runs: pd.DataFrame) -> str:
    """The standard error over test examples, as the runs measured it (a range)."""
    cols = [c for c in ("test_nll_single_mask_stderr", "test_nll_ensemble_stderr") if c in runs]
    values = pd.concat([runs[c] for c in cols]).dropna().astype(float) if cols else pd.Series(dtype=float)
    if not len(values):
        return ""
    return (f"The standard error over test examples (one run, one test set) is {values.min():.2f}–"
            f"{values.max():.2f} nats here; it is not the spread the rule judges by, which is over seeds.")


def figure2_headline(runs: pd.DataFrame) -> str:
    """The table with what was run, for README.md."""
    return (f"Test NLL in nats on {what_was_run(runs)}: mean ± standard error over seeds (no ±: one seed); "
            "mask 0 is one forward pass, the ensemble averages the probabilities of the K training masks. "
            f"{test_stderr_text(runs)}\n\n" + markdown(figure2_table(runs)))


def run_time(runs: pd.DataFrame) -> str:
    """How long the runs took, from their own records (training, validation and test seconds)."""
    if not len(runs):
        return ""
    seconds = sum(runs[c].fillna(0).astype(float) for c in ("train_seconds", "valid_seconds", "eval_seconds")
                  if c in runs)
    minutes = seconds / 60
    device = describe(runs, "device") or "not recorded"
    return (f"The {len(runs)} runs took {seconds.sum() / 3600:.1f} h of run time (device {device}; training, "
            f"validation and test, summed over runs; {minutes.min():.0f}–{minutes.max():.0f} min a run) and "
            f"stopped after {int(runs['epochs'].min())}–{int(runs['epochs'].max())} epochs. Run time is each "
            "run's own, whatever else shared the machine; wall time of a whole grid is in benchmarks/RESULTS.md.")


# --- convergence: every run flattened before it stopped ------------------------------------------

def _ordinal(n: int) -> str:
    return {0: "before any", 1: "first", 2: "second", 3: "third", 4: "fourth"}.get(n, f"{n}th")


def convergence(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """:func:`..curves.convergence_table` with the settings a reader needs and
    how many learning-rate steps came before the kept epoch."""
    table = convergence_table(runs.assign(look_ahead=runs.get("look_ahead", 30)), curves)
    step = runs.set_index("run_id")["lr_step_epochs"] if "lr_step_epochs" in runs else None
    steps = [(int(b) - 1) // int(step[r]) if step is not None and not pd.isna(step[r]) else 0
             for r, b in zip(table["run_id"], table["best_epoch"])]
    return table.assign(rate_steps_before_kept=steps).sort_values(["num_masks", "mode", "seed"])


def _names(part: pd.DataFrame) -> str:
    return ", ".join(f"K = {r.num_masks} {r.mode} seed {r.seed}" for r in part.itertuples())


def convergence_markdown(runs: pd.DataFrame, curves: pd.DataFrame, look_ahead: int = 30) -> str:
    """Did every run stop early, and how: the table, and the sentences it supports.
    A run "rose" where its validation NLL at the stop is more than ``min_delta``
    above the kept best (it overfit); otherwise it flattened."""
    table = convergence(runs, curves)
    if not len(table):
        return "No complete runs yet.\n"
    min_delta = float(runs["min_delta"].max()) if "min_delta" in runs else 0.0
    early = table["stopped_early"] & (table["epochs"] == table["best_epoch"] + look_ahead)
    lines = [f"{int(early.sum())} of {len(table)} runs stopped early, {look_ahead} epochs after their kept epoch"
             + ("." if early.all() else f"; the others did not: {_names(table[~early])}.")]
    groups = []
    for n, sub in table.groupby("rate_steps_before_kept"):
        when = f"after the {_ordinal(int(n))} step down of the learning rate" if n else "before the rate stepped down"
        who = f" ({_names(sub)})" if len(sub) <= 4 else ""
        groups.append(f"{len(sub)} kept an epoch {when}, epochs {sub['best_epoch'].min()}–{sub['best_epoch'].max()}"
                      f"{who}")
    joined = "; ".join(groups)
    lines.append(joined[:1].upper() + joined[1:] + ".")
    rose = table[table["rise_at_stop"] > min_delta]
    if len(rose):
        lines.append(f"{len(rose)} rose after the kept epoch, ending {rose['rise_at_stop'].min():.3f}–"
                     f"{rose['rise_at_stop'].max():.3f} nats above it (overfitting: {_names(rose)}); the others "
                     f"flattened, ending within {min_delta} nats of it.")
    else:
        lines.append(f"None rose after the kept epoch by more than min_delta ({min_delta} nats): they flattened.")
    lines.append(f"In the {look_ahead} epochs before the kept one they gained {table['gain_before_best'].min():.3f}–"
                 f"{table['gain_before_best'].max():.3f} nats; no later epoch came more than min_delta below the kept "
                 f"best (largest later gain {table['gain_after_best'].max():.3f}).")
    shown = table[["num_masks", "mode", "seed", "best_epoch", "epochs", "valid_nll", "gain_before_best",
                   "gain_after_best", "rise_at_stop", "rate_steps_before_kept"]].rename(columns={
        "num_masks": "K", "best_epoch": "kept epoch", "epochs": "last epoch", "valid_nll": "validation NLL",
        "gain_before_best": f"gain in the {look_ahead} epochs before the kept one",
        "gain_after_best": "best later gain", "rise_at_stop": "rise at the stop",
        "rate_steps_before_kept": "rate steps before the kept epoch"})
    return " ".join(lines) + "\n\n" + markdown(shown, digits=3)


def halving_check(runs: pd.DataFrame, curves: pd.DataFrame, min_k: int = 4) -> pd.DataFrame:
    """Validating on the first K/2 masks instead of all K, replayed on every
    run validated on all its masks that recorded the half-ensemble's curve
    (``valid_nll_m<K/2>``): kept and stop epochs of both, and the full
    ensemble's validation NLL at each kept epoch."""
    rows = []
    full = select(runs, valid_masks=None)
    for run in full[full["num_masks"].astype(int) >= min_k].itertuples():
        k = int(run.num_masks)
        history = curves[curves["run_id"] == run.run_id].sort_values("epoch")
        column = f"valid_nll_m{k // 2}"
        if column not in history or history[column].isna().all():
            continue
        check = fewer_masks_check(history[["valid_nll", column]], int(getattr(run, "look_ahead", 30) or 30),
                                  float(run.min_delta)).set_index("masks")
        half, all_ = check.loc[k // 2], check.loc["all"]
        rows.append(dict(K=k, mode=run.mode, seed=int(run.seed), kept_all=int(all_["best_epoch"]),
                         kept_half=int(half["best_epoch"]), stop_all=all_["stop_epoch"], stop_half=half["stop_epoch"],
                         nll_at_kept_all=all_["full_valid_nll_at_best"],
                         nll_at_kept_half=half["full_valid_nll_at_best"]))
    table = pd.DataFrame(rows)
    if len(table):
        table["nll_difference"] = table["nll_at_kept_half"] - table["nll_at_kept_all"]
    return table


def halving_markdown(runs: pd.DataFrame, curves: pd.DataFrame) -> str:
    table = halving_check(runs, curves)
    if not len(table):
        return "No run validated on all its masks recorded the half-ensemble's curve.\n"
    stops = (table["stop_half"] - table["stop_all"]).dropna()
    stop_text = (f"stops {abs(stops.min()):.0f} epochs earlier to {stops.max():.0f} later"
                 if len(stops) else "would stop after the run ended")
    worst = table.loc[table["nll_difference"].abs().idxmax()]
    text = (f"Validating on the first K/2 masks instead of all K, replayed on the {len(table)} runs validated on "
            f"all their masks at K ≥ 4: the rule {stop_text} than on all K, and the epoch it keeps is at most "
            f"{abs(worst['nll_difference']):.4f} nats from the full ensemble's on the full validation ensemble "
            f"(K = {worst['K']}, {worst['mode']}, seed {worst['seed']}).")
    shown = table.rename(columns={"kept_all": "kept (all K)", "kept_half": "kept (K/2)", "stop_all": "stop (all K)",
                                  "stop_half": "stop (K/2)", "nll_at_kept_all": "NLL at kept (all K)",
                                  "nll_at_kept_half": "NLL at kept (K/2)", "nll_difference": "difference"})
    shown["stop (K/2)"] = [("after the run's end" if pd.isna(v) else str(int(v))) for v in shown["stop (K/2)"]]
    shown["stop (all K)"] = [("" if pd.isna(v) else str(int(v))) for v in shown["stop (all K)"]]
    return text + "\n\n" + markdown(shown, digits=4)


# The reversal at 1x500: a K-mask order-agnostic ensemble worse than one mask.
REVERSAL_K = 32


def _reversal(runs: pd.DataFrame, k: int = REVERSAL_K) -> Difference:
    return difference(_cell(runs, "order", k, "test_nll_ensemble"), _cell(runs, "order", 1, "test_nll_single_mask"))


def seed_model_answer(plain: pd.DataFrame, authors: pd.DataFrame) -> str:
    """Does the reversal (K = 32 order-agnostic ensemble worse than K = 1)
    hold on the seed project's own model as on the authors'?  And the seed's
    own numbers beside it."""
    ours, theirs = _reversal(authors), _reversal(plain)
    called = ("clear", "suggestive")
    if theirs.verdict not in called + ("within the spread",) or ours.verdict not in called + ("within the spread",):
        verdict = "cannot be judged yet: a side has fewer than 3 seeds"
    elif theirs.verdict in called and ours.verdict in called and theirs.delta > 0 and ours.delta > 0:
        verdict = "holds on both models"
    elif theirs.verdict in called and theirs.delta > 0:
        verdict = "holds on the seed's model but not on the authors'"
    else:
        verdict = "does not hold on the seed's model"
    lines = [f"**Does the reversal hold on the seed project's own model?** The K = {REVERSAL_K} order-agnostic "
             f"ensemble minus K = 1 is {ours.text()} on the authors' model and {theirs.text()} on the seed's: "
             f"the reversal {verdict}."]
    seed = reference(table="seed", masks="1")
    valid = by_seed(rows_of_mode(plain, "order")[lambda r: r["num_masks"].astype(int) == 1], "valid_nll")
    if seed is not None and len(valid):
        d = against_reference(valid, float(seed["test_nll"]))
        lines.append(f"The seed quotes {float(seed['test_nll']):.1f} for one mask, a validation NLL; its model here "
                     f"gives {fmt_mean(*mean_se(valid)[:2])} on validation ({d.short()}: "
                     f"{judgement(d) or 'not judged'}). Its 79.3 averages logits over orderings, which is not a "
                     "likelihood (results/comparison.md).")
    return " ".join(lines) + "\n"


def plain_sections(plain: pd.DataFrame, authors: pd.DataFrame) -> list[str]:
    """Figure 2 on the seed project's model: its table, its findings and the answer."""
    plain = figure2_runs(plain)
    return ["## On the seed project's own model\n",
            section("plain-table", figure2_headline(plain).replace(
                "Test NLL in nats on", "The seed's `MADE(784, [500], 784)` (no direct connections, PyTorch's default "
                "initialization). Test NLL in nats on", 1) + "\n\n![Figure 2 on the seed's model](figure2_plain.png)"),
            section("plain-findings", findings(figure2_differences(plain), plain)),
            section("plain-answer", seed_model_answer(plain, figure2_runs(authors)))]


def figure2_sections(runs: pd.DataFrame, curves: pd.DataFrame | None = None, prefix: str = "figure2") -> list[str]:
    """The parts of a Figure 2 report, each a named section (``<prefix>-table``,
    ``-findings``, ``-convergence``, ``-halving``, ``-time``) that README.md and
    results/README.md quote."""
    runs = figure2_runs(runs)
    parts = [section(f"{prefix}-table", figure2_headline(runs)),
             section(f"{prefix}-findings", rule_text() + "\n\n" + findings(figure2_differences(runs), runs))]
    if curves is not None:
        parts += ["## Every run stopped early\n", section(f"{prefix}-convergence", convergence_markdown(runs, curves)),
                  "## Validating on half the masks\n", section(f"{prefix}-halving", halving_markdown(runs, curves))]
    return parts + ["## Run time\n", section(f"{prefix}-time", run_time(runs))]


def figure2_markdown(runs: pd.DataFrame, curves: pd.DataFrame | None = None, plain: pd.DataFrame | None = None) -> str:
    """figure2.md: the table, the differences judged, convergence, the halving
    check and the run time (:func:`figure2_sections`); with the ``plain``
    grid's runs, Figure 2 on the seed project's model (:func:`plain_sections`)."""
    extra = plain_sections(plain, runs) if plain is not None and len(plain) else []
    return "\n".join(["# Figure 2: test NLL against the number of training masks\n", *figure2_sections(runs, curves),
                      *extra])


def differences_csv(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`figure2_differences` as written to ``figure2_differences.csv``."""
    return figure2_differences(figure2_runs(runs)).drop(columns="judged")

