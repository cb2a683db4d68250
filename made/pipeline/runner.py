"""Run a grid through papermill, skip finished runs, aggregate the metrics.

Each grid point executes ``notebooks/train_made.ipynb`` with the point's
parameters into ``<results>/runs/<run-id>/``.  A run is complete only when its
``DONE`` marker exists, and ``DONE`` is written last, after the notebook
returned and ``metrics.json`` is in place: a run killed midway has no marker
and is redone (resuming from its checkpoint) on the next call.

Exactly one process trains a run at a time: ``execute_run`` holds the run's
lock (``made.pipeline.lock``) around the notebook, and a run locked by a live process
elsewhere (another driver, a Dask attempt still alive) is reported as
``locked`` and left to it.  Where the points execute is a *backend*: a thread
pool here (``ThreadBackend``, the default) or a Dask cluster
(``made.pipeline.cluster.DaskBackend``); the pipeline itself never imports dask.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

import pandas as pd

from .experiment import METRICS, ExperimentConfig
from .grid import RunPoint
from ..io import atomic_path, write_csv, write_json

ROOT = Path(__file__).resolve().parents[2]  # the checkout (made/pipeline/runner.py)
NOTEBOOKS = ROOT / "notebooks"
DONE = "DONE"
ERROR = "ERROR.txt"  # the traceback of a failed run; removed when a later attempt succeeds
STARTS = "starts.log"  # one line per training start: host pid time (appended under the run's lock)
# --force trains here, inside the run's folder and under its lock; the old run
# stays complete until the new one is, then the new files replace it.
STAGING = "staging"
# Seconds an interrupted run's kernel gets to stop on SIGINT before it is killed.
STOP_GRACE_SECONDS = 10.0
KERNEL = "made-python"

# The leading columns of every grid's CSV, in this order (see collect); each
# run's other metrics follow them.
RUN_COLUMNS = [
    "run_id", "dataset", "data_variant", "hidden_sizes", "num_masks", "mode", "order_agnostic",
    "connectivity_agnostic", "seed", "protocol", "direct_connections", "init", "optimizer", "lr",
    "min_delta", "valid_masks", "max_epochs", "epochs", "best_epoch",
    "stopped_early", "valid_nll", "test_nll_single_mask", "test_nll_single_mask_stderr",
    "test_nll_ensemble", "test_nll_ensemble_stderr", "ensemble_masks", "test_nll_logit_average",
    "train_seconds", "valid_seconds", "device",
]


def ensure_kernel() -> str:
    """A Jupyter kernel that runs *this* interpreter, whatever else is installed.

    Papermill would otherwise take whichever ``python3`` kernelspec it finds
    first, which may belong to another environment without ``made``.  The spec
    is written to a private folder put first on ``JUPYTER_PATH`` (inherited by
    papermill), so nothing in the user's Jupyter setup changes.
    """
    # One folder per checkout and interpreter: two checkouts on one machine (a
    # grid running from a frozen copy while another is edited) must not
    # overwrite each other's spec, which would point the next kernel elsewhere.
    tag = hashlib.sha256(f"{ROOT}\0{sys.executable}".encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"made-kernels-{os.getuid() if hasattr(os, 'getuid') else 0}-{tag}"
    spec_dir = folder / "kernels" / KERNEL
    spec = {
        # log level ERROR: silences the kernel's start-up chatter on stderr;
        # errors inside cells still reach the executed notebook and papermill.
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--log-level=ERROR"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
        "env": {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
    }
    spec_dir.mkdir(parents=True, exist_ok=True)
    write_json(spec_dir / "kernel.json", spec)
    paths = os.environ.get("JUPYTER_PATH", "")
    if str(folder) not in paths.split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), paths]))
    return KERNEL


_REPORTED: set[str] = set()  # damaged files already named in this process


def read_metrics(run_dir: Path) -> dict | None:
    """A run's metrics.json, or None when it is missing or damaged.

    A damaged file (a truncated write from an older version, a disk problem)
    is named once on stderr; the run then counts as incomplete, so it resumes
    or retrains, and the other runs go on.
    """
    path = Path(run_dir) / METRICS
    try:
        row = json.loads(path.read_text())
        if not isinstance(row, dict):
            raise ValueError(f"holds a {type(row).__name__}, not a JSON object")
        return row
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if str(path) not in _REPORTED:
            _REPORTED.add(str(path))
            print(f"run {Path(run_dir).name}: {path} is damaged ({type(exc).__name__}: {exc}); "
                  "the run counts as incomplete and is trained again", file=sys.stderr)
        return None


def is_complete(run_dir: Path, max_epochs: int | None = None) -> bool:
    """DONE written, and trained as far as asked: stopped early, or up to ``max_epochs``.

    A run finished under a smaller cap is not complete for a larger one: the
    next call resumes it from its checkpoint instead of starting over.
    """
    if not (run_dir / DONE).exists():
        return False
    row = read_metrics(run_dir)
    if row is None:
        return False
    if row.get("stopped_early"):
        return True
    cap = row.get("max_epochs")
    return max_epochs is not None and cap is not None and cap >= max_epochs


class RunMismatch(ValueError):
    """Complete runs whose recorded settings or data are not those of the
    points that would reuse them; the message names each run and setting."""


def check_reuse(points: Sequence[RunPoint], runs_dir: Path) -> None:
    """RunMismatch if a complete run of ``points`` was trained with other
    settings (a changed recipe or default included) or on other data than its
    point asks for now: its numbers would be reported under settings they do
    not have.  Called before anything trains or is reported."""
    from ..data import identify
    from .experiment import recorded_difference

    variants: dict = {}
    problems = []
    for p in points:
        run_dir = Path(runs_dir) / p.run_id
        if not is_complete(run_dir, p.params.get("max_epochs")):
            continue
        config = ExperimentConfig.from_dict({k: v for k, v in p.params.items() if k != "threads"})
        key = (config.dataset, config.data_dir, config.data_variant)
        if key not in variants:
            variants[key] = identify(*key)
        diff = recorded_difference(read_metrics(run_dir), config, variants[key])
        if diff:
            problems.append(f"  {p.run_id}: {diff}")
    if problems:
        raise RunMismatch(
            f"{len(problems)} complete run(s) in {runs_dir} were trained with other settings or data than "
            "the grid asks for now (recorded -> now):\n" + "\n".join(problems) +
            "\nTrain them again with --force (each old run is replaced once its new one is complete), "
            "or use another --results-dir.")


def pending(points: Sequence[RunPoint], runs_dir: Path, force: bool = False) -> list[RunPoint]:
    """The points that would train: all with ``force``, else those not complete
    (each point's params already hold the call's overrides, see with_overrides)."""
    return [p for p in points
            if force or not is_complete(Path(runs_dir) / p.run_id, p.params.get("max_epochs"))]


@dataclass
class RunOutcome:
    run_id: str
    # "done", "skipped", "failed", "locked" (being trained by another live process)
    # or "interrupted" (stopped by Ctrl-C or SIGTERM; its checkpoint resumes)
    status: str
    seconds: float = 0.0
    error: str = ""  # failed: the last line of the error; locked: who holds the run


def execute_run(point: RunPoint, runs_dir: Path, overrides: dict, kernel: str | None = None,
                force: bool = False, submitter: str | None = None) -> RunOutcome:
    """Execute train_made.ipynb for one point; DONE is the last thing written.

    The notebook runs under the run's lock (``made.pipeline.lock.RunLock``), so no two
    processes train one run at once; completeness is checked again once the
    lock is ours, since another process may have finished the run meanwhile.
    ``force`` trains from scratch in ``<run>/staging/`` and replaces the old
    run's files only once the new run is complete (an interrupted ``force``
    resumes its staging run on the next ``force`` call).
    ``kernel`` None: make sure this machine has the kernel (a Dask worker).
    ``submitter`` names the ``run_grid`` call: a retry of the same submission
    waits for a lost attempt's lock to go stale (see RunLock).
    """
    import papermill as pm

    from . import kernels
    from .lock import LockHeld, RunLock, describe

    run_dir = Path(runs_dir) / point.run_id
    key = str(run_dir)
    params = {**point.params, **overrides}
    if not force and is_complete(run_dir, params.get("max_epochs")):
        return RunOutcome(point.run_id, "skipped")
    kernels.begin(key)
    try:
        if kernels.stopping(key):  # interrupted before it started
            return RunOutcome(point.run_id, "interrupted")
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(run_dir, submitter=submitter)
        try:
            lock.acquire()
        except LockHeld as held:
            return RunOutcome(point.run_id, "locked", error=f"locked by {describe(held.owner)}")
        try:
            return _train_locked(pm, point, run_dir, params, kernel, force, lock, key)
        finally:
            lock.release()
    finally:
        kernels.forget(key)


def _train_locked(pm, point, run_dir, params, kernel, force, lock, key) -> RunOutcome:
    """execute_run's part under the run's lock."""
    from . import kernels
    from .lock import RunLock, describe

    if not force and is_complete(run_dir, params.get("max_epochs")):
        return RunOutcome(point.run_id, "skipped")  # finished by another process meanwhile
    kernel = kernel or ensure_kernel()
    work = run_dir / STAGING if force else run_dir
    work.mkdir(exist_ok=True)
    if not force:
        (run_dir / DONE).unlink(missing_ok=True)
    _remove_partial_writes(work)
    record_start(run_dir)
    t0 = time.perf_counter()
    try:
        # No cwd: papermill's is a process-wide chdir, which concurrent runs
        # would race for; the notebook gets its folder as an absolute path.
        pm.execute_notebook(
            str(NOTEBOOKS / "train_made.ipynb"), str(work / "train_made.ipynb"),
            parameters=notebook_parameters(params, point.run_id, work),
            kernel_name=kernel, progress_bar=False, log_output=False,
            kernel_manager_class=kernels.kernel_manager(key),
        )
        _tidy_run_notebook(work, point.run_id)
        if not (work / METRICS).exists():
            raise RuntimeError(f"the notebook finished but wrote no {METRICS} in {work}")
        if not lock.is_ours():
            # Our heartbeat stalled past the stale timeout and another process took the
            # run over: its DONE, not ours.
            return RunOutcome(point.run_id, "locked", time.perf_counter() - t0,
                              f"lock taken over during the run by {describe(RunLock.owner_of(run_dir) or {})}")
        if force:
            _replace_run(run_dir, work)
        (run_dir / ERROR).unlink(missing_ok=True)  # from an earlier, failed attempt
        (run_dir / DONE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        return RunOutcome(point.run_id, "done", time.perf_counter() - t0)
    except Exception as exc:  # a failed run is reported, the others go on
        try:
            _tidy_run_notebook(work, point.run_id)  # papermill saved it up to the error
        except Exception:
            pass  # cut short while being written: the next attempt writes it anew
        if kernels.stopping(key):  # Ctrl-C: not a failure; the checkpoint resumes
            return RunOutcome(point.run_id, "interrupted", time.perf_counter() - t0)
        message = str(exc).strip().splitlines()
        short = next((l for l in reversed(message) if l.strip()), type(exc).__name__)
        (run_dir / ERROR).write_text(traceback.format_exc())
        return RunOutcome(point.run_id, "failed", time.perf_counter() - t0, short[:500])


def _tidy_run_notebook(work: Path, run_id: str) -> None:
    """The executed notebook names its folder as "." (where it lies), not as
    this machine's path."""
    tidy_notebook(work / "train_made.ipynb", "notebooks/train_made.ipynb", f"runs/{run_id}/train_made.ipynb",
                  parameters={"run_dir": "."})


