"""One trainer per run directory: a lock file with a heartbeat.

Two drivers on one results directory, or a Dask retry while the first attempt
still trains, would otherwise both write the run's checkpoint, history and
``DONE``.  The process that trains a run holds ``<run_dir>/LOCK``:

* taken by an atomic exclusive create (``O_CREAT | O_EXCL``), which is atomic
  on local disks and on the shared filesystems clusters use (NFSv3+, Lustre,
  GPFS), unlike ``flock``/``fcntl`` locks over NFS;
* holding its owner as JSON (host, pid, start time, a random token, and the
  ``submitter``: which ``run_grid`` call it belongs to), for the message a
  process that finds the run taken prints;
* kept alive by a heartbeat: a daemon thread refreshes the file's mtime every
  few seconds.  A lock whose mtime is older than the stale timeout
  (``MADE_LOCK_STALE_SECONDS``, default 120 s) belongs to a process that died
  or lost its node, and is taken over.  On the owner's own host (same host name
  and pid namespace) a lock whose pid no longer exists is stale at once, so a
  run killed on this machine is resumed without waiting for the timeout.

The timeout compares the file's mtime with this machine's clock: the hosts'
clocks must agree to well within it (NTP), and no owner may stall for longer
than it (its heartbeat thread would stop too).

Takeovers go through a second, short-lived exclusive file
(``LOCK.takeover``): only its holder may move a stale ``LOCK`` aside, after
checking again, under it, that the lock is the same stale file; the stale file
is renamed aside and checked to be the one judged stale before the taker
creates its own lock with ``O_EXCL``.  Two processes taking over the same
stale lock therefore cannot both win: one creates the new lock, the other
finds it fresh and reports the run as held.

Written here, not taken from a library: flufl.lock (NFS-safe, with lifetimes,
refresh and breaking) breaks a dead owner's lock only once its whole lifetime
has passed, leaves refreshing to the holder and keeps no owner record for a
retried attempt to recognise its own submission; filelock offers ``fcntl``
locks, unreliable over NFS, or soft locks that never go stale.  Neither takes
over at once the run of a process that died on this host.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LOCK = "LOCK"
TAKEOVER = "LOCK.takeover"
STALE_ENV = "MADE_LOCK_STALE_SECONDS"
DEFAULT_STALE_SECONDS = 120.0
# Heartbeat period: a few seconds, and at least four beats per stale timeout.
HEARTBEAT_SECONDS = 5.0


def env_seconds(variable: str, default: float) -> float:
    """A positive number of seconds from environment variable ``variable``,
    ``default`` when it is unset or empty; ValueError naming it otherwise."""
    text = os.environ.get(variable, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{variable}={text!r} is not allowed; use a positive number of seconds")
    return value


def stale_seconds() -> float:
    """The stale timeout: ``$MADE_LOCK_STALE_SECONDS``, else 120 s."""
    return env_seconds(STALE_ENV, DEFAULT_STALE_SECONDS)


def _pid_namespace() -> int | None:
    """The pid namespace of this process (Linux), so that a pid is only
    trusted on the machine *and* container that wrote it."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # exists under another user, or not a pid we can judge
    return True


def describe(owner: dict) -> str:
    """``host pid N since TIME`` for messages."""
    if not owner:
        return "an owner that has not written its name yet"
    text = f"{owner.get('host', '?')} pid {owner.get('pid', '?')}"
    return text + (f" since {owner['started']}" if owner.get("started") else "")


class LockHeld(Exception):
    """The run is being trained by another live process."""

    def __init__(self, path: Path, owner: dict):
        self.path, self.owner = Path(path), owner
        super().__init__(f"{path} is held by {describe(owner)}")


@dataclass
class _Seen:
    """A lock file as observed once: its inode, age and owner."""
    ino: int
    age: float
    owner: dict


