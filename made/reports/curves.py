"""Learning curves of a grid: the early-stopping rule replayed,
and the checks built on it (did every run flatten before it stopped; would
validating on fewer masks have stopped elsewhere; which recipe is ahead at
equal wall time).  The replay is home-made because no library knows the
rule: it calls made.train's own ``improves`` and ``stops``, so that it cannot
drift from the rule the runs trained under.

Everything here reads *validation* curves (``<grid>_curves.csv``, written by
:func:`made.pipeline.results.aggregate`); nothing looks at test NLL.

>>> early_stop([5.0, 4.0, 3.99, 3.98, 3.97, 3.96], look_ahead=3, min_delta=0.05)
(2, 5)
"""

from __future__ import annotations

import pandas as pd

from ..train import improves, stops


def early_stop(valid_nll, look_ahead: int, min_delta: float = 0.0) -> tuple[int, int | None]:
    """Replay :func:`made.train.fit`'s rule on a validation curve (epoch 1 first).

    Returns ``(best_epoch, stop_epoch)``: the last epoch that beat the best so
    far by more than ``min_delta``, and the epoch at which ``look_ahead`` epochs
    had passed without such a gain (None if the curve ends before that).
    """
    best, best_epoch = float("inf"), 0
    for epoch, value in enumerate(valid_nll, start=1):
        if improves(value, best, min_delta):
            best, best_epoch = value, epoch
        if stops(epoch, best_epoch, look_ahead):
            return best_epoch, epoch
    return best_epoch, None


def convergence_table(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Did every run flatten before it stopped?  One row per run: the best and
    the last epoch, what the ``look_ahead`` epochs before the best still gained
    (``gain_before_best``), and how far below the kept best any later epoch
    went (``gain_after_best``; under ``min_delta`` by the rule), and how far
    above it the last epoch ended (``rise_at_stop``: overfitting when large)."""
    rows = []
    for run in runs.itertuples(index=False):
        curve = curves[curves["run_id"] == run.run_id].sort_values("epoch")["valid_nll"].to_numpy()
        best = int(run.best_epoch)
        before = curve[max(0, best - 1 - int(run.look_ahead))]
        rows.append(dict(run_id=run.run_id, num_masks=run.num_masks, mode=run.mode, seed=run.seed,
                         best_epoch=best, epochs=int(run.epochs), stopped_early=bool(run.stopped_early),
                         valid_nll=curve[best - 1], gain_before_best=before - curve[best - 1],
                         rise_at_stop=curve[-1] - curve[best - 1],
                         gain_after_best=max(0.0, curve[best - 1] - curve[best:].min()) if len(curve) > best else 0.0))
    return pd.DataFrame(rows)


def fewer_masks_check(history: pd.DataFrame, look_ahead: int | None, min_delta: float) -> pd.DataFrame:
    """Where validating on the first m masks would have stopped, for every
    ``valid_nll_m<m>`` column a run recorded, beside the full ensemble's own
    ``valid_nll``: best epoch, stop epoch and the full ensemble's validation
    NLL at the epoch each choice keeps.  ``look_ahead`` is the run's as its
    table recorded it: made.train's default of 30 where it recorded none (None, NaN)."""
    look_ahead = 30 if pd.isna(look_ahead) else int(look_ahead)
    full = history["valid_nll"].to_numpy()
    cols = sorted((c for c in history.columns if c.startswith("valid_nll_m")), key=lambda c: int(c[11:]))
    rows = []
    for col in cols + ["valid_nll"]:
        best, stop = early_stop(history[col].to_numpy(), look_ahead, min_delta)
        rows.append(dict(masks=int(col[11:]) if col != "valid_nll" else "all", best_epoch=best,
                         stop_epoch=stop, full_valid_nll_at_best=full[best - 1]))
    return pd.DataFrame(rows)


def equal_time(curves: pd.DataFrame, reference: str, challenger: str) -> dict:
    """Validation NLL of two runs compared at equal wall time: the reference
    run's best (``reference_best``), the best the challenger reached within
    the reference run's training time (``challenger_best_in_time``), and the
    challenger's time to match the reference (``challenger_seconds_to_match``;
    NaN: it never did).  Every epoch of both is charged the reference
    run's median epoch (training plus validation seconds, ``seconds_per_epoch``):
    for two runs of the same model the work of an epoch is the same (up to the
    optimizer step), while the seconds they measured also depend on what else
    the machine was doing at the time.
    """
    ref = curves[curves["run_id"] == reference]
    seconds_per_epoch = float((ref["seconds"] + ref["valid_seconds"].fillna(0)).median())

    def timed(run_id):
        part = curves[curves["run_id"] == run_id].sort_values("epoch")
        return (part["epoch"].astype(float) * seconds_per_epoch).to_numpy(), part["valid_nll"].cummin().to_numpy()

    t_ref, v_ref = timed(reference)
    t_new, v_new = timed(challenger)
    within = v_new[t_new <= t_ref[-1]]
    matched = t_new[v_new <= v_ref[-1]]
    return dict(seconds_per_epoch=seconds_per_epoch, reference_best=v_ref[-1],
                challenger_best_in_time=within.min() if len(within) else float("nan"),
                challenger_seconds_to_match=matched[0] if len(matched) else float("nan"))
