#!/usr/bin/env python
"""Regenerate the paper's Figure 2 (and other grids): ``python run_all.py --help``.

The command line is :mod:`made.pipeline.cli`; this file runs it from a checkout.
"""

import sys

try:
    from made.pipeline.cli import main
except ModuleNotFoundError as exc:  # a torch-only install: say what to install, in one line
    hint = "" if "pip install" in str(exc) else '; install the pipeline: pip install -e ".[pipeline]"'
    sys.exit(f"run_all.py: error: {exc}{hint}")

if __name__ == "__main__":
    sys.exit(main())
