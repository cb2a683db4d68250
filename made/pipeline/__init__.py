"""The experiment pipeline: grids of runs, each a papermill-executed notebook.

What a run is: ``experiment`` (one run's settings, each with its facts, and
its training, in the notebook) with ``protocols`` (the named recipes); what to
run: ``grid`` (the grids, as data, and run ids); running it: ``run`` (locked,
resumable runs and their markers, on a thread pool or Dask through
``cluster``), each run a notebook (``notebooks``: parameters, tidying,
reports; each notebook in a process of its own with its kernel, ``child``); what came
out: ``results`` (the tables); and
``estimate`` (a dry run's wall time), ``cli`` (``run_all.py``).
Needs the ``pipeline`` extra (``pip install -e ".[pipeline]"``).
"""

from .._extras import require

require("made.pipeline", "pipeline", ["pandas", "papermill", "nbformat", "nbclient", "ipykernel", "filelock"])
