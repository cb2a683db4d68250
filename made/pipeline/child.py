"""One notebook in a process of its own: ``python child.py SPEC`` (made.pipeline.notebooks.execute).

Jupyter starts each kernel in a session of its own, out of reach of a Ctrl-C,
and no library stops it with its caller.  This process owns exactly one kernel:
on SIGTERM or SIGINT, or once its parent is gone, it kills the kernel and exits,
so stopping a run is stopping this process.  Run by path, it imports papermill
and Jupyter only, not made or torch.
"""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout (made/pipeline/child.py)
_kernels = []  # the kernel managers this process started (one)


def kernel_manager():
    """papermill's ``kernel_manager_class``: a kernel of *this* interpreter,
    with this checkout first on its PYTHONPATH, whatever kernelspecs are
    installed (papermill would take the first ``python3`` one, maybe another
    environment's); every kernel it starts is recorded for :func:`stop`."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    # ipykernel_launcher's two lines, with SIGINT ignored until ipykernel takes
    # it over; log level CRITICAL silences the kernel's start-up chatter
    # (errors inside cells still reach the notebook and papermill).
    launcher = ("import signal, sys; del sys.path[0]; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "from ipykernel import kernelapp; kernelapp.launch_new_instance()")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

    class ThisInterpreter(AsyncKernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(argv=[sys.executable, "-c", launcher, "-f", "{connection_file}", "--log-level=CRITICAL"],
                              display_name=f"Python ({sys.executable})", language="python", env={"PYTHONPATH": path})

        async def start_kernel(self, **kwargs):
            _kernels.append(self)
            await super().start_kernel(**kwargs)

    return ThisInterpreter


def stop(signum=signal.SIGTERM, frame=None):
    for km in _kernels:
        provisioner = km.provisioner
        try:
            if getattr(provisioner, "pgid", None) and hasattr(os, "killpg"):
                os.killpg(provisioner.pgid, signal.SIGKILL)  # the kernel's own session
            elif getattr(provisioner, "process", None) is not None:
                provisioner.process.kill()
        except OSError:
            pass  # ended meanwhile
    os._exit(128 + signum)


def watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    stop()


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    threading.Thread(target=watch, args=(os.getppid(),), daemon=True).start()
    del sys.path[0]  # this script's folder: its modules are no top-level ones
    import papermill

    spec = json.loads(sys.argv[1])
    papermill.execute_notebook(spec["input"], spec["output"], parameters=spec["parameters"], cwd=spec["cwd"],
                               progress_bar=False, log_output=False, kernel_manager_class=kernel_manager())
