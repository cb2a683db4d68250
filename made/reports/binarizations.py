"""Figure 2 on two binarizations of MNIST: the paper's file against the static rebuild.

The same settings were run on the paper's file (``larochelle``; the
``figure2`` and ``widths`` grids) and on MNIST rebuilt from the raw digits
(``static-seed0``; the ``rebuild`` grid).  This report sets them side by side:
for every point (width, K, mode, evaluation) with runs on both, the paper's
file minus the rebuild over every seed of each, judged by
:func:`made.reports.statistics.difference`; and for each of Figure 2's
conclusions, whether it holds on both.  It also carries the rebuild's own
Figure 2 and widths sections.
"""

from __future__ import annotations

import pandas as pd

from .figure2 import COMPARISONS, WORDS, figure2_differences, figure2_runs, figure2_sections
from .runs import EVALUATIONS, MODE_LABEL, TRAINING_MODES, as_text, by_seed, markdown, select, unique_runs
from .sections import section
from .statistics import difference, judgement, rule_text
from .widths import widths_sections

PAPER_FILE, REBUILD = "larochelle", "static-seed0"


def differences(runs: pd.DataFrame, a: str = PAPER_FILE, b: str = REBUILD) -> pd.DataFrame:
    """Variant ``a`` minus variant ``b`` at every (width, K, mode, evaluation)
    with runs on both (same protocol and validation masks), judged."""
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
            d = difference(by_seed(part_a, column), by_seed(part_b, column))
            low, high = d.interval()
            rows.append(dict(width=int(settings["hidden_sizes"]), K=int(settings["num_masks"]), mode=settings["mode"],
                             evaluation=evaluation, difference=d.delta, low95=low, high95=high, seeds=d.seeds,
                             method=d.method, verdict=d.verdict, judgement=judgement(d)))
    table = pd.DataFrame(rows, columns=["width", "K", "mode", "evaluation", "difference", "low95", "high95", "seeds",
                                        "method", "verdict", "judgement"])
    return table.sort_values(["width", "K", "mode", "evaluation"]).reset_index(drop=True)


def _agree(da, db) -> bool:
    """Both called in the same direction, or both within the spread."""
    called = {"clear", "suggestive"}
    if da.verdict in called and db.verdict in called:
        return (da.delta < 0) == (db.delta < 0)
    return da.verdict == db.verdict == "within the spread"


def conclusions(runs: pd.DataFrame, a: str = PAPER_FILE, b: str = REBUILD) -> str:
    """One sentence per Figure 2 conclusion (comparison and mode): at which K
    it holds on both binarizations, and where the two differ."""
    runs = unique_runs(runs)
    da = figure2_differences(figure2_runs(select(runs, data_variant=a)))
    db = figure2_differences(figure2_runs(select(runs, data_variant=b)))
    if not len(da) or not len(db):
        missing = a if not len(da) else b
        return f"Figure 2's runs on `{missing}` are not complete yet: its conclusions cannot be compared.\n"
    lines = []
    for comparison, question in COMPARISONS.items():
        lower, higher = WORDS[comparison]
        for mode in (TRAINING_MODES if comparison.endswith("K = 1") else ("",)):
            pa = da[(da["comparison"] == comparison) & (da["mode"] == mode)].set_index("K")
            pb = db[(db["comparison"] == comparison) & (db["mode"] == mode)].set_index("K")
            same, differ = [], []
            for k in sorted(set(pa.index) & set(pb.index)):
                x, y = pa.loc[k, "judged"], pb.loc[k, "judged"]
                if "missing" in (x.verdict, y.verdict) or "not judged" in (x.verdict, y.verdict):
                    continue
                wa, wb = judgement(x, lower, higher), judgement(y, lower, higher)
                if _agree(x, y):
                    same.append(f"K = {k} ({wa} / {wb})")
                else:
                    differ.append(f"K = {k} ({wa} on `{a}`, {wb} on `{b}`)")
            who = f"{MODE_LABEL[mode].capitalize()}, " if mode else ""
            text = f"- **{question.rstrip('?')}** ({who}`{a}` / `{b}`): "
            text += (f"holds on both at {', '.join(same)}" if same else "holds on both at no K")
            text += (f"; differs at {', '.join(differ)}." if differ else "; nowhere do they differ.")
            lines.append(text)
    return "\n".join(lines) + "\n"


def binarizations_markdown(runs: pd.DataFrame, curves: pd.DataFrame | None = None, a: str = PAPER_FILE,
                           b: str = REBUILD, widths: list[int] | None = None) -> str:
    """binarizations.md: the differences, Figure 2's conclusions on both
    files, and the rebuild's own Figure 2 and widths, each a named section."""
    runs = unique_runs(runs)
    table = differences(runs, a, b)
    head = (f"Test NLL on the paper's file (`{a}`) minus the same setting on the rebuild (`{b}`), in nats, "
            "over every seed of each. " + rule_text())
    parts = ["# Two binarizations of MNIST\n",
             section("binarizations-differences",
                     head + "\n\n" + (markdown(table.drop(columns=["verdict", "method"])) if len(table)
                                      else f"No setting has complete runs on both `{a}` and `{b}` yet.\n")),
             "## Figure 2's conclusions on both\n",
             section("binarizations-conclusions", conclusions(runs, a, b))]
    rebuild = select(runs, data_variant=b)
    if len(select(rebuild, hidden_sizes=500)):
        parts += [f"## Figure 2 on `{b}`\n", *figure2_sections(rebuild, curves, prefix="rebuild-figure2")]
    wide = select(rebuild, num_masks=[1, 32])
    if len(wide):
        seed0 = select(wide, seed=0)
        parts += [f"## Widths on `{b}`\n", *widths_sections(seed0, widths, prefix="rebuild-widths")]
    return "\n".join(parts)
