"""Run a grid: one papermill execution of the training notebook per point,
locked, resumable, and marked complete only when it is.

Each grid point executes ``notebooks/train_made.ipynb`` with the point's
settings into ``<results>/runs/<run-id>/``.  A run is complete only when its
``DONE`` marker exists, and ``DONE`` is written last, after the notebook
returned and ``metrics.json`` is in place: a run killed midway has no marker
and is redone (resuming from its checkpoint) on the next call.

Exactly one process trains a run at a time: ``execute_run`` holds the run's
``LOCK`` around the notebook, an fcntl lock (``filelock``) that the OS releases
when its holder dies, so a killed driver's or worker's run resumes at once on
the next call; a run locked by a live process (another driver, a Dask attempt
still alive) is reported as ``locked`` and left to it.  On NFS, Linux maps the
lock to NFS byte-range locks, which the server keeps for live clients only.
The points execute on a thread pool here, or as Dask tasks
(:mod:`made.pipeline.cluster`); each notebook in a process of its own
(:func:`made.pipeline.notebooks.execute`), which Ctrl-C ends.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import notebooks
from .experiment import METRICS, recorded_difference
from .grid import RunPoint
from .notebooks import NOTEBOOKS, notebook_parameters, tidy_notebook

DONE = "DONE"
LOCK = "LOCK"  # held (flock) by the process that trains the run; the empty file stays
ERROR = "ERROR.txt"  # the traceback of a failed run; removed when a later attempt succeeds
STARTS = "starts.log"  # one line per training start: host pid time (appended under the run's lock)
# --force trains here, inside the run's folder and under its lock; the old run
# stays complete until the new one is, then the new files replace it.
STAGING = "staging"


# Seconds that the runs under way get to end once their notebooks were stopped.
STOP_SECONDS = 30.0


@dataclass
class RunOutcome:
    run_id: str
    # "done", "skipped", "failed", "locked" (being trained by another live process)
    # or "interrupted" (stopped by Ctrl-C or SIGTERM; its checkpoint resumes)
    status: str
    seconds: float = 0.0
    error: str = ""  # failed: the last line of the error; locked: who holds the run


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a grid: ``stopped`` runs were training (their
    checkpoints resume), ``not_started`` were queued and cancelled."""

    def __init__(self, stopped: Sequence[str], not_started: Sequence[str] = ()):
        self.stopped, self.not_started = list(stopped), list(not_started)
        super().__init__(f"stopped {len(self.stopped)} run(s), {len(self.not_started)} not started")


