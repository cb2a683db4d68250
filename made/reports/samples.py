"""The paper's samples figure: samples of the best model beside their nearest training images.

The paper shows samples from its best MNIST model, each beside the training
image closest to it, to show that the model does not copy its training set.
Every run saves its samples with their nearest training images
(:mod:`made.samples`); this report draws the figure from the run folders
alone.  The run: the lowest validation NLL on the paper's file among the
runs at the widest width that has runs with samples (the paper's best model
was its widest; validation, never test, chooses).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..samples import read_samples

SAMPLES = "samples.txt"
PAPER_FILE = "larochelle"


def best_run(runs: pd.DataFrame, runs_dir: str | Path) -> pd.Series | None:
    """The run the figure draws: on the paper's file, with saved samples and
    their nearest training images, at the widest such width, the lowest
    validation NLL; None when no run has them yet."""
    runs_dir = Path(runs_dir)
    runs = runs[runs["data_variant"] == PAPER_FILE].drop_duplicates("run_id")

    def has_nearest(run_id: str) -> bool:
        path = runs_dir / run_id / SAMPLES
        return path.exists() and len(path.read_text().split("\n", 1)[0].split()) == 5

    runs = runs[runs["run_id"].map(has_nearest)]
    if not len(runs):
        return None
    width = runs["hidden_sizes"].map(lambda h: sum(int(v) for v in str(h).split("x")))
    widest = runs[width == width.max()]
    return widest.loc[widest["valid_nll"].idxmin()]


def samples_figure(samples, per_row: int = 10, rows: int = 3, shape: tuple[int, int] = (28, 28)) -> plt.Figure:
    """``rows`` blocks of ``per_row`` samples (top) above their nearest training
    images (bottom), each labelled with its Hamming distance."""
    n = min(len(samples.x), per_row * rows)
    fig, axes = plt.subplots(2 * rows, per_row, figsize=(per_row * 0.9, rows * 2 * 0.98))
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for i in range(n):
        r, c = divmod(i, per_row)
        axes[2 * r, c].imshow(samples.x[i].reshape(shape), cmap="gray_r", interpolation="nearest")
        axes[2 * r + 1, c].imshow(samples.images[i].reshape(shape), cmap="Blues", interpolation="nearest")
        axes[2 * r + 1, c].set_xlabel(f"{int(samples.distance[i])}", fontsize=7, labelpad=1)
    axes[0, 0].set_ylabel("sample", fontsize=7)
    axes[1, 0].set_ylabel("nearest\ntraining", fontsize=7)
    fig.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.1)
    return fig


def samples_markdown(run: pd.Series | None, runs_dir: str | Path) -> str:
    """samples.md: which run, why, and the distances, in a few sentences and a table."""
    head = "# Samples beside their nearest training images\n\n"
    if run is None:
        return head + ("No run on the paper's file has saved samples with their nearest training images yet: "
                       "runs save them from this version on (`python run_all.py --grid widths`).\n")
    samples = read_samples(Path(runs_dir) / run["run_id"] / SAMPLES, dim=int(run["dim"]))
    d = samples.distance
    k = run["num_masks"]
    ensemble = (f"each sample first draws one of its {int(k)} masks uniformly" if pd.notna(k) and int(k) > 1
                else "one mask")
    return head + (
        f"The samples are those of `{run['run_id']}`, the run of lowest validation NLL "
        f"({run['valid_nll']:.2f}) on the paper's file among those at its width that saved samples: "
        f"{len(d)} ancestral samples, {ensemble}. Below each sample is the training image nearest to it by "
        f"Hamming distance, with that distance: {int((d == 0).sum())} of the {len(d)} samples copy a training "
        f"image bit for bit, and the median distance is {float(np.median(d)):.0f} of {samples.x.shape[1]} bits.\n\n"
        + pd.DataFrame([{"samples": len(d), "at distance 0": int((d == 0).sum()), "min": int(d.min()),
                         "median": float(np.median(d)), "max": int(d.max())}]).to_markdown(index=False)
        + "\n\n![samples](samples.png)\n")
