"""Run a grid through papermill, skip finished runs, aggregate the metrics.

Each grid point executes ``notebooks/train_made.ipynb`` with the point's
parameters into ``<results>/runs/<run-id>/``.  A run is complete only when its
``DONE`` marker exists, and ``DONE`` is written last, after the notebook
returned and ``metrics.json`` is in place: a run killed midway has no marker
and is redone (resuming from its checkpoint) on the next call.

Exactly one process trains a run at a time: ``execute_run`` holds the run's
lock (``made.lock``) around the notebook, and a run locked by a live process
elsewhere (another driver, a Dask attempt still alive) is reported as
``locked`` and left to it.  Where the points execute is a *backend*: a thread
pool here (``ThreadBackend``, the default) or a Dask cluster
(``made.cluster.DaskBackend``); the pipeline itself never imports dask.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import socket
import sys
import tempfile
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

import pandas as pd

from .evaluate import DEFAULT_VALID_MASKS
from .experiment import METRICS, ExperimentConfig
from .grid import RunPoint
from .io import write_csv, write_json

ROOT = Path(__file__).resolve().parent.parent
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(ExperimentConfig)}
NOTEBOOKS = ROOT / "notebooks"
DONE = "DONE"
ERROR = "ERROR.txt"  # the traceback of a failed run; removed when a later attempt succeeds
STARTS = "starts.log"  # one line per training start: host pid time (appended under the run's lock)
KERNEL = "made-python"

FIGURE2_COLUMNS = [
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


def is_complete(run_dir: Path, max_epochs: int | None = None) -> bool:
    """DONE written, and trained as far as asked: stopped early, or up to ``max_epochs``.

    A run finished under a smaller cap is not complete for a larger one: the
    next call resumes it from its checkpoint instead of starting over.
    """
    if not (run_dir / DONE).exists() or not (run_dir / METRICS).exists():
        return False
    row = json.loads((run_dir / METRICS).read_text())
    if row.get("stopped_early"):
        return True
    cap = row.get("max_epochs")
    return max_epochs is not None and cap is not None and cap >= max_epochs


@dataclass
class RunOutcome:
    run_id: str
    status: str  # "done", "skipped", "failed" or "locked" (being trained by another live process)
    seconds: float = 0.0
    error: str = ""  # failed: the last line of the error; locked: who holds the run


def execute_run(point: RunPoint, runs_dir: Path, overrides: dict, kernel: str | None = None,
                force: bool = False, submitter: str | None = None) -> RunOutcome:
    """Execute train_made.ipynb for one point; DONE is the last thing written.

    The notebook runs under the run's lock (``made.lock.RunLock``), so no two
    processes train one run at once; completeness is checked again once the
    lock is ours, since another process may have finished the run meanwhile.
    ``kernel`` None: make sure this machine has the kernel (a Dask worker).
    ``submitter`` names the ``run_grid`` call: a retry of the same submission
    waits for a lost attempt's lock to go stale (see RunLock).
    """
    import papermill as pm

    from .lock import LockHeld, RunLock, describe

    run_dir = Path(runs_dir) / point.run_id
    params = {**point.params, **overrides}
    if not force and is_complete(run_dir, params.get("max_epochs")):
        return RunOutcome(point.run_id, "skipped")
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir, submitter=submitter)
    try:
        lock.acquire()
    except LockHeld as held:
        return RunOutcome(point.run_id, "locked", error=f"locked by {describe(held.owner)}")
    try:
        if not force and is_complete(run_dir, params.get("max_epochs")):
            return RunOutcome(point.run_id, "skipped")  # finished by another process meanwhile
        kernel = kernel or ensure_kernel()
        (run_dir / DONE).unlink(missing_ok=True)
        record_start(run_dir)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(NOTEBOOKS / "train_made.ipynb"), str(run_dir / "train_made.ipynb"),
                parameters=notebook_parameters(params, point.mode, run_dir),
                kernel_name=kernel, cwd=str(run_dir), progress_bar=False, log_output=False,
            )
            if not (run_dir / METRICS).exists():
                raise RuntimeError(f"the notebook finished but wrote no {METRICS} in {run_dir}")
            if not lock.is_ours():
                # Our heartbeat stalled past the stale timeout and another process took the
                # run over: its DONE, not ours.
                return RunOutcome(point.run_id, "locked", time.perf_counter() - t0,
                                  f"lock taken over during the run by {describe(RunLock.owner_of(run_dir) or {})}")
            (run_dir / ERROR).unlink(missing_ok=True)  # from an earlier, failed attempt
            (run_dir / DONE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
            return RunOutcome(point.run_id, "done", time.perf_counter() - t0)
        except Exception as exc:  # a failed run is reported, the others go on
            message = str(exc).strip().splitlines()
            short = next((l for l in reversed(message) if l.strip()), type(exc).__name__)
            (run_dir / ERROR).write_text(traceback.format_exc())
            return RunOutcome(point.run_id, "failed", time.perf_counter() - t0, short[:500])
    finally:
        lock.release()


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


def notebook_parameters(params: dict, mode: str, run_dir: Path) -> dict:
    """Every ExperimentConfig field as a papermill parameter (plain JSON types).

    All fields are passed, defaults included, so the notebook's own quick
    interactive defaults (a training subset, few epochs) never leak into a run.
    """
    extra = {k: v for k, v in params.items() if k not in _CONFIG_FIELDS}
    config = ExperimentConfig(**{k: v for k, v in params.items() if k in _CONFIG_FIELDS})
    out = {**config.to_params(), **extra}
    out["mode"] = mode
    out["run_dir"] = str(run_dir)
    out["progress"] = False
    return out


RunFunction = Callable[[RunPoint], RunOutcome]


class Backend(Protocol):
    """Where grid points execute: maps (function, points) to their outcomes,
    yielded as they complete.  ``function`` is picklable (a partial of
    ``execute_run``), so a backend may run it in other processes or machines."""

    def __call__(self, function: RunFunction, points: Sequence[RunPoint]) -> Iterable[RunOutcome]: ...


class ThreadBackend:
    """``jobs`` points at a time on threads of this process (the default:
    each run's work happens in its own notebook kernel anyway)."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    def __call__(self, function: RunFunction, points: Sequence[RunPoint]) -> Iterable[RunOutcome]:
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for future in as_completed([pool.submit(function, p) for p in points]):
                yield future.result()


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

    overrides = overrides or {}
    backend = backend or ThreadBackend(jobs)
    runs_dir = Path(results_dir) / "runs"
    ensure_kernel()  # here; a remote worker makes its own (kernel=None below)
    # Overrides are merged into each point once; the submission id lets a
    # retried attempt recognise the lock of its own lost attempt.
    function = functools.partial(execute_run, runs_dir=runs_dir, overrides={}, kernel=None, force=force,
                                 submitter=uuid.uuid4().hex)
    with tqdm(total=len(points), desc="runs", unit="run", disable=not progress) as bar:
        ordered = schedule(with_overrides(points, overrides))
        # Complete runs are skipped here, without a task (execute_run checks again).
        complete = {p.run_id for p in ordered
                    if not force and is_complete(runs_dir / p.run_id, p.params.get("max_epochs"))}
        pending = [p for p in ordered if p.run_id not in complete]
        outcomes = [RunOutcome(run_id, "skipped") for run_id in sorted(complete)]
        bar.update(len(outcomes))
        for outcome in backend(function, pending) if pending else ():
            outcomes.append(outcome)
            bar.update(1)
            if outcome.status == "failed":
                bar.write(f"FAILED {outcome.run_id}: {outcome.error}")
            elif outcome.status == "locked":
                bar.write(f"locked {outcome.run_id}: {outcome.error}, left to it")
            elif outcome.status == "done":
                bar.write(f"done   {outcome.run_id} ({outcome.seconds:.0f} s)")
    return outcomes


def collect(results_dir: Path, run_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per complete run (DONE present), in run-id order."""
    runs_dir = Path(results_dir) / "runs"
    rows = []
    for run_dir in sorted(runs_dir.glob("*/")) if runs_dir.exists() else []:
        if run_ids is not None and run_dir.name not in run_ids:
            continue
        if (run_dir / DONE).exists() and (run_dir / METRICS).exists():
            row = json.loads((run_dir / METRICS).read_text())
            rows.append({"run_id": run_dir.name, **row})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=FIGURE2_COLUMNS)
    frame["mode"] = [_mode(r) for r in frame.itertuples()]
    first = [c for c in FIGURE2_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def _mode(row) -> str:
    if str(row.num_masks) == "1":
        return "single"
    return "order" if row.order_agnostic else "connectivity"


CURVE_KEYS = ["run_id", "dataset", "num_masks", "mode", "seed"]


def collect_curves(results_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Every epoch of every run in ``runs``: its ``history.csv`` rows, keyed by
    the run's id, dataset, K, training mode and seed (long format)."""
    runs_dir = Path(results_dir) / "runs"
    parts = []
    for run in runs.itertuples(index=False):
        history = pd.read_csv(runs_dir / run.run_id / "history.csv")
        keys = {k: getattr(run, k) for k in CURVE_KEYS}
        parts.append(history.assign(**keys)[CURVE_KEYS + list(history.columns)])
    if not parts:
        return pd.DataFrame(columns=CURVE_KEYS + ["epoch", "train_nll", "valid_nll"])
    return pd.concat(parts, ignore_index=True)


def aggregate(results_dir: Path, csv_name: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Write ``<csv_name>`` (one row per complete run) and, beside it,
    ``<stem>_curves.csv`` (one row per run and epoch); returns the first."""
    frame = collect(results_dir, run_ids)
    csv = Path(results_dir) / csv_name
    write_csv(csv, frame)
    write_csv(csv.with_name(f"{csv.stem}_curves.csv"), collect_curves(results_dir, frame))
    return frame


def execute_report(name: str, results_dir: Path, kernel: str | None = None, **parameters) -> Path:
    """Execute a report notebook (figure2, compare) into ``<results>/notebooks/``."""
    import papermill as pm

    kernel = kernel or ensure_kernel()
    out = Path(results_dir) / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(out),
        parameters={"results_dir": str(Path(results_dir).resolve()), **parameters},
        kernel_name=kernel, cwd=str(out.parent), progress_bar=False,
    )
    return out


# Epochs an uncapped run is assumed to take, for wall-time estimates only (the
# estimate prints it as an assumption).  adam: the committed Figure 2 runs
# (K = 1 stopped at epoch 77, both seeds; K > 1 at 79-163, mean 131).  paper:
# the authors' Adagrad 0.01 was still improving at 700 epochs on MNIST.  Others
# (the UCI protocols): a round guess between the 63-2,450 epochs the earlier
# UCI runs took.
ASSUMED_EPOCHS = {"adam": {1: 77, "default": 131}, "paper": {"default": 1500}, None: {"default": 600}}


def assumed_epochs(cfg) -> int:
    """How many epochs an uncapped run of ``cfg`` is assumed to last."""
    table = ASSUMED_EPOCHS.get(cfg.protocol, ASSUMED_EPOCHS[None])
    return table.get(cfg.num_masks, table["default"])


@dataclass
class GridEstimate:
    runs: list
    jobs: int
    threads: int
    device: str
    load: int = 0  # other training processes running while each epoch was timed

    @property
    def seconds(self) -> float:
        """The grid's wall time: its runs in ``run_grid``'s order on ``jobs`` workers."""
        from .timing import makespan

        return makespan([r.seconds for r in self.runs], self.jobs)

    def describe(self) -> str:
        how = (f"measured on {self.device} with {self.threads} thread(s) per run" if self.threads
               else f"estimated for {self.device}")
        if self.load:
            how += f", beside {self.load} other training process(es) as with {self.jobs} jobs"
        lines = [how + ":"]
        for r in self.runs:
            lines.append(f"  {r.run_id}: {r.seconds_per_epoch:.1f} s/epoch x {r.epochs} epochs = {r.seconds / 60:.1f} min")
        assumption = ("" if all(r.capped for r in self.runs) else
                      " (uncapped runs: epochs assumed, see made.pipeline.ASSUMED_EPOCHS)")
        lines.append(f"estimated wall time with {self.jobs} job(s): {self.seconds / 3600:.2f} h{assumption}")
        return "\n".join(lines)


def _epoch_shape(point: RunPoint, overrides: dict):
    """A point's config and what one epoch touches: (config, dim, training
    examples, validation examples, validation masks)."""
    from .data import DATASETS

    cfg = point.config(**{k: v for k, v in overrides.items() if k != "threads"})
    spec = DATASETS[cfg.dataset]
    dim, (n_train, n_valid, _) = spec.dim, spec.splits
    n_train = min(n_train, cfg.train_subset or n_train)
    n_masks = cfg.valid_masks or (DEFAULT_VALID_MASKS if cfg.num_masks is None else cfg.num_masks)
    return cfg, dim, n_train, n_valid, n_masks


def _run_estimate(point: RunPoint, cfg, seconds_per_epoch: float):
    from .timing import RunEstimate

    epochs = cfg.max_epochs or assumed_epochs(cfg)
    return RunEstimate(point.run_id, epochs, seconds_per_epoch, capped=cfg.max_epochs is not None)


def device_available(device: str | None) -> bool:
    """False when ``device`` names an accelerator this machine does not have."""
    from .train import resolve_device

    try:
        resolve_device(device)
    except ValueError:
        return False
    return True


def flop_estimate(points: list[RunPoint], overrides: dict, jobs: int, tflops: float) -> GridEstimate:
    """Grid wall time from FLOP counts at an assumed ``tflops`` (TFLOP/s): for
    a device that is not here to measure (``run_all.py --dry-run`` on a grid
    meant for a GPU)."""
    from .timing import epoch_flops

    runs = []
    for p in schedule(points):
        cfg, dim, n_train, n_valid, n_masks = _epoch_shape(p, overrides)
        flops = epoch_flops(dim, cfg.hidden_sizes, n_train, n_valid, n_masks, cfg.direct_connections)
        runs.append(_run_estimate(p, cfg, flops / (tflops * 1e12)))
    device = cfg.device
    return GridEstimate(runs, jobs, 0, f"{device} (not on this machine: FLOP count at an assumed "
                                       f"{tflops:g} TFLOP/s sustained)")


def estimate_seconds(points: list[RunPoint], overrides: dict, jobs: int = 1) -> GridEstimate:
    """Grid wall time from a short timing of each distinct model on this device.

    Per epoch: n_train / (training examples/s) + n_valid * K / (ensemble
    examples/s x K), both measured here with the run's thread count, on random
    binary data of the dataset's shape; on a CPU, while ``jobs - 1`` other
    processes train beside it, as the grid's other jobs will.  The grid's wall
    time is then the runs' makespan in the order ``run_grid`` starts them.
    """
    import torch

    from .experiment import build_model
    from .timing import concurrent_load, ensemble_throughput, train_throughput
    from .train import resolve_device

    threads = overrides.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    threads = int(threads or torch.get_num_threads())
    cache: dict = {}
    runs = []
    load = 0
    for p in schedule(points):
        cfg, dim, n_train, n_valid, n_masks = _epoch_shape(p, overrides)
        device = resolve_device(cfg.device)
        key = (dim, tuple(cfg.hidden_sizes), cfg.num_masks, cfg.valid_masks, cfg.direct_connections,
               cfg.optimizer, str(device))
        if key not in cache:
            model = build_model(cfg, dim).to(device)
            # On a CPU, timed while the grid's other jobs would be running beside it.
            others = min(jobs, len(points)) - 1 if device.type == "cpu" else 0
            load = max(load, others)
            with concurrent_load(others, dim, cfg.hidden_sizes, threads):
                train_rate = train_throughput(model, dim, batch_size=cfg.batch_size, device=device,
                                              optimizer=cfg.optimizer)
                eval_rate = ensemble_throughput(model, dim, n_examples=min(n_valid, 1000), n_masks=n_masks,
                                                device=device)
            cache[key] = n_train / train_rate + n_valid / eval_rate
        runs.append(_run_estimate(p, cfg, cache[key]))
    return GridEstimate(runs, jobs, threads, str(device), load)