def _remove_partial_writes(folder: Path) -> None:
    """Temporary files of atomic writes (made.io) cut short by a killed kernel:
    never read, only clutter.  Called under the run's lock: no writer is alive."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _replace_run(run_dir: Path, staging: Path) -> None:
    """Move a complete staging run over the old one.  DONE goes first and
    metrics.json last: cut short, the run is incomplete and the next call
    resumes whichever checkpoint is in place, which matches its settings."""
    (run_dir / DONE).unlink(missing_ok=True)
    names = sorted((p.name for p in staging.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda n: n == METRICS)
    for name in names:
        os.replace(staging / name, run_dir / name)
    shutil.rmtree(staging, ignore_errors=True)


def tidy_notebook(path: Path, input_path: str, output_path: str, timeless: bool = False,
                  parameters: dict | None = None) -> None:
    """Rewrite an executed notebook's papermill record without machine paths:
    ``input_path`` and ``output_path`` as given (relative), each of
    ``parameters`` shown with the given value instead of the one it ran with,
    and printed text (warnings) with this machine's folders cut from its paths.
    ``timeless`` also drops execution times; the injected parameters cell gets
    a fixed id, so a report rerun on the same results is the same file."""
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
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def _machine_prefixes() -> list[str]:
    """Folders of this machine that warnings name: the installed packages,
    this checkout, the interpreter's prefix and the home folder; longest first."""
    import site

    folders = [*site.getsitepackages(), site.getusersitepackages(), str(ROOT), sys.prefix, sys.base_prefix,
               str(Path.home())]
    return sorted({f.rstrip(os.sep) + os.sep for f in folders if f and f != os.sep}, key=len, reverse=True)


