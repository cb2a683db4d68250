"""The experiment pipeline: grids of runs, each a papermill-executed notebook.

``grid`` (the grids and protocols, as data) -> ``experiment`` (one run's
settings and its training, in the notebook) -> ``runner`` (locked,
resumable runs, CSVs, report notebooks), with ``lock``, ``kernels``,
``cluster`` (Dask) and ``estimate`` (a dry run's wall time) beside it.
Needs the ``pipeline`` extra (``pip install -e ".[pipeline]"``).
"""
