"""The notebook kernels this process runs, so that Ctrl-C (or SIGTERM) can stop them.

Jupyter starts every kernel in a session of its own: a Ctrl-C in the terminal
reaches the driver, never its kernels, and a thread waiting in papermill for a
cell cannot be interrupted.  ``execute_run`` therefore has papermill start each
run's kernel through :func:`kernel_manager`, which records the kernel under the
run's key (its directory) while it lives.  :func:`interrupt` then sends the
kernels SIGINT, a KeyboardInterrupt in the running cell: training stops, and
since every checkpoint is written atomically, the run resumes from its last
epoch.  A kernel that does not stop (SIGINT reaches an idle kernel between two
cells as nothing) is ended by :func:`kill`; the checkpoint is still whole.

Signals are POSIX: on Windows a kernel is only killed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from jupyter_client.manager import AsyncKernelManager

_lock = threading.Lock()
_kernels: dict[str, list["_RunKernelManager"]] = {}  # run key -> its live kernels
_active: set[str] = set()  # keys of the runs under way in this process (begin ... forget)
_stopped: set[str] = set()  # active keys asked to stop: a kernel that starts for one is stopped at once
_stop_all = False


def _quiet_while_stopping(record: logging.LogRecord) -> bool:
    """A logging filter: once a stop was asked for, what papermill and Jupyter
    log about the kernels being stopped ("Kernel died while waiting for
    execute reply") is expected, and the driver says what stopped in one line."""
    return not (_stop_all or _stopped)


for _name in ("papermill", "nbclient", "traitlets", "jupyter_client"):
    logging.getLogger(_name).addFilter(_quiet_while_stopping)


class KernelStopped(RuntimeError):
    """A run's kernel was asked to stop before it ran anything."""


class _RunKernelManager(AsyncKernelManager):
    run_key = ""

    async def start_kernel(self, **kwargs):
        await super().start_kernel(**kwargs)
        with _lock:
            _kernels.setdefault(self.run_key, []).append(self)
        if stopping(self.run_key):  # the stop came while this kernel was starting
            await self.shutdown_kernel(now=True)
            raise KernelStopped(f"stopped before it ran: {self.run_key}")


def begin(key: str) -> None:
    """A run of ``key`` starts in this process (``forget`` ends it)."""
    with _lock:
        _active.add(key)


def kernel_manager(key: str) -> type:
    """A kernel manager class (papermill's ``kernel_manager_class``) whose
    kernels are recorded under ``key`` until :func:`forget`."""
    return type("RunKernelManager", (_RunKernelManager,), {"run_key": key})


def stopping(key: str) -> bool:
    """True once :func:`interrupt` was called for ``key`` (or for every key)."""
    return _stop_all or key in _stopped


def interrupt(keys=None) -> list[str]:
    """Ask the runs of ``keys`` (every run of this process when None) to stop:
    kernels alive now get SIGINT, kernels still to start are stopped as they
    start.  Only runs under way are marked (a Dask worker is asked about runs
    it may not have), so a later run of the same key starts normally.
    Returns the keys whose kernels were signalled."""
    global _stop_all
    with _lock:
        if keys is None:
            _stop_all = True
        else:
            _stopped.update(set(keys) & _active)
    return _signal_all(keys, signal.SIGINT if os.name == "posix" else None)


def kill(keys=None) -> list[str]:
    """End the kernels of ``keys`` (all when None) and their process groups at once."""
    return _signal_all(keys, None)


def forget(key: str) -> None:
    """The run of ``key`` is over: drop its kernels and its stop request."""
    with _lock:
        _kernels.pop(key, None)
        _active.discard(key)
        _stopped.discard(key)


def reset() -> None:
    """Forget an earlier stop of every run (a new grid starts in this process)."""
    global _stop_all
    with _lock:
        _stop_all = False
        _stopped.clear()


def _alive(km: _RunKernelManager) -> bool:
    process = getattr(km.provisioner, "process", None) if km.provisioner is not None else None
    return process is not None and process.poll() is None


def _signal_all(keys, sig) -> list[str]:
    with _lock:
        chosen = {k: list(v) for k, v in _kernels.items() if keys is None or k in keys}
    hit = []
    for key, kms in chosen.items():
        for km in kms:
            if _alive(km) and _send(km, sig):
                hit.append(key)
    return sorted(set(hit))


def _send(km: _RunKernelManager, sig) -> bool:
    """``sig`` to the kernel process; None: kill its process group."""
    process = km.provisioner.process
    try:
        if sig is not None:
            os.kill(process.pid, sig)
        elif (hasattr(os, "killpg") and getattr(km.provisioner, "pgid", None)
              and km.provisioner.pgid != os.getpgid(0)):  # the kernel's own group, never ours
            os.killpg(km.provisioner.pgid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        return False  # ended meanwhile
    return True