def strip_machine_paths(text: str) -> str:
    """``text`` with this machine's folders cut from the paths it names: a
    warning in a saved notebook then reads ``made/evaluate.py:38: ...``."""
    for prefix in _machine_prefixes():
        text = text.replace(prefix, "")
    return text


def record_start(run_dir: Path) -> None:
    """Append ``host pid time`` to the run's starts.log: one line per training
    start, so a resumed run shows how often it was started (and where)."""
    line = f"{socket.gethostname()} {os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    fd = os.open(Path(run_dir) / STARTS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def notebook_parameters(params: dict, run_id: str, run_dir: Path) -> dict:
    """train_made.ipynb's papermill parameters: the run's settings as one
    ``config`` dict (every setting, as ExperimentConfig.to_dict writes them;
    an unknown one is a ValueError here, before a kernel starts), and the
    run's folder, name and CPU threads."""
    config = ExperimentConfig.from_dict({k: v for k, v in params.items() if k != "threads"})
    return {"config": {**config.to_dict(), "progress": False}, "run_dir": str(run_dir), "run_id": run_id,
            "threads": params.get("threads")}


RunFunction = Callable[[RunPoint], RunOutcome]


class Backend(Protocol):
    """Where grid points execute: maps (function, points) to their outcomes,
    yielded as they complete.  ``function`` is picklable (a partial of
    ``execute_run``), so a backend may run it in other processes or machines."""

    def __call__(self, function: RunFunction, points: Sequence[RunPoint]) -> Iterable[RunOutcome]: ...


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a grid: ``stopped`` runs were training (their
    checkpoints resume), ``not_started`` were queued and cancelled."""

    def __init__(self, stopped: Sequence[str], not_started: Sequence[str] = ()):
        self.stopped, self.not_started = list(stopped), list(not_started)
        super().__init__(f"stopped {len(self.stopped)} run(s), {len(self.not_started)} not started")


class ThreadBackend:
    """``jobs`` points at a time on threads of this process (the default:
    each run's work happens in its own notebook kernel anyway)."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    def __call__(self, function: RunFunction, points: Sequence[RunPoint]) -> Iterable[RunOutcome]:
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        futures = {pool.submit(function, p): p for p in points}
        try:
            for future in as_completed(futures):
                yield future.result()
        except KeyboardInterrupt:
            # Without this, leaving the pool waits for every queued run to finish.
            raise _stop_threads(pool, futures) from None
        except GeneratorExit:  # the caller stopped reading (its own exception)
            _stop_threads(pool, futures)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _stop_threads(pool: ThreadPoolExecutor, futures: dict) -> Interrupted:
    """Cancel the queued runs, stop the running ones (SIGINT to their kernels,
    then kill those still alive after STOP_GRACE_SECONDS), wait for their
    threads to release the locks, and say what was stopped."""
    from . import kernels

    pool.shutdown(wait=False, cancel_futures=True)
    not_started = [p.run_id for f, p in futures.items() if f.cancelled()]
    running = [f for f in futures if not f.done()]
    kernels.interrupt()
    for stop in (None, kernels.kill, kernels.kill):
        try:
            if stop is not None:
                stop()
            if not wait(running, timeout=STOP_GRACE_SECONDS).not_done:
                break
        except KeyboardInterrupt:  # Ctrl-C again: kill now
            continue
    stopped = [futures[f].run_id for f in running
               if not (f.done() and not f.cancelled() and f.exception() is None and f.result().status == "done")]
    return Interrupted(stopped, not_started)


def submission_id() -> str:
    """A new id for one submission of runs (a ``run_grid`` call): the
    ``submitter`` in its runs' locks, and the tail of its Dask task keys."""
    return uuid.uuid4().hex[:12]


def with_overrides(points: Sequence[RunPoint], overrides: dict) -> list[RunPoint]:
    """The points with ``overrides`` merged into their parameters: what each
    run will actually use (a backend reads its device from there)."""
    return [dataclasses.replace(p, params={**p.params, **overrides}) for p in points]


def schedule(points: Sequence[RunPoint]) -> list[RunPoint]:
    """The order in which a grid's runs start: the widest models first, then
    the largest K (mask sampling counts as largest), so that the longest runs
    start early and concurrent jobs finish together.  Stable: ties keep the
    grid's order."""
    return sorted(points, key=lambda p: (-sum(p.params.get("hidden_sizes") or []),
                                         -(p.params.get("num_masks") or 10**6)))


def run_grid(points: list[RunPoint], results_dir: Path, *, overrides: dict | None = None,
             jobs: int = 1, force: bool = False, progress: bool = True,
             backend: Backend | None = None) -> list[RunOutcome]:
    """Execute every point not yet complete, with a progress bar: ``jobs`` at
    a time on local threads, or wherever ``backend`` puts them."""
    from tqdm.auto import tqdm

    from . import kernels

    overrides = overrides or {}
    backend = backend or ThreadBackend(jobs)
    runs_dir = Path(results_dir) / "runs"
    ensure_kernel()  # here; a remote worker makes its own (kernel=None below)
    kernels.reset()  # an earlier grid of this process may have been interrupted
    # Overrides are merged into each point once; the submission id lets a
    # retried attempt recognise the lock of its own lost attempt.
    function = functools.partial(execute_run, runs_dir=runs_dir, overrides={}, kernel=None, force=force,
                                 submitter=submission_id())
    if not force:
        check_reuse(with_overrides(points, overrides), runs_dir)
    with tqdm(total=len(points), desc="runs", unit="run", disable=not progress) as bar:
        ordered = schedule(with_overrides(points, overrides))
        # Complete runs are skipped here, without a task (execute_run checks again).
        todo = pending(ordered, runs_dir, force)
        queued = {p.run_id for p in todo}
        outcomes = [RunOutcome(p.run_id, "skipped") for p in ordered if p.run_id not in queued]
        bar.update(len(outcomes))
        for outcome in backend(function, todo) if todo else ():
            outcomes.append(outcome)
            bar.update(1)
            if outcome.status == "failed":
                bar.write(f"FAILED {outcome.run_id}: {outcome.error}")
            elif outcome.status == "locked":
                bar.write(f"locked {outcome.run_id}: {outcome.error}, left to it")
            elif outcome.status == "done":
                bar.write(f"done   {outcome.run_id} ({outcome.seconds:.0f} s)")
            elif outcome.status == "interrupted":
                bar.write(f"interrupted {outcome.run_id}")
    return outcomes


def collect(results_dir: Path, run_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per complete run (DONE present), in run-id order."""
    runs_dir = Path(results_dir) / "runs"
    rows = []
    for run_dir in sorted(runs_dir.glob("*/")) if runs_dir.exists() else []:
        if run_ids is not None and run_dir.name not in run_ids:
            continue
        row = read_metrics(run_dir) if (run_dir / DONE).exists() else None
        if row is not None:  # a damaged metrics.json is named by read_metrics and left out
            rows.append({"run_id": run_dir.name, **row})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    frame["mode"] = [_mode(r) for r in frame.itertuples()]
    first = [c for c in RUN_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def _mode(row) -> str:
    if str(row.num_masks) == "1":
        return "single"
    return "order" if row.order_agnostic else "connectivity"


CURVE_KEYS = ["run_id", "dataset", "num_masks", "mode", "seed"]


# Decimals kept in the committed *_curves.csv instead of float64's 17 digits
# (the runs' own history.csv keep them all): what a learning curve needs, and
# for NLLs one more, so that the reports' gains, shown to 3 decimals, come out
# as from the full values.
CURVE_DECIMALS = {"nll": 5, "seconds": 2}


def round_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """NLL columns to 5 decimals, seconds to 2, learning rates to 6 significant digits."""
    out = curves.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        if "nll" in col:
            out[col] = out[col].round(CURVE_DECIMALS["nll"])
        elif "seconds" in col:
            out[col] = out[col].round(CURVE_DECIMALS["seconds"])
        elif col == "lr":
            out[col] = [float(f"{v:.6g}") for v in out[col]]
    return out


def collect_curves(results_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Every epoch of every run in ``runs``: its ``history.csv`` rows, keyed by
    the run's id, dataset, K, training mode and seed (long format).  A run
    whose history cannot be read is named on stderr and left out."""
    runs_dir = Path(results_dir) / "runs"
    parts = []
    for run in runs.itertuples(index=False):
        path = runs_dir / run.run_id / "history.csv"
        try:
            history = pd.read_csv(path)
        except (OSError, ValueError) as exc:  # missing, empty or garbled
            print(f"run {run.run_id}: {path} cannot be read ({type(exc).__name__}: {exc}); "
                  "its curve is left out", file=sys.stderr)
            continue
        keys = {k: getattr(run, k) for k in CURVE_KEYS}
        parts.append(history.assign(**keys)[CURVE_KEYS + list(history.columns)])
    if not parts:
        return pd.DataFrame(columns=CURVE_KEYS + ["epoch", "train_nll", "valid_nll"])
    return pd.concat(parts, ignore_index=True)


def aggregate(results_dir: Path, csv_name: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Write ``<csv_name>`` (one row per complete run) and, beside it,
    ``<stem>_curves.csv`` (one row per run and epoch, rounded: see
    round_curves); returns the first."""
    frame = collect(results_dir, run_ids)
    csv = Path(results_dir) / csv_name
    write_csv(csv, frame)
    write_csv(csv.with_name(f"{csv.stem}_curves.csv"), round_curves(collect_curves(results_dir, frame)))
    return frame


def execute_report(name: str, results_dir: Path, kernel: str | None = None, **parameters) -> Path:
    """Execute a report notebook (figure2, compare) into ``<results>/notebooks/``.

    The notebook gets the results folder relative to its own and is saved
    without times or machine paths: on unchanged results a rerun writes the
    same bytes (a clean git tree after ``run_all.py`` on a clone).
    """
    import papermill as pm

    from . import kernels

    kernel = kernel or ensure_kernel()
    out = Path(results_dir) / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(Path(results_dir).resolve(), out.parent.resolve())
    key = f"report {out.resolve()}"
    kernels.begin(key)
    try:
        pm.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"), str(out),
            parameters={"results_dir": Path(relative).as_posix(), **parameters},
            kernel_name=kernel, cwd=str(out.parent), progress_bar=False,
            kernel_manager_class=kernels.kernel_manager(key),
        )
    finally:
        kernels.forget(key)
    tidy_notebook(out, f"notebooks/{name}.ipynb", f"notebooks/{name}.ipynb", timeless=True)
    return out
