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
from .runs import (EVALUATIONS, MODE_LABEL, TRAINING_MODES, as_text, by_seed, describe, markdown, rows_of_mode,
                   seeds_text)
from .sections import section
from .statistics import difference, fmt_mean, mean_se, say_mean


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
    chosen = {}
    for (width, k, mode), part in runs.groupby(["width", runs["num_masks"].astype(int), "mode"]):
        means = part.groupby(part["protocol"].astype(str))["valid_nll"].mean()
        chosen[int(width), int(k), str(mode)] = str(means.idxmin())
    return chosen


def k1_recipes(runs: pd.DataFrame) -> dict[int, str]:
    """Width -> K = 1's recipe there (:func:`chosen_recipes`)."""
    return {w: r for (w, k, _), r in chosen_recipes(runs).items() if k == 1}


def recipes_text(runs: pd.DataFrame, k: int, width: int) -> str:
    """``order-agnostic adam, connectivity-agnostic adam``: each K-mask arm's recipe at ``width``."""
    return ", ".join(f"{MODE_LABEL[m]} {r}" for (w, kk, m), r in sorted(chosen_recipes(runs).items())
                     if w == width and kk == k)


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


def _point(runs, width, mode, k, column) -> pd.Series:
    part = rows_of_mode(with_chosen_recipes(runs)[lambda r: r["width"] == width], mode)
    return by_seed(part[part["num_masks"].astype(int) == k], column)


# What a K = 1 candidate changes, as the columns that tell the recipes apart.
RECIPE_COLUMNS = {"optimizer": "optimizer", "lr": "learning rate", "weight_decay": "weight decay",
                  "lr_step_epochs": "rate ÷10 every (epochs)"}


def k1_search_markdown(table: pd.DataFrame, expected: pd.DataFrame | None = None) -> str:
    """Each width's K = 1 recipes: what each sets, its validation NLL (mean ±
    standard error over seeds), its kept epochs, and which one is chosen;
    with the grid's points as ``expected`` (:func:`k1_expected`), the recipes
    not finished yet, and a choice among the finished ones says it is not final."""
    runs = widths_runs(table)
    one = runs[runs["num_masks"].astype(int) == 1]
    if one.empty:
        return "No K = 1 run yet.\n"
    chosen = k1_recipes(runs)
    unfinished = k1_unfinished(runs, expected)
    rows = []
    for (width, recipe), part in one.groupby(["width", one["protocol"].astype(str)]):
        mean, se, n = mean_se(part["valid_nll"])
        row = {"hidden units": int(width), "recipe": recipe}
        row.update({label: as_text(part[c].iloc[0]) for c, label in RECIPE_COLUMNS.items() if c in part})
        row.update({"validation NLL": fmt_mean(mean, se), "seeds": n,
                    "kept epochs": ", ".join(str(int(e)) for e in part["best_epoch"]),
                    "chosen": ("" if chosen[int(width)] != recipe else
                               "so far (search incomplete)" if int(width) in unfinished else "yes")})
        rows.append(row)
    for width, recipes in unfinished.items():
        rows += [{"hidden units": width, "recipe": r, "validation NLL": "not finished", "seeds": 0} for r in recipes]
    rows.sort(key=lambda r: r["hidden units"])
    text = ("K = 1's recipe at each width, chosen on validation NLL alone (the lowest mean over seeds); test "
            "NLL plays no part. Each K = 32 arm's recipe is chosen the same way among those it ran (the runs "
            "below name each run's recipe).\n\n")
    return text + markdown(pd.DataFrame(rows).fillna(""))


