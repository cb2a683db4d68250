"""The run lock (``<run>/LOCK``, filelock) in execute_run: one trainer per run
directory, between real processes, and a dead owner's run taken at once (fast, no dask)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from made.pipeline import notebooks
from made.pipeline.grid import GRIDS, expand
from made.pipeline.run import DONE, LOCK, STARTS, execute_run

# A holder in another process, as execute_run holds the lock: filelock, then a starts.log line.
HOLDER = r"""
import socket, sys, time
from pathlib import Path
from filelock import FileLock, Timeout
run_dir, mode = Path(sys.argv[1]), sys.argv[2]
start_at = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
time.sleep(max(0.0, start_at - time.time()))
lock = FileLock(run_dir / "LOCK")
try:
    lock.acquire(blocking=False)
except Timeout:
    print("HELD", flush=True)
    sys.exit(0)
with open(run_dir / "starts.log", "a") as log:
    log.write(f"{socket.gethostname()} {__import__('os').getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
print("WON", flush=True)
if mode == "hold":
    sys.stdin.readline()  # until the test writes a line (or closes stdin)
else:
    time.sleep(float(mode))
lock.release()
print("RELEASED", flush=True)
"""


@pytest.fixture
def procs():
    """Processes a test starts; each is stopped by its own pid at teardown."""
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def spawn(procs, run_dir, mode="hold", start_at=None):
    args = [sys.executable, "-c", HOLDER, str(run_dir), mode] + ([str(start_at)] if start_at is not None else [])
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(p)
    return p


def won(holder) -> None:
    assert holder.stdout.readline().strip() == "WON"


@pytest.fixture
def point_and_notebook(tmp_path, monkeypatch):
    point = expand(GRIDS["smoke"])[0]
    calls = []

    def fake(source, output, parameters, **kwargs):  # stands in for train_made
        calls.append(parameters["run_dir"])
        Path(parameters["run_dir"], "metrics.json").write_text(json.dumps({"max_epochs": 3}))

    monkeypatch.setattr(notebooks, "execute", fake)
    (tmp_path / point.run_id).mkdir()
    return point, tmp_path / point.run_id, calls


def test_a_run_held_by_another_process_is_locked_and_names_it_then_trains_once_free(tmp_path, procs,
                                                                                        point_and_notebook):
    point, run_dir, calls = point_and_notebook
    holder = spawn(procs, run_dir)
    won(holder)
    outcome = execute_run(point, tmp_path)
    assert outcome.status == "locked" and f"locked by {socket.gethostname()} pid {holder.pid} since" in outcome.error
    assert calls == [] and not (run_dir / DONE).exists()
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert holder.wait(timeout=20) == 0
    assert execute_run(point, tmp_path).status == "done" and len(calls) == 1


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path, procs, point_and_notebook):
    point, run_dir, calls = point_and_notebook
    holder = spawn(procs, run_dir)
    won(holder)
    holder.kill()  # SIGKILL: no code of its own runs; the OS releases its lock
    holder.wait(timeout=10)
    t0 = time.monotonic()
    assert execute_run(point, tmp_path).status == "done" and len(calls) == 1
    assert time.monotonic() - t0 < 5
    assert [line.split()[1] for line in (run_dir / STARTS).read_text().splitlines()] == [str(holder.pid),
                                                                                           str(os.getpid())]


def test_processes_racing_for_one_run_cannot_both_win(tmp_path, procs):
    start_at = time.time() + 4.0  # all of them try at the same moment (starting 4 processes may be slow)
    racers = [spawn(procs, tmp_path, mode="2", start_at=start_at) for _ in range(4)]
    results = [p.communicate(timeout=30)[0].split()[0] for p in racers]
    assert sorted(results) == ["HELD", "HELD", "HELD", "WON"], results


def test_the_lock_is_released_whatever_the_notebook_did(tmp_path, monkeypatch):
    from filelock import FileLock

    point = expand(GRIDS["smoke"])[0]

    def fails(*args, **kwargs):
        raise RuntimeError("the kernel died")

    monkeypatch.setattr(notebooks, "execute", fails)
    assert execute_run(point, tmp_path).status == "failed"
    FileLock(tmp_path / point.run_id / LOCK).acquire(blocking=False).lock.release()  # free
