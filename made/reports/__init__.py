"""The reports, one module per job, built from a grid's CSV by the report notebooks
(``notebooks/<report>.ipynb``).  Needs the ``pipeline`` extra (pandas,
matplotlib, seaborn, tabulate).

* ``statistics``: the one rule for calling a difference, and means over seeds;
* ``references``: the paper's and the seed project's numbers;
* ``runs``: runs chosen by their recorded settings, summaries, markdown tables;
* ``render`` and ``verdict``: every document rendered from its template in
  ``docs/templates/`` with the values the results give;
* one module per report: ``figure2``, ``widths``, ``recipes``, ``uci``,
  ``comparison``, ``binarizations``;
* ``curves`` (learning curves, the early-stopping replay) and ``plots`` (figures).
"""

from .._extras import require

require("made.reports", "pipeline", ["pandas", "matplotlib", "seaborn", "tabulate"])
