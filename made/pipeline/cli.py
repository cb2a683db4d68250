"""Regenerate the paper's Figure 2 (and other grids): grid -> papermill -> CSV -> figures.

    python run_all.py                   # Figure 2: authors' architecture, converging recipe, to early stopping
    python run_all.py --protocol paper  # the same grid with the authors' Adagrad recipe (for a GPU)
    python run_all.py --smoke           # the whole pipeline in about a minute (into results/smoke/)
    python run_all.py --dry-run         # list the grid and estimate its wall time
    python run_all.py --reports-only    # rebuild CSV and reports from the complete runs, train nothing
    python run_all.py --grid uci        # the UCI table: all eight datasets, the authors' protocols
    python run_all.py --set lr=3e-3     # one setting changed in every run (repeatable; the run ids say so)
    python run_all.py --grid widths --only hidden_sizes=2000   # only the grid's runs with this setting
    python run_all.py --scheduler tcp://HOST:8786   # each run a task on a Dask cluster

Finished runs (with a DONE marker) are skipped, so an interrupted call resumes
where it stopped, each unfinished run from its checkpoint; Ctrl-C (or SIGTERM)
stops the running notebooks and cancels the queued ones.  Data is needed only
for the runs that train; missing, it is downloaded first.  Each grid writes its own CSV (and figures) and never
another grid's.  A run being trained by another process (a second driver, a
live Dask attempt) is locked and left to it: it is listed as locked, not failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .estimate import elapsed
from .experiment import ExperimentConfig, SettingsError, typed, unknown_settings
from .grid import GRIDS, PROTOCOLS, REPORT_INPUTS, expand, grid_outputs

PROG = "run_all.py"
# Settings that have options of their own, which --set leaves to them.
_OWN_OPTION = {"protocol": "--protocol", "seed": "--seeds"}


class _Parser(argparse.ArgumentParser):
    """Bad input ends in one line naming the option, the value and what is allowed."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _at_least(low: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; use {what}")
        return value
    return parse


def _device(text: str) -> str:
    import torch

    try:
        if text != "auto":
            torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device; use cpu, cuda, cuda:N or auto") from None
    return text


def _data_dir(text: str) -> str:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a directory; give the folder that holds the data files "
            "(or omit --data-dir to use $MADE_DATA_DIR or the download cache)")
    return str(path.resolve())


def _results_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is a file, not a directory; give the folder for runs, tables and figures "
            "(it is created if missing)")
    return path


def _name_value(text: str, option: str, example: str) -> tuple[str, object]:
    """``NAME=VALUE``: the name checked as the notebook's config checks it, the
    value read as JSON where it is JSON (``0.05``, ``true``, ``null``, ``[500,
    500]``), else kept as text (``adam``)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE; e.g. {option} {example}")
    names = ExperimentConfig.names()
    if name not in names:
        raise argparse.ArgumentTypeError(unknown_settings([name], names))
    return name, _json(value)


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` for --set (:func:`_name_value`), the value of the
    setting's type; a setting with an option of its own is left to it."""
    from ..settings import fits

    name, value = _name_value(text, "--set", "lr=0.05")
    if name in _OWN_OPTION:
        raise argparse.ArgumentTypeError(f"{text!r}: {name} is set with {_OWN_OPTION[name]}, not --set")
    kind = ExperimentConfig.fields()[name].type
    if not fits(kind, value):
        example = {"list[int]": "[500]", "int": "3", "float": "0.01", "bool": "true", "str": "adam"}
        shown = next((example[k.strip()] for k in str(kind).split("|") if k.strip() in example), "null")
        raise argparse.ArgumentTypeError(f"{text!r}: {name} takes a value of type {kind}, got {value!r}; "
                                         f"e.g. --set {name}={shown}")
    return name, value


def _only(text: str) -> tuple[str, list]:
    """``NAME=A[,B...]`` for --only: a setting (:func:`_name_value`) or ``mode``,
    and the values of which a run must have one (a value that is JSON as a
    whole, ``[500,500]``, is one value)."""
    name, sep, value = text.partition("=")
    if sep and name.strip() == "mode":
        return "mode", value.strip().split(",")
    name, value = _name_value(text, "--only", "hidden_sizes=2000")
    return name, [_json(v) for v in value.split(",")] if isinstance(value, str) else [value]


