"""The notebooks: their parameters, executing and tidying them.

Every training run is a papermill execution of ``notebooks/train_made.ipynb``
(``made.pipeline.run.execute_run``) and every report one of its notebook
(:func:`execute_report`).  Here: what the training notebook takes
(:func:`notebook_parameters`, and :func:`training_config` for its own
``config``), and the executed notebooks saved without times or this machine's
paths (:func:`tidy_notebook`).  Each notebook executes in a child process
of its own (:func:`execute`, :mod:`made.pipeline.child`), which :func:`stop`
ends with its kernel on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Mapping

from ..io import atomic_path
from .experiment import ExperimentConfig, SettingsError

ROOT = Path(__file__).resolve().parents[2]  # the checkout (made/pipeline/notebooks.py)
NOTEBOOKS = ROOT / "notebooks"


def tidy_notebook(path: Path, input_path: str, output_path: str, timeless: bool = False,
                  parameters: dict | None = None) -> None:
    """Rewrite an executed notebook's papermill record without machine paths:
    ``input_path`` and ``output_path`` as given (relative), each of
    ``parameters`` shown with the given value instead of the one it ran with,
    and printed text (warnings) with this machine's folders cut from its paths.
    ``timeless`` also drops execution times and the interpreter's version (a
    clone on another Python patch release gives the same report); the injected
    parameters cell gets a fixed id, so a report rerun on the same results is
    the same file."""
    import nbformat

    if not Path(path).exists():  # papermill always writes it; a stand-in in a test may not
        return
    nb = nbformat.read(path, as_version=4)
    record = nb.metadata.setdefault("papermill", {})
    record["input_path"], record["output_path"] = input_path, output_path
    for name, value in (parameters or {}).items():
        record.setdefault("parameters", {})[name] = value
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
            lines = cell.source.split("\n")
            for name, value in (parameters or {}).items():
                lines = [f"{name} = {json.dumps(value)}" if line.startswith(f"{name} = ") else line
                         for line in lines]
            cell.source = "\n".join(lines)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = strip_machine_paths(output["text"])
    if timeless:
        for meta in [record] + [c.metadata.get("papermill", {}) for c in nb.cells]:
            for field in ("start_time", "end_time", "duration"):
                meta.pop(field, None)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        nb.metadata.get("language_info", {}).pop("version", None)
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def strip_machine_paths(text: str) -> str:
    """``text`` with this machine's folders cut from the paths it names (the
    installed packages, this checkout, the interpreter's prefix and the home
    folder; longest first): a warning in a saved notebook then reads
    ``made/evaluate.py:38: ...``."""
    import site

    folders = [*site.getsitepackages(), site.getusersitepackages(), str(ROOT), sys.prefix, sys.base_prefix,
               str(Path.home())]
    prefixes = {f.rstrip(os.sep) + os.sep for f in folders if f and f != os.sep}
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix, "")
    return text


def notebook_parameters(params: dict, run_id: str, run_dir: Path, threads: int | None = None) -> dict:
    """train_made.ipynb's papermill parameters: the run's settings as one
    ``config`` dict (every setting, as ExperimentConfig.settings gives them;
    an unknown one is a SettingsError here, before a kernel starts), and the
    run's folder, name and CPU threads (how it executes, not a setting)."""
    config = ExperimentConfig.from_dict(params)
    return {"config": {**config.settings(), "progress": False}, "run_dir": str(run_dir), "run_id": run_id,
            "threads": threads}


def training_config(config, defaults: Mapping | None = None) -> ExperimentConfig:
    """The training notebook's settings: ``config`` over the notebook's own
    ``defaults`` (its quick run), so that a setting left out keeps the
    notebook's value.  ``config`` is a dict (papermill ``-y``, or
    run_all.py, which passes every setting) or its JSON text (papermill
    ``-p config '{"max_epochs": 3}'``).  A SettingsError names what is wrong.

    >>> training_config('{"max_epochs": 3}', {"protocol": "adam", "max_epochs": 15}).train.max_epochs
    3
    """
    if isinstance(config, str):
        try:
            config = json.loads(config) if config.strip() else {}
        except json.JSONDecodeError as exc:
            raise SettingsError(f"config is not JSON ({exc.msg}, at character {exc.pos}); give the settings "
                                f"as a JSON object, e.g. '{{\"max_epochs\": 3}}'") from None
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise SettingsError(f"config must be a dict of settings (or its JSON text), not {type(config).__name__}")
    return ExperimentConfig.from_dict({**(defaults or {}), **config})