def widths_table(table: pd.DataFrame, widths: list[int] | None = None, k: int | None = None) -> pd.DataFrame:
    """One row per width (those of ``widths`` without runs say "not run yet"):
    test NLL at K = 1 and, at K = ``k``, of mask 0 and of the ensemble in both
    modes; then the paper's recalled rows."""
    runs = widths_runs(table)
    k = k or many_masks(runs)
    columns = {"K = 1 (its recipe)": (1, "order", "test_nll_single_mask")}
    columns.update({f"K = {k}, {MODE_LABEL[m]}, {e}": (k, m, c) for m in TRAINING_MODES for c, e in EVALUATIONS.items()})
    rows = []
    for width in sorted(set(widths or []) | set(runs["width"])):
        cells = {name: mean_se(_point(runs, width, m, kk, c)) for name, (kk, m, c) in columns.items()}
        rows.append({"hidden units": str(width),
                     **{name: fmt_mean(m, s) if n else "not run yet" for name, (m, s, n) in cells.items()},
                     "seeds": seeds_text(n for _, _, n in cells.values()) or "0"})
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
    rows = []
    for width in sorted(runs["width"].unique()):
        base = _point(runs, width, "order", 1, "test_nll_single_mask")
        for mode in TRAINING_MODES:
            for column, evaluation in EVALUATIONS.items():
                d = difference(_point(runs, width, mode, k, column), base)
                rows.append(dict(width=int(width), mode=mode, evaluation=evaluation, K=k, difference=d.delta,
                                 low95=d.interval()[0], high95=d.interval()[1], seeds=d.seeds, verdict=d.verdict,
                                 judged=d))
    return pd.DataFrame(rows, columns=["width", "mode", "evaluation", "K", "difference", "low95", "high95",
                                       "seeds", "verdict", "judged"])


def _across(diffs: pd.DataFrame, mode: str, evaluation: str) -> str:
    """``+3.26 at 500, -0.04 at 2000, -1.77 at 8000``."""
    part = diffs[(diffs["mode"] == mode) & (diffs["evaluation"] == evaluation) & (diffs["verdict"] != "missing")]
    return ", ".join(f"{r.difference:+.2f} at {r.width}" for r in part.itertuples()) or "none yet"


def widths_answer(table: pd.DataFrame, width: int = PAPER_WIDTH, expected: pd.DataFrame | None = None) -> str:
    """At ``width`` hidden units: does training with K masks help the ensemble,
    and does it help or hurt mask 0 alone?  And how each gap moves with width.
    With the grid's points as ``expected``, a K = 1 search with recipes not
    finished yet says so."""
    runs = widths_runs(table)
    k = many_masks(runs)
    diffs = widths_differences(table, k)
    base = mean_se(_point(runs, width, "order", 1, "test_nll_single_mask"))
    if not base[2]:
        return (f"The {width}-unit K = 1 run is not done yet (`python run_all.py --grid widths`): whether training "
                f"with {k} masks helps at the paper's width cannot be answered yet.\n")
    paper = " (the paper's width, most likely)" if width == PAPER_WIDTH else ""
    recipe = k1_recipes(runs).get(int(width))
    unfinished = k1_unfinished(runs, expected).get(int(width))
    how = (f"the best on validation of its recipes finished so far ({recipe}; {', '.join(unfinished)} not "
           "finished: the search is incomplete)" if unfinished else f"its recipe chosen on validation ({recipe})")
    text = [f"At {width} hidden units{paper}, K = 1 under {how} gives "
            f"{say_mean(*base[:2])}; each K = {k} arm is under its own recipe chosen on validation "
            f"({recipes_text(runs, k, width)})."]
    here = diffs[diffs["width"] == width]
    for evaluation, question in (("ensemble", f"Does training with {k} masks help the ensemble?"),
                                 ("mask 0", "Does it help or hurt a single mask (mask 0 alone)?")):
        answers = []
        for mode in TRAINING_MODES:
            row = here[(here["mode"] == mode) & (here["evaluation"] == evaluation)].iloc[0]
            d = row["judged"]
            value = mean_se(_point(runs, width, mode, k, "test_nll_ensemble" if evaluation == "ensemble"
                                   else "test_nll_single_mask"))
            if d.verdict == "missing":
                answer = "not run yet"
            elif d.verdict == "not judged":
                answer = (f"{fmt_mean(*value[:2])}, {abs(d.delta):.2f} nats {'below' if d.delta < 0 else 'above'} "
                          f"K = 1 ({d.seeds}: stated, not judged)")
            elif d.verdict == "within the spread":
                answer = f"within the spread ({fmt_mean(*value[:2])}; {d.short()})"
            else:
                side = "helps" if d.delta < 0 else "hurts"
                answer = f"{side} ({d.verdict}; {fmt_mean(*value[:2])}; {d.short()})"
            answers.append(f"{MODE_LABEL[mode].capitalize()}: {answer}.")
        text.append(f"**{question}** " + " ".join(answers))
    # A K-mask run kept before the first rate step overfit early under its recipe: where its
    # arm ran one recipe only, a gap where it trails K = 1 may measure that recipe.
    early = early_stops(with_chosen_recipes(runs))
    early = early[(early["width"].astype(int) == int(width)) & (early["num_masks"].astype(int) == k)]
    if len(early):
        which = ", ".join(f"{MODE_LABEL[r.mode]} seed {r.seed} (kept epoch {r.best_epoch} of {r.epochs})"
                          for r in early.itertuples())
        they, trails = ("They", "they trail") if len(early) > 1 else ("It", "it trails")
        text.append(f"Kept before the learning rate first stepped down, at K = {k}: {which}. {they} overfit early "
                    f"under their recipe, so where {trails} K = 1 the gap may measure that recipe as much as the masks.")
    text.append(f"The paper (recalled) reports {paper_nll(1):.2f} at 1 mask and {paper_nll(k):.2f} at {k} masks, "
                f"a gain of {paper_nll(1) - paper_nll(k):.2f} nats.")
    moves = []
    for mode in TRAINING_MODES:
        for evaluation in EVALUATIONS.values():
            moves.append(f"{MODE_LABEL[mode]} {evaluation}: {_across(diffs, mode, evaluation)}")
    text.append(f"**Across widths**, K = {k} minus K = 1 in nats: " + "; ".join(moves) + ".")
    return " ".join(text) + "\n"


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