def _select(points, only: list[tuple[str, list]], grid: str) -> list:
    """The points that have, for each of ``only``, one of its values (compared
    as a run's settings hold them: hidden_sizes=2000 is [2000], num_masks=sampling
    is None); ValueError naming a value that no run left has, and those they have."""
    for i, (name, values) in enumerate(only):
        held = [p.mode if name == "mode" else p.config().settings()[name] for p in points]
        wanted = [v if name == "mode" else ExperimentConfig.from_dict(typed({name: v})).settings()[name]
                  for v in values]
        absent = [text for text, v in zip(values, wanted) if v not in held]
        if absent:
            shown = " ".join(f"{n}={','.join(map(str, vs))}" for n, vs in [*only[:i], (name, absent)])
            have = sorted({h if isinstance(h, str) else json.dumps(h) for h in held})
            raise ValueError(f"no run of grid {grid} has {shown}; its runs have {name} {', '.join(have)}")
        points = [p for p, h in zip(points, held) if h in wanted]
    return points


def parse_args(argv=None) -> argparse.Namespace:
    p = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", choices=sorted(GRIDS), default=None, help="which grid (default: figure2)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny subset, few epochs, K in {1, 2}: the whole pipeline fast (a grid of its own, "
                        "so not with --grid)")
    p.add_argument("--only", type=_only, action="append", default=[], metavar="NAME=A[,B]",
                   help="only the grid's runs with this setting, or one of these values (repeatable, all must "
                        "hold; NAME is a setting or mode), e.g. --grid widths --only hidden_sizes=2000, "
                        "--grid uci --only dataset=adult,dna; the table keeps the others")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default=None,
                   help="training recipe (default: the grid's own; figure2: adam)")
    p.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                   help="one setting for every run of the grid, by its name in ExperimentConfig.names() "
                        "(repeatable; the value is read as JSON where it is JSON, e.g. --set lr=0.05 "
                        "--set direct_connections=false); a setting that changes the computation shows in "
                        "the run ids, so those runs are new ones")
    p.add_argument("--results-dir", type=_results_dir, default=Path("results"),
                   help="where runs, CSVs and figures go (default: results/; --smoke writes into its smoke/ subfolder)")
    p.add_argument("--data-dir", type=_data_dir, default=None, help="local data directory (default: $MADE_DATA_DIR, else ~/.cache/made)")
    p.add_argument("--device", type=_device, default=None, help="cpu, cuda or auto (default: the grid's, else auto)")
    p.add_argument("--seeds", type=_at_least(1, "a positive number of seeds"), default=None, help="seeds per grid point (default: the grid's own counts)")
    p.add_argument("--jobs", type=_at_least(1, "1 or more concurrent runs"), default=None,
                   help="runs executed concurrently (default on CPU: one per core, 1 thread each, "
                        "measured fastest by `python benchmarks/bench.py`; on CUDA: 1)")
    p.add_argument("--threads", type=_at_least(1, "1 or more threads per run"), default=None, help="torch threads per run (default: cores // jobs)")
    p.add_argument("--max-epochs", type=_at_least(0, "a positive cap, or 0 for none"), default=None,
                   help="epoch cap for every run (default: the grid's own; figure2: none); "
                        "0 = no cap, early stopping only")
    p.add_argument("--force", action="store_true",
                   help="train every run again from scratch; a complete run's files are replaced only "
                        "when its new run is complete")
    p.add_argument("--dry-run", action="store_true",
                   help="print the grid and an estimated wall time of the runs still to train, run nothing")
    p.add_argument("--no-reports", action="store_true", help="skip the grid's report notebooks")
    p.add_argument("--reports-only", action="store_true",
                   help="train nothing: rebuild the grid's CSV and reports from its complete runs "
                        "(a missing run is a gap in them)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=os.environ.get("MADE_DASK_SCHEDULER") or None,
                   help="run each grid point as a task on the Dask cluster of this scheduler (tcp://HOST:PORT; "
                        "default: $MADE_DASK_SCHEDULER, else local threads).  The results directory must be "
                        "shared with the workers at the same path; --jobs is then the workers' threads, "
                        "and --threads defaults to 1")
    args = p.parse_args(argv)
    for other in ("force", "dry_run", "no_reports"):
        if args.reports_only and getattr(args, other):
            p.error(f"argument --reports-only: not allowed with --{other.replace('_', '-')}; "
                    "--reports-only trains nothing and only rebuilds the reports: drop one of them")
    env_dir = os.environ.get("MADE_DATA_DIR")
    if args.data_dir is None and env_dir and not Path(env_dir).expanduser().is_dir():
        p.error(f"MADE_DATA_DIR={env_dir!r} is not a directory; point it at the folder that holds the data "
                "files, or unset it to use the download cache")
    if args.smoke and args.grid is not None:
        p.error(f"argument --smoke: not allowed with --grid {args.grid!r}; --smoke runs its own small grid "
                "(results/smoke/): drop one of them")
    return args