def interactive_run_dir(config: ExperimentConfig) -> Path:
    """Where the training notebook, run on its own without a ``run_dir``,
    keeps a run: ``<cache>/interactive/<run id>[_max_epochs<N>]``
    (made.data.cache_dir), the same folder for the same settings whatever the
    working directory.  The epoch cap names the folder too: a run capped at 3
    epochs is not the 15-epoch run of the same settings, which would refuse it."""
    from ..data import cache_dir
    from .grid import run_id

    cap = config.train.max_epochs
    return cache_dir() / "interactive" / (run_id(config.settings()) + (f"_max_epochs{cap}" if cap else ""))


def execute_report(name: str, results_dir: Path) -> Path:
    """Execute the report notebook ``notebooks/<name>.ipynb`` (figure2,
    compare, ...) into ``<results>/notebooks/``.

    The notebook gets the results folder relative to its own and is saved
    without times or machine paths: on unchanged results a rerun writes the
    same bytes (a clean git tree after ``run_all.py`` on a clone).
    """
    out = Path(results_dir) / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(Path(results_dir).resolve(), out.parent.resolve())
    execute(NOTEBOOKS / f"{name}.ipynb", out, {"results_dir": Path(relative).as_posix()}, cwd=str(out.parent))
    tidy_notebook(out, f"notebooks/{name}.ipynb", f"notebooks/{name}.ipynb", timeless=True)
    return out


# --- executing a notebook: one child process each, so that stopping it is ending a process --------

_running: dict[str, subprocess.Popen] = {}  # key (the run's folder, or the output) -> its child
_guard = threading.Lock()
_stopped: set[str] = set()  # keys stop() ended
_stop_all = False  # set by stop(): no notebook starts any more in this process


class NotebookStopped(Exception):
    """The notebook's process was ended by :func:`stop` (Ctrl-C): not a failure."""


def execute(input_path, output_path, parameters: dict, *, key: str | None = None, cwd: str | None = None) -> None:
    """papermill ``input_path`` -> ``output_path`` with ``parameters``, in a
    child process of this interpreter (made/pipeline/child.py) that owns the
    kernel.  RuntimeError names the error (the notebook's error output);
    NotebookStopped: :func:`stop` ended it."""
    key = key or str(output_path)
    spec = json.dumps(dict(input=str(input_path), output=str(output_path), parameters=parameters,
                           cwd=cwd))
    with _guard:
        if _stop_all:
            raise NotebookStopped(key)
        # A session of its own: a terminal's Ctrl-C reaches the driver only, which stops its children.
        child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("child.py")), spec],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, start_new_session=True)
        _running[key] = child
    try:
        _, err = child.communicate()
    except BaseException:  # Ctrl-C in this very thread (a report in the main one)
        child.terminate()
        child.wait()
        raise
    finally:
        with _guard:
            _running.pop(key, None)
            stopped = _stop_all or key in _stopped
            _stopped.discard(key)
    if stopped:
        raise NotebookStopped(key)
    if child.returncode != 0:
        raise RuntimeError(err.strip() or f"the notebook's process ended with status {child.returncode}")


def stop(keys=None) -> list[str]:
    """End the notebooks of ``keys`` (every one of this process, now and to
    come, when None) with their kernels; returns the keys that were running."""
    global _stop_all
    with _guard:
        if keys is None:
            _stop_all = True
        chosen = {k: c for k, c in _running.items() if keys is None or k in keys}
        _stopped.update(chosen)
    for child in chosen.values():
        try:
            child.send_signal(signal.SIGTERM)
        except OSError:
            pass  # ended meanwhile
    return sorted(chosen)


def reset() -> None:
    """Notebooks may start again (a new grid in this process, after a stop)."""
    global _stop_all
    with _guard:
        _stop_all = False