# Where a grid's points execute: (function, points) -> their outcomes, as they
# complete.  ``function`` is picklable (a partial of execute_run).
Backend = Callable[[Callable[[RunPoint], RunOutcome], Sequence[RunPoint]], Iterable[RunOutcome]]


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
    from ..data import identify  # light: numpy only

    variants: dict = {}
    problems = []
    for p in points:
        run_dir = Path(runs_dir) / p.run_id
        if not is_complete(run_dir, p.params.get("max_epochs")):
            continue
        config = p.config()
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
    (each point's params hold every setting of the call)."""
    return [p for p in points
            if force or not is_complete(Path(runs_dir) / p.run_id, p.params.get("max_epochs"))]


def execute_run(point: RunPoint, runs_dir: Path, force: bool = False, threads: int | None = None) -> RunOutcome:
    """Execute train_made.ipynb for one point; DONE is the last thing written.

    The notebook runs under the run's lock, so no two processes train one run
    at once; completeness is checked again once the lock is ours, since
    another process may have finished the run meanwhile.  ``force`` trains
    from scratch in ``<run>/staging/`` and replaces the old run's files only
    once the new run is complete (an interrupted ``force`` resumes its staging
    run on the next ``force`` call).  ``threads``: the kernel's torch CPU
    threads (None: torch's default); how the run executes, not a setting.
    """
    from filelock import FileLock, Timeout

    run_dir = Path(runs_dir) / point.run_id
    params = point.params
    if not force and is_complete(run_dir, params.get("max_epochs")):
        return RunOutcome(point.run_id, "skipped")
    run_dir.mkdir(parents=True, exist_ok=True)
    try:  # never filelock 4's soft lock where flock is missing: it would outlive a killed trainer
        lock = FileLock(run_dir / LOCK, fallback_to_soft=False)
    except TypeError:  # filelock 3: no fallback to refuse
        lock = FileLock(run_dir / LOCK)
    try:
        with lock.acquire(blocking=False):
            return _train_locked(point, run_dir, params, force, threads)
    except Timeout:
        return RunOutcome(point.run_id, "locked", error=f"locked by {last_start(run_dir)}")


def last_start(run_dir: Path) -> str:
    """``host pid N since TIME``: the last start in the run's starts.log, for messages."""
    try:
        host, pid, since = (Path(run_dir) / STARTS).read_text().splitlines()[-1].split()
    except (OSError, IndexError, ValueError):
        return "another process"
    return f"{host} pid {pid} since {since}"


def _train_locked(point, run_dir, params, force, threads) -> RunOutcome:
    """execute_run's part under the run's lock."""
    if not force and is_complete(run_dir, params.get("max_epochs")):
        return RunOutcome(point.run_id, "skipped")  # finished by another process meanwhile
    work = run_dir / STAGING if force else run_dir
    work.mkdir(exist_ok=True)
    if not force:
        (run_dir / DONE).unlink(missing_ok=True)
    # Temporary files of atomic writes (made.io) cut short by a killed kernel:
    # never read, only clutter; under the run's lock no writer is alive.
    for tmp in work.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    record_start(run_dir)
    t0 = time.perf_counter()
    try:
        # The notebook gets its folder as an absolute path.
        notebooks.execute(NOTEBOOKS / "train_made.ipynb", work / "train_made.ipynb",
                          notebook_parameters(params, point.run_id, work, threads), key=str(run_dir))
        _tidy_run_notebook(work, point.run_id)
        if not (work / METRICS).exists():
            raise RuntimeError(f"the notebook finished but wrote no {METRICS} in {work}")
        if force:
            _replace_run(run_dir, work)
        (run_dir / ERROR).unlink(missing_ok=True)  # from an earlier, failed attempt
        (run_dir / DONE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        return RunOutcome(point.run_id, "done", time.perf_counter() - t0)
    except notebooks.NotebookStopped:  # Ctrl-C: not a failure; the checkpoint resumes
        return RunOutcome(point.run_id, "interrupted", time.perf_counter() - t0)
    except Exception as exc:  # a failed run is reported, the others go on
        try:
            _tidy_run_notebook(work, point.run_id)  # papermill saved it up to the error
        except Exception:
            pass  # cut short while being written: the next attempt writes it anew
        message = str(exc).strip().splitlines()
        short = next((l for l in reversed(message) if l.strip()), type(exc).__name__)
        (run_dir / ERROR).write_text(traceback.format_exc())
        return RunOutcome(point.run_id, "failed", time.perf_counter() - t0, short[:500])


def _tidy_run_notebook(work: Path, run_id: str) -> None:
    """The executed notebook names its folder as "." (where it lies), not as
    this machine's path."""
    tidy_notebook(work / "train_made.ipynb", "notebooks/train_made.ipynb", f"runs/{run_id}/train_made.ipynb",
                  parameters={"run_dir": "."})


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


def record_start(run_dir: Path) -> None:
    """Append ``host pid time`` to the run's starts.log: one line per training
    start, so a resumed run shows how often it was started (and where)."""
    with open(Path(run_dir) / STARTS, "a") as log:
        log.write(f"{socket.gethostname()} {os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        log.flush()
        os.fsync(log.fileno())


def schedule(points: Sequence[RunPoint]) -> list[RunPoint]:
    """The order in which a grid's runs start: the widest models first, then
    the largest K (mask sampling counts as largest), so that the longest runs
    start early and concurrent jobs finish together.  Stable: ties keep the
    grid's order."""
    return sorted(points, key=lambda p: (-sum(p.params.get("hidden_sizes") or []),
                                         -(p.params.get("num_masks") or 10**6)))


def on_threads(function, points: Sequence[RunPoint], jobs: int = 1) -> Iterable[RunOutcome]:
    """The local backend: ``jobs`` points at a time on threads of this process
    (each notebook runs in a process of its own anyway).  Ctrl-C cancels the
    queued points and stops the running notebooks: :class:`Interrupted`."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(function, p): p for p in points}
    try:
        for future in as_completed(futures):
            yield future.result()
    except (KeyboardInterrupt, GeneratorExit) as stop:  # GeneratorExit: the caller stopped reading
        pool.shutdown(wait=False, cancel_futures=True)
        notebooks.stop()
        running = [f for f in futures if not f.cancelled()]
        wait(running, timeout=STOP_SECONDS)
        if isinstance(stop, GeneratorExit):
            raise
        raise Interrupted([futures[f].run_id for f in running if not (f.done() and f.exception() is None
                                                                      and f.result().status == "done")],
                          [p.run_id for f, p in futures.items() if f.cancelled()]) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def run_grid(points: list[RunPoint], results_dir: Path, *, threads: int | None = None, jobs: int = 1,
             force: bool = False, progress: bool = True, backend: Backend | None = None) -> list[RunOutcome]:
    """Execute ``points``, with a progress bar: ``jobs`` at a time on local
    threads, or wherever ``backend`` puts them; ``threads`` is each run's CPU
    threads.  The caller gives the points still to train (:func:`pending`),
    checked against their complete runs first (:func:`check_reuse`, before any
    data is fetched); a run finished meanwhile is skipped by execute_run."""
    from tqdm.auto import tqdm

    backend = backend or functools.partial(on_threads, jobs=jobs)
    runs_dir = Path(results_dir) / "runs"
    notebooks.reset()  # an earlier grid of this process may have been interrupted
    function = functools.partial(execute_run, runs_dir=runs_dir, force=force, threads=threads)
    outcomes = []
    with tqdm(total=len(points), desc="runs", unit="run", disable=not progress) as bar:
        for outcome in backend(function, schedule(points)) if points else ():
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