def default_jobs(device: str, n_runs: int) -> int:
    """On CPU, one single-threaded run per core: small GEMMs scale poorly
    across threads, so on the 2-core reference machine two 1-thread runs train
    more examples/s than one 2-thread run (benchmarks/RESULTS.md, grid throughput)."""
    from ..device import device_available, resolve_device

    if not device_available(device) or resolve_device(device).type != "cpu":
        return 1
    return max(1, min(os.cpu_count() or 1, n_runs))


def main(argv=None) -> int:
    args = parse_args(argv)
    from . import notebooks
    from .run import Interrupted

    t0 = time.monotonic()
    # SIGTERM (a batch system's stop, `kill`) stops a grid the way Ctrl-C does.
    previous = None
    _STOP_SIGNAL[0] = signal.SIGINT
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = _main(args)
    except KeyboardInterrupt as stop:  # Interrupted too: a grid's runs were stopped
        notebooks.stop()  # nothing of ours outlives the driver
        what = f": {_what_stopped(stop)}; no run is locked and" if isinstance(stop, Interrupted) else ";"
        print(f"{PROG}: interrupted{what} every finished run and checkpoint is kept: run the same command "
              "again to resume", file=sys.stderr)
        return 128 + _STOP_SIGNAL[0]
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if code != 2:  # 2: refused before any work
        print(f"{PROG}: {'done' if code == 0 else 'finished with errors'} in {elapsed(time.monotonic() - t0)}")
    return code


_STOP_SIGNAL = [signal.SIGINT]  # the exit status says which signal stopped us (130 or 143)


def _raise_interrupt(signum, frame):
    _STOP_SIGNAL[0] = signum
    raise KeyboardInterrupt(f"signal {signum}")


