#!/usr/bin/env python
"""Regenerate the paper's Figure 2 (and other grids): ``python run_all.py --help``.

The command line is :mod:`made.pipeline.cli`; this file runs it from a checkout.
"""

import signal
import sys


_STOPPED = []


def _stopped_while_starting(signum, frame):
    # Ctrl-C while torch and the pipeline still import: noted, and acted on once
    # the imports are done.  Raising here would leave a module (numpy, say)
    # half-imported, and the code that then runs fails on it with a traceback.
    _STOPPED.append(signum)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _stopped_while_starting)
try:
    from made.pipeline.cli import main
except ModuleNotFoundError as exc:  # a torch-only install: say what to install, in one line
    hint = "" if "pip install" in str(exc) else '; install the pipeline: pip install -e ".[pipeline]"'
    sys.exit(f"run_all.py: error: {exc}{hint}")

if __name__ == "__main__" and _STOPPED:  # one line, not an import traceback
    print("run_all.py: interrupted before anything ran", file=sys.stderr)
    sys.exit(128 + _STOPPED[0])

if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # main stops the runs it started
    sys.exit(main())
