"""made.pipeline.lock: one trainer per run directory, between real processes (fast, no dask)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from made.pipeline.lock import LOCK, LockHeld, RunLock

ROOT = Path(__file__).resolve().parent.parent

# A holder in another process.  It loads made/pipeline/lock.py by path, so it starts in
# milliseconds (``import made`` would import torch).
HOLDER = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("made_lock", sys.argv[1])
lock_module = sys.modules["made_lock"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock_module)
run_dir, mode = sys.argv[2], sys.argv[3]
start_at = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
time.sleep(max(0.0, start_at - time.time()))
lock = lock_module.RunLock(run_dir)
try:
    lock.acquire()
except lock_module.LockHeld:
    print("HELD", flush=True)
    sys.exit(0)
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


def spawn(procs, run_dir, mode="hold", start_at=None, stale=None):
    env = {**os.environ}
    if stale is not None:
        env["MADE_LOCK_STALE_SECONDS"] = str(stale)
    args = [sys.executable, "-c", HOLDER, str(ROOT / "made" / "pipeline" / "lock.py"), str(run_dir), mode]
    if start_at is not None:
        args.append(str(start_at))
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    procs.append(p)
    return p


def wait_for_owner(run_dir, pid, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (RunLock.owner_of(run_dir) or {}).get("pid") == pid:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not take the lock of {run_dir} within {timeout} s")


def fake_lock(run_dir, age, **owner):
    """A LOCK written by another process, its last heartbeat ``age`` seconds ago."""
    path = Path(run_dir) / LOCK
    path.write_text(json.dumps({"host": "elsewhere", "pid": 4242, "started": "then", **owner}))
    t = time.time() - age
    os.utime(path, (t, t))
    return path


def test_lock_is_exclusive_between_two_processes(tmp_path, procs):
    holder = spawn(procs, tmp_path)
    wait_for_owner(tmp_path, holder.pid)
    with pytest.raises(LockHeld) as held:
        RunLock(tmp_path).acquire()
    assert held.value.owner["pid"] == holder.pid and held.value.owner["host"] == socket.gethostname()
    assert f"pid {holder.pid}" in str(held.value)
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert holder.wait(timeout=20) == 0 and "RELEASED" in holder.stdout.read()
    assert not (tmp_path / LOCK).exists()
    with RunLock(tmp_path) as lock:  # free again
        assert RunLock.owner_of(tmp_path)["token"] == lock.owner["token"]
    assert not (tmp_path / LOCK).exists()


def test_stale_lock_is_taken_over_after_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("MADE_LOCK_STALE_SECONDS", "2")
    fake_lock(tmp_path, age=0.5)
    with pytest.raises(LockHeld, match="elsewhere pid 4242"):
        RunLock(tmp_path).acquire()
    fake_lock(tmp_path, age=2.5)  # no heartbeat for longer than the timeout
    lock = RunLock(tmp_path).acquire()
    try:
        owner = RunLock.owner_of(tmp_path)
        assert owner["pid"] == os.getpid() and owner["token"] == lock.owner["token"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK]  # nothing left aside
    finally:
        lock.release()


def test_two_processes_taking_over_one_stale_lock_cannot_both_win(tmp_path, procs):
    fake_lock(tmp_path, age=1000)
    start_at = time.time() + 4.0  # all of them try at the same moment (starting 4 processes may be slow)
    racers = [spawn(procs, tmp_path, mode="2", start_at=start_at) for _ in range(4)]
    results = [p.communicate(timeout=30)[0].split()[0] for p in racers]
    assert sorted(results) == ["HELD", "HELD", "HELD", "WON"], results
    assert not (tmp_path / LOCK).exists()  # the winner released it


def test_a_live_lock_is_not_taken_over(tmp_path, procs, monkeypatch):
    # a fresh foreign lock: live by its heartbeat, whatever its age in total
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    fake_lock(foreign, age=1)
    with pytest.raises(LockHeld):
        RunLock(foreign).acquire()
    # a live local holder whose lock is older than the timeout: its heartbeat keeps it
    monkeypatch.setenv("MADE_LOCK_STALE_SECONDS", "2")
    holder = spawn(procs, tmp_path, stale=2)
    wait_for_owner(tmp_path, holder.pid)
    time.sleep(4.5)  # more than twice the timeout; a loaded machine may delay a beat by a second
    with pytest.raises(LockHeld):
        RunLock(tmp_path).acquire()
    assert RunLock.owner_of(tmp_path)["pid"] == holder.pid


def test_the_lock_of_a_dead_process_on_this_machine_is_taken_over_at_once(tmp_path, procs):
    holder = spawn(procs, tmp_path)
    wait_for_owner(tmp_path, holder.pid)
    holder.kill()
    holder.wait(timeout=10)
    assert (tmp_path / LOCK).exists()  # fresh, but its pid is gone (default 120 s timeout)
    with RunLock(tmp_path) as lock:
        assert RunLock.owner_of(tmp_path)["token"] == lock.owner["token"]


def test_release_only_removes_our_own_lock(tmp_path):
    lock = RunLock(tmp_path, stale=60).acquire()
    assert lock.is_ours()
    # another process took the lock over (say we stalled past the timeout)
    (tmp_path / LOCK).unlink()
    other = fake_lock(tmp_path, age=0, token="theirs")
    assert not lock.is_ours()
    lock.release()
    assert other.exists() and json.loads(other.read_text())["token"] == "theirs"
    assert lock.lost


def test_heartbeat_keeps_a_long_holders_lock_fresh(tmp_path, procs):
    lock = RunLock(tmp_path, stale=2.0).acquire()  # heartbeat every 0.5 s
    acquired = (tmp_path / LOCK).stat().st_mtime
    try:
        time.sleep(5.0)  # more than twice the timeout
        # it beat after the timeout had passed (the time a beat is late is left to the machine)
        assert (tmp_path / LOCK).stat().st_mtime > acquired + 2.0
        contender = spawn(procs, tmp_path, mode="0", stale=2)
        assert contender.communicate(timeout=30)[0].strip() == "HELD"
        assert lock.is_ours()
    finally:
        lock.release()
    assert not (tmp_path / LOCK).exists()


def test_a_retry_of_the_same_submission_waits_for_the_lost_attempts_lock(tmp_path):
    # the lost attempt's lock stops beating; another submission gives up at once
    fake_lock(tmp_path, age=0, submitter="grid-1")
    t0 = time.monotonic()
    with pytest.raises(LockHeld):
        RunLock(tmp_path, submitter="grid-2", stale=3.0).acquire()
    assert time.monotonic() - t0 < 2.0  # well before the lock could go stale
    # the retry waits until it is stale, then takes it over
    lock = RunLock(tmp_path, submitter="grid-1", stale=3.0).acquire()
    try:
        assert 2.5 < time.monotonic() - t0
        assert RunLock.owner_of(tmp_path)["token"] == lock.owner["token"]
    finally:
        lock.release()


def test_bad_stale_timeout_is_refused(monkeypatch):
    monkeypatch.setenv("MADE_LOCK_STALE_SECONDS", "soon")
    with pytest.raises(ValueError, match="MADE_LOCK_STALE_SECONDS='soon'"):
        RunLock(".")