def _what_stopped(stop) -> str:
    parts = []
    if stop.stopped:
        parts.append(f"stopped {len(stop.stopped)} running run(s) ({', '.join(stop.stopped)})")
    if stop.not_started:
        parts.append(f"cancelled {len(stop.not_started)} queued run(s)")
    return " and ".join(parts) or "no run was training"


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _main(args) -> int:
    grid_name = "smoke" if args.smoke else args.grid or "figure2"
    # Settings for every run; those that change the computation enter the run ids.
    settings = {"progress": False, **dict(args.settings)}
    if args.data_dir is not None:
        settings["data_dir"] = args.data_dir  # resolved by its option
    if args.device is not None:
        settings["device"] = args.device
    if args.max_epochs is not None:
        settings["max_epochs"] = args.max_epochs or None
    try:
        points = expand(GRIDS[grid_name], seeds=args.seeds, protocol=args.protocol, **settings)
    except SettingsError as exc:
        return _error(f"argument --set: {exc}" if args.settings else str(exc))
    # The grid's table holds every complete run of the grid, also those that
    # --only leaves out of this call's training.
    table = points
    csv_name, reports, subdir = grid_outputs(grid_name)
    try:
        points = _select(points, args.only, grid_name)
    except ValueError as exc:
        return _error(f"argument --only: {exc}")
    results = (args.results_dir / subdir).resolve()
    # Jobs and threads from the whole grid, not from the runs left: a resumed
    # run keeps the thread count it started with, and with it its numbers.
    if args.jobs is None:
        args.jobs = default_jobs(points[0].params.get("device", "auto"), len(points))
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    if args.scheduler and not args.dry_run:
        # Concurrency is the workers' (`dask worker --nthreads`): one 1-thread run
        # per worker thread, the fastest split on CPU (see default_jobs).
        threads = args.threads or 1

    from .run import RunMismatch, check_reuse, pending

    if not args.force:
        try:  # every run of the grid's table, also those --only leaves out of training
            check_reuse(table, results / "runs")
        except RunMismatch as exc:
            return _error(str(exc))
    todo = {p.run_id for p in pending(points, results / "runs", args.force)}
    complete = [p for p in points if p.run_id not in todo]
    points = [p for p in points if p.run_id in todo]
    if args.reports_only:
        if todo:
            print(f"grid {grid_name}: {len(todo)} of {len(todo) + len(complete)} runs not complete, "
                  "left out of the reports (--reports-only trains nothing)")
        points = []

    device = points[0].params.get("device", "auto") if points else settings.get("device", "auto")
    if points and not args.dry_run and not args.scheduler:  # with a cluster, the workers hold the devices
        from ..device import device_available

        if not device_available(device):
            return _error(f"device {device!r} is not available on this machine; "
                          "use --device cpu (or --dry-run for an estimate)")

    if args.dry_run:
        return _dry_run(grid_name, points, complete, results, args.jobs, threads)

    from .notebooks import NOTEBOOKS, execute_report
    from .results import aggregate, write_grid
    from .run import ERROR, run_grid

    if points and not args.scheduler:  # on a cluster the workers hold the data
        missing = _data_missing(points, settings.get("data_dir"))
        if missing:
            return _error(f"the runs to train need data that is not here, nothing was trained: {missing}")
    backend = None
    if args.scheduler and points:  # nothing to train: no cluster needed
        from .cluster import ClusterError, DaskBackend, check_results_dir

        try:
            backend = DaskBackend(args.scheduler)
            check_results_dir(backend.client, results)
            backend.check_resources(points)
        except ClusterError as exc:
            if backend is not None:
                backend.close()
            return _error(str(exc))
        print(f"grid {grid_name}: {len(points)} runs on the Dask cluster at {args.scheduler}")
    try:
        outcomes = run_grid(points, results, threads=threads, jobs=args.jobs, force=args.force,
                            backend=backend) if points else []
    finally:
        if backend is not None:
            backend.close()
    failed = [o for o in outcomes if o.status == "failed"]
    locked = [o for o in outcomes if o.status == "locked"]
    frame = aggregate(results, csv_name, [p.run_id for p in table])
    write_grid(results, csv_name, table, GRIDS[grid_name].get("facts"))
    print(f"{len(frame)} complete runs -> {results / csv_name}")
    if not args.no_reports and len(frame):  # a grid's reports need its runs, and only what they read
        for name in reports:
            absent = [t for t in REPORT_INPUTS.get(name, ()) if not (results / t).exists()]
            if absent:
                print(f"report {name}: not run, it reads {', '.join(absent)}, which {results} does not hold yet")
                continue
            print(f"report: {execute_report(name, results)}")
        if (NOTEBOOKS / "documents.ipynb").exists():  # README.md and results/README.md from their templates
            print(f"documents: {execute_report('documents', results)}")
    for o in locked:
        print(f"LOCKED {o.run_id}: being trained elsewhere ({o.error}); left to that process "
              f"(run {PROG} again once it is done to include it)")
    for o in failed:
        print(f"FAILED {o.run_id}: {o.error} (see {results / 'runs' / o.run_id / ERROR})", file=sys.stderr)
    return 1 if failed else 0


def _dry_run(grid_name, points, complete, results, jobs, threads) -> int:
    """List the runs still to train and estimate their wall time."""
    from ..device import set_threads
    from .estimate import estimate

    # Steps timed here run as each run will: on its threads (1 each when jobs share the cores).
    set_threads(threads)

    print(f"grid {grid_name}: {len(points) + len(complete)} runs, {len(complete)} complete in {results}, "
          f"{len(points)} to run; {jobs} job(s) x {threads} thread(s)")
    for p in points:
        print(f"  {p.run_id}")
    print(estimate(points, results, jobs) if points else
          "nothing to run (--dry-run --force estimates training them all again)")
    return 0


def _data_missing(points, data_dir) -> str | None:
    """None when every dataset that ``points`` (the runs that will train)
    read is on disk, else what is missing and what to do.  Data on disk is
    found, not read: each run's kernel loads it once, and verifies it.  Data
    not on disk is downloaded (and verified) here, once, before any run starts."""
    from ..data import DatasetError, load_dataset, locate

    problems = []
    for name, variant in sorted({(p.params["dataset"], p.config().data_variant or "") for p in points}):
        try:
            if locate(name, data_dir, variant or None) is None:
                load_dataset(name, data_dir=data_dir, variant=variant or None)  # downloads, or says from where
        except DatasetError as exc:
            problems.append(f"{name}{f' ({variant})' if variant else ''}: {exc}")
    return "; ".join(problems) or None
