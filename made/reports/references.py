"""The numbers this project is set against: the paper's and the seed project's.

They are the project's own copy (``reference_numbers.csv``, from the shared
paper notes): the paper's numbers are *recalled*, not read from its PDF, and
every table that quotes one carries that confidence along.

>>> paper_nll(1), paper_nll(32)
(88.4, 88.04)
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

# The width the paper's 1-hidden-layer MNIST rows most likely had: the width
# of each layer in the authors' published MNIST command (not stated in the notes).
PAPER_WIDTH = 8000


def reference_numbers() -> pd.DataFrame:
    """Every reference number: table (mnist, uci, seed), dataset, model,
    hidden, masks, test_nll, source and confidence."""
    with resources.files(__package__).joinpath("reference_numbers.csv").open() as f:
        return pd.read_csv(f)


def reference(refs: pd.DataFrame | None = None, **match) -> pd.Series | None:
    """The one reference row whose columns equal ``match`` (compared as text), or None.

    >>> reference(table="uci", dataset="dna", masks="sampling")["test_nll"]
    np.float64(79.66)
    """
    sel = reference_numbers() if refs is None else refs
    for key, value in match.items():
        sel = sel[sel[key].astype(str) == str(value)]
    return sel.iloc[0] if len(sel) else None


def paper_nll(masks: int) -> float:
    """The paper's recalled 1-hidden-layer MNIST test NLL at 1 or 32 masks (NaN otherwise).

    >>> paper_nll(1), paper_nll(32), paper_nll(4)
    (88.4, 88.04, nan)
    """
    row = reference(table="mnist", model="MADE 1 hidden layer", masks=masks)
    return float("nan") if row is None else float(row["test_nll"])
