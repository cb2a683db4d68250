"""Learning curves of a grid: seed means, values at chosen epochs, and a
power-law extrapolation of where capped runs were heading.

Everything here reads *validation* curves (``<grid>_curves.csv``, written by
:func:`made.pipeline.aggregate`); nothing looks at test NLL.

>>> import pandas as pd
>>> t = pd.Series(range(1, 301), dtype=float)
>>> fit = fit_power_law(t, 90 + 40 * t ** -0.5)
>>> round(fit.asymptote, 3), round(fit.exponent, 2)
(90.0, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TRAINING_MODES = ("order", "connectivity")


def rows_of_mode(frame: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The rows of one training mode's curve: its own runs and the K = 1 runs
    (mode ``single``), which start both modes' curves, as in the paper's Figure 2."""
    return frame[frame["mode"].isin([mode, "single"])]


def mean_curves(curves: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Validation NLL per (K, epoch), the mean over the seeds that reached that
    epoch, for each training mode (K = 1 in both, see :func:`rows_of_mode`)."""
    out = {}
    for mode in TRAINING_MODES:
        part = rows_of_mode(curves, mode)
        out[mode] = (part.groupby(["num_masks", "epoch"], as_index=False)["valid_nll"].mean()
                     .astype({"num_masks": int}))
    return out


def checkpoints(curves: pd.DataFrame, epochs: list[int]) -> pd.DataFrame:
    """Validation NLL (mean over seeds) at the given epochs: one row per
    training mode and K, one column per epoch (NaN where no run got that far).
    Shows how far from converged capped runs are: what the last stretch of
    epochs still bought.

    >>> c = pd.DataFrame(dict(mode="single", num_masks=1, seed=0, epoch=[1, 2], valid_nll=[9.0, 8.0]))
    >>> checkpoints(c, [1, 2]).loc[("order", 1)].tolist()
    [9.0, 8.0]
    """
    rows = []
    for mode, means in mean_curves(curves).items():
        for k, part in means.groupby("num_masks"):
            at = part.set_index("epoch")["valid_nll"]
            rows.append({"training": mode, "num_masks": int(k),
                         **{e: at.get(e, float("nan")) for e in epochs}})
    return pd.DataFrame(rows).set_index(["training", "num_masks"])


@dataclass(frozen=True)
class PowerLaw:
    """``nll(t) = asymptote + scale * t ** -exponent``."""

    asymptote: float
    scale: float
    exponent: float

    def __call__(self, epoch) -> np.ndarray:
        return self.asymptote + self.scale * np.asarray(epoch, dtype=float) ** -self.exponent


def fit_power_law(epochs, nll, exponents=np.linspace(0.02, 3.0, 1491)) -> PowerLaw:
    """Least-squares fit of ``a + b * t ** -p``: for each exponent p on a grid
    the best (a, b) is linear least squares, and the p with the smallest error
    wins.  A grid instead of a nonlinear solver: no starting point to choose,
    no dependency, and the same answer every time."""
    t = np.asarray(epochs, dtype=float)
    y = np.asarray(nll, dtype=float)
    if len(t) < 3 or np.any(t <= 0):
        raise ValueError(f"a power-law fit needs at least 3 positive epochs, got {len(t)}")
    best = None
    for p in exponents:
        design = np.column_stack([np.ones_like(t), t ** -p])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        err = float(np.sum((design @ coef - y) ** 2))
        if best is None or err < best[0]:
            best = (err, PowerLaw(float(coef[0]), float(coef[1]), float(p)))
    return best[1]


def extrapolate(curves: pd.DataFrame, fit_from: int, fit_to: int, at: list[int]) -> pd.DataFrame:
    """Fit each (training mode, K) mean validation curve on epochs
    ``fit_from..fit_to`` and predict it at the epochs ``at``.

    One row per mode and K: the fitted asymptote and exponent, the prediction
    at each epoch of ``at`` (``pred_<epoch>``) and, where the curve reached
    that epoch, what it measured (``valid_<epoch>``).  Fitting on an early
    stretch and comparing with a later measured epoch tests the
    extrapolation.  It assumes the curve keeps its shape: it cannot foresee
    overfitting, which early stopping would then cut short.
    """
    rows = []
    for mode, means in mean_curves(curves).items():
        for k, part in means.groupby("num_masks"):
            window = part[(part["epoch"] >= fit_from) & (part["epoch"] <= fit_to)]
            fit = fit_power_law(window["epoch"], window["valid_nll"])
            measured = part.set_index("epoch")["valid_nll"]
            row = {"training": mode, "num_masks": int(k), "asymptote": fit.asymptote,
                   "exponent": fit.exponent}
            for e in at:
                row[f"pred_{e}"] = float(fit(e))
                row[f"valid_{e}"] = measured.get(e, float("nan"))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["training", "num_masks"])


def extrapolation_tables(curves: pd.DataFrame, fit_from: int = 30, holdout: int = 100,
                         ahead: tuple[int, ...] = (1000,)) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Two tables, or None when the curves are too short to fit (fewer than
    20 epochs between ``fit_from`` and ``last - holdout``, ``last`` being the
    last epoch any run reached):

    - ``check``: fitted on ``fit_from .. last - holdout``, predicted and
      measured at ``last``: how well the extrapolation did on epochs it did not see;
    - ``forecast``: fitted on ``fit_from .. last``, predicted at ``ahead``.
    """
    last = int(curves["epoch"].max())
    if last - holdout - fit_from < 20:
        return None
    check = extrapolate(curves, fit_from, last - holdout, [last])
    check["error"] = check[f"pred_{last}"] - check[f"valid_{last}"]
    forecast = extrapolate(curves, fit_from, last, list(ahead))
    forecast = forecast.drop(columns=[c for c in forecast.columns if c.startswith("valid_")])
    return check, forecast
