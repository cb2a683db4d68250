"""Figure 2 on two binarizations of MNIST: the paper's file against the static rebuild.

The same settings were run on the paper's file (``larochelle``; the
``figure2`` and ``widths`` grids) and on MNIST rebuilt from the raw digits
(``static-seed0``; the ``rebuild`` grid).  This report sets them side by side:
for every point (width, K, mode, evaluation) with runs on both, the paper's
file minus the rebuild over every seed of each, judged by
:func:`made.reports.statistics.difference`; and for each of Figure 2's
conclusions, whether it holds on both.  It also carries the rebuild's own
Figure 2 and widths.
"""

from __future__ import annotations

import pandas as pd

from pathlib import Path

from .figure2 import WORDS, figure2_context, figure2_differences, figure2_runs
from .runs import EVALUATIONS, MODE_LABEL, PAPER_FILE, REBUILD, as_text, by_seed, select, unique_runs
from .statistics import MIN_SEEDS, difference, judgement
from .widths import widths_context


def differences(runs: pd.DataFrame, a: str = PAPER_FILE, b: str = REBUILD) -> pd.DataFrame:
    """Variant ``a`` minus variant ``b`` at every (width, K, mode, evaluation)
    with runs on both (same protocol and validation masks), judged, with each
    side's number of seeds (``seeds_a``, ``seeds_b``; binarizations.csv leaves them out)."""
    rows = []
    keys = ["hidden_sizes", "num_masks", "mode", "protocol", "valid_masks"]
    runs = unique_runs(runs)
    runs = runs.assign(**{k: runs[k].map(as_text) for k in keys if k in runs})
    on_a, on_b = select(runs, data_variant=a), select(runs, data_variant=b)
    for point, part_a in on_a.groupby([k for k in keys if k in runs], dropna=False):
        settings = dict(zip([k for k in keys if k in runs], point))
        part_b = select(on_b, **{k: v or None for k, v in settings.items()})
        if not len(part_b):
            continue
        for column, evaluation in EVALUATIONS.items():
            on_seeds = by_seed(part_a, column).dropna(), by_seed(part_b, column).dropna()
            d = difference(*on_seeds)
            low, high = d.interval()
            rows.append(dict(width=int(settings["hidden_sizes"]), K=int(settings["num_masks"]), mode=settings["mode"],
                             evaluation=evaluation, difference=d.delta, low95=low, high95=high, seeds=d.seeds,
                             method=d.method, verdict=d.verdict, judgement=judgement(d),
                             seeds_a=on_seeds[0].index.nunique(), seeds_b=on_seeds[1].index.nunique()))
    table = pd.DataFrame(rows, columns=["width", "K", "mode", "evaluation", "difference", "low95", "high95", "seeds",
                                        "method", "verdict", "judgement", "seeds_a", "seeds_b"])
    return table.sort_values(["width", "K", "mode", "evaluation"]).reset_index(drop=True)


def _agree(da, db) -> bool:
    """Both called in the same direction, or both within the spread."""
    called = {"clear", "suggestive"}
    if da.verdict in called and db.verdict in called:
        return (da.delta < 0) == (db.delta < 0)
    return da.verdict == db.verdict == "within the spread"


def conclusions(runs: pd.DataFrame, a: str = PAPER_FILE, b: str = REBUILD) -> pd.DataFrame:
    """Each of Figure 2's comparisons (comparison, mode, K) judged on both binarizations, and
    whether they agree: ``same`` (called the same way on both, or within the spread on both),
    ``differ``, or empty where a side is not judged."""
    runs = unique_runs(runs)
    da = figure2_differences(figure2_runs(select(runs, data_variant=a)))
    db = figure2_differences(figure2_runs(select(runs, data_variant=b)))
    both = da.merge(db, on=["comparison", "mode", "K"], suffixes=("_a", "_b"))
    judged = [not {x.verdict, y.verdict} & {"missing", "not judged"} for x, y in zip(both["judged_a"], both["judged_b"])]
    return pd.DataFrame({
        "comparison": both["comparison"], "mode": [MODE_LABEL.get(m, "") for m in both["mode"]], "K": both["K"],
        f"on `{a}`": [judgement(d, *WORDS[c]) for c, d in zip(both["comparison"], both["judged_a"])],
        f"on `{b}`": [judgement(d, *WORDS[c]) for c, d in zip(both["comparison"], both["judged_b"])],
        "the two": [("same" if _agree(x, y) else "differ") if j else ""
                    for x, y, j in zip(both["judged_a"], both["judged_b"], judged)]})


def context(results: Path) -> dict:
    """binarizations.md's context: the differences, the conclusions on both files, and the
    rebuild's own Figure 2 (:func:`..figure2.figure2_context`) and widths (its seed 0)."""
    names = [n for n in ("figure2", "widths", "rebuild") if (results / f"{n}.csv").exists()]
    runs = unique_runs(pd.concat([pd.read_csv(results / f"{n}.csv") for n in names], ignore_index=True))
    curves = pd.concat([pd.read_csv(results / f"{n}_curves.csv") for n in names], ignore_index=True)
    rebuild = select(runs, data_variant=REBUILD)
    small, wide = select(rebuild, hidden_sizes=500), select(rebuild, num_masks=[1, 32], seed=0)
    paper = select(runs, data_variant=PAPER_FILE, hidden_sizes=500)
    diffs = differences(runs)
    judged = diffs[diffs["verdict"].isin(["clear", "suggestive", "within the spread"])]
    waiting = diffs[diffs["verdict"] == "not judged"]
    shown = diffs.drop(columns=["verdict", "method", "seeds_a", "seeds_b"])
    return {"a": PAPER_FILE, "b": REBUILD, "differences": shown,
            "settings": len(diffs.drop_duplicates(["width", "K", "mode"])), "judged": len(judged),
            "clear_ones": int((judged["verdict"] == "clear").sum()),
            # the differences not judged, and on which file (or both) a side has fewer than MIN_SEEDS
            "waiting": len(waiting), "short_a": int((waiting["seeds_a"] < MIN_SEEDS).sum()),
            "short_b": int((waiting["seeds_b"] < MIN_SEEDS).sum()),
            "conclusions": conclusions(runs) if len(small) and len(paper) else None,
            "figure2": figure2_context(small, curves.drop_duplicates(["run_id", "epoch"])) if len(small) else None,
            "widths": widths_context(wide) if len(wide) else None}