@dataclass
class RunLock:
    """The lock of one run directory; use ``with RunLock(run_dir):`` or
    ``acquire()`` / ``release()``.

    ``submitter`` identifies the submission (one ``run_grid`` call): an
    attempt that finds the lock held by the *same* submitter is a retry of an
    attempt on a lost worker, so it waits up to the stale timeout for that
    lock to be released or go stale, instead of giving up at once.
    """

    run_dir: Path
    submitter: str | None = None
    stale: float = field(default_factory=stale_seconds)
    heartbeat: float | None = None
    owner: dict = field(default_factory=dict, init=False)
    lost: bool = field(default=False, init=False)  # another process took the lock over
    _fd: int | None = field(default=None, init=False, repr=False)
    _ino: int | None = field(default=None, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        if self.heartbeat is None:
            self.heartbeat = min(HEARTBEAT_SECONDS, self.stale / 4)

    @property
    def path(self) -> Path:
        return self.run_dir / LOCK

    @property
    def held(self) -> bool:
        return self._fd is not None

    # -- taking the lock ---------------------------------------------------

    def acquire(self) -> "RunLock":
        """Take the lock, or raise LockHeld naming its live owner."""
        if self.held:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        patience = time.monotonic() + self.stale + 2 * self.heartbeat
        # Every pass either creates the lock, takes over a stale one, or sees
        # a live one; a lock released between two steps only costs a pass.
        for _ in range(10_000):
            if self._create():
                return self
            seen = self._look()
            if seen is None:
                continue  # released meanwhile
            if self._is_stale(seen):
                if self._take_over(seen):
                    return self
                time.sleep(0.01)  # another process is taking it over: look again
                continue
            if (self.submitter is not None and seen.owner.get("submitter") == self.submitter
                    and time.monotonic() < patience):
                time.sleep(min(self.heartbeat, 1.0))
                continue
            raise LockHeld(self.path, seen.owner)
        raise LockHeld(self.path, self.owner_of(self.run_dir) or {})

    def _create(self) -> bool:
        """Exclusive create of LOCK with our owner record; False if it exists."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        now = time.time()
        self.owner = {
            "host": socket.gethostname(), "pid": os.getpid(), "pidns": _pid_namespace(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)), "started_unix": now,
            "token": uuid.uuid4().hex, "submitter": self.submitter,
        }
        try:
            os.write(fd, (json.dumps(self.owner) + "\n").encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        self._fd, self._ino, self.lost = fd, os.fstat(fd).st_ino, False
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"made-lock-{self.run_dir.name}", daemon=True)
        self._thread.start()
        return True

    def _look(self, path: Path | None = None) -> _Seen | None:
        path = path or self.path
        try:
            st = os.stat(path)
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            owner = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            owner = {}  # being written: judged by its age alone
        return _Seen(st.st_ino, time.time() - st.st_mtime, owner if isinstance(owner, dict) else {})

    def _is_stale(self, seen: _Seen) -> bool:
        if seen.age > self.stale:
            return True
        owner = seen.owner
        pidns = _pid_namespace()
        return (owner.get("host") == socket.gethostname() and pidns is not None
                and owner.get("pidns") == pidns and isinstance(owner.get("pid"), int)
                and owner["pid"] != os.getpid() and not _pid_exists(owner["pid"]))

    def _take_over(self, seen: _Seen) -> bool:
        """Replace the stale lock ``seen`` by ours; False if another process
        is taking it over or the lock changed since it was seen."""
        mutex = self.run_dir / TAKEOVER
        try:
            fd = os.open(mutex, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            # Held for milliseconds; an old one was left by a process that died mid-takeover.
            old = self._look(mutex)
            if old is not None and old.age > self.stale:
                self._move_aside(mutex, old.ino)
            return False
        try:
            now = self._look()
            if now is None:
                return self._create()
            if now.ino != seen.ino or not self._is_stale(now):
                return False
            if not self._move_aside(self.path, seen.ino):
                return False
            return self._create()
        finally:
            os.close(fd)
            mutex.unlink(missing_ok=True)

    def _move_aside(self, path: Path, ino: int) -> bool:
        """Rename ``path`` aside if it is still inode ``ino``; a different file
        moved by mistake is linked back (link fails if the name is taken)."""
        aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:12]}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        try:
            if os.stat(aside).st_ino == ino:
                return True
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            return False
        finally:
            aside.unlink(missing_ok=True)

    # -- holding it --------------------------------------------------------

    def is_ours(self) -> bool:
        """Held, and LOCK is still our file (not taken over after a stall)."""
        if not self.held or self.lost:
            return False
        try:
            return os.stat(self.path).st_ino == self._ino
        except FileNotFoundError:
            return False

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                if not self.is_ours():
                    self.lost = True
                    return
                if os.utime in os.supports_fd:
                    os.utime(self._fd)
                else:
                    os.utime(self.path)
            except (OSError, TypeError):
                continue  # a filesystem hiccup: the next beat tries again

    def release(self) -> None:
        """Stop the heartbeat and remove LOCK, only if it is still ours."""
        if not self.held:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            seen = self._look()
            if (seen is not None and seen.ino == self._ino
                    and seen.owner.get("token") == self.owner.get("token")):
                self.path.unlink(missing_ok=True)
            else:
                self.lost = True
        finally:
            os.close(self._fd)
            self._fd = self._ino = None
            self._thread = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    @staticmethod
    def owner_of(run_dir: Path) -> dict | None:
        """The owner record of ``run_dir``'s lock, or None when it is not locked."""
        try:
            text = (Path(run_dir) / LOCK).read_text()
        except FileNotFoundError:
            return None
        try:
            owner = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return owner if isinstance(owner, dict) else {}
