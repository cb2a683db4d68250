"""The reports: tables (``compare``), learning curves (``curves``) and
figures (``plots``) built from a grid's CSV by the report notebooks.
Needs the ``pipeline`` extra (pandas, matplotlib, seaborn)."""

from .._extras import require

require("made.reports", "pipeline", ["pandas", "matplotlib", "seaborn"])
