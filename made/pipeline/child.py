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

_kernels = []  # the kernel managers this process started (one)


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
    from jupyter_client.manager import AsyncKernelManager

    class RecordedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kwargs):
            _kernels.append(self)
            await super().start_kernel(**kwargs)

    spec = json.loads(sys.argv[1])
    papermill.execute_notebook(spec["input"], spec["output"], parameters=spec["parameters"],
                               kernel_name=spec["kernel"], cwd=spec["cwd"], progress_bar=False, log_output=False,
                               kernel_manager_class=RecordedKernelManager)
