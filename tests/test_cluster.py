"""run_all.py on a Dask cluster, and exactly-once runs: real scheduler, workers
and drivers as processes on 127.0.0.1 (free ports), real notebooks on real data.

Every process a test starts is stopped by its own pid at teardown; every wait
is bounded.  The tests that start processes and train are marked slow; the
few unit tests of made.pipeline.cluster are not.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from made.pipeline.grid import RunPoint

ROOT = Path(__file__).resolve().parent.parent
needs_data = pytest.mark.skipif(not os.environ.get("MADE_DATA_DIR"),
                                reason="MADE_DATA_DIR is not set: the runs train on real MNIST")
slow = pytest.mark.slow

# run_all.main with the smoke grid narrowed to some axes (a JSON argument):
# the test-only grid lives in this driver process; workers receive points.
NARROW_DRIVER = r"""
import json, sys
import run_all
from made.pipeline import grid
grid.GRIDS["smoke"] = {**grid.GRIDS["smoke"], "axes": json.loads(sys.argv[1])}
sys.exit(run_all.main(sys.argv[2:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Processes:
    """Processes started by one test or fixture, each with its log file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, args: list[str], **env) -> subprocess.Popen:
        log = self.folder / f"{name}-{len(self.started)}.log"
        environment = {**os.environ, "OMP_NUM_THREADS": "1", **{k: str(v) for k, v in env.items()}}
        with open(log, "w") as out:
            proc = subprocess.Popen(args, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self.started.append((proc, log))
        return proc

    def log(self, proc: subprocess.Popen) -> str:
        return next(log for p, log in self.started if p is proc).read_text()

    def pids(self) -> set[int]:
        return {p.pid for p, _ in self.started}

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(timeout=20)

    def stop_all(self) -> None:
        for proc, _ in reversed(self.started):  # drivers and workers before the scheduler
            self.stop(proc)


@pytest.fixture
def processes(tmp_path_factory):
    procs = Processes(tmp_path_factory.mktemp("logs"))
    yield procs
    procs.stop_all()


class Cluster:
    """A `dask scheduler` and its workers (`--no-nanny`: each worker is the
    process we started, so its pid is the one in a run's starts.log)."""

    def __init__(self, procs: Processes, folder: Path):
        self.procs, self.folder = procs, folder
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workers: list[subprocess.Popen] = []
        self.options: dict[int, tuple[str, ...]] = {}  # worker pid -> its extra options
        procs.start("scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(self.port), "--no-dashboard"])

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until(listening, 60, "the scheduler to listen")

    def add_worker(self, *extra: str) -> subprocess.Popen:
        local = self.folder / f"worker-{len(self.workers)}"
        local.mkdir()
        proc = self.procs.start("worker", [
            sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", "1",
            "--host", "127.0.0.1", "--no-dashboard", "--no-nanny", "--local-directory", str(local), *extra])
        self.workers.append(proc)
        self.options[proc.pid] = extra
        return proc

    def replace(self, worker: subprocess.Popen) -> subprocess.Popen:
        """A new worker with the options (resources) of a dead one."""
        return self.add_worker(*self.options[worker.pid])

    def info(self) -> dict:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            return client.scheduler_info(n_workers=-1)["workers"]

    def wait_for_workers(self, n: int, timeout: float = 90) -> dict:
        def enough():
            workers = self.info()
            return workers if len(workers) >= n else None
        return wait_until(enough, timeout, f"{n} workers", interval=1.0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("cluster")
    procs = Processes(folder)
    try:
        c = Cluster(procs, folder)
        c.add_worker("--resources", "GPU=1")
        c.add_worker()
        c.wait_for_workers(2)
        yield c
    finally:
        procs.stop_all()


def run_all_args(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "run_all.py"), *args]


def narrow_run_all_args(axes: str, *args: str) -> list[str]:
    return [sys.executable, "-c", NARROW_DRIVER, axes, *args]


def finish(procs: Processes, proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        procs.stop(proc)
        raise AssertionError(f"the driver did not finish within {timeout} s:\n{procs.log(proc)[-3000:]}")
    return code, procs.log(proc)


def starts(run_dir: Path) -> list[list[str]]:
    return [line.split() for line in (run_dir / "starts.log").read_text().splitlines()]


# -- unit tests (no processes) -------------------------------------------------

def test_import_made_and_the_local_path_never_import_dask():
    code = ("import sys, made, made.pipeline.run, made.pipeline.results, made.pipeline.cluster, run_all; "
            "sys.exit(any(m == 'dask' or m.startswith(('dask.', 'distributed')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0


def test_cuda_points_ask_for_a_gpu():
    from made.pipeline.cluster import resources_for

    def point(device):
        return RunPoint("r", {"device": device} if device else {})
    assert resources_for(point("cuda")) == {"GPU": 1} and resources_for(point("cuda:1")) == {"GPU": 1}
    assert resources_for(point("cpu")) is None and resources_for(point("auto")) is None
    assert resources_for(point(None)) is None


class FakeClient:
    """Stands in for a dask Client: ``run`` calls the probe here, as a worker
    on a shared filesystem would, or answers as a worker without one would."""

    def __init__(self, answers=None):
        self.answers = answers

    def run(self, function, *args):
        if self.answers is not None:
            return self.answers
        return {"tcp://10.0.0.1:4001": function(*args), "tcp://10.0.0.2:4001": function(*args)}


def test_results_dir_check_passes_on_a_shared_directory_and_leaves_nothing(tmp_path):
    from made.pipeline.cluster import check_results_dir

    check_results_dir(FakeClient(), tmp_path / "results")
    assert list((tmp_path / "results").iterdir()) == []


def test_results_dir_check_refuses_a_folder_this_machine_cannot_create(tmp_path):
    from made.pipeline.cluster import ClusterError, check_results_dir

    (tmp_path / "afile").write_text("a file\n")
    with pytest.raises(ClusterError, match="this machine cannot write there.*No run was started"):
        check_results_dir(FakeClient(), tmp_path / "afile" / "results")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_worker_that_cannot_see_or_write_the_results_dir_is_named(tmp_path, monkeypatch):
    from made.pipeline import cluster

    probe, token = tmp_path / "probe", "abc"
    assert cluster._sees(str(probe), token).startswith("does not see the file")  # its own disk: no probe
    probe.write_text("another")
    assert cluster._sees(str(probe), token).startswith("sees another file")
    probe.write_text(token)
    assert cluster._sees(str(probe), token) == ""
    monkeypatch.setattr(cluster.os, "access", lambda path, mode: False)
    assert cluster._sees(str(probe), token) == "cannot write there"


def test_results_dir_check_names_the_directory_and_each_worker_that_cannot_share_it(tmp_path):
    from made.pipeline.cluster import ClusterError, check_results_dir

    answers = {"tcp://10.0.0.1:4001": "cannot write there",
               "tcp://10.0.0.2:4001": "does not see the file the driver wrote there (its own disk)",
               "tcp://10.0.0.3:4001": ""}
    with pytest.raises(ClusterError) as error:
        check_results_dir(FakeClient(answers), tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "\n" not in message
    assert "worker tcp://10.0.0.1:4001 cannot write there" in message
    assert "worker tcp://10.0.0.2:4001 does not see the file" in message and "10.0.0.3" not in message
    assert "No run was started" in message and list(tmp_path.iterdir()) == []


def test_run_grid_hands_a_backend_a_picklable_function_and_the_final_points(tmp_path, monkeypatch):
    import pickle

    from made.pipeline import notebooks
    from made.pipeline.grid import GRIDS, expand
    from made.pipeline.run import run_grid

    def fake_notebook(source, output, parameters, **kwargs):  # stands in for train_made
        max_epochs = parameters["config"]["max_epochs"]
        Path(parameters["run_dir"], "metrics.json").write_text('{"max_epochs": %d}' % max_epochs)
    monkeypatch.setattr(notebooks, "execute", fake_notebook)
    seen = []

    def backend(function, points):  # runs each point "remotely": through pickle
        seen.extend(points)
        for point in points:
            yield pickle.loads(pickle.dumps(function))(pickle.loads(pickle.dumps(point)))

    points = expand(GRIDS["smoke"], device="cuda", max_epochs=1)
    outcomes = run_grid(points, tmp_path, progress=False, backend=backend)
    assert sorted(o.run_id for o in outcomes) == sorted(p.run_id for p in points)
    assert {o.status for o in outcomes} == {"done"}
    assert all(p.params["device"] == "cuda" and p.params["max_epochs"] == 1 for p in seen)


def test_ctrl_c_on_the_driver_cancels_the_tasks_and_stops_their_notebooks(tmp_path):
    import functools

    from made.pipeline import notebooks
    from made.pipeline.cluster import DaskBackend
    from made.pipeline.grid import GRIDS, expand
    from made.pipeline.run import Interrupted, execute_run

    class Future:
        def __init__(self, done):
            self._done = done

        def done(self):
            return self._done

    class Client:  # records what the driver asks of the scheduler
        calls = []

        def cancel(self, futures, force=False):
            self.calls.append(("cancel", len(futures), force))

        def run(self, function, *args):
            self.calls.append(("run", function, *args))

    backend = DaskBackend.__new__(DaskBackend)  # no scheduler: only stop() is exercised
    backend.client = Client()
    points = expand(GRIDS["smoke"])
    futures = {Future(done=i == 0): p for i, p in enumerate(points)}
    function = functools.partial(execute_run, runs_dir=tmp_path / "runs")
    stop = backend.stop(function, futures)
    assert isinstance(stop, Interrupted) and stop.stopped == [p.run_id for p in points[1:]]
    assert backend.client.calls[0] == ("cancel", len(points), True)
    assert backend.client.calls[1] == ("run", notebooks.stop, [str(tmp_path / "runs" / p.run_id)
                                                                   for p in points[1:]])


def test_a_malformed_scheduler_address_stops_with_one_line(tmp_path, capsys):
    import importlib.util

    pytest.importorskip("distributed")
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    assert run_all.main(["--smoke", "--scheduler", "foo", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run_all.py: error: cannot reach the Dask scheduler at foo") and "\n" not in err
    assert not any(tmp_path.iterdir())


# -- a real cluster -------------------------------------------------------------

@slow
@needs_data
def test_smoke_grid_through_a_real_cluster_survives_a_killed_worker(cluster, processes, tmp_path):
    # One grid, two checks (one driver and one set of runs, to keep the module
    # short): the smoke grid completes through a real cluster, and a worker
    # killed (SIGKILL) mid-run costs a retry that resumes from the checkpoint.
    import torch
    from filelock import FileLock

    driver = processes.start("driver", run_all_args("--smoke", "--scheduler", cluster.address, "--results-dir",
                                                     str(tmp_path), "--no-reports", "--max-epochs", "4"))
    results = tmp_path / "smoke"
    run_dir = wait_until(lambda: next(iter((results / "runs").glob("*/checkpoint.pt")), None), 240,
                         "a first checkpoint").parent
    victim = int(wait_until(lambda: (run_dir / "starts.log").exists() and starts(run_dir), 60, "a start")[-1][1])
    worker = next(w for w in cluster.workers if w.pid == victim)  # one of ours, never anyone else's
    worker.kill()
    worker.wait(timeout=20)
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=False)["result"]["history"]
    cluster.replace(worker)  # the same two kinds of worker for the other tests

    code, out = finish(processes, driver, 300)
    assert code == 0, out[-3000:]
    frame = pd.read_csv(results / "figure2.csv")
    runs = sorted(p.name for p in (results / "runs").iterdir())
    assert len(runs) == 3 and sorted(frame["run_id"]) == runs  # one row per run, the killed one included
    worker_pids = {str(w.pid) for w in cluster.workers} | {str(victim)}
    for run in runs:
        assert (results / "runs" / run / "DONE").exists()
        FileLock(results / "runs" / run / "LOCK").acquire(blocking=False).lock.release()  # not held
        assert all(start[1] in worker_pids for start in starts(results / "runs" / run))  # never in the driver
        history = pd.read_csv(results / "runs" / run / "history.csv")
        assert list(history["epoch"]) == [1, 2, 3, 4]  # each epoch once
    assert not list(results.glob(".made-probe-*"))
    # the killed run: trained first on the victim, then resumed on a live worker,
    # with the epochs done before the kill carried over from the checkpoint, not retrained
    first, second = starts(run_dir)
    assert int(first[1]) == victim and int(second[1]) != victim
    assert len(saved) >= 1
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["seconds"][: len(saved)]) == pytest.approx([row["seconds"] for row in saved])


@slow
@needs_data
def test_a_results_dir_that_cannot_be_written_fails_before_any_run(cluster, processes, tmp_path):
    # the driver cannot create it; a worker that cannot write there is named (a unit test above)
    (tmp_path / "afile").write_text("a file, not a directory\n")
    results = tmp_path / "afile" / "results"
    driver = processes.start("driver", run_all_args("--smoke", "--scheduler", cluster.address, "--results-dir",
                                                     str(results), "--no-reports"))
    code, out = finish(processes, driver, 120)
    assert code == 2, out[-3000:]
    error = [line for line in out.splitlines() if line.startswith("run_all.py: error:")]
    assert len(error) == 1 and str(results / "smoke") in error[0], out[-3000:]
    assert "cannot write there" in error[0] and "No run was started" in error[0] and "Traceback" not in out
    assert sorted(os.listdir(tmp_path)) == ["afile"] and (tmp_path / "afile").is_file()


@slow
def test_cuda_points_run_on_the_worker_with_a_gpu_resource(cluster):
    import contextlib

    from made.pipeline.cluster import ClusterError, DaskBackend

    workers = cluster.wait_for_workers(2)
    gpu = [a for a, w in workers.items() if (w.get("resources") or {}).get("GPU")]
    assert len(gpu) == 1
    cuda, cpu = RunPoint("r-cuda", {"device": "cuda"}), RunPoint("r-cpu", {"device": "cpu"})

    def where(point):  # runs on the worker (a nested function: pickled by value)
        from distributed import get_worker
        return get_worker().address

    with contextlib.closing(DaskBackend(cluster.address)) as backend:
        backend.check_resources([cuda, cpu])
        on = backend.client.gather([backend.submit(where, cuda) for _ in range(4)])
        assert on == gpu * 4
        assert backend.client.gather(backend.submit(where, cpu)) in cluster.info()
        backend.workers = lambda: {a: {**w, "resources": {}} for a, w in cluster.info().items()}
        with pytest.raises(ClusterError, match="--resources GPU=N"):
            backend.check_resources([cuda])
        backend.check_resources([cpu])


# -- two drivers, no cluster -----------------------------------------------------

@slow
@needs_data
def test_two_drivers_on_one_results_directory_train_each_run_once(processes, tmp_path):
    # two runs (K = 2 and 1): both drivers start on the K = 2 run, so they meet
    args = ("--smoke", "--results-dir", str(tmp_path), "--no-reports", "--jobs", "1", "--threads", "1",
            "--max-epochs", "1")
    drivers = [processes.start("driver", narrow_run_all_args('{"num_masks": [1, 2], "mode": ["order"]}', *args))
               for _ in range(2)]
    outs = [finish(processes, d, 400) for d in drivers]
    assert [code for code, _ in outs] == [0, 0], "\n".join(out[-2000:] for _, out in outs)
    runs = tmp_path / "smoke" / "runs"
    names = sorted(p.name for p in runs.iterdir())
    assert len(names) == 2
    pids = {str(d.pid) for d in drivers}
    for name in names:
        assert len(starts(runs / name)) == 1, name  # trained by exactly one process
        assert starts(runs / name)[0][1] in pids and (runs / name / "DONE").exists()
    frame = pd.read_csv(tmp_path / "smoke" / "figure2.csv")
    assert sorted(frame["run_id"]) == names
    # the drivers met on some run: one of them left it to the other, and said so
    assert any("LOCKED" in out for _, out in outs)