def runs_markdown(table: pd.DataFrame) -> str:
    """Every run of the widths: its recipe, kept and last epoch, validation and
    test NLL, run time and where it ran (the recipe tells apart the K = 1
    candidates of one seed)."""
    runs = widths_runs(table).sort_values(["width", "num_masks", "mode", "protocol", "seed"])
    seconds = sum(runs[c].fillna(0).astype(float) for c in ("train_seconds", "valid_seconds", "eval_seconds")
                  if c in runs)
    shown = pd.DataFrame({
        "hidden units": runs["width"], "K": runs["num_masks"], "mode": runs["mode"], "recipe": runs["protocol"],
        "seed": runs["seed"],
        "kept epoch": runs["best_epoch"], "last epoch": runs["epochs"], "validation NLL": runs["valid_nll"],
        "test NLL, mask 0": runs["test_nll_single_mask"], "test NLL, ensemble": runs["test_nll_ensemble"],
        "run time (h)": seconds / 3600,
        "threads": runs["torch_threads"] if "torch_threads" in runs else "",
        "device": _device(runs),
    })
    early = early_stops(table)
    note = ""
    if len(early):
        note = ("Kept before the learning rate first stepped down (they overfit in their first epochs): "
                + ", ".join(f"{r.width} units K = {r.num_masks} {r.mode} {r.protocol} seed {r.seed} (kept epoch {r.best_epoch})"
                            for r in early.itertuples()) + ".\n\n")
    return note + markdown(shown)


def widths_sections(table: pd.DataFrame, widths: list[int] | None = None, prefix: str = "widths",
                    expected: pd.DataFrame | None = None) -> list[str]:
    """The table, the answer at the paper's width and the runs, each a named section."""
    runs = widths_runs(table)
    unfinished = k1_unfinished(runs, expected)
    k1 = ", ".join(f"{w}: {r}" + (" so far, search incomplete" if w in unfinished else "")
                   for w, r in sorted(k1_recipes(runs).items()))
    head = (f"Binarized MNIST ({describe(runs, 'data_variant')}), one hidden layer; each arm under its recipe chosen "
            f"on validation among those it ran (K = 1: {k1 or 'none yet'}; K > 1: the runs below). Test NLL in nats, "
            "mean ± standard error over seeds (no ±: one seed); "
            "mask 0 is one forward pass, the ensemble averages the probabilities of the training masks. The "
            "paper's rows are recalled, and their width is not stated in what was recalled.")
    return [section(f"{prefix}-table", head + "\n\n" + markdown(widths_table(table, widths))),
            section(f"{prefix}-answer", widths_answer(table, expected=expected)),
            "## K = 1's recipe\n",
            section(f"{prefix}-k1-recipes", k1_search_markdown(table, expected)),
            "## The runs\n",
            section(f"{prefix}-runs", runs_markdown(table))]


def widths_markdown(table: pd.DataFrame, widths: list[int] | None = None, expected: pd.DataFrame | None = None) -> str:
    """widths.md (:func:`widths_sections`)."""
    return "\n".join(["# Figure 2's question at the paper's width\n",
                      *widths_sections(table, widths, expected=expected)])


def widths_csv(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`widths_differences` as written to ``widths_differences.csv``."""
    return widths_differences(table).drop(columns="judged")
